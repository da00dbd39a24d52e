"""Schemathesis hooks for `make fuzz-api` (loaded through SCHEMATHESIS_HOOKS by scripts/fuzz_api.py).

Authentication per route, with real credentials made over HTTP by scripts/fuzz_api.py:
  /api/v1/api-keys...  Authorization: Bearer <JWT of workspace A>     (YEBOLINK_FUZZ_TOKEN)
  /api/v1/messages...  X-API-Key: <key of workspace B, both scopes>   (YEBOLINK_FUZZ_API_KEY, then
                       fresh ones made with workspace B's JWT, YEBOLINK_FUZZ_KEYS_TOKEN)
  /api/v1/auth/...     nothing
Two workspaces, because schemathesis reuses ids it has seen in responses: fuzzing
DELETE /api/v1/api-keys/{id} as workspace A can deactivate A's keys, never the messaging keys.
The stack under test limits each key to YEBOLINK_FUZZ_RATE_LIMIT requests a minute. A fuzzer
that spends one key's whole window tests nothing but the 429 path, so after a budget of uses
(half the limit: probes some checks send with the same credentials are counted too) the next
messaging case gets a new key, and the previous one is deactivated (a workspace may hold only
WORKSPACE_KEY_LIMIT active keys). 429 is still a documented answer: one that does happen is
checked like any other response.

Every request names a random source address in X-Yebolink-Local-Source-Ip (read by the functions
in local mode only): the per-source limits on register and login must not turn a fuzzing run
that registers and logs in hundreds of times into a test of the 429 path.

Two kinds of input are adapted before they are sent, because `cargo lambda watch` (the local
stand-in for API Gateway) cannot put them into a Lambda event and answers its own plain-text 500
before any function runs, so sent as generated they would test the emulator, not this API:
  - a request body that is not UTF-8 under a JSON or text Content-Type: sent as its lossy UTF-8
    decoding (U+FFFD for each invalid sequence);
  - a header value with characters outside visible ASCII (Latin-1 text, controls): each such
    character is sent as `?`.
Everything else is sent as generated.

A 5xx is sent once more, byte for byte, after the one second its Retry-After asks for, and the
second answer is the one checked: an input that makes the API fail fails it again and is
reported, while a 503 (or the 500 described in _create_key) caused by the local DynamoDB being
slower than the SDK's timeouts on a busy machine is not blamed on the input. Each such retry
is written to YEBOLINK_FUZZ_RETRY_LOG, and scripts/fuzz_api.py reports how many there were.

Credentials live in the environment only; this module never prints them.
"""

from __future__ import annotations

import os
import random
import threading
import time

import requests
import schemathesis

