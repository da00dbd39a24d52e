"""cfn-lint rules for the stack's observability (issue 28): alarms, dashboard, access logs.

Loaded by `make lint` (scripts/lint.sh) with `cfn-lint --append-rules infra/cfn-lint-rules`;
tested by infra/cfn-lint-rules/_selftest.py against the fixtures in fixtures/ (a file name
starting with "_" is not loaded as rules). cfn-lint 1.x validates the SAM template itself (no
SAM translation; Globals merged into each resource), so these rules read AWS::Serverless::Api
and AWS::Serverless::Function as written.

  E9001  every alarm notifies the alarm topic (AlarmActions and OKActions) and takes its
         threshold from a template parameter
  E9002  the required alarms exist: authorizer errors, AuthorizerDecision Outcome=error,
         DynamoDB throttles on each table, the stage's 5XXError and p99 Latency, the 5xx
         rate (RequestCount 2xx/4xx/5xx) of every function that has an Api event; for every
         worker (a function with another event: a stream, a schedule) its AWS/Lambda Errors,
         for a stream consumer also its IteratorAge (Maximum); and the depth of every SQS
         queue that is a dead-letter target
  E9003  a dashboard exists, its body is JSON and it graphs RequestCount, AuthorizerDecision,
         RateLimited and Latency (namespace YeboLink), every worker and every dead-letter
         queue
  E9004  every REST stage writes JSON access logs with the fields an operator needs, never
         a credential (no API key, no header, no $input), and logs no request data
  E9005  the access-log destination is a log group of this template with a retention
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from cfnlint.rules import CloudFormationLintRule, RuleMatch

ALARM_TOPIC = "AlarmTopic"
NAMESPACE = "YeboLink"
DASHBOARD_METRICS = ("RequestCount", "AuthorizerDecision", "RateLimited", "Latency")
STATUS_CLASSES = ("2xx", "4xx", "5xx")
# Event types whose records Lambda reads from a stream (IteratorAge is their lag).
STREAM_EVENT_TYPES = ("DynamoDB", "Kinesis")

# What an access-log line must carry: (what, the $context variables that provide it; any one).
ACCESS_LOG_FIELDS = (
    ("the request id", ("$context.requestId",)),
    ("the source address", ("$context.identity.sourceIp",)),
    ("the method", ("$context.httpMethod",)),
    ("the route", ("$context.resourcePath",)),
    ("the status", ("$context.status",)),
    ("the latency", ("$context.responseLatency",)),
    ("the integration latency", ("$context.integrationLatency",)),
    ("the authorizer latency", ("$context.authorizer.latency",)),
    ("the authorizer status", ("$context.authorizer.status",)),
    ("the integration error", ("$context.integration.error", "$context.integrationErrorMessage")),
)
# Variables that would write a credential (or a request's headers or body) into the log.
ACCESS_LOG_FORBIDDEN = (
    (re.compile(r"\$context\.identity\.apiKey(?!Id)"), "the caller's API key"),
    (re.compile(r"\$method\.request\.(?:multivalue)?header", re.I), "a request header"),
    (re.compile(r"\$request\.(?:multivalue)?header", re.I), "a request header"),
    (re.compile(r"\$context\.(?:request|response)Override\.header", re.I), "a header"),
    (re.compile(r"\$input\b"), "the request's parameters or body ($input)"),
    (re.compile(r"\$method\.request\.body", re.I), "the request body"),
    (re.compile(r"authorization|x-api-key|bearer|password|secret|token", re.I),
     "a credential (Authorization, X-API-Key, a token, a password or a secret)"),
)


# --- helpers ----------------------------------------------------------------------------------

def _resources(cfn, *types: str) -> dict[str, dict]:
    return {
        name: res
        for name, res in (cfn.template.get("Resources") or {}).items()
        if isinstance(res, dict) and res.get("Type") in types
    }


def _props(res: dict) -> dict:
    props = res.get("Properties")
    return props if isinstance(props, dict) else {}


def _is_ref(value: Any, name: str) -> bool:
    return isinstance(value, dict) and len(value) == 1 and value.get("Ref") == name


def _is_parameter_ref(cfn, value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and value.get("Ref") in (cfn.template.get("Parameters") or {})
    )


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dims(dimensions: Any) -> dict:
    return {
        d.get("Name"): d.get("Value")
        for d in _as_list(dimensions)
        if isinstance(d, dict) and isinstance(d.get("Name"), str)
    }


def _metric_stats(props: dict) -> Iterator[dict]:
    """Each metric an alarm reads: {namespace, name, dims, stat}, single-metric or Metrics form."""
    if "MetricName" in props:
        yield {
            "namespace": props.get("Namespace"),
            "name": props.get("MetricName"),
            "dims": _dims(props.get("Dimensions")),
            "stat": props.get("ExtendedStatistic") or props.get("Statistic"),
        }
    for query in _as_list(props.get("Metrics")):
        stat = query.get("MetricStat") if isinstance(query, dict) else None
        if not isinstance(stat, dict) or not isinstance(stat.get("Metric"), dict):
            continue
        metric = stat["Metric"]
        yield {
            "namespace": metric.get("Namespace"),
            "name": metric.get("MetricName"),
            "dims": _dims(metric.get("Dimensions")),
            "stat": stat.get("Stat"),
        }


def _returns_expression(props: dict) -> bool:
    """A Metrics-form alarm whose returned series is a math expression."""
    return any(
        isinstance(q, dict) and "Expression" in q and q.get("ReturnData", True) is True
        for q in _as_list(props.get("Metrics"))
    )


def _unconditional_alarms(cfn) -> dict[str, dict]:
    return {
        name: _props(res)
        for name, res in _resources(cfn, "AWS::CloudWatch::Alarm").items()
        if "Condition" not in res
    }


def _sub_text(value: Any, keep_names: bool = False) -> str | None:
    """The text of a string or an Fn::Sub, each ${Var} replaced by a placeholder (${!x} -> ${x}):
    SUBSTITUTED, or with keep_names one word naming it (${Queue.QueueName} -> SUB_Queue_QueueName,
    see _sub_word)."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::Sub" in value:
        value = value["Fn::Sub"]
        if isinstance(value, list) and value:
            value = value[0]
        if not isinstance(value, str):
            return None
        value = re.sub(
            r"\$\{(?!!)([^}]*)\}",
            (lambda m: _sub_word(m.group(1))) if keep_names else (lambda m: "SUBSTITUTED"),
            value,
        )
        return value.replace("${!", "${")
    return value if isinstance(value, str) else None


