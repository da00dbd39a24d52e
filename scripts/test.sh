#!/usr/bin/env bash
# `make test`: every layer, against processes this script starts and always stops.
#   1. tools        scripts/tools.sh (cargo-lambda + moto into .tools/venv, pinned)
#   2. unit+integ   scripts/check_local_dynamodb.py (the local DynamoDB's transactions are all or
#                   nothing; prints what they cost), then `cargo test --workspace --exclude
#                   yebolink-blackbox`, with that local DynamoDB (moto) named in
#                   DYNAMODB_TEST_ENDPOINT; the integration tests create their own tables there
#   3. stack        a fresh local DynamoDB with the table + the functions built and served by
#                   `cargo lambda watch` on a free port (RATE_LIMIT_PER_MINUTE=30), each started once
#   4. black-box    `cargo test -p yebolink-blackbox` over HTTP against that stack (and
#                   `cargo lambda invoke` of the authorizer through the same watch)
#   4b. browser     scripts/browser.sh: the web console (console/) through its UI in Debian's
#                   headless chromium (playwright-core + axe-core, pinned, npm ci) against the
#                   same stack; screenshots in target/console/
#   5. fuzz-api     scripts/fuzz.sh: schemathesis (pinned, .tools/fuzz-venv) from docs/openapi.yaml
#                   against the same stack, with a real JWT and API keys made over HTTP: no 5xx,
#                   every response conforms to the document (also `make fuzz-api`)
#   6. outage       tests/tests/outage.rs, phase by phase, while this script pauses, resumes, stops
#                   and restarts (fresh, same port) the stack's local DynamoDB under the running
#                   functions; scripts/ddb_integrity.py checks the table for partial records
#   7. secrets      scripts/scan_logs.py: no API key, JWT or test password in any log of this run
# Exits non-zero if any layer failed. Logs: target/yebolink-logs/.
# Env: CARGO_TEST_ARGS (extra args after `--` for both cargo test runs), WATCH_ARGS.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"

T0=$(yl_now)
declare -a SUMMARY=()
FAILED=0

