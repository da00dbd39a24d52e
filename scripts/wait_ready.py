#!/usr/bin/env python3
"""Readiness checks for scripts/dev.sh and scripts/test.sh (python3 stdlib only, no AWS SDK).

Talks to the local DynamoDB with plain DynamoDB JSON-over-HTTP requests (a dummy SigV4
Authorization header plus X-Amz-Date is enough for an emulator), and polls the API while
cargo lambda watch compiles and starts the functions.

  wait_ready.py --endpoint URL wait [--timeout S] [--pid PID] [--ready-line TEXT --log FILE]
  wait_ready.py --endpoint URL list-tables
  wait_ready.py --endpoint URL describe-table --table-name NAME
  wait_ready.py wait-http --url URL [--method POST] [--data '{}'] [--timeout S] [--pid PID]
  wait_ready.py prewarm --base URL [--cargo-toml Cargo.toml]
"""

import argparse
import json
import os
import sys
import time
import tomllib
import urllib.error
import urllib.request

AUTH = (
    "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


class DdbError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        try:
            self.type = json.loads(body).get("__type", "")
        except ValueError:
            self.type = ""


def ddb(endpoint, op, payload, timeout=5.0):
    req = urllib.request.Request(
        endpoint.rstrip("/") + "/",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{op}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": AUTH,
            # dynalite rejects a SigV4 Authorization header without a date header.
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise DdbError(e.code, e.read().decode(errors="replace")) from None


def pid_alive(pid):
    if not pid:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers kill 0.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def log_has(path, text):
    try:
        with open(path, errors="replace") as f:
            return text in f.read()
    except OSError:
        return False


def cmd_wait(a):
    deadline = time.monotonic() + a.timeout
    while True:
        if not a.ready_line or log_has(a.log, a.ready_line):
            try:
                ddb(a.endpoint, "ListTables", {}, timeout=2)
                return 0
            except DdbError as e:  # it answers, but refuses our requests: say so, do not wait
                print(f"{a.endpoint} answers ListTables with {e}", file=sys.stderr)
                return 1
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
        if not pid_alive(a.pid):
            print(f"the local DynamoDB (pid {a.pid}) exited", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"no answer from {a.endpoint} after {a.timeout:.0f}s", file=sys.stderr)
            return 1
        time.sleep(0.2)


def cmd_list_tables(a):
    print(json.dumps(ddb(a.endpoint, "ListTables", {})))
    return 0


def cmd_describe_table(a):
    print(json.dumps(ddb(a.endpoint, "DescribeTable", {"TableName": a.table_name}), indent=2))
    return 0


def http_status(url, method="GET", data=None, timeout=30.0, headers=None):
    """Returns the HTTP status, or None if nothing answered (refused, reset, timed out)."""
    body = data.encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def tail_progress(log, last_size):
    """Prints new 'Compiling'/'Finished'/error lines that cargo wrote to LOG since LAST_SIZE."""
    try:
        size = os.path.getsize(log)
    except OSError:
        return last_size
    if size <= last_size:
        return size
    with open(log, "rb") as f:
        f.seek(last_size)
        chunk = f.read().decode(errors="replace")
    lines = [l.strip() for l in chunk.splitlines()]
    compiling = [l for l in lines if l.startswith("Compiling ")]
    for l in lines:
        if l.startswith(("Finished", "error", "Running", "warning: unused")) or "ERROR" in l:
            print(f"   {l}", file=sys.stderr)
    if compiling:
        print(f"   ... {compiling[-1]} ({len(compiling)} crates since last report)", file=sys.stderr)
    return size


def cmd_wait_http(a):
    start = time.monotonic()
    deadline = start + a.timeout
    last_size = os.path.getsize(a.log) if a.log and os.path.exists(a.log) else 0
    last_print = 0.0
    while True:
        # A long per-request timeout: the first request blocks while watch compiles the function.
        status = http_status(a.url, a.method, a.data, timeout=max(5.0, min(600.0, deadline - time.monotonic())))
        # 5xx from watch itself while a function is still building do not count as ready.
        if status is not None and status not in (502, 504):
            if a.progress:
                print(f"   {a.url} answered HTTP {status} after {time.monotonic() - start:.0f}s", file=sys.stderr)
            return 0
        if not pid_alive(a.pid):
            print(f"the server process (pid {a.pid}) exited", file=sys.stderr)
            return 1
        now = time.monotonic()
        if now > deadline:
            print(f"{a.url} did not answer within {a.timeout:.0f}s", file=sys.stderr)
            return 1
        if a.progress and a.log and now - last_print > 15:
            last_print = now
            last_size = tail_progress(a.log, last_size)
        time.sleep(1)


def router_routes(cargo_toml):
    with open(cargo_toml, "rb") as f:
        meta = tomllib.load(f)
    router = meta.get("workspace", {}).get("metadata", {}).get("lambda", {}).get("watch", {}).get("router", {})
    routes = []
    for path, targets in router.items():
        for t in targets:
            routes.append((t.get("method", "GET"), path.replace("{id}", "prewarm").replace("{", "").replace("}", ""), t["function"]))
    return routes


def cmd_prewarm(a):
    seen = set()
    for method, path, fn in router_routes(a.cargo_toml):
        if fn in seen:
            continue
        seen.add(fn)
        t0 = time.monotonic()
        data = "{}" if method in ("POST", "PUT", "PATCH") else None
        status = http_status(a.base.rstrip("/") + path, method, data, timeout=a.timeout)
        took = time.monotonic() - t0
        print(f"   {fn:<20} {method:<6} {path:<28} -> {status if status else 'no answer'} ({took:.1f}s)", file=sys.stderr)
        if status is None or status in (502, 504):
            return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", default=os.environ.get("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000"))
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("wait")
    s.add_argument("--timeout", type=float, default=30)
    s.add_argument("--pid", type=int)
    s.add_argument("--ready-line", help="wait until LOG contains this text before asking")
    s.add_argument("--log")
    s.set_defaults(fn=cmd_wait)

    s = sub.add_parser("list-tables")
    s.set_defaults(fn=cmd_list_tables)

    s = sub.add_parser("describe-table")
    s.add_argument("--table-name", required=True)
    s.set_defaults(fn=cmd_describe_table)

    s = sub.add_parser("wait-http")
    s.add_argument("--url", required=True)
    s.add_argument("--method", default="GET")
    s.add_argument("--data")
    s.add_argument("--timeout", type=float, default=1200)
    s.add_argument("--pid", type=int)
    s.add_argument("--log")
    s.add_argument("--progress", action="store_true")
    s.set_defaults(fn=cmd_wait_http)

    s = sub.add_parser("prewarm")
    s.add_argument("--base", required=True)
    s.add_argument("--timeout", type=float, default=1200)
    s.add_argument("--cargo-toml", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Cargo.toml"))
    s.set_defaults(fn=cmd_prewarm)

    a = p.parse_args()
    try:
        return a.fn(a)
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        print(f"{a.cmd}: cannot reach {getattr(a, 'endpoint', '')}: {e}", file=sys.stderr)
        return 1
    except DdbError as e:
        print(f"{a.cmd}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
