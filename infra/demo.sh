#!/usr/bin/env bash
# Runs the main job locally on a fresh machine: a Box sync of a generated 200-user tenant and a
# Dropbox connect + sync of a generated 150-member team, through the real Lambda runtime path, into
# DynamoDB, then shows the result with seatctl.
#
#   1. infra/setup.sh                (venv with moto / cargo-lambda / zig / SAM, cargo-nextest)
#   2. cargo build --workspace --bins
#   3. moto server                   (DynamoDB, Secrets Manager, SQS on a free loopback port)
#   4. provider sandbox              (Box + Dropbox endpoints, 200 Box users, seed 42)
#   5. seatctl: table, profile, entitlement, Box client credentials
#   6. cargo lambda watch + cargo lambda invoke box-sync '{"profile":"demo-box"}'
#   7. seatctl seats / inactive seats / task runs (Box)
#   8. Dropbox: profile, both slots' apps, `seatctl connect dropbox` for each slot, the admin's
#      browser step (the sandbox approves and redirects to the oauth-callback function, served
#      by cargo lambda watch as a function URL), dropbox-sync invoked, seats and task runs
# Everything it starts is stopped on exit; logs are in .local/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SK_ROOT"
exec </dev/null
t0=$SECONDS
TARGET_DIR="${CARGO_TARGET_DIR:-$SK_ROOT/target}"
SEATCTL="$TARGET_DIR/debug/seatctl"
SANDBOX="$TARGET_DIR/debug/provider-sandbox"

show_log_tail() { # FILE: on failure, show what a background process said
    printf -- '--- last lines of %s ---\n' "${1#"$SK_ROOT"/}"
    tail -n 40 "$1" 2>/dev/null || true
}

log "1/8 setup"
bash "$SK_ROOT/infra/setup.sh"
use_venv_path

log "2/8 cargo build --workspace --bins (first run on a fresh machine: several minutes)"
cargo build --workspace --bins

log "3/8 moto server"
start_moto

log "4/8 provider sandbox (200 Box users, seed 42)"
SB="$(free_port)"
start_bg sandbox "$SK_LOCAL/sandbox.log" "$SANDBOX" --port "$SB" --box-users 200 --dropbox-members 150 --seed 42
wait_log "$SK_LOCAL/sandbox.log" 'listening' "$SK_LAST_PID" 60 || {
    show_log_tail "$SK_LOCAL/sandbox.log"
    die "provider sandbox did not start"
}
log "sandbox on http://127.0.0.1:$SB (log .local/sandbox.log)"

# The environment contract (docs: README.md, DESIGN.md); the AWS_* part was exported by start_moto.
export TABLE_NAME=seatkeeper-demo
export BOX_API_URL="http://127.0.0.1:$SB/box/2.0"
export BOX_TOKEN_URL="http://127.0.0.1:$SB/box/oauth2/token"
export DROPBOX_API_URL="http://127.0.0.1:$SB/dropbox"
export DROPBOX_AUTHORIZE_URL="http://127.0.0.1:$SB/dropbox/oauth2/authorize"
export DROPBOX_TOKEN_URL="http://127.0.0.1:$SB/dropbox/oauth2/token"
# The lambda emulator's port is picked now: the callback URL (the redirect URI the Dropbox apps
# know) must be in the functions' environment when cargo lambda watch starts them.
LP="$(free_port)"
export OAUTH_REDIRECT_URL="http://127.0.0.1:$LP/lambda-url/oauth-callback/oauth/dropbox/callback"

log "5/8 seatctl: table, profile, entitlement, credentials"
run() { # echo the command (seatctl by its short name), then run it
    local shown=("$@")
    [ "${shown[0]}" = "$SEATCTL" ] && shown[0]=seatctl
    printf '+'; printf ' %q' "${shown[@]}"; printf '\n'
    "$@"
}
run "$SEATCTL" table create
run "$SEATCTL" profile add box --id demo-box --name "Demo Box" --enterprise-id 900001 --plan business_plus
run "$SEATCTL" entitlement set demo-box --license-type business_plus --purchased 220 --price 33.00 --currency USD
printf '+ %s\n' "printf '%s' sandbox-box-secret | seatctl credentials set-box demo-box --client-id sandbox-box-client --client-secret-stdin"
printf '%s' sandbox-box-secret | "$SEATCTL" credentials set-box demo-box --client-id sandbox-box-client --client-secret-stdin

log "6/8 box-sync through the Lambda runtime (cargo lambda watch / invoke)"
# `cargo lambda watch` runs `cargo run --bin <function>` on the first invoke; build that exact
# target now so the compile shows up here rather than as a silent wait inside the invoke.
cargo build --bin box-sync --bin dropbox-sync --bin oauth-callback
# --ignore-changes: no hot reload in a demo. The function inherits this process's environment
# (TABLE_NAME, BOX_*, AWS_ENDPOINT_URL, test credentials).
start_bg lambda-watch "$SK_LOCAL/lambda-watch.log" \
    cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$LP"
