"""Fail if a secret appears in the logs of a test run. Run by scripts/test.sh as its last layer
over every file under target/yebolink-logs/ written during the run: the functions' own logs (the
JSON lines in cargo lambda watch's output, watch-test.log), the local DynamoDB's, the cargo test
output, and any other layer's.

A secret is:
  - a full API key: ybk_ + 48 lowercase hex (a key_prefix, ybk_ + 7 hex + "...", is fine);
  - a JWT: three base64url segments, the first starting eyJ;
  - a webhook signing secret: whsec_ + base64 of 32 bytes;
  - a password the test suites use. They are read from the test sources, so a new test's
    password is covered without editing this script if it either contains the suites' shared
    PASSWORD constant (tests/src/lib.rs; e.g. format!("{PASSWORD} #{i}")) or is a string
    literal written as a JSON "password" field or as the second argument of .login(...);
  - in the functions' own log lines, any JSON "password" field with a value at all (a logged
    request body), whatever the value;
  - the run's JWT signing secret (JWT_SECRET from the environment, when set).

The functions' metric lines (CloudWatch EMF, JSON with "_aws") are scanned as above and also
checked: each parses, has namespace YeboLink, and every dimension is one of the documented names
with a value from its fixed set, so no id or address ever becomes a dimension.

Before judging, it checks that the scan can see anything: the functions' info lines
("workspace registered", "API key created", "API key deactivated", "message queued", "webhook
endpoint created", "webhook attempt") must each
appear at least once, and so must the metric lines AuthorizerDecision, RequestCount,
RateLimited and WebhookAttempt, or the logs did not capture the functions and a clean scan would prove nothing.

Usage: python3 scripts/scan_logs.py [--logs DIR] [--since UNIX_SECONDS] [--tests DIR]
Prints what it scanned (files, lines) and every finding (file:line, kind; never the secret).
Exit 1 on a finding or if an expected info line is missing. Standard library only.
"""

import argparse
import json
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

API_KEY = re.compile(r"ybk_[0-9a-f]{48}")
WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{40,}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
PASSWORD_FIELD = re.compile(r"""\\?["']password\\?["']\s*:\s*\\?["'][^"'\\]""", re.IGNORECASE)
EXPECTED_INFO = ("workspace registered", "API key created", "API key deactivated", "message queued",
                 "webhook endpoint created", "webhook attempt")
EXPECTED_METRICS = ("AuthorizerDecision", "RequestCount", "RateLimited", "WebhookAttempt")
# Each EMF dimension and the values it may take (Function: a function's name).
DIMENSIONS = {
    "Function": re.compile(r"[a-z][a-z-]*"),
    "StatusClass": re.compile(r"[1-5]xx"),
    "Limit": re.compile(r"key|workspace|source|quota"),
    "Outcome": re.compile(r"allow|invalid_key|expired|deactivated|ip_not_allowed|jwt_invalid|error"),
    "Delivery": re.compile(r"succeeded|retrying|failed"),
}


def metric_problems(line, seen):
    """What is wrong with an EMF line (nothing: []); counts its metrics in `seen`."""
    try:
        emf = json.loads(line)
        directives = emf["_aws"]["CloudWatchMetrics"]
        for directive in directives:
            if directive["Namespace"] != "YeboLink":
                return ["a metric line outside the YeboLink namespace"]
            for metric in directive["Metrics"]:
                seen[metric["Name"]] = seen.get(metric["Name"], 0) + 1
            for name in (n for dims in directive["Dimensions"] for n in dims):
                if name not in DIMENSIONS or not DIMENSIONS[name].fullmatch(str(emf.get(name))):
                    return [f"metric dimension {name} is not a name from its fixed set"]
    except (ValueError, KeyError, TypeError):
        return ["a metric line that is not EMF"]
    return []

# Where the test sources name passwords.
RUST_STRING = r'"((?:[^"\\]|\\.)*)"'
PASSWORD_CONST = re.compile(r"const\s+PASSWORD\s*:\s*&str\s*=\s*" + RUST_STRING)
JSON_PASSWORD = re.compile(r'"password"\s*:\s*' + RUST_STRING)
LOGIN_LITERAL = re.compile(r"\.login\(\s*[^,()]+(?:\([^()]*\))?\s*,\s*" + RUST_STRING)


