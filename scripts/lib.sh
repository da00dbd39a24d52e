# shellcheck shell=bash
# Shared helpers for the make targets' scripts: messages, the repo-local tools, ports, processes
# that are always stopped, the local DynamoDB (dynoxide) and cargo lambda watch.
# Source it; it defines functions and variables only and changes no shell options.
#
# Every long-running child is started with setsid, so it leads its own process group and
# Ctrl-C reaches only the script, whose EXIT trap then calls yl_cleanup. cargo lambda watch
# runs each function instance in a session of its own, so cleanup also walks descendants.

YL_ROOT="${YL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
YL_TOOLS="${YL_TOOLS:-$YL_ROOT/.tools}"
YL_VENV="${YL_VENV:-$YL_TOOLS/venv}"
YL_LINT_VENV="${YL_LINT_VENV:-$YL_TOOLS/lint-venv}"
YL_LOGS="${YL_LOGS:-$YL_ROOT/target/yebolink-logs}"
# The local DynamoDB: dynoxide (crates.io dynoxide-rs), built by scripts/tools.sh.
YL_DYNOXIDE_VERSION=3.2.0
YL_DYNOXIDE="$YL_TOOLS/dynoxide-$YL_DYNOXIDE_VERSION/bin/dynoxide"
# Instances per function under cargo lambda watch: AWS runs one per request in flight, so the
# race suites need several to race at all.
YL_CONCURRENCY="${YL_CONCURRENCY:-8}"
YL_SESSIONS=()

if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then _yl_b=$'\033[1m' _yl_0=$'\033[0m'; else _yl_b='' _yl_0=''; fi
yl_log()  { printf '%s==>%s %s\n' "$_yl_b" "$_yl_0" "$*" >&2; }
yl_ok()   { printf ' ok %s\n' "$*" >&2; }
yl_warn() { printf 'warning: %s\n' "$*" >&2; }
yl_die()  { printf 'error: %s\n' "$*" >&2; exit 1; }
yl_now()  { date +%s; }
yl_need_cmd() { command -v "$1" >/dev/null 2>&1 || yl_die "'$1' not found on PATH. $2"; }
yl_need_python() {
  yl_need_cmd python3 "Install Python 3.11 or newer with pip and venv (Debian: apt-get install python3-venv)."
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || yl_die "python3 is $(python3 -V 2>&1); 3.11+ is needed."
}

# ---------------------------------------------------------------- pinned Python tools
# yl_venv VENV REQUIREMENTS : VENV holds exactly the pinned REQUIREMENTS (pip install when the
# file changed since the last install, recorded in a stamp); dies with the pip log's tail.
yl_venv() {
  local venv=$1 req=$2 log="$YL_LOGS/pip-$(basename "$1").log"
  (cd "$YL_ROOT" && [[ -x "$venv/bin/python" ]] && sha256sum --check --status "$venv/.stamp" 2>/dev/null) && return 0
  yl_need_python
  mkdir -p "$YL_LOGS"
  yl_log "installing $req into $venv (PyPI, pinned)"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" || yl_die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$YL_ROOT/$req" >"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; yl_die "pip install -r $req failed (log: $log)"; }
  (cd "$YL_ROOT" && sha256sum "$req" >"$venv/.stamp")
}
yl_ensure_lint_tools() { yl_venv "$YL_LINT_VENV" infra/requirements-lint.txt; }

# Repo-local tools first on PATH; one target directory for every cargo command.
yl_use_tools() {
  export PATH="$YL_VENV/bin:$PATH"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$YL_ROOT/target}"
}

# yl_tools_start : scripts/tools.sh in the background, beside a build (YL_TOOLS_PID). yl_tools_wait
# waits for it and dies if it failed; a no-op when none runs.
yl_tools_start() { "$YL_ROOT/scripts/tools.sh" & YL_TOOLS_PID=$!; }
yl_tools_wait() { [[ -z "${YL_TOOLS_PID:-}" ]] || { wait "$YL_TOOLS_PID" || yl_die "scripts/tools.sh failed"; YL_TOOLS_PID=; }; }

