#!/usr/bin/env bash
# `make bench`: release binaries, their sizes, cold starts against a local DynamoDB, and the
# criterion micro-benchmarks. Prints one table per part; docs/performance.md explains them.
#
#   1. cargo build --release of the nine function binaries (workspace [profile.release]:
#      LTO, one codegen unit, panic=abort, strip) and of the cold-start harness.
#   2. Sizes: each stripped `bootstrap` and its zip (-9, the bootstrap alone, as SAM ships it).
#   3. Cold starts: tests/src/bin/coldstart.rs serves a minimal Lambda Runtime API on 127.0.0.1
#      and starts each bootstrap BENCH_RUNS times (default 20) as a fresh process, with the
#      local DynamoDB (scripts/local_dynamodb.py, moto) on a free port.
#   4. Criterion: the authorizer decision without I/O, the real authorizer handler over
#      MemoryStore, JWT verify/issue.
#
# Environment:
#   BENCH_RUNS=20          fresh processes per function
#   BENCH_SKIP_CRITERION=1 skip part 4;  BENCH_SKIP_COLDSTART=1 skip parts 1-3
#   BENCH_NO_BUILD=1       measure the release binaries already built (skip the release build)
#   BENCH_JITTER=1         also part 5: aws-lc's first random bytes with/without jitter entropy
#   BENCH_OUT=target/bench where results go (coldstart.json, criterion.tsv, zips/, logs/)
#   DDB_PYTHON=...         a python that has moto[server] (default: .tools/venv/bin/python,
#                          installed by scripts/tools.sh when missing)
# Slow on two cores: the release build of nine LTO binaries takes many minutes the first time.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench}"
RUNS="${BENCH_RUNS:-20}"
LOGS="$OUT/logs"
FUNCTIONS=(register login create-api-key list-api-keys authorizer send-message list-messages get-message deactivate-api-key)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$OUT" "$LOGS"
command -v cargo >/dev/null || die "cargo not found; install Rust (https://rustup.rs)"
command -v python3 >/dev/null || die "python3 not found"

# Machine, for the record.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)
log "machine: $(nproc) cores, ${cpu:-unknown CPU}, $(uname -sm), $(rustc --version)"

# ---------------------------------------------------------------- 1. build
build() { # build LOGNAME CARGO-ARGS...
  local logfile="$LOGS/$1.log"; shift
  local start=$SECONDS
  if ! cargo "$@" >"$logfile" 2>&1; then
    tail -n 30 "$logfile" >&2
    die "cargo $* failed (full log: $logfile)"
  fi
  log "cargo $* ($((SECONDS - start)) s)"
}

if [[ "${BENCH_SKIP_COLDSTART:-}" != 1 ]]; then
  # The nine function packages only: with --workspace the black-box crate (reqwest with ring)
  # would join the feature resolution and change what the functions link.
  packages=()
  for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done
  if [[ "${BENCH_NO_BUILD:-}" == 1 ]]; then
    log "BENCH_NO_BUILD=1: measuring the release binaries already in $CARGO_TARGET_DIR/release"
  else
    log "building release binaries (log: $LOGS/build-release.log; many minutes on 2 cores)"
    build build-release build --release "${packages[@]}" --bins
  fi
  # The harness (tests/src/bin/coldstart.rs): its clocks are read outside its own work, so its
  # debug build will do, and it leaves the release artifacts alone.
  build build-harness build -p yebolink-blackbox --bin coldstart
  HARNESS="$CARGO_TARGET_DIR/debug/coldstart"

  # -------------------------------------------------------------- 2. sizes
  rm -rf "$OUT/zips" && mkdir -p "$OUT/zips"
  for f in "${FUNCTIONS[@]}"; do
    bin="$CARGO_TARGET_DIR/release/$f"
    [[ -x "$bin" ]] || die "missing $bin"
    stage=$(mktemp -d)
    cp "$bin" "$stage/bootstrap"
    if command -v zip >/dev/null; then
      (cd "$stage" && zip -q -9 -X "$OUT/zips/$f.zip" bootstrap)
    else
      python3 - "$stage/bootstrap" "$OUT/zips/$f.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.write(sys.argv[1], "bootstrap")
