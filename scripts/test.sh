#!/usr/bin/env bash
# `make test`: every layer, against processes this script starts and always stops. Each run
# starts from empty databases. Logs: target/yebolink-logs/. Exits non-zero if any layer failed.
#   1. build       the workspace's test build and the functions' debug build, with beside them
#                  scripts/tools.sh (cargo-lambda, dynoxide), schemathesis and the browser tools
#   2. unit+integ  every test but the black-box crate's; the DynamoDB tests (store conformance,
#                  op counts, faults) against a local DynamoDB of their own
#   3. stack       a fresh local DynamoDB with the table, and two stacks of the functions under
#                  cargo lambda watch (YL_CONCURRENCY instances each): RATE_LIMIT_PER_MINUTE=30
#                  for layers 4, 4b and 6, and one no fuzzer reaches for layer 5; the stream
#                  runner (the table's stream and the schedule) to the first
#   4. black-box   the black-box crate's tests over HTTP
#   4b. browser    scripts/browser.sh: the web console (console/) through its UI in Debian's
#                  headless chromium (playwright-core + axe-core, pinned, npm ci) against the
#                  same stack; screenshots in target/console/
#   5. fuzz-api    scripts/fuzz.sh against a second stack on the same database, with a rate
#                  limit no fuzzer reaches, beside layers 4 and 4b; then the table's integrity
#   6. outage      tests/tests/outage.rs phase by phase while the local DynamoDB is paused,
#                  resumed, stopped and replaced under the running functions
#   7. secrets     scripts/scan_logs.py: no key, JWT or test password in any log of this run
# Tests run under cargo-nextest, always with the same package selection (--workspace), so the
# workspace is compiled for tests once and the layers differ only in which tests they run.
# Env: NEXTEST_ARGS (added to every nextest run), WATCH_ARGS, YL_CONCURRENCY.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"
T0=$(yl_now)
SUMMARY=()
FAILED=0
RESULTS_LOG="$YL_LOGS/test-results.log"

