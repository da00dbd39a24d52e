"""What the local stand-in for API Gateway cannot carry, adapted before sending (loaded by
scripts/schemathesis.toml). `cargo lambda watch` answers its own plain-text 500, before any
function runs, to two kinds of input that API Gateway passes on; sent as generated they would
test the emulator, not this API:
  - a body that is not UTF-8 under a JSON or text Content-Type: sent as its lossy UTF-8 decoding;
  - a header value with characters outside visible ASCII: each such character is sent as `?`.
Everything else is sent as generated, and every 5xx that comes back fails the run."""

import schemathesis


def _visible_ascii(value: str) -> str:
    return "".join(c if " " <= c <= "~" or c == "\t" else "?" for c in value)


@schemathesis.hook
def before_call(context, case, kwargs):
    if isinstance(case.body, (bytes, bytearray)):
        case.body = bytes(case.body).decode("utf-8", errors="replace").encode("utf-8")
    for name, value in list((case.headers or {}).items()):
        if isinstance(value, str):
            case.headers[name] = _visible_ascii(value)
