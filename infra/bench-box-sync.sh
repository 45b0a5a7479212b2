#!/usr/bin/env bash
# Benchmark: one Box sync of a generated N-user sandbox tenant (default 100 000), then an
# unchanged re-sync, each measured with /usr/bin/time -v (wall time, peak RSS).
#   infra/bench-box-sync.sh [USERS]
# Release build; moto and the sandbox run as separate processes, so only the sync is measured.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
USERS="${1:-100000}"
cd "$SK_ROOT"
"$SK_ROOT/infra/setup.sh"
use_venv_path
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package 'time')"

log "building release binaries"
cargo build --release -q -p provider-sandbox -p seatctl -p seatkeeper-e2e --bin provider-sandbox --bin seatctl --bin bench_box_sync

start_moto
SB_PORT="$(free_port)"
start_bg sandbox "$SK_LOCAL/bench-sandbox.log" "$SK_ROOT/target/release/provider-sandbox" --port "$SB_PORT" --box-users "$USERS" --seed 42
wait_log "$SK_LOCAL/bench-sandbox.log" "listening on" "$SK_LAST_PID" 120 || die "sandbox did not start"

export TABLE_NAME="seatkeeper-bench-$RANDOM"
export BOX_API_URL="http://127.0.0.1:$SB_PORT/box/2.0"
export BOX_TOKEN_URL="http://127.0.0.1:$SB_PORT/box/oauth2/token"
SEATCTL="$SK_ROOT/target/release/seatctl"
"$SEATCTL" table create
"$SEATCTL" profile add box --id bench --name "Bench" --enterprise-id 900001 --plan enterprise
printf '%s' sandbox-box-secret | "$SEATCTL" credentials set-box bench --client-id sandbox-box-client --client-secret-stdin

for run in first unchanged; do
    log "$run sync of $USERS users"
    /usr/bin/time -v "$SK_ROOT/target/release/bench_box_sync" bench 2>"$SK_LOCAL/bench-time-$run.txt"
    grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$SK_LOCAL/bench-time-$run.txt" | sed 's/^\s*/  /'
done
