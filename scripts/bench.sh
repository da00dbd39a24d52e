#!/usr/bin/env bash
# `make bench`: release binaries, their sizes, cold starts as a ratio to a hello-world Lambda,
# and the criterion micro-benchmarks. docs/performance.md explains every table.
#
#   1. cargo build --release of the nine functions and tests/hello-world (workspace
#      [profile.release]: LTO, one codegen unit, panic=abort, strip), by package: with
#      --workspace the black-box crate would join the feature resolution.
#   2. Sizes: each stripped bootstrap and its zip (-9, the bootstrap alone, as SAM ships it).
#   3. Cold starts (tests/src/bin/coldstart.rs): each function BENCH_RUNS times as a fresh
#      process, each after a fresh hello-world process (A B A B), against the local DynamoDB
#      (dynoxide, scripts/lib.sh yl_start_ddb); ratios, and the breakdown of each cold total.
#      The authorizer and the messaging functions each take turns with their SDK floor
#      (tests/sdk-floor: the same init and DynamoDB calls, nothing else).
#   4. Criterion: the authorizer decision without I/O, the real handler, JWT verify/issue, and
#      what the local DynamoDB costs a function (a Query in a 2,000-item partition, a transaction).
#   5. Webhooks (tests/src/bin/webhook-latency.rs): a local stack (debug functions under cargo
#      lambda watch, the stream runner), a loopback receiver, and the time from each of
#      WEBHOOK_LATENCY_EVENTS (50) key changes to its signed delivery: p50, p95, max.
#
# Environment:
#   BENCH_RUNS=20            cold starts per function (and as many hello-world ones)
#   BENCH_FUNCTIONS=a,b      only these functions (plus the ones whose runs make their data)
#   BENCH_NO_BUILD=1         measure the release binaries already built
#   BENCH_SKIP_CRITERION=1   skip part 4;  BENCH_SKIP_COLDSTART=1 skip parts 1-3
#   BENCH_SKIP_WEBHOOKS=1    skip part 5
#   BENCH_DDB_ENDPOINT=URL   use this local DynamoDB (its table: BENCH_TABLE) instead of starting one
#   BENCH_OUT=target/bench   results: coldstart.md, criterion.md, zips/, logs/
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$YL_ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$YL_ROOT/target}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench}" LOGS="${BENCH_OUT:-$CARGO_TARGET_DIR/bench}/logs"
FUNCTIONS=(register login create-api-key list-api-keys authorizer send-message list-messages get-message deactivate-api-key)
if [[ -n "${BENCH_FUNCTIONS:-}" ]]; then IFS=, read -ra FUNCTIONS <<<"$BENCH_FUNCTIONS"; fi
mkdir -p "$OUT" "$LOGS"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
MACHINE="$(nproc) cores, ${cpu:-unknown CPU}, $(free -g | awk '/^Mem:/ { print $2 }') GiB, $(uname -sr), $(rustc --version)"
yl_log "machine: $MACHINE; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# The local DynamoDB for parts 3 and 4 (a no-op once installed; in a fresh clone it builds
# dynoxide, beside the release build).
yl_tools_start

build() { # build LOGNAME CARGO-ARGS...
  local logfile="$LOGS/$1.log" start=$SECONDS; shift
  nice -n 5 cargo "$@" >"$logfile" 2>&1 || { tail -n 30 "$logfile" >&2; yl_die "cargo $* failed (log: $logfile)"; }
  yl_ok "cargo $* ($((SECONDS - start)) s)"
}

