#!/usr/bin/env python3
"""Checks that the deployable template, the code and the docs describe the same API and table.

1. Routes: every API route in infra/template.yaml (method + path) is served by a function whose
   BuildProperties.Binary names a crate under functions/<name>/ with a binary of that name, has
   the same entry in Cargo.toml [workspace.metadata.lambda.watch.router], is listed in
   docs/api.md (the API reference) as `METHOD /api/v1/...`, and is an operation of the OpenAPI
   document docs/openapi.yaml (the web console's routes, outside /api/v1, are in neither).
   Nothing else exists on any side: every functions/* crate is a function of the template,
   every router entry, docs/api.md route and OpenAPI operation is a template route.
   Each route has the authorizer its path needs (shared::services::auth::Credential::for_path),
   and its OpenAPI operation the matching security scheme (X-API-Key apiKey / bearer JWT / none).
   A function without a route is the authorizers' function or a worker: only events of
   WORKER_EVENT_TYPES (the webhook dispatcher: DynamoDB, on the table's own stream; the
   webhook scheduler: Schedule), never mixed with Api events, and in no router or doc.
2. Table: the DynamoDB table in the template matches infra/table.json, the definition that
   local development creates (attributes, key schema, GSIs, billing mode, stream, TTL
   attribute); and
   no GSI lists a key attribute (the table's or its own) in NonKeyAttributes: keys are always
   projected, and DynamoDB may refuse to create such an index.
3. Environment: no function gets a plain JWT_SECRET or the local-only inline-auth switch, and
   every limit of shared's bootstrap/config.rs is set for all functions from a template parameter.

Exit status 0 when all hold; 1 with one line per problem otherwise. Needs Python >= 3.11
(tomllib), PyYAML and cfn-lint (scripts/lint.sh runs it from .tools/lint-venv).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import yaml
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
TABLE_JSON = ROOT / "infra" / "table.json"
CARGO_TOML = ROOT / "Cargo.toml"
API_DOC = ROOT / "docs" / "api.md"
OPENAPI = ROOT / "docs" / "openapi.yaml"
FUNCTIONS_DIR = ROOT / "functions"

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# A route as docs/api.md writes it: `POST /api/v1/api-keys`, `DELETE /api/v1/api-keys/{id}`
# (the docs' `/api/v1/api-keys/:id` form is accepted too).
API_DOC_ROUTE = re.compile(r"\b(" + "|".join(METHODS) + r") +(/api/v1/[A-Za-z0-9_\-/{}:]*[A-Za-z0-9_\-}])")
# Which authorizer a path needs; mirrors shared::services::auth::Credential::for_path.
AUTHORIZER_BY_PREFIX = (
    ("/api/v1/messages", "ApiKeyAuthorizer"),
    ("/api/v1/api-keys", "JwtAuthorizer"),
    ("/api/v1/audit-events", "JwtAuthorizer"),
    ("/api/v1/usage", "JwtAuthorizer"),
    ("/api/v1/webhooks", "JwtAuthorizer"),
)
# Paths under those prefixes that no authorizer guards (shared::auth::LEAK_REPORTS_PATH: signed
# by GitHub secret scanning instead).
UNGUARDED_PATHS = ("/api/v1/api-keys/leaks",)
FORBIDDEN_ENV = ("JWT_SECRET", "YEBOLINK_LOCAL_INLINE_AUTH", "DYNAMODB_ENDPOINT")
# Events a function without a route (a worker: webhook-dispatcher, webhook-scheduler) may have.
WORKER_EVENT_TYPES = ("DynamoDB", "Schedule")
# The OpenAPI security scheme each authorizer corresponds to, and what that scheme must be.
SCHEME_BY_AUTHORIZER = {"ApiKeyAuthorizer": "ApiKeyAuth", "JwtAuthorizer": "BearerAuth"}
SCHEME_SHAPES = {
    "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
}
OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

Route = tuple[str, str]  # (METHOD, /path/{param})


# --- reading CloudFormation YAML ------------------------------------------------------------

def load_template(path: Path) -> dict:
    """The template with short-form tags (!Ref, !GetAtt, !Sub, ...) in their long form
    ({"Ref": ...}, {"Fn::GetAtt": [...]}), read by cfn-lint's own decoder, as `make lint`
    lints it."""
    return cfn_yaml.load(str(path))


# --- helpers ----------------------------------------------------------------------------------

def norm_path(path: str) -> str:
    """`/api/v1/api-keys/:id` -> `/api/v1/api-keys/{id}`; strips a trailing slash."""
    path = re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", r"{\1}", path)
    return path.rstrip("/") or "/"


def authorizer_for(path: str) -> str | None:
    """The authorizer a path needs; mirrors shared::services::auth::Credential::for_path."""
    if path in UNGUARDED_PATHS:
        return None
    return next((a for prefix, a in AUTHORIZER_BY_PREFIX
                 if path == prefix or path.startswith(prefix + "/")), None)


def fmt(route: Route) -> str:
    return f"{route[0]} {route[1]}"


def ref_name(value) -> str | None:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return value["Ref"]
    return None


def getatt_resource(value) -> str | None:
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and target:
            return target[0]
    return None


# --- 1. routes ------------------------------------------------------------------------------

def template_functions(template: dict) -> dict[str, dict]:
    return {
        name: res
        for name, res in template.get("Resources", {}).items()
        if res.get("Type") == "AWS::Serverless::Function"
    }


def template_apis(template: dict) -> dict[str, dict]:
    return {
        name: res
        for name, res in template.get("Resources", {}).items()
        if res.get("Type") == "AWS::Serverless::Api"
    }


def check_routes(template: dict, errors: list[str]) -> dict[Route, str]:
    functions = template_functions(template)
    apis = template_apis(template)
    if len(apis) != 1:
        errors.append(f"template: expected exactly one AWS::Serverless::Api, found {sorted(apis) or 'none'}")
    api_name = next(iter(apis), None)
    authorizers = (
        apis[api_name].get("Properties", {}).get("Auth", {}).get("Authorizers", {}) if api_name else {}
    )

    binaries: dict[str, str] = {}  # binary -> logical id
    routes: dict[Route, str] = {}  # route -> binary
    workers: set[str] = set()  # logical ids of functions invoked by WORKER_EVENT_TYPES events
    for logical_id, res in sorted(functions.items()):
        props = res.get("Properties", {})
        meta = res.get("Metadata", {})
        binary = meta.get("BuildProperties", {}).get("Binary")
        if meta.get("BuildMethod") != "rust-cargolambda" or not binary:
            errors.append(
                f"template: {logical_id} needs Metadata.BuildMethod rust-cargolambda and "
                "Metadata.BuildProperties.Binary"
            )
            continue
        if binary in binaries:
            errors.append(f"template: {logical_id} and {binaries[binary]} both build binary {binary!r}")
        binaries[binary] = logical_id
        events = props.get("Events", {})
        types = {event.get("Type") for event in events.values()}
        if types - {"Api"}:
            workers.add(logical_id)
            if "Api" in types:
                errors.append(f"template: {logical_id} has Api and {sorted(types - {'Api'})} events: a function is routed or a worker, not both")
        for event_name, event in sorted(events.items()):
            if event.get("Type") != "Api":
                check_worker_event(template, logical_id, event_name, event, errors)
                continue
            ev = event.get("Properties", {})
            if ref_name(ev.get("RestApiId")) != api_name:
                errors.append(f"template: {logical_id}.{event_name} must set RestApiId: !Ref {api_name}")
            route = (str(ev.get("Method", "")).upper(), norm_path(str(ev.get("Path", ""))))
            if route in routes:
                errors.append(f"template: {fmt(route)} is routed twice ({routes[route]} and {binary})")
            routes[route] = binary
            # The authorizer this path needs, and no other.
            wanted = authorizer_for(route[1])
            got = ev.get("Auth", {}).get("Authorizer")
            if got in (None, "NONE"):
                got = None
            if got != wanted:
                errors.append(f"template: {fmt(route)} has authorizer {got or 'none'}, expected {wanted or 'none'}")

    # Functions without routes must be the authorizers' function or a worker.
    authorizer_targets = {getatt_resource(a.get("FunctionArn")) for a in authorizers.values()}
    routed = set(routes.values())
    for binary, logical_id in sorted(binaries.items()):
        if binary not in routed and logical_id not in authorizer_targets | workers:
            errors.append(f"template: function {logical_id} ({binary}) has no API route and is neither an authorizer nor a worker ({'/'.join(WORKER_EVENT_TYPES)} events)")
    for name, auth in sorted(authorizers.items()):
        target = getatt_resource(auth.get("FunctionArn"))
        if target not in functions:
            errors.append(f"template: authorizer {name} does not point at a function of the template (FunctionArn: !GetAtt <Function>.Arn)")
        elif auth.get("Identity", {}).get("ReauthorizeEvery") != 0:
            errors.append(f"template: authorizer {name} must set Identity.ReauthorizeEvery: 0 (no caching; deactivation is immediate)")
    for prefix, name in AUTHORIZER_BY_PREFIX:
        if name not in authorizers:
            errors.append(f"template: authorizer {name} (for {prefix}...) is missing")

    # functions/<binary>/ exists, is a crate with a binary of that name; and nothing else is there.
    crate_dirs = {p.name: p for p in FUNCTIONS_DIR.iterdir() if p.is_dir()} if FUNCTIONS_DIR.is_dir() else {}
    for binary, logical_id in sorted(binaries.items()):
        crate = crate_dirs.get(binary)
        if crate is None:
            errors.append(f"functions/: no directory {binary}/ for {logical_id} (Binary: {binary})")
            continue
        bins = crate_binaries(crate, errors)
        if bins is not None and binary not in bins:
            errors.append(f"functions/{binary}/Cargo.toml: builds binaries {sorted(bins)}, not {binary!r}")
    for name in sorted(set(crate_dirs) - set(binaries)):
        errors.append(f"functions/{name}/ is not a function of infra/template.yaml")

    # Cargo.toml watch router: the same routes, to the same binaries, and nothing else.
    router = watch_router(errors)
    for route, binary in sorted(routes.items()):
        if route not in router:
            errors.append(f"Cargo.toml watch router: missing {fmt(route)} -> {binary}")
        elif router[route] != binary:
            errors.append(f"Cargo.toml watch router: {fmt(route)} goes to {router[route]}, the template says {binary}")
    for route in sorted(set(router) - set(routes)):
        errors.append(f"Cargo.toml watch router: {fmt(route)} -> {router[route]} is not a route of infra/template.yaml")
    return routes


def check_worker_event(template: dict, logical_id: str, event_name: str, event: dict, errors: list[str]) -> None:
    """A non-Api event: of WORKER_EVENT_TYPES; a DynamoDB event reads the template's own
    table's stream (!GetAtt <Table>.StreamArn), which the table must have."""
    kind = event.get("Type")
    where = f"template: {logical_id}.{event_name}"
    if kind not in WORKER_EVENT_TYPES:
        errors.append(f"{where} is a {kind} event; expected Api or one of {', '.join(WORKER_EVENT_TYPES)}")
        return
    if kind != "DynamoDB":
        return
    stream = (event.get("Properties") or {}).get("Stream")
    target = stream.get("Fn::GetAtt") if isinstance(stream, dict) and set(stream) == {"Fn::GetAtt"} else None
    if isinstance(target, str):
        target = target.split(".", 1)
    resources = template.get("Resources", {})
    if not (isinstance(target, list) and len(target) == 2 and target[1] == "StreamArn"
            and resources.get(target[0], {}).get("Type") == "AWS::DynamoDB::Table"):
        errors.append(f"{where}: Stream must be !GetAtt <Table>.StreamArn of the template's table")
    elif not (resources[target[0]].get("Properties") or {}).get("StreamSpecification"):
        errors.append(f"{where}: table {target[0]} has no StreamSpecification")