def _sub_word(variable: str) -> str:
    """The placeholder of ${variable} in _sub_text(keep_names=True): one [A-Za-z0-9_] word."""
    return "SUB_" + re.sub(r"[^A-Za-z0-9_]", "_", variable)


def _authorizer_functions(cfn) -> set[str]:
    """Functions used as a Lambda authorizer by an AWS::Serverless::Api (FunctionArn GetAtt)."""
    names = set()
    for res in _resources(cfn, "AWS::Serverless::Api").values():
        auth = _props(res).get("Auth")
        authorizers = auth.get("Authorizers") if isinstance(auth, dict) else None
        for authorizer in (authorizers or {}).values() if isinstance(authorizers, dict) else ():
            arn = authorizer.get("FunctionArn") if isinstance(authorizer, dict) else None
            getatt = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
            if isinstance(getatt, list) and getatt:
                names.add(getatt[0])
            elif isinstance(getatt, str):
                names.add(getatt.split(".")[0])
    return names


def _http_functions(cfn) -> dict[str, Any]:
    """{resource name: its binary (Metadata.BuildProperties.Binary) or None} for every
    AWS::Serverless::Function with an Api event."""
    found = {}
    for name, res in _resources(cfn, "AWS::Serverless::Function").items():
        events = _props(res).get("Events")
        if not isinstance(events, dict):
            continue
        if not any(isinstance(e, dict) and e.get("Type") == "Api" for e in events.values()):
            continue
        meta = res.get("Metadata")
        build = meta.get("BuildProperties") if isinstance(meta, dict) else None
        binary = build.get("Binary") if isinstance(build, dict) else None
        found[name] = binary if isinstance(binary, str) else None
    return found


