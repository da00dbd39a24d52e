#!/usr/bin/env bash
# Installs the local-only tools into the repo (git-ignored), pinned, idempotently:
#   .tools/venv   python3 -m venv + scripts/requirements-local.txt: cargo-lambda (and the ziglang
#                 it depends on) and moto's DynamoDB server (run by scripts/local_dynamodb.py).
# Re-running is cheap: the install is skipped while the venv's stamp matches the requirements file.
# Needs: cargo (Rust) and python3 >= 3.11 with the venv module. Nothing else.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"

REQUIREMENTS=scripts/requirements-local.txt
CARGO_LAMBDA_VERSION=$(sed -n 's/^cargo-lambda==\([^ ]*\).*/\1/p' "$REQUIREMENTS")

# ---------------------------------------------------------------- prerequisites
yl_need_cmd cargo "Install Rust (https://rustup.rs); the workspace needs Rust $(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml) or newer."
yl_need_cmd python3 "Install Python 3.11 or newer, with pip and the venv module (Debian/Ubuntu: apt-get install python3 python3-venv)."
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || yl_die "python3 is $(python3 -V 2>&1); 3.11 or newer is needed."

# ---------------------------------------------------------------- .tools/venv
stamp="$YL_VENV/.requirements.sha256"
if [[ -x "$YL_VENV/bin/python" ]] && sha256sum --check --status "$stamp" 2>/dev/null \
  && "$YL_VENV/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "^cargo-lambda $CARGO_LAMBDA_VERSION\b"; then
  yl_ok "cargo-lambda $CARGO_LAMBDA_VERSION and moto ($YL_VENV)"
  exit 0
fi

if [[ ! -x "$YL_VENV/bin/python" ]]; then
  yl_log "creating $YL_VENV"
  python3 -m venv "$YL_VENV" >/dev/null 2>&1 || {
    rm -rf "$YL_VENV"
    yl_die "python3 -m venv failed. Install the venv module (Debian/Ubuntu: apt-get install python3-venv) and retry."
  }
fi
yl_log "installing $REQUIREMENTS into $YL_VENV (cargo-lambda $CARGO_LAMBDA_VERSION, moto; PyPI)"
mkdir -p "$YL_LOGS"
if ! "$YL_VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
    -r "$REQUIREMENTS" >"$YL_LOGS/pip-install.log" 2>&1; then
  tail -n 20 "$YL_LOGS/pip-install.log" >&2
  yl_die "pip install -r $REQUIREMENTS failed (full log: $YL_LOGS/pip-install.log). Is PyPI reachable?"
fi
"$YL_VENV/bin/cargo-lambda" lambda --version >/dev/null 2>&1 \
  || yl_die "cargo-lambda was installed but does not run: $YL_VENV/bin/cargo-lambda lambda --version"
"$YL_VENV/bin/python" -c 'import moto.server, flask, boto3' 2>/dev/null \
  || yl_die "moto was installed but does not import: $YL_VENV/bin/python -c 'import moto.server'"
sha256sum "$REQUIREMENTS" >"$stamp"
yl_ok "installed $("$YL_VENV/bin/cargo-lambda" lambda --version | awk '{print $1, $2}') and moto $("$YL_VENV/bin/python" -c 'import moto; print(moto.__version__)')"