def test_passwords(tests_dir):
    """Password literals of the Rust test suites (at least 6 characters, to skip fragments)."""
    found = set()
    for path in sorted(tests_dir.rglob("*.rs")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in (PASSWORD_CONST, JSON_PASSWORD, LOGIN_LITERAL):
            for match in pattern.finditer(text):
                literal = match.group(1)
                if "\\" in literal:
                    literal = literal.encode("latin-1", "backslashreplace").decode("unicode_escape")
                if len(literal) >= 6:
                    found.add(literal)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=pathlib.Path, default=ROOT / "target" / "yebolink-logs")
    parser.add_argument("--since", type=float, default=0.0,
                        help="only files modified at or after this time (the run's start)")
    parser.add_argument("--tests", type=pathlib.Path, default=ROOT / "tests")
    args = parser.parse_args()

    passwords = test_passwords(args.tests)
    if not passwords:
        print(f"scan_logs: no test passwords found under {args.tests}: cannot check for them",
              file=sys.stderr)
        return 1
    literals = [("test password", p) for p in sorted(passwords)]
    secret = os.environ.get("JWT_SECRET", "")
    if len(secret) >= 16:
        literals.append(("the JWT signing secret", secret))

    files = sorted(p for p in args.logs.rglob("*") if p.is_file() and p.stat().st_mtime >= args.since)
    findings = []
    seen_info = dict.fromkeys(EXPECTED_INFO, 0)
    seen_metrics = {}
    lines_total = 0
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                lines_total += 1
                for info in EXPECTED_INFO:
                    if info in line:
                        seen_info[info] += 1
                kinds = []
                if API_KEY.search(line):
                    kinds.append("a full API key")
                if JWT.search(line):
                    kinds.append("a JWT")
                if WEBHOOK_SECRET.search(line):
                    kinds.append("a webhook signing secret")
                # Only in the functions' own (tracing JSON) lines: there it means a logged request
                # body; a fuzzer's report of the requests it generated may show made-up ones.
                if '"level":"' in line and PASSWORD_FIELD.search(line):
                    kinds.append('a "password" field with a value in a function log line')
                kinds += [kind for kind, literal in literals if literal in line]
                if '"_aws"' in line:
                    kinds += metric_problems(line, seen_metrics)
                for kind in kinds:
                    findings.append(f"{path.relative_to(args.logs)}:{number}: {kind}")

    print(f"scan_logs: scanned {lines_total} lines in {len(files)} files under {args.logs} "
          f"({', '.join(str(p.relative_to(args.logs)) for p in files) or 'none'}); "
          "looked for full API keys, JWTs, webhook secrets, "
          f"{len(passwords)} test passwords, password fields"
          f"{', the JWT secret' if len(literals) > len(passwords) else ''}")
    print("scan_logs: functions' info lines seen: "
          + ", ".join(f'"{info}" x{count}' for info, count in seen_info.items()))
    print("scan_logs: metric lines seen: "
          + ", ".join(f"{name} x{seen_metrics.get(name, 0)}" for name in EXPECTED_METRICS))
    missing = [info for info, count in seen_info.items() if count == 0]
    missing += [name for name in EXPECTED_METRICS if not seen_metrics.get(name)]
    status = 0
    if missing:
        print(f"scan_logs: FAILED: no {', '.join(repr(m) for m in missing)} line in the logs: "
              "the functions' output was not captured, so this scan proves nothing",
              file=sys.stderr)
        status = 1
    if findings:
        print(f"scan_logs: FAILED: {len(findings)} finding(s) in the logs:", file=sys.stderr)
        for finding in findings[:50]:
            print(f"  {finding}", file=sys.stderr)
        if len(findings) > 50:
            print(f"  ... and {len(findings) - 50} more", file=sys.stderr)
        status = 1
    if status == 0:
        print("scan_logs: no secrets found")
    return status


if __name__ == "__main__":
    sys.exit(main())
