#!/usr/bin/env bash
# `make build`: `sam build` of infra/template.yaml (named in samconfig.toml): one arm64
# `bootstrap` per function in .aws-sam/build/<Function>/. Installs what it needs, pinned:
#   - SAM CLI from infra/requirements-lint.txt (.tools/lint-venv, shared with `make lint`);
#   - cargo-lambda (with the ziglang it depends on, used as the aarch64 linker) in .tools/venv;
#   - a Rust standard library for aarch64-unknown-linux-gnu. If rustup already has that target
#     (a developer's machine: `rustup target add aarch64-unknown-linux-gnu`) it is used.
#     Otherwise (this project's machines, where rustup cannot download targets) Debian's
#     rustc-web compiler and its arm64 standard library are installed with apt and used for
#     this build only, through RUSTC.
# Slow on two cores (a full release build of nine LTO binaries): not part of CI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_LAMBDA_VERSION=1.9.2
# Debian's rustc-web (bookworm security updates), a newer compiler than the workspace's
# rust-version; the Debian revision may move with security fixes, the Rust version may not.
DEBIAN_RUSTC_VERSION='1.96.0+dfsg1-*'
TARGET=aarch64-unknown-linux-gnu

LINT_VENV=.tools/lint-venv
BUILD_VENV=.tools/venv

# SAM CLI (same pinned install as scripts/lint.sh).
if [ ! -x "$LINT_VENV/bin/python" ]; then
  python3 -m venv "$LINT_VENV"
fi
if ! sha256sum --check --status "$LINT_VENV/.requirements.sha256" 2>/dev/null; then
  echo "build: installing infra/requirements-lint.txt into $LINT_VENV"
  "$LINT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r infra/requirements-lint.txt
  sha256sum infra/requirements-lint.txt > "$LINT_VENV/.requirements.sha256"
fi

# cargo-lambda + ziglang. Another script may already have made this venv with the same pin.
if [ ! -x "$BUILD_VENV/bin/cargo-lambda" ]; then
  echo "build: installing cargo-lambda==$CARGO_LAMBDA_VERSION into $BUILD_VENV"
  [ -x "$BUILD_VENV/bin/python" ] || python3 -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
installed=$("$BUILD_VENV/bin/python" -m pip show cargo-lambda 2>/dev/null | sed -n 's/^Version: //p')
if [ "$installed" != "$CARGO_LAMBDA_VERSION" ]; then
  echo "build: $BUILD_VENV has cargo-lambda $installed, expected $CARGO_LAMBDA_VERSION" >&2
  exit 1
fi
# sam calls `cargo lambda`; cargo-lambda finds zig through the venv's python (ziglang).
export PATH="$PWD/$BUILD_VENV/bin:$PATH"

# The aarch64 standard library.
if rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  echo "build: using rustup's $TARGET target"
else
  if [ ! -d "/usr/lib/rustlib/$TARGET/lib" ] || ! /usr/bin/rustc --version 2>/dev/null | grep -q '^rustc 1\.96\.0 '; then
    echo "build: rustup has no $TARGET target; installing Debian's rustc-web $DEBIAN_RUSTC_VERSION and its arm64 std"
    if ! command -v apt-get >/dev/null; then
      echo "build: no apt-get either: run 'rustup target add $TARGET'" >&2
      exit 1
    fi
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      $sudo_cmd dpkg --add-architecture arm64
    fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
      "rustc-web=$DEBIAN_RUSTC_VERSION" "libstd-rust-web-dev:arm64=$DEBIAN_RUSTC_VERSION" >/dev/null
  fi
  echo "build: using $(/usr/bin/rustc --version) with Debian's $TARGET std"
  export RUSTC=/usr/bin/rustc
  # cargo-lambda would otherwise try `rustup target add` (a download) before every build;
  # its global config file is the only way to pass --skip-target-check through `sam build`.
  export CARGO_LAMBDA_GLOBAL="$PWD/.tools/cargo-lambda-global.toml"
  printf '[build]\nskip_target_check = true\n' > "$CARGO_LAMBDA_GLOBAL"
fi

export SAM_CLI_TELEMETRY=0
# Fail fast rather than reach for the network from rustup, should anything ask it to.
export RUSTUP_AUTO_INSTALL=0

start=$(date +%s)
# No --template here: the template and the build options (parallel, not cached) come from
# samconfig.toml [default.build.parameters]. Given --template, SAM looks for samconfig.toml
# next to the template (infra/) and ignores the project's.
"$LINT_VENV/bin/sam" build "$@"
echo "build: sam build took $(( $(date +%s) - start )) s"
for bootstrap in .aws-sam/build/*/bootstrap; do
  printf 'build: %-32s %9d bytes  %s\n' "$(basename "$(dirname "$bootstrap")")" \
    "$(stat -c %s "$bootstrap")" "$(file -b "$bootstrap" | cut -d, -f1-2)"
done