# shellcheck disable=SC2317  # invoked by the EXIT trap
on_exit() {
  local rc=$?
  # Stop first, talk after (a closed output pipe must not end this handler before the cleanup).
  set +e
  trap - EXIT
  trap '' INT TERM PIPE HUP
  if ((${#YL_SESSIONS[@]})); then
    yl_log "stopping everything this run started"
    yl_cleanup
  fi
  if ((${#SUMMARY[@]})); then
    {
      echo
      yl_log "make test summary (total $(($(yl_now) - T0))s)"
      printf '   %s\n' "${SUMMARY[@]}"
    } >&2
  fi
  if [[ -s "${RESULTS_LOG:-}" ]]; then
    # Closing line over all cargo test runs (the last run's own line covers only itself).
    awk '/^test result: / { p += $4; f += $6; i += $8 }
         END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$RESULTS_LOG"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 129' HUP
trap 'exit 143' TERM

# layer NAME START RC : record a layer's outcome
layer_done() {
  local name=$1 start=$2 rc=$3 status=ok
  ((rc == 0)) || { status="FAILED (exit $rc)"; FAILED=1; }
  SUMMARY+=("$(printf '%-12s %-18s %5ss' "$name" "$status" "$(($(yl_now) - start))")")
}

# ---------------------------------------------------------------- 1. tools
t=$(yl_now)
yl_log "layer 1/7: tools"
"$YL_ROOT/scripts/tools.sh"
layer_done tools "$t" 0
yl_use_tools
mkdir -p "$YL_LOGS"

# Never talk to a real AWS account from tests, whatever the developer's shell has.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 \
  AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN

read -r -a TEST_ARGS <<<"${CARGO_TEST_ARGS:-}"

# Every cargo test run's output also goes to one log, whose "test result:" lines are added up
# into the closing "tests: N passed, N failed" line.
RESULTS_LOG="$YL_LOGS/test-results.log"
: >"$RESULTS_LOG"
run_cargo_test() { # run_cargo_test CARGO_TEST_ARGS... (then -- and TEST_ARGS are appended)
  local rc=0
  cargo test --no-fail-fast "$@" -- "${TEST_ARGS[@]}" 2>&1 | tee -a "$RESULTS_LOG" || rc=${PIPESTATUS[0]}
  return "$rc"
}

# ---------------------------------------------------------------- 2. unit + integration
t=$(yl_now)
yl_log "layer 2/7: unit and DynamoDB integration tests (cargo test --workspace --exclude yebolink-blackbox)"
yl_start_ddb "$(yl_free_port)" "$YL_LOGS/ddb-integration.log"
yl_ok "local DynamoDB for the integration tests at $DDB_ENDPOINT"
rc=0
# The emulator first: the tests below and the stack rely on its transactions being DynamoDB's.
"$YL_VENV/bin/python" "$YL_ROOT/scripts/check_local_dynamodb.py" "$DDB_ENDPOINT" || rc=$?
DYNAMODB_TEST_ENDPOINT=$DDB_ENDPOINT run_cargo_test --workspace --exclude yebolink-blackbox || rc=$?
yl_stop_session "$DDB_PID"
layer_done unit+integ "$t" "$rc"

# ---------------------------------------------------------------- 3. stack
t=$(yl_now)
yl_log "layer 3/7: local stack (build functions, local DynamoDB, cargo lambda watch)"
rc=0
read -r -a FUNCTIONS <<<"$(yl_router_functions)"
# The authorizer is not routed; the black-box suite runs it with `cargo lambda invoke`.
if ! yl_prebuild "${FUNCTIONS[@]}" authorizer; then
  rc=1
elif ! (cargo test -p yebolink-blackbox --no-run); then
  rc=1
fi
if ((rc != 0)); then
  layer_done stack "$t" "$rc"
  yl_warn "the build failed: black-box layer skipped"
  SUMMARY+=("$(printf '%-12s %-18s' black-box 'SKIPPED')")
  exit 1
fi

TABLE=$(yl_local_table_name)
yl_start_ddb "$(yl_free_port)" "$YL_LOGS/ddb-stack.log" "$TABLE"
yl_export_local_env "$DDB_ENDPOINT"
export RATE_LIMIT_PER_MINUTE=30
PORT=$(yl_free_port)
BASE="http://127.0.0.1:$PORT"
WATCH_LOG="$YL_LOGS/watch-test.log"
# --ignore-changes: an edit made while the suite runs must not restart the functions under it.
# shellcheck disable=SC2086
yl_start_watch "$PORT" "$WATCH_LOG" --ignore-changes ${WATCH_ARGS:-}
if yl_wait_router "$BASE" "$WATCH_PID" "$WATCH_LOG" "${READY_TIMEOUT:-1200}" && yl_prewarm "$BASE"; then
  yl_ok "stack ready at $BASE/api/v1 (local DynamoDB $DDB_ENDPOINT, watch log $WATCH_LOG)"
  layer_done stack "$t" 0
else
  tail -n 40 "$WATCH_LOG" >&2
  layer_done stack "$t" 1
  SUMMARY+=("$(printf '%-12s %-18s' black-box 'SKIPPED')")
  exit 1
fi

# ---------------------------------------------------------------- 4. black-box
t=$(yl_now)
yl_log "layer 4/7: black-box suite over HTTP (cargo test -p yebolink-blackbox) against $BASE"
rc=0
YEBOLINK_BASE_URL=$BASE CARGO_LAMBDA="$YL_VENV/bin/cargo-lambda" \
  YEBOLINK_INVOKE_PORT=$PORT YEBOLINK_INVOKE_ADDRESS=127.0.0.1 \
  run_cargo_test -p yebolink-blackbox || rc=$?
if ((rc != 0)); then
  yl_warn "black-box failures: the functions' output is in $WATCH_LOG; its last lines:"
  tail -n 40 "$WATCH_LOG" >&2
fi
layer_done black-box "$t" "$rc"

# ---------------------------------------------------------------- 4b. browser (issue 14)
# The web console in a real headless chromium, through its UI alone, against the same stack
# (it signs up its own workspace). TAP output also in browser.log.
t=$(yl_now)
yl_log "layer 4b/7: browser (scripts/browser.sh: the web console in headless chromium) against $BASE"
rc=0
YEBOLINK_BASE_URL=$BASE bash scripts/browser.sh 2>&1 | tee "$YL_LOGS/browser.log" || rc=${PIPESTATUS[0]}
if ((rc != 0)); then
  yl_warn "browser failures: TAP in $YL_LOGS/browser.log, screenshots in target/console/, the functions' output $WATCH_LOG"
fi
layer_done browser "$t" "$rc"

# ---------------------------------------------------------------- 5. fuzz-api
# API fuzzing (issue 7): schemathesis over every documented operation, against the stack the
# black-box suite used (before the outage layer wipes its database). Output also in fuzz-api.log.
t=$(yl_now)
yl_log "layer 5/7: API fuzzing (scripts/fuzz.sh: schemathesis from docs/openapi.yaml) against $BASE"
rc=0
YEBOLINK_BASE_URL=$BASE bash scripts/fuzz.sh 2>&1 | tee "$YL_LOGS/fuzz-api.log" || rc=${PIPESTATUS[0]}
if ((rc != 0)); then
  yl_warn "fuzzing failures: the report is $YL_LOGS/fuzz/junit.xml, the functions' output $WATCH_LOG"
fi
layer_done fuzz-api "$t" "$rc"

# ---------------------------------------------------------------- 6. outage
# Runs after every layer that needs the stack's data: it wipes the database.
t=$(yl_now)
yl_log "layer 6/7: outage (the local DynamoDB hangs, resumes, stops, restarts under the functions)"
rc=0
# The phases pass a JWT and an API key along in this file: outside the log directory.
OUTAGE_STATE="$YL_ROOT/target/yebolink-outage-state.json"
rm -f "$OUTAGE_STATE"
outage_phase() { # outage_phase TEST: one #[ignore]d phase of tests/tests/outage.rs
  local rc=0
  yl_log "outage phase $1"
  YEBOLINK_BASE_URL=$BASE CARGO_LAMBDA="$YL_VENV/bin/cargo-lambda" YEBOLINK_INVOKE_PORT=$PORT \
    YEBOLINK_INVOKE_ADDRESS=127.0.0.1 YEBOLINK_OUTAGE_STATE=$OUTAGE_STATE \
    cargo test --no-fail-fast -p yebolink-blackbox --test outage -- --ignored --exact "$1" \
    --nocapture "${TEST_ARGS[@]}" 2>&1 | tee -a "$RESULTS_LOG" || rc=${PIPESTATUS[0]}
  return "$rc"
}
table_intact() { # no key without its lookup item, no account without its workspace, ...
  "$YL_VENV/bin/python" scripts/ddb_integrity.py --endpoint "$DDB_ENDPOINT" --table "$TABLE"
}
table_intact || rc=1 # what the black-box suite and the fuzzer left
outage_phase outage_1_prepare || rc=1
yl_pause_ddb
outage_phase outage_2_hanging || rc=1
yl_resume_ddb
outage_phase outage_3_resumed || rc=1
table_intact || rc=1
yl_stop_session "$DDB_PID"
outage_phase outage_4_stopped || rc=1
yl_start_ddb "${DDB_ENDPOINT##*:}" "$YL_LOGS/ddb-restarted.log" "$TABLE"
outage_phase outage_5_restarted || rc=1
table_intact || rc=1
rm -f "$OUTAGE_STATE"
layer_done outage "$t" "$rc"

# ---------------------------------------------------------------- 7. secrets in logs
# Keep this the last layer: it reads every log the run wrote.
t=$(yl_now)
yl_log "layer 7/7: secrets in the logs (scripts/scan_logs.py over this run's $YL_LOGS)"
yl_stop_session "$WATCH_PID" # the functions' output is complete in the watch log
rc=0
python3 scripts/scan_logs.py --logs "$YL_LOGS" --since "$T0" || rc=$?
layer_done secrets "$t" "$rc"

exit "$FAILED"