BASE_URL = os.environ["YEBOLINK_BASE_URL"].rstrip("/")
TOKEN = os.environ["YEBOLINK_FUZZ_TOKEN"]
KEYS_TOKEN = os.environ["YEBOLINK_FUZZ_KEYS_TOKEN"]
RATE_LIMIT = int(os.environ.get("YEBOLINK_FUZZ_RATE_LIMIT", "30"))
BUDGET_PER_KEY = max(1, RATE_LIMIT // 2)
TIMEOUT = float(os.environ.get("YEBOLINK_FUZZ_REQUEST_TIMEOUT", "60"))


class _KeyPool:
    """The current API key and how often it was handed out; a new key when the budget is used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key = os.environ["YEBOLINK_FUZZ_API_KEY"]
        self._key_id = os.environ.get("YEBOLINK_FUZZ_API_KEY_ID")
        self._uses = int(os.environ.get("YEBOLINK_FUZZ_API_KEY_USES", "0"))
        self.created = 1

    def next(self) -> str:
        with self._lock:
            if self._uses >= BUDGET_PER_KEY:
                previous = self._key_id
                self._key, self._key_id = _create_key(f"fuzz key {self.created + 1}")
                if previous:
                    _deactivate_key(previous)
                self._uses = 0
                self.created += 1
            self._uses += 1
            return self._key


def source_ip() -> str:
    """A random address in 10.0.0.0/8 (see the module docstring)."""
    return "10.{}.{}.{}".format(*random.randbytes(3))


def _deactivate_key(key_id: str) -> None:
    """Frees the workspace's slot of a key the pool no longer hands out (setup: best effort)."""
    try:
        requests.delete(
            f"{BASE_URL}/api/v1/api-keys/{key_id}",
            headers={"Authorization": f"Bearer {KEYS_TOKEN}"},
            timeout=TIMEOUT,
        )
    except requests.RequestException:
        pass


def _create_key(name: str) -> tuple[str, str]:
    """A new key for workspace B. Setup, not the subject under test: a 5xx is retried (when
    the local DynamoDB answers slower than the SDK's attempt timeout, the write can be applied
    and the request still end in 503, or in 500 when the SDK's retry then fails its
    attribute_not_exists condition: moto ignores the transaction's ClientRequestToken),
    anything else is fatal."""
    last = ""
    for attempt in range(3):
        response = requests.post(
            f"{BASE_URL}/api/v1/api-keys",
            json={"name": name, "scopes": ["send_messages", "read_messages"]},
            headers={"Authorization": f"Bearer {KEYS_TOKEN}"},
            timeout=TIMEOUT,
        )
        if response.status_code == 201:
            data = response.json()["data"]
            return data["key"], data["id"]
        # The body is an error envelope (never a secret): safe to show.
        last = f"HTTP {response.status_code} {response.text[:200]}"
        if response.status_code < 500:
            break
        time.sleep(1 + attempt)
    raise RuntimeError(f"creating a fuzzing API key: {last}")


KEYS = _KeyPool()


@schemathesis.auth(refresh_interval=None)
class YeboLinkAuth:
    """The credential each route takes (see the module docstring)."""

    def get(self, case, context):
        path = context.operation.path
        if path == "/api/v1/messages" or path.startswith("/api/v1/messages/"):
            return ("X-API-Key", KEYS.next())
        if path == "/api/v1/api-keys" or path.startswith("/api/v1/api-keys/"):
            return ("Authorization", f"Bearer {TOKEN}")
        return None

    def set(self, case, data, context):
        if data is None:
            return
        header, value = data
        case.headers = dict(case.headers or {})
        case.headers[header] = value


def _visible_ascii(value: str) -> str:
    return "".join(c if " " <= c <= "~" or c == "\t" else "?" for c in value)


@schemathesis.hook
def before_call(context, case, kwargs):
    """What the local emulator cannot carry, adapted; a random source address (see the module
    docstring)."""
    case.headers = dict(case.headers or {})
    case.headers["X-Yebolink-Local-Source-Ip"] = source_ip()
    body = case.body
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            case.body = bytes(body).decode("utf-8", errors="replace").encode("utf-8")
    if case.headers:
        for name, value in list(case.headers.items()):
            if isinstance(value, str) and _visible_ascii(value) != value:
                case.headers[name] = _visible_ascii(value)


RETRY_LOG = os.environ.get("YEBOLINK_FUZZ_RETRY_LOG")


@schemathesis.hook
def after_call(context, case, response):
    """One retry of a 5xx, as a client honouring Retry-After would (see the module docstring)."""
    if response.status_code < 500:
        return
    time.sleep(1)
    first = response.status_code
    with requests.Session() as session:
        again = session.send(response.request.copy(), timeout=TIMEOUT)
    replay = type(response).from_requests(again, verify=response.verify)
    if RETRY_LOG:
        with open(RETRY_LOG, "a", encoding="utf-8") as f:
            f.write(f"{case.operation.label}: {first} then {replay.status_code}\n")
    for slot in type(response).__slots__:
        if hasattr(replay, slot):
            setattr(response, slot, getattr(replay, slot))
        elif hasattr(response, slot):
            delattr(response, slot)
