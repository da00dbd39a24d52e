#!/usr/bin/env bash
# Installs the local-only tools into the repo's .tools/ (git-ignored), pinned; a no-op when they
# are there already. Needs cargo and python3 >= 3.11; nothing else.
#   .tools/venv                 cargo-lambda and the ziglang it links with (requirements-local.txt)
#   .tools/dynoxide-<version>   the local DynamoDB: `cargo install dynoxide-rs --locked`, the
#                               server only (no MCP server, no import tool). Built from crates.io
#                               with its own lock file, the one its authors' conformance suite
#                               ran with, rather than as a workspace member, so its dependencies
#                               never change what the Lambda binaries link.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"
yl_need_cmd cargo "Install Rust (https://rustup.rs); the toolchain is named in rust-toolchain.toml."

yl_venv "$YL_VENV" scripts/requirements-local.txt
"$YL_VENV/bin/cargo-lambda" lambda --version >/dev/null || yl_die "cargo-lambda does not run: $YL_VENV/bin/cargo-lambda"

# (Its --version prints an older number than the crate's, so cargo's own record is checked.)
if ! grep -qs "dynoxide-rs $YL_DYNOXIDE_VERSION " "${YL_DYNOXIDE%/bin/dynoxide}/.crates.toml"; then
  yl_log "building dynoxide $YL_DYNOXIDE_VERSION (crates.io; about 3 minutes on 2 cores, once)"
  mkdir -p "$YL_LOGS"
  # Its own release profile (fat LTO, one codegen unit) is for shipping it. A local emulator needs
  # less: opt-level 1 without LTO is 290 s of CPU here, against 383 s at opt-level 2 without LTO
  # (SQLite's C alone: 34 s against 77 s).
  cargo install dynoxide-rs --version "$YL_DYNOXIDE_VERSION" --locked --no-default-features \
    --features native-sqlite,http-server,cli --root "${YL_DYNOXIDE%/bin/dynoxide}" \
    --config profile.release.lto=false --config profile.release.codegen-units=16 \
    --config profile.release.opt-level=1 \
    --target-dir "$YL_ROOT/target/dynoxide" >"$YL_LOGS/dynoxide-install.log" 2>&1 \
    || { tail -n 20 "$YL_LOGS/dynoxide-install.log" >&2; yl_die "cargo install dynoxide-rs failed"; }
fi
yl_ok "$("$YL_VENV/bin/cargo-lambda" lambda --version | cut -d' ' -f1-2), dynoxide-rs $YL_DYNOXIDE_VERSION"
