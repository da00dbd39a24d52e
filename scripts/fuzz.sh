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
yl_need_cmd python3 "Install Python 3.11 or newer, with pip and the venv module (Debian/Ubuntu: apt-get install python3 python3-venv)."
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || yl_die "python3 is $(python3 -V 2>&1); 3.11 or newer is needed."
stamp="$FUZZ_VENV/.requirements.sha256"
if [[ -x "$FUZZ_VENV/bin/python" ]] && sha256sum --check --status "$stamp" 2>/dev/null; then
  yl_ok "schemathesis $SCHEMATHESIS_VERSION ($FUZZ_VENV)"
else
  if [[ ! -x "$FUZZ_VENV/bin/python" ]]; then
    yl_log "creating $FUZZ_VENV"
    python3 -m venv "$FUZZ_VENV" >/dev/null 2>&1 || {
      rm -rf "$FUZZ_VENV"
      yl_die "python3 -m venv failed. Install the venv module (Debian/Ubuntu: apt-get install python3-venv) and retry."
    }
  fi
  yl_log "installing $REQUIREMENTS into $FUZZ_VENV (schemathesis $SCHEMATHESIS_VERSION; PyPI)"
  mkdir -p "$YL_LOGS"
  if ! "$FUZZ_VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
      -r "$REQUIREMENTS" >"$YL_LOGS/pip-install-fuzz.log" 2>&1; then
    tail -n 20 "$YL_LOGS/pip-install-fuzz.log" >&2
    yl_die "pip install -r $REQUIREMENTS failed (full log: $YL_LOGS/pip-install-fuzz.log). Is PyPI reachable?"
  fi
  "$FUZZ_VENV/bin/schemathesis" --version >/dev/null 2>&1 \
    || yl_die "schemathesis was installed but does not run: $FUZZ_VENV/bin/schemathesis --version"
  sha256sum "$REQUIREMENTS" >"$stamp"
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