def _worker_functions(cfn) -> dict[str, set[str]]:
    """{resource name: its event types other than Api} for every AWS::Serverless::Function
    invoked by something else than the API (a stream, a schedule, a queue)."""
    found = {}
    for name, res in _resources(cfn, "AWS::Serverless::Function").items():
        events = _props(res).get("Events")
        types = {
            e.get("Type") for e in (events.values() if isinstance(events, dict) else ())
            if isinstance(e, dict) and isinstance(e.get("Type"), str) and e.get("Type") != "Api"
        }
        if types:
            found[name] = types
    return found


def _getatt(value: Any) -> tuple[str, str] | None:
    """(resource, attribute) of a !GetAtt, in its list or its dotted form."""
    target = value.get("Fn::GetAtt") if isinstance(value, dict) and len(value) == 1 else None
    if isinstance(target, str):
        target = target.split(".", 1)
    if isinstance(target, list) and len(target) == 2 and all(isinstance(t, str) for t in target):
        return target[0], target[1]
    return None


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _dead_letter_queues(cfn) -> dict[str, str]:
    """{queue: what sends to it} for every AWS::SQS::Queue of the template that is a dead-letter
    target (!GetAtt <Queue>.Arn): an event's or event source mapping's OnFailure destination, a
    function's DeadLetterQueue or EventInvokeConfig OnFailure, an event's DeadLetterConfig, or a
    queue's RedrivePolicy."""
    queues = _resources(cfn, "AWS::SQS::Queue")
    found: dict[str, str] = {}

    def note(value: Any, who: str) -> None:
        target = _getatt(value)
        if target and target[1] == "Arn" and target[0] in queues:
            found.setdefault(target[0], who)

    for name, res in (cfn.template.get("Resources") or {}).items():
        if not isinstance(res, dict):
            continue
        props = _props(res)
        kind = res.get("Type")
        if kind == "AWS::Serverless::Function":
            note(_dig(props, "DeadLetterQueue", "TargetArn"), name)
            note(_dig(props, "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"), name)
            events = props.get("Events")
            for event_name, event in (events.items() if isinstance(events, dict) else ()):
                event_props = _dig(event, "Properties")
                note(_dig(event_props, "DestinationConfig", "OnFailure", "Destination"), f"{name}.{event_name}")
                note(_dig(event_props, "DeadLetterConfig", "Arn"), f"{name}.{event_name}")
        elif kind in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"):
            note(_dig(props, "DestinationConfig", "OnFailure", "Destination"), name)
        elif kind == "AWS::SQS::Queue":
            note(_dig(props, "RedrivePolicy", "deadLetterTargetArn"), name)
    return found


def _names_function(cfn, value: Any, fn: str) -> bool:
    """A FunctionName dimension value that names fn: !Ref fn, or fn's own FunctionName."""
    fn_name = _props((cfn.template.get("Resources") or {}).get(fn, {})).get("FunctionName")
    return _is_ref(value, fn) or (fn_name is not None and value == fn_name)


# --- rules ------------------------------------------------------------------------------------

