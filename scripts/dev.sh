#!/usr/bin/env bash
# `make dev`: the whole API on http://127.0.0.1:$PORT/api/v1 (default 9000) and the web console
# at http://127.0.0.1:$PORT/, until Ctrl-C.
#   1. installs cargo-lambda and moto into .tools/venv if missing (scripts/tools.sh)
#   2. starts the local DynamoDB (moto, in memory, scripts/local_dynamodb.py) on loopback with
#      the table from infra/table.json
#   3. builds the functions, runs `cargo lambda watch` (router from Cargo.toml) and waits until
#      every routed function answers
# Env: PORT (API, default 9000), DDB_PORT (local DynamoDB, default: a free port), WATCH_ARGS (extra
# arguments for cargo lambda watch, e.g. "--ignore-changes"). Ctrl-C stops everything started here.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${PORT:-9000}
START=$(yl_now)

"$YL_ROOT/scripts/tools.sh"
yl_use_tools

yl_check_port_free "$PORT" "the API (cargo lambda watch)"
DDB_PORT=${DDB_PORT:-$(yl_free_port)}

# shellcheck disable=SC2317  # invoked by the EXIT trap
on_exit() {
  local rc=$?
  # Stop first, talk after: Ctrl-C may also have killed whatever reads our output (make dev | tee),
  # and a write to a closed pipe must not end this handler before the cleanup.
  set +e
  trap - EXIT
  trap '' INT TERM PIPE HUP
  if ((${#YL_SESSIONS[@]})); then
    yl_log "stopping cargo lambda watch and the local DynamoDB"
    yl_cleanup
    yl_ok "stopped"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 129' HUP
trap 'exit 143' TERM

mkdir -p "$YL_LOGS"
TABLE=$(yl_local_table_name)

yl_log "starting the local DynamoDB on 127.0.0.1:$DDB_PORT with table $TABLE (log: $YL_LOGS/ddb-dev.log)"
yl_start_ddb "$DDB_PORT" "$YL_LOGS/ddb-dev.log" "$TABLE"

yl_export_local_env "$DDB_ENDPOINT"

read -r -a FUNCTIONS <<<"$(yl_router_functions)"
yl_log "building ${#FUNCTIONS[@]} functions (dev profile; the first build takes several minutes on 2 cores)"
yl_prebuild "${FUNCTIONS[@]}" || yl_die "the build failed (see the cargo output above)"

WATCH_LOG="$YL_LOGS/watch-dev.log"
yl_log "starting cargo lambda watch on 127.0.0.1:$PORT (log: $WATCH_LOG)"
# shellcheck disable=SC2086
yl_start_watch "$PORT" "$WATCH_LOG" ${WATCH_ARGS:-}

BASE="http://127.0.0.1:$PORT"
yl_log "waiting for the router"
yl_wait_router "$BASE" "$WATCH_PID" "$WATCH_LOG" "${READY_TIMEOUT:-1200}" \
  || { tail -n 30 "$WATCH_LOG" >&2; yl_die "cargo lambda watch did not come up (log: $WATCH_LOG)"; }
yl_log "starting each function once"
yl_prewarm "$BASE" || { tail -n 30 "$WATCH_LOG" >&2; yl_die "a function did not start (log: $WATCH_LOG)"; }

cat <<EOF

  YeboLink API ready in $(($(yl_now) - START))s: ${_yl_b}$BASE/api/v1${_yl_0}
  Web console (same origin): ${_yl_b}$BASE/${_yl_0}
  Local DynamoDB (moto, in memory): $DDB_ENDPOINT  table $TABLE
  Logs: $WATCH_LOG (function output follows below)

  Try:
    curl -s -X POST $BASE/api/v1/auth/register \\
      -H 'Content-Type: application/json' \\
      -d '{"workspace_name": "Acme", "email": "owner@acme.io", "password": "correct horse battery staple"}'

  Ctrl-C stops everything.

EOF

# Follow the functions' output until watch exits. tail runs in the background and we `wait` for
# it: bash runs a trap only once the foreground command ends, but interrupts `wait`, so Ctrl-C,
# or a `kill` of this script alone, stops everything at once (tail ends with watch: --pid).
tail -n 0 -f --pid="$WATCH_PID" "$WATCH_LOG" &
wait $! || true
yl_alive "$WATCH_PID" || yl_die "cargo lambda watch exited (log: $WATCH_LOG)"