wait_tcp "$LP" "$SK_LAST_PID" 60 || {
    show_log_tail "$SK_LOCAL/lambda-watch.log"
    die "cargo lambda watch did not start"
}
log "lambda runtime emulator on 127.0.0.1:$LP (function logs in .local/lambda-watch.log)"
printf '+ %s\n' "cargo lambda invoke box-sync --data-ascii '{\"profile\":\"demo-box\"}'"
if ! result="$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LP" \
    --data-ascii '{"profile":"demo-box"}' box-sync)"; then
    printf '%s\n' "$result"
    show_log_tail "$SK_LOCAL/lambda-watch.log"
    die "box-sync invocation failed"
fi
printf 'box-sync result: %.300s…\n' "$result"

log "7/8 results (Box)"
# Outputs go to files first: `seatctl ... | head` would hand seatctl a closed pipe (and fail
# the script under pipefail).
run "$SEATCTL" seats demo-box --output table >"$SK_LOCAL/demo-seats.txt"
head -n 30 "$SK_LOCAL/demo-seats.txt"
echo "... ($(wc -l <"$SK_LOCAL/demo-seats.txt") lines in .local/demo-seats.txt)"
run "$SEATCTL" seats demo-box --inactive-days 60 --output table >"$SK_LOCAL/demo-inactive.txt"
head -n 10 "$SK_LOCAL/demo-inactive.txt"
echo "... ($(wc -l <"$SK_LOCAL/demo-inactive.txt") lines in .local/demo-inactive.txt)"
run "$SEATCTL" tasks demo-box

command -v curl >/dev/null || die "curl is needed for the browser step (apt-get install curl)"
log "8/8 Dropbox: connect both credential slots through the OAuth callback, then sync"
run "$SEATCTL" profile add dropbox --id demo-dropbox --name "Demo Dropbox"
for slot in sync reclaim; do
    printf '+ %s\n' "printf '%s' sandbox-dbx-$slot-secret | seatctl credentials set-dropbox-app demo-dropbox --slot $slot --app-key sandbox-dbx-$slot --app-secret-stdin"
    printf '%s' "sandbox-dbx-$slot-secret" | "$SEATCTL" credentials set-dropbox-app demo-dropbox \
        --slot "$slot" --app-key "sandbox-dbx-$slot" --app-secret-stdin
    run "$SEATCTL" connect dropbox --profile demo-dropbox --slot "$slot" >"$SK_LOCAL/demo-connect-$slot.txt"
    cat "$SK_LOCAL/demo-connect-$slot.txt"
    authorize_url="$(tail -n 1 "$SK_LOCAL/demo-connect-$slot.txt")"
    # The admin's browser: the sandbox approves as its authorizing admin and redirects to the
    # callback with code and state; following that redirect invokes the oauth-callback function.
    callback="$(curl -sS -o /dev/null -w '%{redirect_url}' "$authorize_url")"
    [ -n "$callback" ] || die "the sandbox did not redirect back from the authorize URL"
    printf '+ browser: GET %s\n' "${callback%%\?*}?code=…&state=…"
    page="$(curl -sS -w '\nHTTP %{http_code}' "$callback")"
    printf '%s\n' "$page" | sed -e 's/<style>[^<]*<\/style>//' -e 's/<title>[^<]*<\/title>//' -e 's/<[^>]*>/ /g' -e 's/  */ /g' | grep -E 'connected|HTTP|failed|denied' || true
    case "$page" in *"HTTP 200") ;; *) show_log_tail "$SK_LOCAL/lambda-watch.log"; die "the $slot connect failed" ;; esac
done
printf '+ %s\n' "cargo lambda invoke dropbox-sync --data-ascii '{\"profile\":\"demo-dropbox\"}'"
if ! result="$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LP" \
    --data-ascii '{"profile":"demo-dropbox"}' dropbox-sync)"; then
    printf '%s\n' "$result"
    show_log_tail "$SK_LOCAL/lambda-watch.log"
    die "dropbox-sync invocation failed"
fi
printf 'dropbox-sync result: %.300s…\n' "$result"
run "$SEATCTL" seats demo-dropbox --output table >"$SK_LOCAL/demo-dropbox-seats.txt"
head -n 20 "$SK_LOCAL/demo-dropbox-seats.txt"
echo "... ($(wc -l <"$SK_LOCAL/demo-dropbox-seats.txt") lines in .local/demo-dropbox-seats.txt)"
run "$SEATCTL" profile show demo-dropbox
run "$SEATCTL" tasks demo-dropbox --limit 7

log "done in $((SECONDS - t0)) s; stopping moto, the sandbox and the lambda emulator"
