# shellcheck shell=bash
# Shared helpers for scripts/dev.sh and scripts/test.sh.
# Source it; it defines functions only (plus a few variables) and changes no shell options.
#
# Process model: every long-running child (local DynamoDB, cargo lambda watch) is started with
# setsid, so it leads its own session and process group, and Ctrl-C in the terminal reaches only
# the script, whose EXIT trap then stops them in order. Cleanup snapshots the child's session
# and all its descendants (cargo lambda 1.9.2 runs each function in a session of its own),
# sends SIGTERM, waits, then SIGKILLs whatever is left. Only a SIGKILL of the script itself
# can leave orphans.

YL_ROOT="${YL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
YL_TOOLS="${YL_TOOLS:-$YL_ROOT/.tools}"
YL_VENV="${YL_VENV:-$YL_TOOLS/venv}"
YL_LOGS="${YL_LOGS:-$YL_ROOT/target/yebolink-logs}"
YL_WAIT_PY="$YL_ROOT/scripts/wait_ready.py"
YL_SESSIONS=()   # session ids (== pids) of everything we started with yl_spawn

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  _yl_b=$'\033[1m' _yl_r=$'\033[31m' _yl_g=$'\033[32m' _yl_y=$'\033[33m' _yl_0=$'\033[0m'
else
  _yl_b='' _yl_r='' _yl_g='' _yl_y='' _yl_0=''
fi

yl_log()  { printf '%s==>%s %s\n' "$_yl_b" "$_yl_0" "$*" >&2; }
yl_ok()   { printf '%s ok%s %s\n' "$_yl_g" "$_yl_0" "$*" >&2; }
yl_warn() { printf '%swarning:%s %s\n' "$_yl_y" "$_yl_0" "$*" >&2; }
yl_die()  { printf '%serror:%s %s\n' "$_yl_r" "$_yl_0" "$*" >&2; exit 1; }

# Seconds since the epoch, for elapsed-time reports.
yl_now() { date +%s; }

yl_need_cmd() { # yl_need_cmd CMD "how to get it"
  command -v "$1" >/dev/null 2>&1 || yl_die "'$1' not found on PATH. $2"
}

# yl_need_python : python3 3.11+ (tomllib, and what the pinned tools need) is on PATH.
yl_need_python() {
  yl_need_cmd python3 "Install Python 3.11 or newer, with pip and the venv module (Debian/Ubuntu: apt-get install python3 python3-venv)."
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || yl_die "python3 is $(python3 -V 2>&1); 3.11 or newer is needed."
}

# yl_venv_is_current VENV REQUIREMENTS : 0 when VENV exists and was installed from this file.
yl_venv_is_current() {
  [[ -x "$1/bin/python" ]] && sha256sum --check --status "$1/.requirements.sha256" 2>/dev/null
}

# yl_venv_install VENV REQUIREMENTS LOGNAME : creates VENV if needed and pip installs the pinned
# REQUIREMENTS into it (log: $YL_LOGS/LOGNAME); dies with the log's tail on failure. The caller
# checks the installed tools run, then calls yl_venv_stamp.
yl_venv_install() {
  local venv=$1 requirements=$2 log="$YL_LOGS/$3"
  if [[ ! -x "$venv/bin/python" ]]; then
    yl_log "creating $venv"
    python3 -m venv "$venv" >/dev/null 2>&1 || {
      rm -rf "$venv"
      yl_die "python3 -m venv failed. Install the venv module (Debian/Ubuntu: apt-get install python3-venv) and retry."
    }
  fi
  mkdir -p "$YL_LOGS"
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
      -r "$requirements" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    yl_die "pip install -r $requirements failed (full log: $log). Is PyPI reachable?"
  fi
}

# yl_venv_stamp VENV REQUIREMENTS : records that VENV holds exactly this requirements file.
yl_venv_stamp() {
  sha256sum "$2" >"$1/.requirements.sha256"
}

