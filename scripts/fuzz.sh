#!/usr/bin/env bash
# `make fuzz-api`: schemathesis (pinned, .tools/fuzz-venv) from docs/openapi.yaml against a
# running stack, with the settings in scripts/schemathesis.toml. It first makes real credentials
# over HTTP: two workspaces, an API key with both scopes, one message per channel to list.
# Fails on any check that fails, and when fewer than FUZZ_MIN_CASES (1000) cases were generated.
# Env: YEBOLINK_BASE_URL (default http://127.0.0.1:9000, what `make dev` serves).
# `fuzz.sh --install` installs schemathesis only (make test does it beside its build).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"
yl_venv "$YL_TOOLS/fuzz-venv" scripts/requirements-fuzz.txt
[[ "${1:-}" == --install ]] && exit 0
BASE=${YEBOLINK_BASE_URL:-http://127.0.0.1:${PORT:-9000}}
curl -s -o /dev/null -m 5 -X POST -d '{}' "$BASE/api/v1/auth/login" || yl_die "no API at $BASE: start one (make dev) or set YEBOLINK_BASE_URL"

# The setup's own source address (local mode only; see scripts/fuzz_hooks.py), so that runs
# against one `make dev` do not add up to its per-source register limit.
SOURCE_IP="10.$((RANDOM % 256)).$((RANDOM % 256)).$((RANDOM % 256))"
call() { # METHOD PATH BODY [HEADER] : the response body; dies on a non-2xx (bodies hold secrets)
  curl -sf -m 60 -X "$1" "$BASE$2" -H 'Content-Type: application/json' -H "X-Yebolink-Local-Source-Ip: $SOURCE_IP" ${4:+-H "$4"} -d "$3" \
    || yl_die "fuzz setup: $1 $2 failed"
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)["data"][sys.argv[1]])' "$1"; }
register() {
  call POST /api/v1/auth/register "{\"workspace_name\": \"Fuzzing $1\", \"email\": \"fuzz-$(yl_now)-$RANDOM$RANDOM@fuzz.yebolink.test\", \"password\": \"$(head -c 24 /dev/urandom | base64)\"}" | field token
}
YEBOLINK_FUZZ_TOKEN=$(register A)
token_b=$(register B)
YEBOLINK_FUZZ_API_KEY=$(call POST /api/v1/api-keys '{"name": "fuzz", "scopes": ["send_messages", "read_messages"]}' "Authorization: Bearer $token_b" | field key)
export YEBOLINK_FUZZ_TOKEN YEBOLINK_FUZZ_API_KEY
for body in '{"to": "+26876123456", "channel": "sms", "content": {"text": "seed"}}' \
  '{"to": "+26876123457", "channel": "whatsapp", "content": {"text": "seed"}}' \
  '{"to": "seed@fuzz.yebolink.test", "channel": "email", "content": {"text": "seed", "subject": "Seed"}}'; do
  call POST /api/v1/messages/send "$body" "X-API-Key: $YEBOLINK_FUZZ_API_KEY" >/dev/null
done
yl_log "schemathesis against $BASE (settings: scripts/schemathesis.toml)"
out="$YL_LOGS/fuzz/schemathesis.txt"
mkdir -p "$(dirname "$out")"
rc=0
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH="$YL_ROOT/scripts" "$YL_TOOLS/fuzz-venv/bin/schemathesis" \
  --config-file scripts/schemathesis.toml --no-color run docs/openapi.yaml --url "$BASE" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
cases=$(grep -A1 '^Test cases:' "$out" | sed -n 's/^ *\([0-9][0-9]*\) generated.*/\1/p' | tail -n 1)
((${cases:-0} >= ${FUZZ_MIN_CASES:-1000})) || yl_die "only ${cases:-0} cases generated (at least ${FUZZ_MIN_CASES:-1000} wanted)"
exit "$rc"
