# shellcheck shell=bash
# Shared helpers for the infra/ scripts. Source it; do not run it.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Everything transient (logs, pid files, stamps) lives under $SK_LOCAL (.local/, gitignored).
# Every background process is started with `start_bg` in its own process group and is stopped,
# group and all, by `stop_all`, which runs on EXIT (also after Ctrl-C / SIGTERM).

SK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SK_VENV="$SK_ROOT/.venv"
SK_LOCAL="${SK_LOCAL:-$SK_ROOT/.local}"   # a second benchmark beside the first gets its own
mkdir -p "$SK_LOCAL"
SK_LOCAL="$(cd "$SK_LOCAL" && pwd)"       # absolute: the scripts cd to the repo root
export SAM_CLI_TELEMETRY=0   # no phoning home from sam (there is no network anyway)

# pids (== process-group ids) of the background processes this script started
SK_BG_PIDS=()
SK_TRAP_SET=0

log() { printf '[%s] %s\n' "$(basename "$0")" "$*"; }
die() { printf '[%s] error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# The venv's tools (moto_server, cargo-lambda, zig via `python3 -m ziglang`, sam, cfn-lint) come
# first on PATH; cargo's own bin dir is added in case the caller's shell has not sourced ~/.cargo/env.
use_venv_path() {
    case ":$PATH:" in *":$SK_VENV/bin:"*) ;; *) PATH="$SK_VENV/bin:$PATH" ;; esac
    if [ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ]; then
        case ":$PATH:" in *":${CARGO_HOME:-$HOME/.cargo}/bin:"*) ;; *) PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin" ;; esac
    fi
    export PATH
}

sk_python() {
    if [ -x "$SK_VENV/bin/python" ]; then "$SK_VENV/bin/python" "$@"; else python3 "$@"; fi
}

# A free TCP port on 127.0.0.1 (the kernel picks it; there is a small race until the user binds it).
free_port() {
    sk_python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_sk_install_trap() {
    if [ "$SK_TRAP_SET" = 0 ]; then
        # SIGPIPE gets a no-op handler (children still get the default): when our stdout is a pipe
        # whose reader died with us (`infra/demo.sh | tee`, Ctrl-C), bash's own write of
        # "Terminated" would otherwise kill the script before the EXIT trap cleans up.
        trap ':' PIPE
        trap stop_all EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        trap 'exit 129' HUP
        SK_TRAP_SET=1
    fi
}

# start_bg NAME LOGFILE CMD [ARGS...]
# Runs CMD in the background in a new session (so its children share its process group), with
# stdout+stderr appended to LOGFILE and stdin from /dev/null. Sets SK_LAST_PID.
start_bg() {
    local name="$1" logfile="$2"
    shift 2
    _sk_install_trap
    : >"$logfile"
    setsid "$@" </dev/null >>"$logfile" 2>&1 &
    SK_LAST_PID=$!
    SK_BG_PIDS+=("$SK_LAST_PID")
    echo "$SK_LAST_PID" >"$SK_LOCAL/$name.pid"
}

# Stops every background process group this script started (moto, sandbox, cargo lambda watch):
# SIGTERM, up to 5 s grace, then SIGKILL. Safe to call more than once.
stop_all() {
    local rc=$? pid alive
    if [ "${#SK_BG_PIDS[@]}" -gt 0 ]; then
        for pid in "${SK_BG_PIDS[@]}"; do
            kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        done
        for _ in $(seq 1 50); do
            alive=0
            for pid in "${SK_BG_PIDS[@]}"; do
                if kill -0 -- "-$pid" 2>/dev/null; then alive=1; fi
            done
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
        for pid in "${SK_BG_PIDS[@]}"; do
            kill -KILL -- "-$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
        SK_BG_PIDS=()
    fi
    return "$rc"
}

# wait_http URL PID TIMEOUT_S: until URL answers any HTTP status; fails early if PID exits.
wait_http() {
    sk_python - "$1" "$2" "$3" <<'EOF'
import os, sys, time, urllib.request, urllib.error
url, pid, deadline = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("process %d exited before %s answered" % (pid, url))
    try:
        urllib.request.urlopen(url, timeout=2).read()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # it answered
    except Exception:
        time.sleep(0.2)
sys.exit("timed out waiting for %s" % url)
EOF
}

# wait_tcp PORT PID TIMEOUT_S: until 127.0.0.1:PORT accepts connections; fails early if PID exits.
wait_tcp() {
    sk_python - "$1" "$2" "$3" <<'EOF'
import os, socket, sys, time
port, pid, deadline = int(sys.argv[1]), int(sys.argv[2]), time.time() + float(sys.argv[3])
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("process %d exited before port %d opened" % (pid, port))
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("timed out waiting for port %d" % port)
EOF
}

# wait_log LOGFILE REGEX PID TIMEOUT_S: until a line of LOGFILE matches REGEX (grep -E -i).
wait_log() {
    local logfile="$1" re="$2" pid="$3" timeout="$4" waited=0
    while ! grep -E -i -q -- "$re" "$logfile" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { echo "process $pid exited before logging /$re/" >&2; return 1; }
        [ "$waited" -ge "$((timeout * 5))" ] && { echo "timed out waiting for /$re/ in $logfile" >&2; return 1; }
        sleep 0.2
        waited=$((waited + 1))
    done
}

# Starts moto server on a free loopback port and exports the AWS part of the environment contract.
# Logs go to .local/moto.log. It is stopped on exit by stop_all.
start_moto() {
    [ -x "$SK_VENV/bin/moto_server" ] || die "moto_server not found in $SK_VENV (run infra/setup.sh)"
    # moto-server.py: moto server with DynamoDB requests one at a time (moto's DynamoDB backend
    # can lose items written concurrently into a new partition; see the script)
    local port attempt
    for attempt in 1 2 3; do
        port="$(free_port)"
        start_bg moto "$SK_LOCAL/moto.log" "$SK_VENV/bin/python" "$SK_ROOT/infra/moto-server.py" -H 127.0.0.1 -p "$port"
        if wait_http "http://127.0.0.1:$port/moto-api/" "$SK_LAST_PID" 30; then
            export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
            export AWS_ACCESS_KEY_ID=test
            export AWS_SECRET_ACCESS_KEY=test
            export AWS_REGION=us-east-1
            export AWS_DEFAULT_REGION=us-east-1
            unset AWS_SESSION_TOKEN AWS_PROFILE
            export MOTO_PORT="$port"
            log "moto server on $AWS_ENDPOINT_URL (pid $SK_LAST_PID, log $SK_LOCAL/moto.log)"
            return 0
        fi
        log "moto did not start on port $port (attempt $attempt); log tail:"
        tail -n 5 "$SK_LOCAL/moto.log" || true
        kill -TERM -- "-$SK_LAST_PID" 2>/dev/null || true
    done
    die "could not start moto server (see $SK_LOCAL/moto.log)"
}