# yl_ensure_lint_tools : .tools/lint-venv holds infra/requirements-lint.txt (cfn-lint, SAM CLI),
# pinned; installs it when missing or when the file changed. For scripts/lint.sh and build.sh.
YL_LINT_VENV="${YL_LINT_VENV:-$YL_TOOLS/lint-venv}"
yl_ensure_lint_tools() {
  local requirements=infra/requirements-lint.txt
  (cd "$YL_ROOT" && yl_venv_is_current "$YL_LINT_VENV" "$requirements") && return 0
  yl_need_python
  yl_log "installing $requirements into $YL_LINT_VENV (cfn-lint, SAM CLI; PyPI)"
  (cd "$YL_ROOT" && yl_venv_install "$YL_LINT_VENV" "$requirements" lint-pip-install.log) || exit 1
  "$YL_LINT_VENV/bin/sam" --version >/dev/null 2>&1 \
    || yl_die "SAM CLI was installed but does not run: $YL_LINT_VENV/bin/sam --version"
  (cd "$YL_ROOT" && yl_venv_stamp "$YL_LINT_VENV" "$requirements")
}

# Put the repo-local tools first on PATH (cargo-lambda from the venv).
yl_use_tools() {
  export PATH="$YL_VENV/bin:$PATH"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$YL_ROOT/target}"
}

# ---------------------------------------------------------------- ports
yl_free_port() { # prints a TCP port that is free on 127.0.0.1 right now
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

yl_port_in_use() { # yl_port_in_use PORT -> 0 if something listens on 127.0.0.1:PORT or we cannot bind it
  python3 - "$1" <<'PY'
import socket, sys
port = int(sys.argv[1])
# Someone answering on loopback (v4 or v6)?
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    try:
        c = socket.socket(fam)
        c.settimeout(0.5)
        if c.connect_ex((addr, port)) == 0:
            sys.exit(0)
    except OSError:
        pass
    finally:
        c.close()
# Can we bind it ourselves (catches listeners on other addresses)? SO_REUSEADDR, as servers
# use it: connections in TIME_WAIT from a server that just stopped must not count as "in use".
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", port))
except OSError:
    sys.exit(0)
finally:
    s.close()
sys.exit(1)
PY
}

yl_check_port_free() { # yl_check_port_free PORT WHAT
  local port=$1 what=$2
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    yl_die "invalid port '$port' for $what"
  fi
  if yl_port_in_use "$port"; then
    local who=""
    if command -v ss >/dev/null 2>&1; then
      who=$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1)
    fi
    yl_die "port $port (for $what) is already in use${who:+ by $who}. Stop that process or pick another port, e.g. PORT=9100 make dev (DDB_PORT=... for the local DynamoDB)."
  fi
}

# ---------------------------------------------------------------- processes
# yl_spawn LOGFILE CMD ARGS... : start CMD in a new session, output to LOGFILE.
# Sets YL_LAST_PID (== its session id and process group id) and records it for yl_cleanup.
yl_spawn() {
  local logfile=$1; shift
  mkdir -p "$(dirname "$logfile")"
  # In a non-interactive shell a background child is never a group leader, so setsid does
  # not fork: $! is the new session's leader. < /dev/null: never read the terminal.
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  YL_LAST_PID=$!
  YL_SESSIONS+=("$YL_LAST_PID")
}

_yl_session_pids() { # pids still alive in session $1 (excluding zombies)
  ps -e -o pid=,sid=,stat= 2>/dev/null | awk -v s="$1" '$2 == s && $3 !~ /^Z/ { print $1 }'
}

_yl_descendants() { # pids of all live descendants of $1, by parent links (any session)
  ps -e -o pid=,ppid=,stat= 2>/dev/null | awk -v root="$1" '
    $3 !~ /^Z/ { parent[$1] = $2 }
    END {
      n = 1; todo[1] = root
      while (n > 0) {
        p = todo[n--]
        for (c in parent) if (parent[c] == p) { print c; todo[++n] = c }
      }
    }'
}

