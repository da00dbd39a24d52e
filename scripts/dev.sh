#!/usr/bin/env bash
# `make dev`: the whole API on http://127.0.0.1:$PORT/api/v1 (default 9000) and the web console
# at http://127.0.0.1:$PORT/, until Ctrl-C.
# Installs the tools if missing (scripts/tools.sh), starts the local DynamoDB (dynoxide) with its
# data in .data/dev-dynamodb.sqlite, so keys and accounts survive a restart (`make dev-reset`
# deletes them), then builds and serves the functions under cargo lambda watch, and runs the
# stream runner beside them (the table's stream and the schedule: webhooks and key reminders).
# Env: PORT (9000), DDB_PORT (a free port), JWT_SECRET (random per run: set it to keep tokens
# valid across restarts), YL_CONCURRENCY (8 instances per function), RELOAD=1 (rebuild and
# restart a function when its code changes: cargo lambda watch's reload, which makes each
# instance's start take seconds), WATCH_ARGS, and any function setting (RATE_LIMIT_PER_MINUTE,
# ...), which is passed through.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PORT=${PORT:-9000}
START=$(yl_now)
yl_check_port_free "$PORT" "the API (cargo lambda watch)"

# shellcheck disable=SC2317  # the EXIT trap
on_exit() {
  local rc=$?
  set +e; trap - EXIT; trap '' INT TERM PIPE HUP # stop first, talk after: the pipe may be gone
  [[ -n "${YL_TOOLS_PID:-}" ]] && kill "$YL_TOOLS_PID" 2>/dev/null
  ((${#YL_SESSIONS[@]})) && { yl_log "stopping the stream runner, cargo lambda watch and the local DynamoDB"; yl_cleanup; }
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 129' HUP
trap 'exit 143' TERM

# The tools (dynoxide is a 3-minute build the first time) beside the functions' build: both
# cores busy, minutes sooner on a fresh clone.
yl_tools_start
yl_use_tools
yl_log "building the functions and the stream runner (the first build takes minutes)"
yl_build_functions stream-runner
yl_tools_wait

mkdir -p "$YL_LOGS" "$YL_ROOT/.data"
TABLE=$(yl_local_table_name)
export YL_DDB_FILE="$YL_ROOT/.data/dev-dynamodb.sqlite"
yl_start_ddb "${DDB_PORT:-$(yl_free_port)}" "$YL_LOGS/ddb-dev.log" "$TABLE"
yl_export_local_env "$DDB_ENDPOINT"
WATCH_LOG="$YL_LOGS/watch-dev.log"
yl_log "starting the functions (log: $WATCH_LOG)"
# Without RELOAD=1 the functions run as built (fast: cargo lambda watch then watches no files).
[[ "${RELOAD:-}" == 1 ]] || set -- --ignore-changes
# shellcheck disable=SC2086
yl_start_stack "$PORT" "$WATCH_LOG" "$@" ${WATCH_ARGS:-}
# The stream's event source mapping and the schedule (scripts/lib.sh): webhook deliveries and
# key reminders. The checkpoint lets a restart go on where the last run stopped.
RUNNER_LOG="$YL_LOGS/stream-runner-dev.log"
yl_start_stream_runner "$RUNNER_LOG" --checkpoint "$YL_ROOT/.data/stream-checkpoint.json" \
  --dead-letter "$YL_ROOT/.data/stream-dead-letter.jsonl"

cat <<EOF

  YeboLink API ready in $(($(yl_now) - START))s: ${_yl_b}$BASE/api/v1${_yl_0}
  Web console (same origin): ${_yl_b}$BASE/${_yl_0}
  Local DynamoDB (dynoxide): $DDB_ENDPOINT, table $TABLE, data in .data/ (make dev-reset empties it)
  Webhook deliveries and key reminders run locally through the stream runner (the table's
  stream to webhook-dispatcher, webhook-scheduler every second; log: $RUNNER_LOG,
  dead letters: .data/stream-dead-letter.jsonl), and only to loopback URLs
  (http or https to 127.0.0.1, [::1] or localhost: WEBHOOK_URL_POLICY=loopback).
  $YL_CONCURRENCY instances per function. Function output follows; Ctrl-C stops everything.

EOF
# tail in the background under `wait`: bash runs traps only between foreground commands, but
# interrupts `wait`, so Ctrl-C or a kill of this script stops everything at once.
tail -n 0 -f --pid="$WATCH_PID" "$WATCH_LOG" &
wait $! || true
yl_die "cargo lambda watch exited (log: $WATCH_LOG)"
