#!/usr/bin/env bash
# `make build`: `sam build` of infra/template.yaml (named in samconfig.toml): one arm64
# `bootstrap` per function in .aws-sam/build/<Function>/, then a smoke run of those bootstraps.
# Installs what it needs, pinned:
#   - SAM CLI (infra/requirements-lint.txt, .tools/lint-venv, shared with `make lint`);
#   - cargo-lambda with the ziglang it uses as the aarch64 linker, and dynoxide for the smoke
#     run (scripts/tools.sh, shared with `make dev` / `make test`);
#   - a Rust standard library for aarch64-unknown-linux-gnu. If rustup already has that target
#     (a developer's machine: `rustup target add aarch64-unknown-linux-gnu`) it is used.
#     Otherwise (this project's machines, where rustup cannot download targets) Debian's
#     rustc-web compiler and its arm64 standard library are installed with apt and used for
#     this build only, through RUSTC.
# Smoke run: the cold-start harness (tests/src/bin/coldstart.rs) starts each built bootstrap
# through the Lambda Runtime API against a local DynamoDB and checks every answer, in flow
# order (register, login, keys, authorizer, messages, deactivation). On an x86_64 machine the
# bootstraps run under qemu-aarch64 (Debian's qemu-user, installed with apt if missing), so
# the smoke run's timings are the emulator's, not Lambda's. BUILD_SKIP_SMOKE=1 skips it.
# Slow on two cores (a full release build of nine LTO binaries): not part of CI.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"

# Debian's rustc-web (bookworm security updates), a newer compiler than the workspace's
# rust-version; the Debian revision may move with security fixes, the Rust version may not.
DEBIAN_RUSTC_VERSION='1.96.0+dfsg1-*'
TARGET=aarch64-unknown-linux-gnu
SAM_BUILD_DIR=.aws-sam/build

yl_ensure_lint_tools
bash scripts/tools.sh
# sam calls `cargo lambda`; cargo-lambda finds zig through the venv's python (ziglang).
yl_use_tools

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  command -v apt-get >/dev/null || return 1
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------- the aarch64 standard library
# What only `sam build` gets (the smoke run's harness is built by the normal toolchain).
sam_env=()
if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  yl_ok "using rustup's $TARGET target"
else
  if [ ! -d "/usr/lib/rustlib/$TARGET/lib" ] || ! /usr/bin/rustc --version 2>/dev/null | grep -q '^rustc 1\.96\.0 '; then
    yl_log "rustup has no $TARGET target; installing Debian's rustc-web $DEBIAN_RUSTC_VERSION and its arm64 std"
    command -v apt-get >/dev/null || yl_die "no apt-get either: run 'rustup target add $TARGET'"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      as_root dpkg --add-architecture arm64
    fi
    apt_install "rustc-web=$DEBIAN_RUSTC_VERSION" "libstd-rust-web-dev:arm64=$DEBIAN_RUSTC_VERSION" \
      || yl_die "apt-get could not install rustc-web and libstd-rust-web-dev:arm64"
  fi
  yl_ok "using $(/usr/bin/rustc --version) with Debian's $TARGET std"
  # cargo-lambda would otherwise try `rustup target add` (a download) before every build;
  # its global config file is the only way to pass --skip-target-check through `sam build`.
  mkdir -p "$YL_TOOLS"
  printf '[build]\nskip_target_check = true\n' >"$YL_TOOLS/cargo-lambda-global.toml"
  sam_env=(RUSTC=/usr/bin/rustc "CARGO_LAMBDA_GLOBAL=$YL_TOOLS/cargo-lambda-global.toml")
fi

# ---------------------------------------------------------------- sam build
export SAM_CLI_TELEMETRY=0
# Fail fast rather than reach for the network from rustup, should anything ask it to.
export RUSTUP_AUTO_INSTALL=0

start=$(yl_now)
# No --template here: the template and the build options (parallel, not cached) come from
# samconfig.toml [default.build.parameters]. Given --template, SAM looks for samconfig.toml
# next to the template (infra/) and ignores the project's.
env "${sam_env[@]}" "$YL_LINT_VENV/bin/sam" build "$@"
yl_ok "sam build took $(($(yl_now) - start)) s"
count=0
for bootstrap in "$SAM_BUILD_DIR"/*/bootstrap; do
  [ -f "$bootstrap" ] || continue
  count=$((count + 1))
  printf 'build: %-28s %9d bytes  %s\n' "$(basename "$(dirname "$bootstrap")")" \
    "$(stat -c %s "$bootstrap")" "$(file -b "$bootstrap" | cut -d, -f1-2)"
done
functions=$(grep -c 'BuildMethod: rust-cargolambda' infra/template.yaml)
[ "$count" -eq "$functions" ] || yl_die "$count bootstraps in $SAM_BUILD_DIR, the template has $functions functions"

trap yl_cleanup EXIT

# ---------------------------------------------------------------- smoke run
if [ "${BUILD_SKIP_SMOKE:-}" = 1 ]; then
  yl_warn "BUILD_SKIP_SMOKE=1: the bootstraps were built but not run"
  exit 0
fi
runner=""
if [ "$(uname -m)" != aarch64 ]; then
  # Debian's cross libc (an amd64 package holding arm64 libraries under /usr/aarch64-linux-gnu):
  # no arm64 architecture needed in dpkg for this part.
  if ! command -v qemu-aarch64 >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
    yl_log "installing qemu-user and libc6-arm64-cross (apt) to run the arm64 bootstraps"
    apt_install qemu-user libc6-arm64-cross \
      || yl_die "cannot run arm64 binaries here: install qemu-aarch64 and an arm64 libc, or BUILD_SKIP_SMOKE=1"
  fi
  runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
fi

yl_log "smoke run of the built bootstraps${runner:+ under $runner}"
cargo build --quiet -p yebolink-blackbox --bin coldstart
table="yebolink-build-smoke"
yl_start_ddb "$(yl_free_port)" "$YL_LOGS/build-smoke-dynamodb.log" "$table"
"$CARGO_TARGET_DIR/debug/coldstart" \
  --dynamodb-endpoint "$DDB_ENDPOINT" \
  --table "$table" \
  --sam-build "$SAM_BUILD_DIR" \
  ${runner:+--runner "$runner"} \
  --runs 1 \
  --log-dir "$YL_LOGS/build-smoke" \
  --label "sam build smoke run${runner:+ (emulated: $runner)}" \
  || yl_die "the smoke run failed (function logs: $YL_LOGS/build-smoke/)"
yl_ok "every bootstrap answered its events correctly (function logs: $YL_LOGS/build-smoke/)"

