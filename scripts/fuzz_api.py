#!/usr/bin/env python3
"""`make fuzz-api`: schemathesis against a running stack, driven by docs/openapi.yaml.

1. Makes real credentials over HTTP: registers a fresh workspace (user JWT), creates an API key
   with both scopes, reads the stack's per-key rate limit from X-RateLimit-Limit, and sends one
   message per channel so that listing has pages to turn.
2. Runs `schemathesis run` (from .tools/fuzz-venv, pinned) with scripts/fuzz_api_hooks.py, which
   puts the JWT on key-management routes and API keys (a fresh one per half-window of uses) on
   messaging routes. Checks: no 5xx, status codes, content types, response headers and bodies
   conform to the document, and declared authentication is enforced. Generation is
   deterministic (same cases every run, no example database), bounded by examples per operation
   and a hard time limit.
3. Prints one summary line (operations, cases, checks, failures) and exits non-zero on any
   failure or error. The JUnit XML report goes to target/yebolink-logs/fuzz/.

Env: YEBOLINK_BASE_URL (required, e.g. http://127.0.0.1:9000), FUZZ_MAX_EXAMPLES (per operation
and phase, default 50), FUZZ_TIMEOUT (seconds for the schemathesis run, default 300),
FUZZ_WORKERS (default 1), FUZZ_PHASES (default examples,coverage,fuzzing,stateful).
Secrets (JWT, keys, password) are passed to schemathesis through its environment only and never
printed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "docs" / "openapi.yaml"
HOOKS = ROOT / "scripts" / "fuzz_api_hooks.py"
CONFIG = ROOT / "scripts" / "schemathesis.toml"
VENV_BIN = Path(sys.executable).parent
REPORT_DIR = Path(os.environ.get("YL_LOGS", ROOT / "target" / "yebolink-logs")) / "fuzz"

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
)


def log(message: str) -> None:
    print(f"fuzz-api: {message}", file=sys.stderr, flush=True)


def die(message: str) -> None:
    log(f"error: {message}")
    sys.exit(1)


def expect(response: requests.Response, status: int, what: str) -> dict:
    if response.status_code != status:
        # Error envelopes carry no secrets; a success body might, so it is never shown.
        body = response.text[:300] if response.status_code >= 400 else "(not shown)"
        die(f"{what}: expected HTTP {status}, got {response.status_code}: {body}")
    return response.json()


def setup_call(send, status: int, what: str, retry_on=(500, 502, 503, 504)) -> requests.Response:
    """One setup request (setup, not the subject under test), tried up to three times.

    The local DynamoDB (moto) copies the whole table for every transaction and serves one
    request at a time; on a busy machine a write can take longer than the SDK's attempt timeout
    (DYNAMODB_TIMEOUT_MS / 2). The write is then applied, and the request still ends in 503, or
    the SDK's retry fails its attribute_not_exists condition (moto ignores the transaction's
    ClientRequestToken), which create-api-key answers 500 and register 409. `send` is called
    again, with fresh values, for those answers."""
    for attempt in range(3):
        started = time.monotonic()
        response = send()
        if response.status_code == status or response.status_code not in retry_on or attempt == 2:
            expect(response, status, what)
            return response
        log(
            f"{what}: HTTP {response.status_code} after {time.monotonic() - started:.1f}s "
            f"({response.text[:120]}); trying again with fresh values"
        )
        time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def register(http: requests.Session, base: str, name: str, timeout: float) -> str:
    """A fresh workspace; its owner's JWT."""

    def send() -> requests.Response:
        email = f"fuzz-{uuid.uuid4().hex[:16]}@fuzz.yebolink.test"
        password = secrets.token_urlsafe(24)
        return http.post(
            f"{base}/api/v1/auth/register",
            json={"workspace_name": name, "email": email, "password": password},
            timeout=timeout,
        )

    # 409 for a random email: see setup_call.
    return setup_call(send, 201, "register", retry_on=(409, 500, 502, 503, 504)).json()["data"]["token"]


def make_credentials(base: str) -> dict[str, str]:
    """Workspace A (its JWT fuzzes key management) and workspace B (its JWT makes the API keys
    that fuzz messaging: one now, more in the hooks), a few messages in B."""
    http = requests.Session()
    # An address of its own for the per-source limits on register and login (local mode only;
    # see scripts/fuzz_api_hooks.py), so that repeated runs against one `make dev` do not add up.
    http.headers["X-Yebolink-Local-Source-Ip"] = "10.{}.{}.{}".format(*secrets.token_bytes(3))
    timeout = 120
    token = register(http, base, "Fuzzing workspace A", timeout)
    keys_token = register(http, base, "Fuzzing workspace B", timeout)
    created = setup_call(
        lambda: http.post(
            f"{base}/api/v1/api-keys",
            json={"name": "fuzz key 1", "scopes": ["send_messages", "read_messages"]},
            headers={"Authorization": f"Bearer {keys_token}"},
            timeout=timeout,
        ),
        201,
        "create API key",
    ).json()["data"]
    key = created["key"]
    keyed = {"X-API-Key": key}
    uses = 0

    def keyed_call(method: str, path: str, **kwargs) -> requests.Response:
        nonlocal uses
        uses += 1
        return http.request(method, f"{base}{path}", headers=keyed, timeout=timeout, **kwargs)

    probe = setup_call(lambda: keyed_call("GET", "/api/v1/messages", params={"limit": "1"}), 200, "list messages with the new key")
    try:
        limit = int(probe.headers["X-RateLimit-Limit"])
    except (KeyError, ValueError):
        die("GET /api/v1/messages answered without an integer X-RateLimit-Limit")
    seeds = (
        {"to": "+26876123456", "channel": "sms", "content": {"text": "fuzz seed sms"}},
        {"to": "+26876123457", "channel": "whatsapp", "content": {"text": "fuzz seed whatsapp"}},
        {"to": "seed@fuzz.yebolink.test", "channel": "email", "content": {"text": "fuzz seed", "subject": "Seed"}},
    )
    for body in seeds:
        setup_call(lambda body=body: keyed_call("POST", "/api/v1/messages/send", json=body), 201, "seed message")
    log(f"registered two fuzzing workspaces, created API key {created['key_prefix']} (rate limit {limit}/min), sent {len(seeds)} seed messages")
    return {
        "YEBOLINK_FUZZ_TOKEN": token,
        "YEBOLINK_FUZZ_KEYS_TOKEN": keys_token,
        "YEBOLINK_FUZZ_API_KEY": key,
        "YEBOLINK_FUZZ_API_KEY_ID": created["id"],
        "YEBOLINK_FUZZ_API_KEY_USES": str(uses),
        "YEBOLINK_FUZZ_RATE_LIMIT": str(limit),
    }


