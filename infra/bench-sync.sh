#!/usr/bin/env bash
# Sync benchmark of one provider at one tenant size and provider latency (docs/benchmarks.md):
#   infra/bench-sync.sh box|dropbox [USERS] [LATENCY_MS]        (defaults: 100000 users, 0 ms)
#   SHORT_SECS=60  the invocation length of the "short" mode
#   MODES="long short"  the modes to run (one of them alone skips the final comparison)
#   SK_BIN=DIR  run the release binaries in DIR instead of building (a baseline, side by side)
#   STORE_FLOOR=skip  do not replay the DynamoDB requests alone (halves a 500 000-user run; no ratio)
#   MOTO_FAST_QUERY=1  moto answers a seat Query page from its partition's items after the start
#                      key, not by sorting the whole table per page (infra/moto-server.py; the
#                      same pages): a full read of 500 000 seats takes minutes, not hours
# Release build; moto, a counting proxy in front of it and the provider sandbox (USERS users or
# members, every provider request LATENCY_MS late) run as separate processes. For each mode —
# long (one invocation, no deadline) and short (invocations of SHORT_SECS, looped while the run
# hands over a continuation) — in its own table: a first sync, then two unchanged re-syncs (the
# "second" reads every stored seat once and saves the seat index snapshot, which a first sync does
# not; the "re-sync" is every later night's), each with its paging floor and store floor. Then the seats of both tables must be identical. Prints
# one markdown table, also written to $SK_LOCAL/bench-<provider>-<users>-<latency>.md (default .local/).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PROVIDER="${1:-}"
USERS="${2:-100000}"
LATENCY="${3:-0}"
SHORT_SECS="${SHORT_SECS:-60}"
MODES="${MODES:-long short}"
STORE_FLOOR="${STORE_FLOOR:-run}"
case "$STORE_FLOOR" in run | skip) ;; *) die "STORE_FLOOR must be run or skip, not '$STORE_FLOOR'" ;; esac
case "${MOTO_FAST_QUERY:-0}" in 0 | 1) ;; *) die "MOTO_FAST_QUERY must be 0 or 1" ;; esac
case "$PROVIDER" in box | dropbox) ;; *) die "usage: infra/bench-sync.sh box|dropbox [USERS] [LATENCY_MS]" ;; esac
[[ "$USERS" =~ ^[0-9]+$ ]] || die "USERS must be a number, not '$USERS'"
[[ "$LATENCY" =~ ^[0-9]+$ ]] || die "LATENCY_MS must be a number, not '$LATENCY'"
[[ "$SHORT_SECS" =~ ^[0-9]+$ && "$SHORT_SECS" -gt 0 ]] || die "SHORT_SECS must be a positive number"
read -r -a MODE_LIST <<<"$MODES"
[ "${#MODE_LIST[@]}" -gt 0 ] || die "MODES must name at least one mode (long, short)"
declare -A SEEN_MODE
for MODE in "${MODE_LIST[@]}"; do
    case "$MODE" in long | short) ;; *) die "MODES: unknown mode '$MODE' (long, short)" ;; esac
    [ -z "${SEEN_MODE[$MODE]:-}" ] || die "MODES: '$MODE' is named twice"
    SEEN_MODE[$MODE]=1
done
cd "$SK_ROOT"
"$SK_ROOT/infra/setup.sh"
use_venv_path
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian package 'time')"
PY="$SK_VENV/bin/python"
if [ -n "${SK_BIN:-}" ]; then
    # another build's binaries (a baseline beside this one): used as they are
    BIN="$SK_BIN"
    for b in provider-sandbox seatctl bench_sync bench_paging_floor bench_connect_dropbox; do
        [ -x "$BIN/$b" ] || die "SK_BIN: $BIN/$b is missing"
    done
    log "using the binaries in $BIN (not built)"
else
    BIN="${CARGO_TARGET_DIR:-$SK_ROOT/target}/release"
    log "building release binaries"
    cargo build --release -q -p provider-sandbox -p seatctl -p seatkeeper-e2e --bin provider-sandbox --bin seatctl \
        --bin bench_sync --bin bench_paging_floor --bin bench_connect_dropbox
fi

SK_MOTO_FAST_QUERY="${MOTO_FAST_QUERY:-0}" start_moto
MOTO_URL="$AWS_ENDPOINT_URL"
PROXY_PORT="$(free_port)"
start_bg count-proxy "$SK_LOCAL/bench-count-proxy.log" "$PY" "$SK_ROOT/infra/count-proxy.py" --upstream "$MOTO_URL" --port "$PROXY_PORT"
wait_log "$SK_LOCAL/bench-count-proxy.log" "listening on" "$SK_LAST_PID" 30 || die "count proxy did not start (see $SK_LOCAL/bench-count-proxy.log)"
PROXY_URL="http://127.0.0.1:$PROXY_PORT"