# ---------------------------------------------------------------- ports and HTTP
yl_free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
yl_check_port_free() { # PORT WHAT
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    yl_die "port $1 (for $2) is in use: stop that process or choose another, e.g. PORT=9100 make dev"
  fi
}
# yl_wait_http URL TIMEOUT PID : until URL answers POST {} with any HTTP status; fails early if
# PID (the server's process group) has exited.
yl_wait_http() {
  local deadline=$((SECONDS + $2))
  until curl -s -o /dev/null -m 5 -X POST -d '{}' "$1"; do
    kill -0 "$3" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- processes
# yl_spawn LOGFILE CMD ARGS... : CMD in a new session (YL_LAST_PID = its process group).
yl_spawn() {
  local logfile=$1; shift
  mkdir -p "$(dirname "$logfile")"
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  YL_LAST_PID=$!
  YL_SESSIONS+=("$YL_LAST_PID")
}
_yl_tree() { # the live processes of session $1 and all their descendants
  ps -e -o pid=,ppid=,sid=,stat= | awk -v s="$1" '
    $4 !~ /^Z/ { parent[$1] = $2; if ($3 == s) todo[++n] = $1 }
    END { while (n > 0) { p = todo[n--]; print p; for (c in parent) if (parent[c] == p && !(c in seen)) { seen[c]; todo[++n] = c } } }' | sort -u
}
# yl_stop_session SID : SIGTERM the session and its descendants, SIGKILL what is left after 10 s.
yl_stop_session() {
  local pids i
  pids=$(_yl_tree "$1")
  if [[ -n "$pids" ]]; then
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    # shellcheck disable=SC2086
    kill -CONT $pids 2>/dev/null || true # a paused process acts on SIGTERM once continued
    for ((i = 0; i < 100; i++)); do
      # shellcheck disable=SC2086
      kill -0 $pids 2>/dev/null || break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
  fi
  wait "$1" 2>/dev/null || true
}
yl_cleanup() { # stop everything started with yl_spawn, newest first
  local i
  for ((i = ${#YL_SESSIONS[@]} - 1; i >= 0; i--)); do yl_stop_session "${YL_SESSIONS[$i]}"; done
  YL_SESSIONS=()
}

# ---------------------------------------------------------------- local DynamoDB
# yl_start_ddb PORT LOGFILE [TABLE...] : dynoxide on 127.0.0.1:PORT (in memory, or in the file
# YL_DDB_FILE when set), each TABLE created from infra/table.json unless it exists.
# Sets DDB_PID and DDB_ENDPOINT.
yl_start_ddb() {
  local port=$1 logfile=$2 t; shift 2
  [[ -x "$YL_DYNOXIDE" ]] || yl_die "$YL_DYNOXIDE is missing: run scripts/tools.sh"
  yl_check_port_free "$port" "the local DynamoDB"
  yl_spawn "$logfile" "$YL_DYNOXIDE" --host 127.0.0.1 --port "$port" ${YL_DDB_FILE:+--db-path "$YL_DDB_FILE"}
  DDB_PID=$YL_LAST_PID DDB_ENDPOINT="http://127.0.0.1:$port"
  yl_wait_http "$DDB_ENDPOINT" 30 "$DDB_PID" || { tail -n 20 "$logfile" >&2; yl_die "the local DynamoDB did not start (log: $logfile)"; }
  for t in "$@"; do yl_create_table "$t"; done
}
# yl_ddb OPERATION JSON : one DynamoDB API call to DDB_ENDPOINT (an emulator checks no signature).
yl_ddb() {
  curl -sS -m 10 -X POST "$DDB_ENDPOINT" -H "X-Amz-Target: DynamoDB_20120810.$1" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -H "X-Amz-Date: $(date -u +%Y%m%dT%H%M%SZ)" --data "$2"
}
yl_create_table() { # TABLE, from infra/table.json (the SAM template is checked against it)
  local described
  described=$(yl_ddb DescribeTable "{\"TableName\": \"$1\"}")
  if [[ "$described" == *'"TableStatus"'* ]]; then yl_migrate_table "$1" "$described"; return; fi
  yl_ddb CreateTable "$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d.pop("TimeToLiveAttribute"); d["TableName"] = sys.argv[2]
print(json.dumps(d))' "$YL_ROOT/infra/table.json" "$1")" | grep -q '"TableDescription"' \
    || yl_die "CreateTable $1 failed on $DDB_ENDPOINT"
  yl_ddb UpdateTimeToLive "{\"TableName\": \"$1\", \"TimeToLiveSpecification\": {\"Enabled\": true, \"AttributeName\": \"$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["TimeToLiveAttribute"])' "$YL_ROOT/infra/table.json")\"}}" >/dev/null
}
# yl_migrate_table TABLE DESCRIBE_TABLE_JSON : a table that exists (make dev's .data/, made from
# an older infra/table.json) gets each global secondary index infra/table.json has added since
# (one UpdateTable each: DynamoDB creates one at a time; dynoxide backfills it from the items at
# once). A missing stream the stream runner turns on itself.
yl_migrate_table() {
  local updates what update
  updates=$(python3 -c 'import json, sys
want = json.load(open(sys.argv[1])); table = sys.argv[2]; have = json.loads(sys.argv[3])["Table"]
attributes = {a["AttributeName"]: a for a in want["AttributeDefinitions"]}
present = {g["IndexName"] for g in have.get("GlobalSecondaryIndexes", [])}
for gsi in want.get("GlobalSecondaryIndexes", []):
    if gsi["IndexName"] not in present:
        create = {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection")}
        print("index " + gsi["IndexName"], json.dumps({"TableName": table,
            "AttributeDefinitions": [attributes[k["AttributeName"]] for k in gsi["KeySchema"]],
            "GlobalSecondaryIndexUpdates": [{"Create": create}]}), sep="\t")
' "$YL_ROOT/infra/table.json" "$1" "$2") || yl_die "could not compare table $1 with infra/table.json"
  while IFS=$'\t' read -r what update; do
    [[ -n "$what" ]] || continue
    yl_log "table $1: adding $what (infra/table.json has it, the existing table did not)"
    yl_ddb UpdateTable "$update" | grep -q '"TableDescription"' || yl_die "UpdateTable $1 ($what) failed on $DDB_ENDPOINT"
  done <<<"$updates"
}

# ---------------------------------------------------------------- cargo lambda watch
# Names from Cargo.toml's [workspace.metadata.lambda]: "METHOD PATH FUNCTION" per route, and the
# table name the functions get from its env.
yl_routes() {
  python3 -c 'import sys, tomllib
m = tomllib.load(open(sys.argv[1], "rb"))["workspace"]["metadata"]["lambda"]
for path, targets in m["watch"]["router"].items():
    for t in targets: print(t["method"], path, t["function"])' "$YL_ROOT/Cargo.toml"
}
yl_local_table_name() { sed -n 's/^TABLE_NAME *= *"\(.*\)"/\1/p' "$YL_ROOT/Cargo.toml"; }

# Environment for the functions. JWT_SECRET: the caller's, else random per run (never on disk).
yl_export_local_env() {
  export DYNAMODB_ENDPOINT=$1
  JWT_SECRET=${JWT_SECRET:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')}
  export JWT_SECRET AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN JWT_SECRET_ARN
}

# Leaked-key reports are signed by GitHub; locally a key pair of our own stands in for GitHub's
# (tests/src/bin/leak-signer.rs), written once into .data/leak-report/ (not in git). Exports
# LEAK_REPORT_PUBLIC_KEYS_FILE (read by report-leaked-keys at cold start) and
# YEBOLINK_LEAK_SIGNING_KEY (the private key, for the black-box tests and `leak-signer sign`).
# YL_LEAK_SIGNER: a leak-signer already built (make test's); otherwise `cargo run` builds one.
yl_leak_report_keys() {
  local dir="$YL_ROOT/.data/leak-report"
  export LEAK_REPORT_PUBLIC_KEYS_FILE="$dir/leak-report-public-keys.json" \
    YEBOLINK_LEAK_SIGNING_KEY="$dir/leak-report-private-key.pk8"
  [[ -s "$LEAK_REPORT_PUBLIC_KEYS_FILE" && -s "$YEBOLINK_LEAK_SIGNING_KEY" ]] && return 0
  yl_log "writing a local leak-report signing key pair into $dir"
  if [[ -x "${YL_LEAK_SIGNER:-}" ]]; then
    "$YL_LEAK_SIGNER" keygen "$dir" >/dev/null || yl_die "leak-signer keygen failed"
  else
    (cd "$YL_ROOT" && cargo run -q -p yebolink-blackbox --bin leak-signer -- keygen "$dir" >/dev/null) \
      || yl_die "leak-signer keygen failed"
  fi
}

# yl_build_functions [BIN...] : the debug build of every routed function and the authorizer,
# and of each BIN (make dev's stream-runner: in the same build, so it resolves the features the
# functions' build does and compiles no dependency twice, as `-p yebolink-blackbox` would).
# shellcheck disable=SC2120 # make dev passes BINs, yl_start_stack and make test none
yl_build_functions() {
  local method path fn
  local -a bins=(authorizer webhook-dispatcher webhook-scheduler "$@") # and the event-fed functions
  while read -r method path fn; do [[ " ${bins[*]} " == *" $fn "* ]] || bins+=("$fn"); done < <(yl_routes)
  (cd "$YL_ROOT" && cargo build "${bins[@]/#/--bin=}") || yl_die "the build failed (see the cargo output above)"
}

# yl_start_stack PORT LOGFILE [watch args...] : builds every routed function (and the
# authorizer), serves them with cargo lambda watch on 127.0.0.1:PORT, YL_CONCURRENCY instances
# each and no CORS (as deployed), and waits until each route answers once. Sets WATCH_PID, BASE.
# With --ignore-changes each instance runs the binary just built (scripts/run-built-function).
yl_start_stack() {
  local port=$1 logfile=$2 method path fn; shift 2
  yl_build_functions
  yl_leak_report_keys
  yl_check_port_free "$port" "cargo lambda watch"
  local here=$PWD run_dir=${CARGO_TARGET_DIR:-$YL_ROOT/target}/yebolink-watch/$port
  local -a watch=(cargo lambda)
  cd "$YL_ROOT" || return 1 # the router and env come from the workspace's Cargo.toml
  if [[ " $* " == *" --ignore-changes "* ]]; then
    # No reloads (make test): watch runs in a directory holding only a copy of Cargo.toml, because
    # it watches its directory's whole tree for every instance it starts (some 9,000 directories
    # here with target/ and .tools/: 3 s an instance). CARGO names the cargo it calls (through
    # `cargo lambda`, cargo would set it to itself): scripts/run-built-function.
    rm -rf "$run_dir" && mkdir -p "$run_dir" && cp Cargo.toml "$run_dir/"
    cargo metadata --format-version 1 --no-deps >"$run_dir/metadata.json" || yl_die "cargo metadata failed"
    watch=(env CARGO="$YL_ROOT/scripts/run-built-function" YL_REAL_CARGO="$(command -v cargo)"
      YL_WATCH_METADATA="$run_dir/metadata.json" YL_BUILT_FUNCTIONS="${CARGO_TARGET_DIR:-$YL_ROOT/target}/debug"
      "$YL_VENV/bin/cargo-lambda" lambda)
    cd "$run_dir" || return 1
  fi
  yl_spawn "$logfile" "${watch[@]}" watch -A 127.0.0.1 -P "$port" --concurrency "$YL_CONCURRENCY" --disable-cors "$@"
  cd "$here" || return 1
  WATCH_PID=$YL_LAST_PID BASE="http://127.0.0.1:$port"
  yl_wait_http "$BASE/api/v1/auth/login" 600 "$WATCH_PID" || { tail -n 30 "$logfile" >&2; yl_die "cargo lambda watch did not come up (log: $logfile)"; }
  # One request per route starts each function once, before anyone times a request.
  while read -r method path fn; do
    curl -s -o /dev/null -m 120 -X "$method" -d '{}' "$BASE${path//\{id\}/00000000-0000-4000-8000-000000000000}" \
      || { tail -n 30 "$logfile" >&2; yl_die "$fn did not answer (log: $logfile)"; }
  done < <(yl_routes)
}

# ---------------------------------------------------------------- the stream runner
# What AWS runs beside the functions, played locally by tests/src/bin/stream-runner.rs: the
# event source mapping of the table's DynamoDB stream (its audit-event INSERTs, filtered as the
# template filters them, to webhook-dispatcher, with batch item failures, bisection, 5 retries
# and a dead-letter file) and the EventBridge schedule (a Scheduled Event to webhook-scheduler
# every second), both through cargo lambda watch's Invoke API. It outlives the local DynamoDB
# hanging, stopping or being replaced (a new DynamoDB's stream is read from its start).
# yl_start_stream_runner LOGFILE [ARGS...] : the runner against DDB_ENDPOINT, TABLE and BASE;
# ARGS are added (--checkpoint FILE, --dead-letter FILE). YL_STREAM_RUNNER names the binary;
# default: the debug build (made by make test's test build, by make dev's
# `yl_build_functions stream-runner`). Sets STREAM_RUNNER_PID.
yl_start_stream_runner() {
  local logfile=$1 runner=${YL_STREAM_RUNNER:-${CARGO_TARGET_DIR:-$YL_ROOT/target}/debug/stream-runner}
  shift
  [[ -x "$runner" ]] || yl_die "$runner is missing: cargo build --bin=stream-runner builds it"
  yl_spawn "$logfile" "$runner" --dynamodb "$DDB_ENDPOINT" --table "$TABLE" --invoke "$BASE" \
    --stream-function webhook-dispatcher --schedule webhook-scheduler=1 "$@"
  STREAM_RUNNER_PID=$YL_LAST_PID
  sleep 0.3 # a wrong argument ends it at once
  kill -0 "$STREAM_RUNNER_PID" 2>/dev/null || { tail -n 20 "$logfile" >&2; yl_die "the stream runner did not start (log: $logfile)"; }
}
