#!/usr/bin/env bash
# `make fuzz-api`: schemathesis against a running stack, from docs/openapi.yaml
# (scripts/fuzz_api.py; credentials are made over HTTP first). `make test` runs it as a layer
# against its own stack.
#   scripts/fuzz.sh           install (if needed) and fuzz $YEBOLINK_BASE_URL
#   scripts/fuzz.sh install   only install .tools/fuzz-venv
# Installs schemathesis, pinned with all its dependencies (scripts/requirements-fuzz.txt), into
# .tools/fuzz-venv (git-ignored); re-running is cheap while the venv's stamp matches the file.
# Env: YEBOLINK_BASE_URL (default http://127.0.0.1:$PORT, PORT default 9000: what `make dev`
# serves), FUZZ_MAX_EXAMPLES (per operation and phase, default 50), FUZZ_TIMEOUT (hard limit in
# seconds for the schemathesis run, default 300), FUZZ_WORKERS (default 1), FUZZ_PHASES.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"

FUZZ_VENV="$YL_TOOLS/fuzz-venv"
REQUIREMENTS=scripts/requirements-fuzz.txt
SCHEMATHESIS_VERSION=$(sed -n 's/^schemathesis==\([^ ]*\).*/\1/p' "$REQUIREMENTS")

# ---------------------------------------------------------------- .tools/fuzz-venv
yl_need_python
if yl_venv_is_current "$FUZZ_VENV" "$REQUIREMENTS"; then
  yl_ok "schemathesis $SCHEMATHESIS_VERSION ($FUZZ_VENV)"
else
  yl_log "installing $REQUIREMENTS into $FUZZ_VENV (schemathesis $SCHEMATHESIS_VERSION; PyPI)"
  yl_venv_install "$FUZZ_VENV" "$REQUIREMENTS" pip-install-fuzz.log
  "$FUZZ_VENV/bin/schemathesis" --version >/dev/null 2>&1 \
    || yl_die "schemathesis was installed but does not run: $FUZZ_VENV/bin/schemathesis --version"
  yl_venv_stamp "$FUZZ_VENV" "$REQUIREMENTS"
  yl_ok "installed $("$FUZZ_VENV/bin/schemathesis" --version 2>/dev/null | head -n1)"
fi
[[ "${1:-}" == install ]] && exit 0

# ---------------------------------------------------------------- fuzz
export YEBOLINK_BASE_URL="${YEBOLINK_BASE_URL:-http://127.0.0.1:${PORT:-9000}}"
# Any HTTP answer means a server is there; the fuzzer reports everything else itself.
if ! python3 "$YL_WAIT_PY" wait-http --url "$YEBOLINK_BASE_URL/api/v1/auth/login" --method POST \
    --data '{}' --timeout 5 >/dev/null 2>&1; then
  yl_die "no API answers at $YEBOLINK_BASE_URL: start one (make dev) or set YEBOLINK_BASE_URL"
fi
export YL_LOGS
exec "$FUZZ_VENV/bin/python" scripts/fuzz_api.py