PY
    fi
    rm -rf "$stage"
  done

  # -------------------------------------------------------------- 3. cold starts
  py="${DDB_PYTHON:-$ROOT/.tools/venv/bin/python}"
  if ! "$py" -c 'import moto.server, boto3' 2>/dev/null; then
    [[ -n "${DDB_PYTHON:-}" ]] && die "DDB_PYTHON=$py cannot import moto.server"
    log "installing the local tools (scripts/tools.sh)"
    scripts/tools.sh
    "$py" -c 'import moto.server, boto3' || die "$py has no moto after scripts/tools.sh"
  fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  table="yebolink-bench-$$"
  ddb_log="$LOGS/local-dynamodb.log"
  : >"$ddb_log"
  setsid "$py" scripts/local_dynamodb.py --port "$port" --table "$table" </dev/null >>"$ddb_log" 2>&1 &
  ddb_pid=$!
  cleanup() { kill -TERM -- "-$ddb_pid" 2>/dev/null || true; wait "$ddb_pid" 2>/dev/null || true; }
  trap cleanup EXIT
  for _ in $(seq 1 300); do
    grep -q "local DynamoDB ready" "$ddb_log" && break
    kill -0 "$ddb_pid" 2>/dev/null || { cat "$ddb_log" >&2; die "the local DynamoDB exited"; }
    sleep 0.1
  done
  grep -q "local DynamoDB ready" "$ddb_log" || { cat "$ddb_log" >&2; die "the local DynamoDB did not start in 30 s"; }
  log "local DynamoDB on 127.0.0.1:$port (table $table); $RUNS fresh processes per function"

  rm -f "$LOGS"/coldstart-*.log
  mkdir -p "$LOGS/functions" && rm -f "$LOGS"/functions/*.log
  "$HARNESS" \
    --bin-dir "$CARGO_TARGET_DIR/release" \
    --dynamodb-endpoint "http://127.0.0.1:$port" \
    --table "$table" \
    --runs "$RUNS" \
    --zip-dir "$OUT/zips" \
    --log-dir "$LOGS/functions" \
    --json "$OUT/coldstart.json" \
    --label "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${cpu:-unknown CPU}"
  cleanup
  trap - EXIT
fi

# ---------------------------------------------------------------- 4. criterion
if [[ "${BENCH_SKIP_CRITERION:-}" != 1 ]]; then
  log "criterion benchmarks (logs: $LOGS/criterion-*.log)"
  build criterion-shared bench -p yebolink-shared --bench authorizer_decision --bench jwt
  build criterion-authorizer bench -p authorizer --bench authorizer_handler
  python3 - "$CARGO_TARGET_DIR/criterion" "$OUT/criterion.tsv" <<'PY'
import json, pathlib, sys
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
rows = []
for group in ("authorizer_steps", "authorizer_decision", "authorizer_handler", "jwt"):
    for est in sorted((root / group).glob("*/new/estimates.json")):
        e = json.loads(est.read_text())
        med = e["median"]
        rows.append((group, est.parent.parent.name, med["point_estimate"] / 1000,
                     med["confidence_interval"]["lower_bound"] / 1000,
                     med["confidence_interval"]["upper_bound"] / 1000))
out.write_text("".join(f"{g}\t{b}\t{m:.3f}\t{lo:.3f}\t{hi:.3f}\n" for g, b, m, lo, hi in rows))
print("\n| group | benchmark | median µs | 95% CI µs |\n|---|---|---:|---|")
for g, b, m, lo, hi in rows:
    print(f"| {g} | {b} | {m:.2f} | {lo:.2f} – {hi:.2f} |")
print()
PY
fi
# ---------------------------------------------------------------- 5. aws-lc jitter entropy
# Optional (BENCH_JITTER=1): the cost of aws-lc's first random bytes in a fresh process, with
# and without CPU jitter entropy. Locally the functions talk plain HTTP, so the harness never
# pays it; in AWS the first TLS handshake (the DynamoDB warm-up at init) does. Each variant
# has its own target directory, so the workspace's artifacts are never rebuilt for it.
if [[ "${BENCH_JITTER:-}" == 1 ]]; then
  log "aws-lc jitter entropy probe (scripts/entropy-probe), $RUNS processes per variant"
  printf '\n| aws-lc-sys build | first random bytes p50 µs | p90 µs | second call p50 µs |\n|---|---:|---:|---:|\n'
  for variant in jitter no-jitter; do
    dir="$CARGO_TARGET_DIR/entropy-probe/$variant"
    if [[ $variant == jitter ]]; then
      build "entropy-probe-$variant" build --release --locked --manifest-path scripts/entropy-probe/Cargo.toml \
        --target-dir "$dir" --config 'env.AWS_LC_SYS_NO_JITTER_ENTROPY = "0"'
    else
      build "entropy-probe-$variant" build --release --locked --manifest-path scripts/entropy-probe/Cargo.toml \
        --target-dir "$dir" --config 'env.AWS_LC_SYS_NO_JITTER_ENTROPY = "1"'
    fi
    for _ in $(seq 1 "$RUNS"); do "$dir/release/entropy-probe"; done | python3 -c '
import statistics, sys
rows = [tuple(map(int, line.split())) for line in sys.stdin]
first = sorted(r[0] for r in rows); second = sorted(r[1] for r in rows)
p90 = first[max(0, -(-9 * len(first) // 10) - 1)]
print(f"| {sys.argv[1]} | {statistics.median(first):.0f} | {p90} | {statistics.median(second):.0f} |")
' "$variant"
  done
  echo
fi
log "results in $OUT (coldstart.json, criterion.tsv, zips/, logs/)"
