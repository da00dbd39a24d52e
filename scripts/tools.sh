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
yl_need_python

# ---------------------------------------------------------------- .tools/venv
if yl_venv_is_current "$YL_VENV" "$REQUIREMENTS" \
  && "$YL_VENV/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "^cargo-lambda $CARGO_LAMBDA_VERSION\b"; then
  yl_ok "cargo-lambda $CARGO_LAMBDA_VERSION and moto ($YL_VENV)"
  exit 0
fi

yl_log "installing $REQUIREMENTS into $YL_VENV (cargo-lambda $CARGO_LAMBDA_VERSION, moto; PyPI)"
yl_venv_install "$YL_VENV" "$REQUIREMENTS" pip-install.log
"$YL_VENV/bin/cargo-lambda" lambda --version >/dev/null 2>&1 \
  || yl_die "cargo-lambda was installed but does not run: $YL_VENV/bin/cargo-lambda lambda --version"
"$YL_VENV/bin/python" -c 'import moto.server, flask, boto3' 2>/dev/null \
  || yl_die "moto was installed but does not import: $YL_VENV/bin/python -c 'import moto.server'"
yl_venv_stamp "$YL_VENV" "$REQUIREMENTS"
yl_ok "installed $("$YL_VENV/bin/cargo-lambda" lambda --version | awk '{print $1, $2}') and moto $("$YL_VENV/bin/python" -c 'import moto; print(moto.__version__)')"