def summarize(ndjson: Path) -> tuple[int, Counter, Counter, int]:
    """(operations, cases per phase, check outcomes, errors) from schemathesis' NDJSON events."""
    operations: set[str] = set()
    cases: Counter = Counter()
    checks: Counter = Counter()
    errors = 0
    if not ndjson.is_file():
        return 0, cases, checks, errors
    with ndjson.open(encoding="utf-8") as f:
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            (kind, payload), = event.items() if isinstance(event, dict) and len(event) == 1 else ((None, None),)
            if kind == "NonFatalError":
                errors += 1
            if kind != "ScenarioFinished" or not isinstance(payload, dict):
                continue
            recorder = payload.get("recorder") or {}
            label = str(recorder.get("label") or "")
            # Operations are "METHOD /path"; stateful scenarios have labels of their own.
            if label.split(" ", 1)[0] in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
                operations.add(label)
            cases[payload.get("phase", "?")] += len(recorder.get("cases") or {})
            for check_list in (recorder.get("checks") or {}).values():
                for check in check_list:
                    checks[str(check.get("status", "?")).lower()] += 1
    return len(operations), cases, checks, errors


def main() -> int:
    base = os.environ.get("YEBOLINK_BASE_URL", "").rstrip("/")
    if not base:
        die("YEBOLINK_BASE_URL is not set: start a stack (make dev) and point it there, e.g. YEBOLINK_BASE_URL=http://127.0.0.1:9000")
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "50")
    timeout = int(os.environ.get("FUZZ_TIMEOUT", "300"))
    workers = os.environ.get("FUZZ_WORKERS", "1")
    phases = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing,stateful")
    started = time.monotonic()

    env = dict(os.environ)
    env.update(make_credentials(base))
    env.update(
        {
            "YEBOLINK_BASE_URL": base,
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "PYTHONHASHSEED": "0",
        }
    )
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    junit = REPORT_DIR / "junit.xml"
    junit.unlink(missing_ok=True)
    # The NDJSON event stream records whole responses, including the keys and tokens that
    # fuzzed requests created: it is read for the summary, then deleted, never left in the logs.
    scratch = Path(tempfile.mkdtemp(prefix="yebolink-fuzz-"))
    ndjson = scratch / "events.ndjson"
    retries = scratch / "retries.log"
    env["YEBOLINK_FUZZ_RETRY_LOG"] = str(retries)
    command = [
        str(VENV_BIN / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        str(SCHEMA),
        "--url",
        base,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        phases,
        "--max-examples",
        max_examples,
        "--generation-deterministic",
        "--workers",
        workers,
        "--request-timeout",
        "60",
        "--max-failures",
        "20",
        "--report",
        "junit,ndjson",
        "--report-junit-path",
        str(junit),
        "--report-ndjson-path",
        str(ndjson),
        "--output-sanitize",
        "true",
        "--no-color",
    ]
    log(
        f"schemathesis against {base}: max {max_examples} examples per operation and phase, "
        f"phases {phases}, checks {', '.join(CHECKS)}, time limit {timeout}s"
    )
    # cwd: the scratch directory, so that nothing schemathesis or Hypothesis may write lands in
    # the repository.
    process = subprocess.Popen(command, cwd=scratch, env=env, start_new_session=True)
    try:
        rc = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log(f"error: schemathesis did not finish within FUZZ_TIMEOUT={timeout}s")
        rc = 124
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        shutil.rmtree(scratch, ignore_errors=True)
        raise

    try:
        operations, cases, checks, errors = summarize(ndjson)
        retried = retries.read_text(encoding="utf-8").splitlines() if retries.is_file() else []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if retried:
        log(f"{len(retried)} 5xx answer(s) sent once more (the second answer was checked): " + "; ".join(retried))
    failed = checks.get("failure", 0)
    per_phase = ", ".join(f"{phase} {count}" for phase, count in sorted(cases.items()))
    log(
        f"{operations} operations, {sum(cases.values())} cases ({per_phase or 'none'}), "
        f"{sum(checks.values())} checks: {checks.get('success', 0)} passed, {failed} failed; "
        f"{errors} errors; {time.monotonic() - started:.0f}s (reports: {REPORT_DIR.relative_to(ROOT) if REPORT_DIR.is_relative_to(ROOT) else REPORT_DIR})"
    )
    if rc == 0 and (failed or errors):
        rc = 1
    if rc == 0 and operations == 0:
        log("error: no operation was tested")
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