if [[ "${BENCH_SKIP_COLDSTART:-}" != 1 ]]; then
  # ------------------------------------------------------------ 1. build, 2. sizes
  # The prerequisites of the named functions (data for their events) are measured too.
  packages=(-p hello-world) floors=() && for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done
  for f in authorizer send-message list-messages get-message; do
    [[ " ${FUNCTIONS[*]} " == *" $f "* ]] && floors+=("floor-$f")
  done
  [[ ${#floors[@]} -eq 0 ]] || packages+=(-p sdk-floor)
  [[ " ${FUNCTIONS[*]} " == *" register "* ]] || packages+=(-p register -p create-api-key -p send-message)
  if [[ "${BENCH_NO_BUILD:-}" == 1 ]]; then
    yl_warn "BENCH_NO_BUILD=1: measuring the release binaries already in $CARGO_TARGET_DIR/release"
  else
    yl_log "release build (log: $LOGS/build-release.log; many minutes on 2 cores)"
    build build-release build --release "${packages[@]}" --bins
  fi
  # Its clocks are read outside its own work, so the harness's debug build will do.
  build build-harness build -p yebolink-blackbox --bin coldstart
  rm -rf "$OUT/zips" && mkdir -p "$OUT/zips"
  printf '\n| binary | stripped bytes | MiB | zip bytes | zip MiB |\n|---|---:|---:|---:|---:|\n'
  for f in hello-world "${FUNCTIONS[@]}" floor-authorizer floor-messaging; do
    bin="$CARGO_TARGET_DIR/release/$f" stage="$OUT/zips/$f"
    [[ -x "$bin" ]] || continue
    mkdir -p "$stage" && cp "$bin" "$stage/bootstrap"
    (cd "$stage" && zip -q -9 -X "../$f.zip" bootstrap) && rm -rf "$stage"
    awk -v f="$f" -v b="$(stat -c %s "$bin")" -v z="$(stat -c %s "$OUT/zips/$f.zip")" \
      'BEGIN { printf "| %s | %d | %.2f | %d | %.2f |\n", f, b, b / 1048576, z, z / 1048576 }'
  done
  # docs/development.md's promise that release builds hold no trace! callsite (Cargo.toml,
  # tracing's release_max_level_debug): one of lambda_runtime 1.5's trace messages, which every
  # debug build holds, stands for them all.
  for f in "${FUNCTIONS[@]}"; do
    ! grep -qa "Waiting for next event (incoming loop)" "$CARGO_TARGET_DIR/release/$f" 2>/dev/null \
      || yl_die "$f: the release build holds trace! callsites (see tracing in Cargo.toml)"
  done

  # ------------------------------------------------------------ 3. cold starts
  if [[ -n "${BENCH_DDB_ENDPOINT:-}" ]]; then
    DDB_ENDPOINT=$BENCH_DDB_ENDPOINT table=${BENCH_TABLE:?BENCH_TABLE names the table at BENCH_DDB_ENDPOINT}
  else
    yl_tools_wait
    trap yl_cleanup EXIT
    table="yebolink-bench-$$"
    yl_start_ddb "$(yl_free_port)" "$LOGS/local-dynamodb.log" "$table"
  fi
  yl_log "cold starts against $DDB_ENDPOINT (table $table): ${BENCH_RUNS:-20} per function, A B A B with hello-world"
  rm -rf "$LOGS/functions"
  list=$(IFS=,; echo "${FUNCTIONS[*]}${floors[*]:+,${floors[*]}}")
  "$CARGO_TARGET_DIR/debug/coldstart" --bin-dir "$CARGO_TARGET_DIR/release" \
    --baseline "$CARGO_TARGET_DIR/release/hello-world" --functions "$list" \
    --dynamodb-endpoint "$DDB_ENDPOINT" --table "$table" --runs "${BENCH_RUNS:-20}" \
    --log-dir "$LOGS/functions" \
    --label "$(date -u '+%Y-%m-%d %H:%M UTC'); $MACHINE; load average $(cut -d' ' -f1-3 /proc/loadavg)" \
    | tee "$OUT/coldstart.md"
  yl_cleanup
fi

# ---------------------------------------------------------------- 4. criterion
if [[ "${BENCH_SKIP_CRITERION:-}" != 1 ]]; then
  yl_log "criterion benchmarks (logs: $LOGS/criterion-*.log)"
  build criterion-shared bench -p yebolink-shared --bench authorizer_decision --bench jwt
  build criterion-authorizer bench -p authorizer --bench authorizer_handler
  yl_tools_wait
  trap yl_cleanup EXIT
  yl_start_ddb "$(yl_free_port)" "$LOGS/criterion-dynamodb.log"
  DYNAMODB_TEST_ENDPOINT=$DDB_ENDPOINT build criterion-local-dynamodb bench -p yebolink-shared --bench local_dynamodb
  yl_cleanup
  printf '\n| group | benchmark | median µs | 95%% CI µs |\n|---|---|---:|---|\n'
  for est in "$CARGO_TARGET_DIR"/criterion/{authorizer_steps,authorizer_decision,authorizer_handler,emf,jwt,local_dynamodb}/*/new/estimates.json; do
    [[ -f "$est" ]] || continue
    bench=$(dirname "$(dirname "$est")") && group=$(basename "$(dirname "$bench")")
    python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))["median"]; ci = m["confidence_interval"]
p, lo, hi = m["point_estimate"] / 1e3, ci["lower_bound"] / 1e3, ci["upper_bound"] / 1e3
print(f"| {sys.argv[2]} | {sys.argv[3]} | {p:.2f} | {lo:.2f} – {hi:.2f} |")' \
      "$est" "$group" "$(basename "$bench")"
  done | tee "$OUT/criterion.md"
fi

# ---------------------------------------------------------------- 5. webhook delivery
if [[ "${BENCH_SKIP_WEBHOOKS:-}" != 1 ]]; then
  yl_tools_wait
  yl_use_tools
  yl_log "webhook delivery: a local stack and its stream runner (logs: $LOGS/webhook-*.log)"
  build webhook-build build --bin=webhook-latency --bin=stream-runner
  trap yl_cleanup EXIT
  TABLE=$(yl_local_table_name)
  yl_start_ddb "$(yl_free_port)" "$LOGS/webhook-dynamodb.log" "$TABLE"
  yl_export_local_env "$DDB_ENDPOINT"
  yl_start_stack "$(yl_free_port)" "$LOGS/webhook-watch.log" --ignore-changes
  yl_start_stream_runner "$LOGS/webhook-stream-runner.log"
  YEBOLINK_BASE_URL=$BASE "$CARGO_TARGET_DIR/debug/webhook-latency" | tee "$OUT/webhooks.md"
  yl_cleanup
fi
yl_tools_wait
yl_log "results in $OUT (coldstart.md, criterion.md, webhooks.md, zips/, logs/)"
