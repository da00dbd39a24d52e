#!/usr/bin/env bash
# The browser layer (issue 14): the web console driven through its UI in a real headless
# chromium, against a running stack (YEBOLINK_BASE_URL, e.g. make dev's or make test's).
#   1. chromium  Debian's package at /usr/bin/chromium; installed with apt-get when missing
#                (as root, as in CI; otherwise it says what to run)
#   2. npm ci    console/package-lock.json (playwright-core and axe-core, pinned) into
#                console/node_modules, from the npm registry only; skipped while the lock is
#                unchanged. Playwright never downloads a browser: it drives /usr/bin/chromium.
#   3. node --test console/test/  (TAP; screenshots in target/console/)
# Usage: YEBOLINK_BASE_URL=http://127.0.0.1:PORT bash scripts/browser.sh
#        bash scripts/browser.sh --install   (steps 1 and 2 only; make test does it beside its build)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"

[[ -n "${YEBOLINK_BASE_URL:-}" || "${1:-}" == --install ]] \
  || yl_die "YEBOLINK_BASE_URL is not set: point it at a running stack (make dev prints it), e.g. YEBOLINK_BASE_URL=http://127.0.0.1:9000"

apt_install() { # apt_install PACKAGE... : as root only
  ((EUID == 0)) || yl_die "missing: $* (Debian package). Run: sudo apt-get update && sudo apt-get install -y $*"
  yl_log "installing $* (apt-get)"
  mkdir -p "$YL_LOGS"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"; } \
      >"$YL_LOGS/apt-$1.log" 2>&1; then
    tail -n 20 "$YL_LOGS/apt-$1.log" >&2
    yl_die "apt-get install $* failed (log: $YL_LOGS/apt-$1.log)"
  fi
}

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[[ -x "$CHROMIUM" ]] || apt_install chromium
"$CHROMIUM" --version >/dev/null 2>&1 || yl_die "$CHROMIUM does not run: $CHROMIUM --version"
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
  || yl_die "node $(node --version) is too old: the browser tests need Node.js 18 or newer (20 in CI)"

STAMP=console/node_modules/.package-lock.sha256
if ! sha256sum --check --status "$STAMP" 2>/dev/null; then
  yl_log "npm ci in console/ (playwright-core, axe-core; pinned by console/package-lock.json)"
  mkdir -p "$YL_LOGS"
  # No browser download, whatever a package's install script would like to do.
  if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix console --no-audit --no-fund \
      >"$YL_LOGS/npm-ci.log" 2>&1; then
    tail -n 20 "$YL_LOGS/npm-ci.log" >&2
    yl_die "npm ci failed (log: $YL_LOGS/npm-ci.log). Is the npm registry reachable?"
  fi
  sha256sum console/package-lock.json >"$STAMP"
fi
yl_ok "$("$CHROMIUM" --version 2>/dev/null | tail -n 1), node $(node --version), playwright-core $(node -p 'require("./console/node_modules/playwright-core/package.json").version'), axe-core $(node -p 'require("./console/node_modules/axe-core/package.json").version')"
[[ "${1:-}" == --install ]] && exit 0

yl_log "browser tests (node --test console/test/) against $YEBOLINK_BASE_URL; screenshots in target/console/"
CHROMIUM=$CHROMIUM node --test console/test/