def crate_binaries(crate: Path, errors: list[str]) -> set[str] | None:
    manifest = crate / "Cargo.toml"
    if not manifest.is_file():
        errors.append(f"functions/{crate.name}/: no Cargo.toml")
        return None
    with manifest.open("rb") as f:
        data = tomllib.load(f)
    package = data.get("package", {}).get("name")
    explicit = {b.get("name") for b in data.get("bin", [])}
    if explicit:
        return explicit
    if not (crate / "src" / "main.rs").is_file():
        errors.append(f"functions/{crate.name}/: no src/main.rs and no [[bin]]")
        return set()
    return {package} if package else set()


def watch_router(errors: list[str]) -> dict[Route, str]:
    with CARGO_TOML.open("rb") as f:
        cargo = tomllib.load(f)
    table = cargo.get("workspace", {}).get("metadata", {}).get("lambda", {}).get("watch", {}).get("router")
    if not isinstance(table, dict):
        errors.append("Cargo.toml: [workspace.metadata.lambda.watch.router] is missing")
        return {}
    router: dict[Route, str] = {}
    for path, targets in table.items():
        entries = targets if isinstance(targets, list) else [targets]
        for entry in entries:
            if isinstance(entry, str):  # "path" = "function": every method
                errors.append(f"Cargo.toml watch router: {path} = {entry!r} names no method; use [{{ method = ..., function = ... }}]")
                continue
            route = (str(entry.get("method", "")).upper(), norm_path(path))
            if route in router:
                errors.append(f"Cargo.toml watch router: {fmt(route)} appears twice")
            router[route] = entry.get("function", "")
    return router


