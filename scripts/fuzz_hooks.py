"""What the local stand-in for API Gateway cannot carry, adapted before sending (loaded by
scripts/schemathesis.toml). `cargo lambda watch` answers its own plain-text 500, before any
function runs, to two kinds of input that API Gateway passes on; sent as generated they would
test the emulator, not this API:
  - a body that is not UTF-8 under a JSON or text Content-Type: sent as its lossy UTF-8 decoding;
  - a header value with characters outside visible ASCII: each such character is sent as `?`.
Everything else is sent as generated, and every 5xx that comes back fails the run.

Each request also names a random source address in X-Yebolink-Local-Source-Ip (read by the
functions in local mode only, since cargo lambda watch reports every client as 127.0.0.1): the
per-source limits on register and login must not turn a run that registers and logs in hundreds
of times into a test of their 429."""

import random

import schemathesis


def _visible_ascii(value: str) -> str:
    return "".join(c if " " <= c <= "~" or c == "\t" else "?" for c in value)


@schemathesis.hook
def before_call(context, case, kwargs):
    case.headers = dict(case.headers or {})
    case.headers["X-Yebolink-Local-Source-Ip"] = "10.{}.{}.{}".format(*random.randbytes(3))
    if isinstance(case.body, (bytes, bytearray)):
        case.body = bytes(case.body).decode("utf-8", errors="replace").encode("utf-8")
    for name, value in list((case.headers or {}).items()):
        if isinstance(value, str):
            case.headers[name] = _visible_ascii(value)