class AlarmNotifiesTopic(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Alarms notify the alarm topic; thresholds are parameters"
    description = (
        f"Every AWS::CloudWatch::Alarm has AlarmActions and OKActions containing !Ref "
        f"{ALARM_TOPIC} (an AWS::SNS::Topic of the template), and its Threshold is !Ref of a "
        "template parameter (defaults justified in docs/deploy.md)."
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"
    tags = ["yebolink", "alarms"]

    def match(self, cfn):
        matches = []
        alarms = _resources(cfn, "AWS::CloudWatch::Alarm")
        topics = _resources(cfn, "AWS::SNS::Topic")
        if alarms and ALARM_TOPIC not in topics:
            matches.append(RuleMatch(
                ["Resources"], f"The alarms need an AWS::SNS::Topic named {ALARM_TOPIC}"))
        for name, res in alarms.items():
            props = _props(res)
            for key in ("AlarmActions", "OKActions"):
                if not any(_is_ref(a, ALARM_TOPIC) for a in _as_list(props.get(key))):
                    matches.append(RuleMatch(
                        ["Resources", name, "Properties", key],
                        f"Alarm {name}: {key} must include !Ref {ALARM_TOPIC}",
                    ))
            if not _is_parameter_ref(cfn, props.get("Threshold")):
                matches.append(RuleMatch(
                    ["Resources", name, "Properties", "Threshold"],
                    f"Alarm {name}: Threshold must be !Ref of a template parameter",
                ))
        return matches


class RequiredAlarms(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "The required alarms exist"
    description = (
        "Unconditional alarms on: the authorizer's AWS/Lambda Errors; AuthorizerDecision "
        "Outcome=error; each table's read and write throttles; the stage's AWS/ApiGateway "
        "5XXError and p99 Latency (ApiName and Stage as the Api's); and for each function with "
        "an Api event, its 5xx rate: RequestCount (Function=<its binary>) for StatusClass 2xx, "
        "4xx and 5xx combined by a returned expression, TreatMissingData notBreaching; for "
        "each function with another event (a worker: stream, schedule, queue), its AWS/Lambda "
        "Errors, and for a stream consumer (DynamoDB, Kinesis) its IteratorAge with the Maximum "
        "statistic; for each SQS queue that is a dead-letter target, its "
        "ApproximateNumberOfMessagesVisible (QueueName: !GetAtt <Queue>.QueueName)."
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html"
    tags = ["yebolink", "alarms"]

    def match(self, cfn):
        matches = []
        alarms = _unconditional_alarms(cfn)
        stats = [(name, s) for name, props in alarms.items() for s in _metric_stats(props)]

        def missing(what: str):
            matches.append(RuleMatch(["Resources"], f"Missing alarm: {what}"))

        # The authorizer's errors.
        def lambda_alarm(fn: str, metric: str, stat: str | None = None) -> bool:
            return any(
                s["namespace"] == "AWS/Lambda" and s["name"] == metric
                and _names_function(cfn, s["dims"].get("FunctionName"), fn)
                and (stat is None or s["stat"] == stat)
                for _, s in stats
            )

        authorizers = _authorizer_functions(cfn)
        for fn in sorted(authorizers):
            if not lambda_alarm(fn, "Errors"):
                missing(f"AWS/Lambda Errors of the authorizer {fn} (FunctionName: !Ref {fn})")

        # The workers (no RequestCount: they answer no HTTP request): their errors, and a
        # stream consumer's lag (the Maximum: an average hides one shard that is behind).
        for fn, types in sorted(_worker_functions(cfn).items()):
            what = f"invoked by {', '.join(sorted(types))} events"
            if not lambda_alarm(fn, "Errors"):
                missing(f"AWS/Lambda Errors of {fn} ({what}; FunctionName: !Ref {fn})")
            if types & set(STREAM_EVENT_TYPES) and not lambda_alarm(fn, "IteratorAge", "Maximum"):
                missing(f"AWS/Lambda IteratorAge (Maximum) of {fn} ({what}: how far behind its "
                        f"stream it is; FunctionName: !Ref {fn}, Statistic: Maximum)")

        # Dead-letter queues: a message there is work given up on.
        for queue, sender in sorted(_dead_letter_queues(cfn).items()):
            if not any(
                s["namespace"] == "AWS/SQS" and s["name"] == "ApproximateNumberOfMessagesVisible"
                and _getatt(s["dims"].get("QueueName")) == (queue, "QueueName")
                for _, s in stats
            ):
                missing(f"AWS/SQS ApproximateNumberOfMessagesVisible of the dead-letter queue "
                        f"{queue} (of {sender}; QueueName: !GetAtt {queue}.QueueName)")

        # AuthorizerDecision Outcome=error.
        if not any(
            s["namespace"] == NAMESPACE and s["name"] == "AuthorizerDecision"
            and s["dims"].get("Outcome") == "error"
            for _, s in stats
        ):
            missing(f"{NAMESPACE} AuthorizerDecision with Outcome=error")

        # DynamoDB throttles, reads and writes, per table.
        for table in sorted(_resources(cfn, "AWS::DynamoDB::Table")):
            names = {
                s["name"] for _, s in stats
                if s["namespace"] == "AWS/DynamoDB" and _is_ref(s["dims"].get("TableName"), table)
            }
            if "ThrottledRequests" in names:
                continue
            for needed in ("ReadThrottleEvents", "WriteThrottleEvents"):
                if needed not in names:
                    missing(f"AWS/DynamoDB {needed} of table {table} (TableName: !Ref {table})")

        # The stage's 5XXError and p99 Latency.
        for api, res in sorted(_resources(cfn, "AWS::Serverless::Api").items()):
            props = _props(res)

            def on_stage(s):
                return (
                    s["namespace"] == "AWS/ApiGateway"
                    and "ApiName" in s["dims"] and s["dims"]["ApiName"] == props.get("Name")
                    and "Stage" in s["dims"] and s["dims"]["Stage"] == props.get("StageName")
                )

            if not any(on_stage(s) and s["name"] == "5XXError" for _, s in stats):
                missing(f"AWS/ApiGateway 5XXError of {api} (ApiName and Stage equal to its "
                        "Name and StageName)")
            if not any(on_stage(s) and s["name"] == "Latency" and s["stat"] == "p99"
                       for _, s in stats):
                missing(f"AWS/ApiGateway Latency p99 of {api} (ExtendedStatistic: p99; ApiName "
                        "and Stage equal to its Name and StageName)")

        # Each HTTP function's 5xx rate.
        for fn, binary in sorted(_http_functions(cfn).items()):
            if binary is None:
                matches.append(RuleMatch(
                    ["Resources", fn, "Metadata"],
                    f"{fn} has an Api event but no Metadata.BuildProperties.Binary: its metrics' "
                    "Function dimension (and its 5xx-rate alarm) cannot be checked",
                ))
                continue
            found = False
            for name, props in alarms.items():
                classes = {
                    s["dims"].get("StatusClass")
                    for s in _metric_stats(props)
                    if s["namespace"] == NAMESPACE and s["name"] == "RequestCount"
                    and s["dims"].get("Function") == binary
                }
                if not set(STATUS_CLASSES) <= classes:
                    continue
                found = True
                if not _returns_expression(props):
                    matches.append(RuleMatch(
                        ["Resources", name, "Properties", "Metrics"],
                        f"Alarm {name} ({binary}'s 5xx rate) must return an expression over its "
                        "RequestCount metrics (ReturnData: true on the Expression only)",
                    ))
                if props.get("TreatMissingData") != "notBreaching":
                    matches.append(RuleMatch(
                        ["Resources", name, "Properties"],
                        f"Alarm {name} ({binary}'s 5xx rate): TreatMissingData must be notBreaching",
                    ))
            if not found:
                missing(f"5xx rate of {fn}: {NAMESPACE} RequestCount with Function={binary} and "
                        f"StatusClass {', '.join(STATUS_CLASSES)}")
        return matches


class DashboardGraphsMetrics(CloudFormationLintRule):
    id = "E9003"
    shortdesc = "The dashboard graphs the stack's metrics"
    description = (
        "An AWS::CloudWatch::Dashboard exists; its DashboardBody (a string or an Fn::Sub) is a "
        "JSON object with widgets, and its metric widgets read "
        + ", ".join(DASHBOARD_METRICS) + f" of the {NAMESPACE} namespace, and name (${{...}}) "
        "every worker function (one with a non-Api event) and every dead-letter SQS queue "
        "(${Queue.QueueName})."
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"
    tags = ["yebolink", "dashboard"]

    def match(self, cfn):
        dashboards = _resources(cfn, "AWS::CloudWatch::Dashboard")
        if not dashboards:
            return [RuleMatch(["Resources"], "Missing an AWS::CloudWatch::Dashboard")]
        matches = []
        for name, res in dashboards.items():
            path = ["Resources", name, "Properties", "DashboardBody"]
            text = _sub_text(_props(res).get("DashboardBody"), keep_names=True)
            if text is None:
                matches.append(RuleMatch(path, f"{name}: DashboardBody must be a string or !Sub"))
                continue
            try:
                body = json.loads(text)
            except ValueError as err:
                matches.append(RuleMatch(path, f"{name}: DashboardBody is not JSON ({err})"))
                continue
            widgets = body.get("widgets") if isinstance(body, dict) else None
            if not isinstance(widgets, list) or not widgets:
                matches.append(RuleMatch(path, f"{name}: DashboardBody has no widgets"))
                continue
            # What the metric widgets read: metric arrays' strings and expressions (not titles).
            read = []
            for widget in widgets:
                props = widget.get("properties") if isinstance(widget, dict) else None
                for line in _as_list(props.get("metrics") if isinstance(props, dict) else None):
                    for item in _as_list(line):
                        if isinstance(item, str):
                            read.append(item)
                        elif isinstance(item, dict) and isinstance(item.get("expression"), str):
                            read.append(item["expression"])
            words = set(re.findall(r"[A-Za-z0-9_]+", " ".join(read)))
            if NAMESPACE not in words:
                matches.append(RuleMatch(path, f"{name}: no widget reads the {NAMESPACE} namespace"))
            for metric in DASHBOARD_METRICS:
                if metric not in words:
                    matches.append(RuleMatch(path, f"{name}: no widget graphs {metric}"))
            for fn, types in sorted(_worker_functions(cfn).items()):
                if _sub_word(fn) not in words:
                    matches.append(RuleMatch(
                        path, f"{name}: no widget graphs {fn} (invoked by {', '.join(sorted(types))} "
                        f"events: its AWS/Lambda metrics with FunctionName ${{{fn}}})"))
            for queue in sorted(_dead_letter_queues(cfn)):
                if _sub_word(f"{queue}.QueueName") not in words:
                    matches.append(RuleMatch(
                        path, f"{name}: no widget graphs the dead-letter queue {queue} "
                        f"(AWS/SQS ApproximateNumberOfMessagesVisible, QueueName ${{{queue}.QueueName}})"))
        return matches


def _access_log_targets(cfn) -> Iterator[tuple[str, dict]]:
    """(resource, properties) of every REST stage: AWS::Serverless::Api, AWS::ApiGateway::Stage."""
    for name, res in _resources(cfn, "AWS::Serverless::Api", "AWS::ApiGateway::Stage").items():
        yield name, _props(res)


class AccessLogs(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "Stage access logs: JSON, complete, no credential"
    description = (
        "Every REST stage has AccessLogSetting with DestinationArn and a Format that is one "
        "JSON object of quoted values carrying the request id, source address, method, route, "
        "status, latencies, authorizer latency and status and the integration error; the "
        "Format never references an API key, a header, $input or a credential, and no method "
        "setting turns on DataTraceEnabled (which logs requests with their headers)."
    )
    source_url = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html"
    tags = ["yebolink", "logging", "security"]

    def match(self, cfn):
        matches = []
        for name, props in _access_log_targets(cfn):
            base = ["Resources", name, "Properties"]
            for i, setting in enumerate(_as_list(props.get("MethodSettings"))):
                if isinstance(setting, dict) and setting.get("DataTraceEnabled") not in (None, False, "false"):
                    matches.append(RuleMatch(
                        base + ["MethodSettings", i, "DataTraceEnabled"],
                        f"{name}: DataTraceEnabled logs whole requests, headers (X-API-Key, "
                        "Authorization) included",
                    ))
            setting = props.get("AccessLogSetting")
            if not isinstance(setting, dict):
                matches.append(RuleMatch(base, f"{name}: no AccessLogSetting (stage access logs)"))
                continue
            if "DestinationArn" not in setting:
                matches.append(RuleMatch(base + ["AccessLogSetting"], f"{name}: AccessLogSetting has no DestinationArn"))
            path = base + ["AccessLogSetting", "Format"]
            fmt = _sub_text(setting.get("Format"))
            if fmt is None:
                matches.append(RuleMatch(path, f"{name}: AccessLogSetting has no Format string"))
                continue
            for pattern, what in ACCESS_LOG_FORBIDDEN:
                found = pattern.search(fmt)
                if found:
                    matches.append(RuleMatch(
                        path, f"{name}: the access-log Format must never log {what}: {found.group(0)!r}"))
            if "\n" in fmt:
                matches.append(RuleMatch(path, f"{name}: the access-log Format must be one line"))
            try:
                line = json.loads(fmt)
            except ValueError as err:
                matches.append(RuleMatch(
                    path, f"{name}: the access-log Format must be a JSON object with every value "
                    f"quoted ({err})"))
                continue
            if not isinstance(line, dict):
                matches.append(RuleMatch(path, f"{name}: the access-log Format must be a JSON object"))
                continue
            values = [v for v in line.values() if isinstance(v, str)]
            for what, variables in ACCESS_LOG_FIELDS:
                if not any(
                    re.search(re.escape(var) + r"(?![A-Za-z0-9_.])", v) for var in variables for v in values
                ):
                    matches.append(RuleMatch(
                        path, f"{name}: the access-log Format lacks {what} ({' or '.join(variables)})"))
        return matches


class AccessLogRetention(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "Access logs go to a log group with a retention"
    description = (
        "Each stage's AccessLogSetting.DestinationArn is !GetAtt <LogGroup>.Arn of an "
        "AWS::Logs::LogGroup in this template, and that group sets RetentionInDays."
    )
    source_url = "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html"
    tags = ["yebolink", "logging"]

    def match(self, cfn):
        matches = []
        groups = _resources(cfn, "AWS::Logs::LogGroup")
        for name, props in _access_log_targets(cfn):
            setting = props.get("AccessLogSetting")
            if not isinstance(setting, dict) or "DestinationArn" not in setting:
                continue  # E9004 reports it
            path = ["Resources", name, "Properties", "AccessLogSetting", "DestinationArn"]
            arn = setting["DestinationArn"]
            getatt = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
            if isinstance(getatt, str):
                getatt = getatt.split(".", 1)
            if not (isinstance(getatt, list) and len(getatt) == 2 and getatt[1] == "Arn"
                    and getatt[0] in groups):
                matches.append(RuleMatch(
                    path, f"{name}: DestinationArn must be !GetAtt <LogGroup>.Arn of a log group "
                    "of this template (so that its retention is set here)"))
                continue
            if "RetentionInDays" not in _props(groups[getatt[0]]):
                matches.append(RuleMatch(
                    ["Resources", getatt[0], "Properties"],
                    f"{getatt[0]} (access logs of {name}) has no RetentionInDays: kept forever"))
        return matches