def check_api_doc(routes: dict[Route, str], errors: list[str]) -> None:
    if not API_DOC.is_file():
        errors.append(
            "docs/api.md: missing; it must list every route as `METHOD /api/v1/...`: "
            + ", ".join(fmt(r) for r in sorted(routes))
        )
        return
    listed = {(m, norm_path(p)) for m, p in API_DOC_ROUTE.findall(API_DOC.read_text(encoding="utf-8"))}
    missing = sorted(set(routes) - listed)
    if missing:
        errors.append("docs/api.md: routes not listed as `METHOD /api/v1/...`: " + ", ".join(fmt(r) for r in missing))
    for route in sorted(listed - set(routes)):
        errors.append(f"docs/api.md: lists {fmt(route)}, which is not a route of infra/template.yaml")


def _resolve(document: dict, node):
    """Follows local `$ref`s (`#/components/...`) until a node that is not a reference."""
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return None
        seen.add(ref)
        node = document
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    return node


def check_openapi(routes: dict[Route, str], errors: list[str]) -> int:
    """docs/openapi.yaml: the same routes as the template, each with the security scheme its
    authorizer implies, rate-limit headers on messaging answers and Retry-After on 429/503."""
    where = "docs/openapi.yaml"
    if not OPENAPI.is_file():
        errors.append(f"{where}: missing; it must describe every route: " + ", ".join(fmt(r) for r in sorted(routes)))
        return 0
    with OPENAPI.open(encoding="utf-8") as f:
        document = yaml.safe_load(f)
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        errors.append(f"{where}: expected an OpenAPI 3.1 document (openapi: 3.1.x)")
        return 0
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    for name, shape in SCHEME_SHAPES.items():
        got = schemes.get(name) or {}
        wrong = {k: got.get(k) for k, v in shape.items() if str(got.get(k, "")).lower() != v.lower()}
        if wrong:
            errors.append(f"{where}: securitySchemes.{name} must be {shape}, has {wrong}")
    global_security = document.get("security", [])

    operations: dict[Route, dict] = {}
    for path, item in (document.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method in OPENAPI_METHODS:
                operations[(method.upper(), norm_path(path))] = operation or {}
    for route in sorted(set(routes) - set(operations)):
        errors.append(f"{where}: route {fmt(route)} of infra/template.yaml is not documented")
    for route in sorted(set(operations) - set(routes)):
        errors.append(f"{where}: documents {fmt(route)}, which is not a route of infra/template.yaml")

    for route in sorted(set(operations) & set(routes)):
        operation = operations[route]
        authorizer = authorizer_for(route[1])
        wanted = SCHEME_BY_AUTHORIZER.get(authorizer) if authorizer else None
        security = operation.get("security", global_security) or []
        names = sorted({name for requirement in security for name in (requirement or {})})
        if names != ([wanted] if wanted else []):
            errors.append(f"{where}: {fmt(route)} has security {names or 'none'}, expected {wanted or 'none'} (security: [] for none)")
        responses = operation.get("responses") or {}
        if not any(str(status).startswith("2") for status in responses):
            errors.append(f"{where}: {fmt(route)} documents no 2xx response")
        for status, response in sorted(responses.items(), key=lambda kv: str(kv[0])):
            response = _resolve(document, response)
            if not isinstance(response, dict):
                errors.append(f"{where}: {fmt(route)} {status}: unresolvable response")
                continue
            headers = {name.lower() for name in response.get("headers") or {}}
            if str(status) in ("429", "503") and "retry-after" not in headers:
                errors.append(f"{where}: {fmt(route)} {status} does not declare Retry-After")
            if wanted == "ApiKeyAuth" and str(status) != "401":
                missing = [h for h in RATE_LIMIT_HEADERS if h.lower() not in headers]
                if missing:
                    errors.append(f"{where}: {fmt(route)} {status} does not declare {', '.join(missing)}")
            if "application/json" not in (response.get("content") or {}):
                errors.append(f"{where}: {fmt(route)} {status} has no application/json body")
    return len(operations)


# --- 2. table -------------------------------------------------------------------------------

def _attrs(defs) -> dict[str, str]:
    return {d["AttributeName"]: d["AttributeType"] for d in defs or []}


def _keys(schema) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema or []]