# shellcheck disable=SC2317  # the EXIT trap
on_exit() {
  local rc=$?
  set +e; trap - EXIT; trap '' INT TERM PIPE HUP
  [[ -n "${fuzz:-}" ]] && kill "$fuzz" 2>/dev/null
  ((${#YL_SESSIONS[@]})) && { yl_log "stopping everything this run started"; yl_cleanup; }
  printf '\n==> make test summary (total %ss)\n' "$(($(yl_now) - T0))" >&2
  printf '   %s\n' "${SUMMARY[@]}" >&2
  # One closing line over all nextest runs.
  [[ -s "$RESULTS_LOG" ]] && awk '/^ *Summary \[/ {
      for (i = 1; i <= NF; i++) { w = $(i + 1); sub(/,$/, "", w)
        if (w == "passed") p += $i; else if (w == "failed") f += $i; else if (w == "skipped") k += $i } }
    END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, k }' "$RESULTS_LOG"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 129' HUP
trap 'exit 143' TERM

layer() { # layer NAME START RC : record a layer's outcome
  local status=ok
  (($3 == 0)) || { status="FAILED (exit $3)"; FAILED=1; }
  SUMMARY+=("$(printf '%-11s %-16s %5ss' "$1" "$status" "$(($(yl_now) - $2))")")
}
read -r -a NEXTEST_ARGS <<<"${NEXTEST_ARGS:-}"
nextest() { # nextest FILTERSET [ARGS...] : the workspace's tests that match, results in RESULTS_LOG
  local filter=$1; shift
  cargo nextest run --workspace --no-fail-fast --hide-progress-bar -E "$filter" "$@" "${NEXTEST_ARGS[@]}" 2>&1 \
    | tee -a "$RESULTS_LOG"
  return "${PIPESTATUS[0]}"
}

t=$(yl_now); yl_log "layer 1/7: the test and function builds, with every tool installed beside them"
yl_need_cmd cargo-nextest "Install it: cargo install cargo-nextest --locked (https://nexte.st)."
yl_use_tools
# Two compilers at once keep both cores busy where one alone has a serial stretch (linking, the
# SDK's largest crates): on a fresh clone the two finish sooner than one after the other. The
# downloads (PyPI, npm, apt) wait on the network, not the cores.
yl_tools_start
{ bash scripts/fuzz.sh --install && bash scripts/browser.sh --install; } &
layer_tools=$!
cargo nextest run --workspace --no-run && yl_build_functions \
  || { kill "$YL_TOOLS_PID" "$layer_tools" 2>/dev/null; yl_die "the test build failed"; }
yl_tools_wait
wait "$layer_tools" || yl_die "installing the fuzz or browser tools failed"
# The test build made leak-signer: a `cargo run` of it would resolve features anew and rebuild.
YL_LEAK_SIGNER="$CARGO_TARGET_DIR/debug/leak-signer" yl_leak_report_keys
layer build "$t" 0
mkdir -p "$YL_LOGS"; : >"$RESULTS_LOG"
# Never talk to a real AWS account from tests, whatever the developer's shell has.
yl_export_local_env "" && unset DYNAMODB_ENDPOINT

t=$(yl_now); yl_log "layer 2/7: unit and DynamoDB integration tests"
yl_start_ddb "$(yl_free_port)" "$YL_LOGS/ddb-integration.log"
rc=0; DYNAMODB_TEST_ENDPOINT=$DDB_ENDPOINT nextest 'not package(yebolink-blackbox)' || rc=$?
yl_stop_session "$DDB_PID"
layer unit+integ "$t" "$rc"

t=$(yl_now); yl_log "layer 3/7: local stack"
TABLE=$(yl_local_table_name)
yl_start_ddb "$(yl_free_port)" "$YL_LOGS/ddb-stack.log" "$TABLE"
yl_export_local_env "$DDB_ENDPOINT"
WATCH_LOG="$YL_LOGS/watch-test.log"
# --ignore-changes: an edit made while the suite runs must not restart the functions under it.
start_functions() { # RATE_LIMIT_PER_MINUTE LOGFILE : a stack on a free port (sets BASE, WATCH_PID)
  # shellcheck disable=SC2086
  RATE_LIMIT_PER_MINUTE=$1 yl_start_stack "$(yl_free_port)" "$2" --ignore-changes ${WATCH_ARGS:-}
}
# Two stacks on the one database: the fuzzer's with a rate limit no fuzzer reaches, the one the
# black-box and browser suites test, rate limits included, at 30 a minute.
start_functions 1000000 "$YL_LOGS/watch-fuzz.log"
FUZZ_BASE=$BASE FUZZ_WATCH_PID=$WATCH_PID
start_functions 30 "$WATCH_LOG"
export YEBOLINK_BASE_URL=$BASE YEBOLINK_INVOKE_PORT=${BASE##*:} YEBOLINK_INVOKE_ADDRESS=127.0.0.1
export CARGO_LAMBDA="$YL_VENV/bin/cargo-lambda" YEBOLINK_DYNAMODB_ENDPOINT=$DDB_ENDPOINT YEBOLINK_TABLE=$TABLE
export YEBOLINK_FUNCTION_LOG=$WATCH_LOG # the metrics tests read the functions' EMF lines here
# The stream's event source mapping and the schedule (scripts/lib.sh), to this stack's
# functions only: audit events the fuzzer's stack writes reach this stack's dispatcher too, as
# they would one deployed dispatcher. Its log and dead letters hold this run's only.
export YEBOLINK_STREAM_RUNNER_LOG="$YL_LOGS/stream-runner.log" \
  YEBOLINK_STREAM_RUNNER_DEAD_LETTER="$YL_LOGS/stream-runner-dead-letter.jsonl"
: >"$YEBOLINK_STREAM_RUNNER_LOG"
rm -f "$YEBOLINK_STREAM_RUNNER_DEAD_LETTER"
yl_start_stream_runner "$YEBOLINK_STREAM_RUNNER_LOG" --dead-letter "$YEBOLINK_STREAM_RUNNER_DEAD_LETTER"
layer stack "$t" 0
yl_ok "stacks at $BASE/api/v1 and (fuzzing) $FUZZ_BASE/api/v1, $YL_CONCURRENCY instances per function, local DynamoDB $DDB_ENDPOINT, stream runner to $BASE (log: $YEBOLINK_STREAM_RUNNER_LOG)"

# Fuzzing waits on one Python process, the HTTP suites on the functions: side by side they
# share the cores instead of taking turns. Its output is printed when it ends.
t_fuzz=$(yl_now); yl_log "layer 5/7: API fuzzing (scripts/fuzz.sh) against $FUZZ_BASE, beside layers 4 and 4b"
YEBOLINK_BASE_URL=$FUZZ_BASE bash scripts/fuzz.sh >"$YL_LOGS/fuzz-api.log" 2>&1 &
fuzz=$!

table_intact() { nextest 'binary(integrity) & test(=table_has_no_partial_records)' --run-ignored only --no-capture; }
t=$(yl_now); yl_log "layer 4/7: black-box suite over HTTP against $BASE"
rc=0; nextest 'package(yebolink-blackbox)' --test-threads 8 || rc=$?
((rc == 0)) || { yl_warn "black-box failures; the functions' last lines ($WATCH_LOG):"; tail -n 40 "$WATCH_LOG" >&2; }
layer black-box "$t" "$rc"

# ---------------------------------------------------------------- 4b. browser (issue 14)
# The web console in a real headless chromium, through its UI alone, against the same stack
# (it signs up a workspace of its own). TAP output also in browser.log.
t=$(yl_now); yl_log "layer 4b/7: browser (scripts/browser.sh: the web console in headless chromium) against $BASE"
rc=0; YEBOLINK_BASE_URL=$BASE bash scripts/browser.sh 2>&1 | tee "$YL_LOGS/browser.log" || rc=${PIPESTATUS[0]}
((rc == 0)) || yl_warn "browser failures: TAP in $YL_LOGS/browser.log, screenshots in target/console/, the functions' output in $WATCH_LOG"
layer browser "$t" "$rc"
# ----------------------------------------------------------------

rc=0; wait "$fuzz" || rc=$?
yl_log "layer 5/7: API fuzzing, its output ($YL_LOGS/fuzz-api.log):"
cat "$YL_LOGS/fuzz-api.log"
yl_stop_session "$FUZZ_WATCH_PID"
# Once nothing writes any more: every record the three layers made is whole.
table_intact || rc=1
layer fuzz-api "$t_fuzz" "$rc"

# Wipes the database: after every layer that needs the stack's data.
t=$(yl_now); yl_log "layer 6/7: outage (the local DynamoDB hangs, resumes, stops, is replaced)"
export YEBOLINK_OUTAGE_STATE="$YL_ROOT/target/yebolink-outage-state.json" # a JWT and a key: not in the logs
rm -f "$YEBOLINK_OUTAGE_STATE"
phase() { yl_log "outage phase $1"; nextest "binary(outage) & test(=$1)" --run-ignored only --no-capture; }
rc=0
phase outage_1_prepare || rc=1
kill -STOP -- "-$DDB_PID"
phase outage_2_hanging || rc=1
kill -CONT -- "-$DDB_PID"
phase outage_3_resumed || rc=1
table_intact || rc=1
yl_stop_session "$DDB_PID"
phase outage_4_stopped || rc=1
yl_start_ddb "${DDB_ENDPOINT##*:}" "$YL_LOGS/ddb-restarted.log" "$TABLE"
phase outage_5_restarted || rc=1
table_intact || rc=1
rm -f "$YEBOLINK_OUTAGE_STATE"
layer outage "$t" "$rc"

# Last: it reads every log of the run, the functions' complete once they are stopped.
t=$(yl_now); yl_log "layer 7/7: secrets in the logs (scripts/scan_logs.py)"
yl_cleanup
rc=0; python3 scripts/scan_logs.py --logs "$YL_LOGS" --since "$T0" || rc=$?
layer secrets "$t" "$rc"
exit "$FAILED"