if [ "$PROVIDER" = box ]; then BOX_N="$USERS" DBX_N=10; else BOX_N=10 DBX_N="$USERS"; fi
SB_PORT="$(free_port)"
log "sandbox: $USERS $PROVIDER users, provider latency $LATENCY ms"
start_bg sandbox "$SK_LOCAL/bench-sandbox.log" "$BIN/provider-sandbox" --port "$SB_PORT" \
    --box-users "$BOX_N" --dropbox-members "$DBX_N" --seed 42 --latency-ms "$LATENCY"
wait_log "$SK_LOCAL/bench-sandbox.log" "listening on" "$SK_LAST_PID" 600 || die "sandbox did not start (see $SK_LOCAL/bench-sandbox.log)"
SB_URL="http://127.0.0.1:$SB_PORT"

export BOX_API_URL="$SB_URL/box/2.0"
export BOX_TOKEN_URL="$SB_URL/box/oauth2/token"
export DROPBOX_API_URL="$SB_URL/dropbox"
export DROPBOX_AUTHORIZE_URL="$SB_URL/dropbox/oauth2/authorize"
export DROPBOX_TOKEN_URL="$SB_URL/dropbox/oauth2/token"
# nothing is served there: bench_connect_dropbox hands the redirect to the callback handler itself
export OAUTH_REDIRECT_URL="https://callback.seatkeeper.test/oauth/dropbox/callback"
# set-up goes straight to moto (the proxy counts only the syncs)
export AWS_ENDPOINT_URL="$MOTO_URL"
SEATCTL="$BIN/seatctl"
PROFILE=bench
RUN_TAG="$PROVIDER-$USERS-$LATENCY"
ROWS="$SK_LOCAL/bench-$RUN_TAG.rows.jsonl"
: >"$ROWS"

# A table with the profile and its credentials (the same profile id in every table: its secret,
# named after it, is shared and rewritten with the same credentials).
setup_table() {
    local table="$1"
    TABLE_NAME="$table" "$SEATCTL" table create >/dev/null
    if [ "$PROVIDER" = box ]; then
        TABLE_NAME="$table" "$SEATCTL" profile add box --id "$PROFILE" --name "Bench" --enterprise-id 900001 --plan enterprise >/dev/null
        printf '%s' sandbox-box-secret | TABLE_NAME="$table" "$SEATCTL" credentials set-box "$PROFILE" \
            --client-id sandbox-box-client --client-secret-stdin >/dev/null
    else
        TABLE_NAME="$table" "$SEATCTL" profile add dropbox --id "$PROFILE" --name "Bench" >/dev/null
        printf '%s' sandbox-dbx-sync-secret | TABLE_NAME="$table" "$SEATCTL" credentials set-dropbox-app "$PROFILE" \
            --slot sync --app-key sandbox-dbx-sync --app-secret-stdin >/dev/null
        TABLE_NAME="$table" "$BIN/bench_connect_dropbox" --profile "$PROFILE" --slot sync >/dev/null
    fi
}

declare -A TABLES
for MODE in "${MODE_LIST[@]}"; do
    TABLE="seatkeeper-bench-$MODE-$RANDOM$RANDOM"
    TABLES[$MODE]="$TABLE"
    setup_table "$TABLE"
    # the store floor's table: same schema, empty; the first sync's replay fills it for the re-sync's
    TABLE_NAME="$TABLE-floor" "$SEATCTL" table create >/dev/null
    SECS=0
    [ "$MODE" = short ] && SECS="$SHORT_SECS"
    for SYNC in first second re-sync; do
        log "$MODE mode ($([ "$SECS" = 0 ] && echo "no deadline" || echo "${SECS} s invocations")): $SYNC of $USERS users"
        "$PY" "$SK_ROOT/infra/bench-sync.py" measure --provider "$PROVIDER" --profile "$PROFILE" \
            --mode "$MODE" --sync "$SYNC" --users "$USERS" --latency "$LATENCY" --invocation-secs "$SECS" \
            --table "$TABLE" --floor-table "$TABLE-floor" --proxy "$PROXY_URL" --moto "$MOTO_URL" \
            --sandbox "$SB_URL" --bin-dir "$BIN" --ddb-log "$SK_LOCAL/bench-ddb-$RUN_TAG-$MODE-$SYNC.jsonl" \
            --store-floor "$SK_ROOT/infra/bench-store-floor.py" --store-floor-mode "$STORE_FLOOR" >>"$ROWS" \
            || die "$MODE $SYNC sync: measurement failed"
    done
done

if [ -n "${TABLES[long]:-}" ] && [ -n "${TABLES[short]:-}" ]; then
    log "comparing the seats of the long and the short run"
    "$PY" "$SK_ROOT/infra/bench-sync.py" compare --endpoint "$MOTO_URL" --profile "$PROFILE" \
        --table-a "${TABLES[long]}" --table-b "${TABLES[short]}" \
        || die "the long and the short run ended with different seats (see above)"
else
    log "one mode only ($MODES): no long-vs-short comparison"
fi

OUT="$SK_LOCAL/bench-$RUN_TAG.md"
echo
"$PY" "$SK_ROOT/infra/bench-sync.py" table --rows "$ROWS" --out "$OUT"
echo
log "table written to ${OUT#"$SK_ROOT/"}"