def _projection(projection) -> tuple[str, tuple[str, ...]]:
    projection = projection or {}
    return projection.get("ProjectionType", "ALL"), tuple(sorted(projection.get("NonKeyAttributes", [])))


def _indexes(indexes) -> dict[str, tuple]:
    return {i["IndexName"]: (_keys(i.get("KeySchema")), _projection(i.get("Projection"))) for i in indexes or []}


# Fields of infra/table.json this check compares; anything else there must be added here first.
TABLE_JSON_FIELDS = {"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode", "StreamSpecification", "TimeToLiveAttribute"}


def check_table(template: dict, errors: list[str]) -> None:
    with TABLE_JSON.open(encoding="utf-8") as f:
        local = json.load(f)
    tables = {n: r for n, r in template.get("Resources", {}).items() if r.get("Type") == "AWS::DynamoDB::Table"}
    if len(tables) != 1:
        errors.append(f"template: expected exactly one AWS::DynamoDB::Table, found {sorted(tables) or 'none'}")
        return
    name, table = next(iter(tables.items()))
    props = table.get("Properties", {})
    where = f"template {name} vs infra/table.json"

    unknown = sorted(set(local) - TABLE_JSON_FIELDS)
    if unknown:
        errors.append(f"infra/table.json: fields {unknown} are not compared with the template; teach scripts/check_consistency.py")
    if _attrs(props.get("AttributeDefinitions")) != _attrs(local.get("AttributeDefinitions")):
        errors.append(f"{where}: AttributeDefinitions differ: {_attrs(props.get('AttributeDefinitions'))} vs {_attrs(local.get('AttributeDefinitions'))}")
    if _keys(props.get("KeySchema")) != _keys(local.get("KeySchema")):
        errors.append(f"{where}: KeySchema differs: {_keys(props.get('KeySchema'))} vs {_keys(local.get('KeySchema'))}")
    t_idx, l_idx = _indexes(props.get("GlobalSecondaryIndexes")), _indexes(local.get("GlobalSecondaryIndexes"))
    for index in sorted(set(t_idx) | set(l_idx)):
        if index not in t_idx or index not in l_idx:
            errors.append(f"{where}: GSI {index} exists only in {'the template' if index in t_idx else 'infra/table.json'}")
        elif t_idx[index] != l_idx[index]:
            errors.append(f"{where}: GSI {index} differs (key schema, projection): {t_idx[index]} vs {l_idx[index]}")
    if props.get("LocalSecondaryIndexes"):
        errors.append(f"{where}: the template has LocalSecondaryIndexes, infra/table.json has none")
    if props.get("BillingMode", "PROVISIONED") != local.get("BillingMode", "PROVISIONED"):
        errors.append(f"{where}: BillingMode {props.get('BillingMode')} vs {local.get('BillingMode')}")
    for source, definition in (("template " + name, props), ("infra/table.json", local)):
        check_projected_keys(source, definition, errors)
    # The stream: the template's StreamSpecification has only StreamViewType (its presence
    # enables it); infra/table.json has CreateTable's {StreamEnabled, StreamViewType}.
    t_stream = (props.get("StreamSpecification") or {}).get("StreamViewType")
    l_spec = local.get("StreamSpecification") or {}
    l_stream = l_spec.get("StreamViewType") if l_spec.get("StreamEnabled") is True else None
    if t_stream != l_stream:
        errors.append(f"{where}: stream view type {t_stream} vs {l_stream} (StreamEnabled: true and StreamViewType in infra/table.json)")
    ttl = props.get("TimeToLiveSpecification") or {}
    t_ttl = ttl.get("AttributeName") if ttl.get("Enabled") is True else None
    if t_ttl != local.get("TimeToLiveAttribute"):
        errors.append(f"{where}: TTL attribute {t_ttl} (enabled) vs {local.get('TimeToLiveAttribute')}")