_yl_alive_of() { # the pids among "$@" that are still alive (not zombies)
  local p st
  for p in "$@"; do
    st=$(ps -o stat= -p "$p" 2>/dev/null) || continue
    [[ "$st" == Z* ]] || echo "$p"
  done
}

# yl_stop_session SID [GRACE_SECONDS]: SIGTERM the process group SID (and every descendant,
# since cargo lambda watch runs each function in a session of its own), wait up to GRACE
# seconds, then SIGKILL whatever of them is left.
yl_stop_session() {
  local sid=$1 grace=${2:-10} i
  [[ -n "$sid" ]] || return 0
  local -a pids
  # Snapshot before signalling: once a parent dies its children are reparented and lost to us.
  mapfile -t pids < <({ _yl_session_pids "$sid"; _yl_descendants "$sid"; } | sort -un)
  if ((${#pids[@]} == 0)); then
    wait "$sid" 2>/dev/null || true
    return 0
  fi
  kill -TERM -- "-$sid" 2>/dev/null || true
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # A paused (SIGSTOP, see yl_pause_ddb) process acts on SIGTERM only once continued.
  kill -CONT "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    mapfile -t pids < <(_yl_alive_of "${pids[@]}")
    ((${#pids[@]})) || break
    sleep 0.1
  done
  mapfile -t pids < <({ _yl_alive_of "${pids[@]}"; _yl_session_pids "$sid"; } | sort -un)
  if ((${#pids[@]})); then
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  wait "$sid" 2>/dev/null || true
}

# Stop everything started with yl_spawn, newest first. Safe to call more than once.
yl_cleanup() {
  local i
  for ((i = ${#YL_SESSIONS[@]} - 1; i >= 0; i--)); do
    yl_stop_session "${YL_SESSIONS[$i]}" "${YL_STOP_GRACE:-10}"
  done
  YL_SESSIONS=()
}

yl_alive() { kill -0 "$1" 2>/dev/null && [[ -n "$(_yl_session_pids "$1")" ]]; }

# ---------------------------------------------------------------- local DynamoDB
# yl_start_ddb PORT LOGFILE [TABLE...] : start moto's DynamoDB server (scripts/local_dynamodb.py,
# in memory) on 127.0.0.1:PORT, create each TABLE from infra/table.json, and wait until it
# answers. Sets DDB_PID and DDB_ENDPOINT.
yl_start_ddb() {
  local port=$1 logfile=$2; shift 2
  local args=() t
  for t in "$@"; do args+=(--table "$t"); done
  [[ -x "$YL_VENV/bin/python" ]] || yl_die "$YL_VENV is missing; run scripts/tools.sh"
  yl_check_port_free "$port" "the local DynamoDB"
  mkdir -p "$(dirname "$logfile")"; : >"$logfile"
  yl_spawn "$logfile" "$YL_VENV/bin/python" -u "$YL_ROOT/scripts/local_dynamodb.py" --port "$port" "${args[@]}"
  DDB_PID=$YL_LAST_PID
  # shellcheck disable=SC2034  # read by the sourcing script
  DDB_ENDPOINT="http://127.0.0.1:$port"
  # The launcher prints its ready line after it has created the tables.
  if ! python3 "$YL_WAIT_PY" --endpoint "$DDB_ENDPOINT" wait --timeout 60 --pid "$DDB_PID" \
      --ready-line "local DynamoDB ready" --log "$logfile"; then
    echo "---- last lines of $logfile ----" >&2; tail -n 20 "$logfile" >&2
    yl_die "the local DynamoDB did not start on port $port (log: $logfile)"
  fi
}

# yl_pause_ddb / yl_resume_ddb : freeze and thaw the local DynamoDB that yl_start_ddb started
# (DDB_PID). Paused, it keeps its port and its data: the kernel still accepts connections, but
# nothing answers (a hanging database). yl_stop_session "$DDB_PID" stops it for good; yl_start_ddb
# on the same port starts a fresh, empty one.
yl_pause_ddb()  { kill -STOP -- "-$DDB_PID"; }
yl_resume_ddb() { kill -CONT -- "-$DDB_PID"; }

# ---------------------------------------------------------------- cargo lambda watch
# yl_start_watch PORT LOGFILE [extra cargo lambda watch args...]
# Uses the current environment (export what the functions need first). Sets WATCH_PID.
yl_start_watch() {
  local port=$1 logfile=$2; shift 2
  command -v cargo-lambda >/dev/null 2>&1 || yl_die "cargo-lambda not found; run scripts/tools.sh"
  yl_check_port_free "$port" "cargo lambda watch"
  mkdir -p "$(dirname "$logfile")"; : >"$logfile"
  # -A/-P: invoke address/port (-p would be --package). cwd = workspace root, so the router and
  # [workspace.metadata.lambda.env] from Cargo.toml apply.
  local here=$PWD
  cd "$YL_ROOT" || return 1
  # --disable-cors: API Gateway opens no CORS and the console is same-origin; match it locally.
  yl_spawn "$logfile" cargo lambda watch -A 127.0.0.1 -P "$port" --disable-cors "$@"
  cd "$here" || return 1
  # shellcheck disable=SC2034  # read by the sourcing script
  WATCH_PID=$YL_LAST_PID
}

# Names from Cargo.toml: the functions the watch router serves, and the table name the
# functions get from [workspace.metadata.lambda.env] (which cargo lambda 1.9.2 lets override
# both the process environment and --env-var).
yl_router_functions() {
  python3 - "$YL_ROOT/Cargo.toml" <<'PY'
import sys, tomllib
m = tomllib.load(open(sys.argv[1], "rb"))["workspace"]["metadata"]["lambda"]
seen = []
for targets in m["watch"]["router"].values():
    for t in targets:
        if t["function"] not in seen:
            seen.append(t["function"])
print(" ".join(seen))
PY
}
yl_local_table_name() {
  python3 - "$YL_ROOT/Cargo.toml" <<'PY'
import sys, tomllib
m = tomllib.load(open(sys.argv[1], "rb"))["workspace"]["metadata"]["lambda"]
print(m.get("env", {}).get("TABLE_NAME", "yebolink-local"))
PY
}

# yl_prebuild BIN... : build each function binary the way cargo lambda watch will run it
# (`cargo run --bin NAME` from the workspace root, dev profile), one at a time, so that watch
# starts each function at once and cargo's progress shows here rather than in the watch log.
yl_prebuild() {
  local bin
  for bin in "$@"; do
    (cd "$YL_ROOT" && cargo build --bin "$bin") || return 1
  done
}

# Environment for the functions under watch. JWT_SECRET is random per run and never written to disk.
yl_export_local_env() {
  export DYNAMODB_ENDPOINT=$1
  JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
  export JWT_SECRET
  export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN JWT_SECRET_ARN
}

# yl_wait_router BASE_URL PID LOGFILE TIMEOUT_SECONDS
# Polls POST $BASE_URL/api/v1/auth/login with {} until any HTTP status comes back.
yl_wait_router() {
  local base=$1 pid=$2 logfile=$3 timeout=$4
  python3 "$YL_WAIT_PY" wait-http --url "$base/api/v1/auth/login" --method POST --data '{}' \
    --timeout "$timeout" --pid "$pid" --log "$logfile" --progress
}

# yl_prewarm BASE_URL : one request per routed function so each function's process is started
# (and, on the very first run, compiled) before anyone times a real request.
yl_prewarm() {
  local base=$1
  python3 "$YL_WAIT_PY" prewarm --base "$base" --timeout "${PREWARM_TIMEOUT:-1200}"
}