def check_projected_keys(where: str, definition: dict, errors: list[str]) -> None:
    """No GSI names a key attribute in NonKeyAttributes (issue 15, finding 6)."""
    table_keys = {name for name, _ in _keys(definition.get("KeySchema"))}
    for index in definition.get("GlobalSecondaryIndexes") or []:
        keys = table_keys | {name for name, _ in _keys(index.get("KeySchema"))}
        listed = set((index.get("Projection") or {}).get("NonKeyAttributes") or [])
        if listed & keys:
            errors.append(
                f"{where}: GSI {index.get('IndexName')} lists key attribute(s) {sorted(listed & keys)} in "
                "NonKeyAttributes; keys are always projected (DynamoDB may refuse the index): remove them"
            )


# --- 2b. API Gateway's own answers --------------------------------------------------------

ERROR_RS = ROOT / "shared" / "src" / "http" / "error.rs"


def check_gateway_codes(template: dict, errors: list[str]) -> None:
    """Each gateway response's error code is documented in docs/openapi.yaml, and a 429 that
    API Gateway (or WAF) answers uses a code no function answers with: a client must be able
    to tell AWS shedding load from its own key's, workspace's or address's limit (issue 15,
    finding 8)."""
    function_codes = set(re.findall(r'ApiError::\w+(?: \{ \.\. \}|\(_\))? => "([a-z_]+)"', ERROR_RS.read_text(encoding="utf-8")))
    if not function_codes:
        errors.append("shared/src/http/error.rs: no error codes found (has ApiError::code changed shape?)")
    with OPENAPI.open(encoding="utf-8") as f:
        document = yaml.safe_load(f)
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    documented = set(envelope["properties"]["error"]["properties"]["code"]["enum"])
    answers = []
    for api in template_apis(template).values():
        for kind, response in ((api.get("Properties") or {}).get("GatewayResponses") or {}).items():
            body = ((response.get("ResponseTemplates") or {}).get("application/json")) or ""
            answers.append((f"gateway response {kind}", response.get("StatusCode"), body))
    for name, acl in template.get("Resources", {}).items():
        if acl.get("Type") == "AWS::WAFv2::WebACL":
            for key, body in ((acl.get("Properties") or {}).get("CustomResponseBodies") or {}).items():
                statuses = {
                    str(((rule.get("Action") or {}).get("Block") or {}).get("CustomResponse", {}).get("ResponseCode"))
                    for rule in (acl["Properties"].get("Rules") or [])
                    if ((rule.get("Action") or {}).get("Block") or {}).get("CustomResponse", {}).get("CustomResponseBodyKey") == key
                }
                for status in statuses:
                    answers.append((f"{name} body {key}", status, body.get("Content", "")))
    for where, status, body in answers:
        match = re.search(r'"code": "([^"$]+)"', body)
        if not match:
            continue
        code = match.group(1)
        if code not in documented:
            errors.append(f"template: {where} answers code {code!r}, which docs/openapi.yaml does not list")
        if str(status) == "429" and code in function_codes:
            errors.append(f"template: {where} answers 429 {code!r}, a code the functions use too: clients cannot tell them apart")


# --- 3. environment -------------------------------------------------------------------------

# Limits every function reads from its environment (shared's bootstrap/config.rs); the template sets
# each from a parameter of the same meaning.
LIMIT_ENV = (
    "RATE_LIMIT_PER_MINUTE",
    "WORKSPACE_RATE_LIMIT_PER_MINUTE",
    "WORKSPACE_KEY_LIMIT",
    "REGISTER_LIMIT_PER_IP_PER_HOUR",
    "LOGIN_LIMIT_PER_IP_PER_15_MIN",
)


def check_environment(template: dict, errors: list[str]) -> None:
    global_vars = (template.get("Globals", {}).get("Function", {}).get("Environment") or {}).get("Variables") or {}
    for name in LIMIT_ENV:
        parameter = ref_name(global_vars.get(name))
        if parameter not in template.get("Parameters", {}):
            errors.append(f"template: Globals.Function sets {name} from no parameter ({global_vars.get(name)!r})")
    scopes = {"Globals.Function": template.get("Globals", {}).get("Function", {})}
    scopes.update({n: r.get("Properties", {}) for n, r in template_functions(template).items()})
    for where, props in scopes.items():
        variables = (props.get("Environment") or {}).get("Variables") or {}
        for name in FORBIDDEN_ENV:
            if name in variables:
                errors.append(f"template: {where} sets {name}, which must never be set in AWS")
        # Loopback webhook URLs are for make dev and make test only: deployed, only public ones.
        policy = variables.get("WEBHOOK_URL_POLICY")
        if policy is not None and policy != "public":
            errors.append(f"template: {where} sets WEBHOOK_URL_POLICY to {policy!r}; deployed it must be public")
    if global_vars.get("WEBHOOK_URL_POLICY") != "public":
        errors.append("template: Globals.Function must set WEBHOOK_URL_POLICY: public")


def main() -> int:
    errors: list[str] = []
    template = load_template(TEMPLATE)
    routes = check_routes(template, errors)
    # docs/api.md and the OpenAPI document describe the API; the web console's files
    # (functions/console, outside /api/v1) are routes of the template and the router only.
    api_routes = {r: b for r, b in routes.items() if r[1] == "/api/v1" or r[1].startswith("/api/v1/")}
    check_api_doc(api_routes, errors)
    check_openapi(api_routes, errors)
    check_table(template, errors)
    check_gateway_codes(template, errors)
    check_environment(template, errors)
    if errors:
        print(f"check_consistency: {len(errors)} problem(s):", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        return 1
    print(
        f"check_consistency: OK: {len(api_routes)} API routes agree across infra/template.yaml, functions/, "
        f"Cargo.toml watch router, docs/api.md and docs/openapi.yaml, {len(routes) - len(api_routes)} "
        "console routes across the first three; the workers' events are theirs; table matches "
        "infra/table.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
