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
#      by cargo lambda watch as a function URL; the reclaim slot's callback is invoked with the
#      API Gateway v2 event of infra/events), dropbox-sync invoked, seats and task runs
#   9. reclaim one inactive seat on each provider: seatctl candidates / reclaim → the SQS queue →
#      the reclaim function with an SQS event (infra/deliver-sqs.py plays the event source
#      mapping) → the audit trail, checked at the sandbox (user gone, files with the admin)
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

log "1/9 setup"
bash "$SK_ROOT/infra/setup.sh"
use_venv_path

log "2/9 cargo build --workspace --bins (first run on a fresh machine: several minutes)"
cargo build --workspace --bins

log "3/9 moto server"
start_moto

log "4/9 provider sandbox (200 Box users, seed 42)"
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
# The reclaim queue (in AWS the stack creates it; here a queue in moto). The syncs get it too
# (auto mode enqueues after a sync).
RECLAIM_QUEUE_URL="$(python3 -c 'import boto3,os; print(boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_queue(QueueName="seatkeeper-demo-reclaim", Attributes={"VisibilityTimeout":"5"})["QueueUrl"])')"
export RECLAIM_QUEUE_URL
# cargo lambda watch gives each invocation a short deadline; in AWS the default (660 s) keeps a
# message from starting when a Box transfer could outlast the function.
export RECLAIM_MIN_TIME_LEFT_SECS=5

log "5/9 seatctl: table, profile, entitlement, credentials"
run() { # echo the command (seatctl by its short name), then run it
    local shown=("$@")
    [ "${shown[0]}" = "$SEATCTL" ] && shown[0]=seatctl
    printf '+'; printf ' %q' "${shown[@]}"; printf '\n'
    "$@"
}
shorten() { # stdin → stdout, every line at most 160 bytes (cut ones end in "...")
    python3 -c '
import sys
for line in sys.stdin.buffer:
    line = line.rstrip(b"\n")
    if len(line) > 160:
        line = line[:157].decode("utf-8", "ignore").encode() + b"..."
    sys.stdout.buffer.write(line + b"\n")
'
}
page_text() { # an HTML page on stdin → its visible text, one block per line
    python3 -c '
import html.parser, re, sys
class Text(html.parser.HTMLParser):
    BLOCKS = {"p", "div", "h1", "h2", "h3", "li", "br", "tr", "title", "body", "section"}
    def __init__(self):
        super().__init__(); self.out = [""]; self.skip = 0
    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title"): self.skip += 1
        if tag in self.BLOCKS: self.out.append("")
    def handle_endtag(self, tag):
        if tag in ("style", "script", "title"): self.skip -= 1
        if tag in self.BLOCKS: self.out.append("")
    def handle_data(self, data):
        if not self.skip: self.out[-1] += data
t = Text(); t.feed(sys.stdin.read()); t.close()
for line in t.out:
    line = re.sub(r"\s+", " ", line).strip()
    if line: print(line)
'
}
run "$SEATCTL" table create
run "$SEATCTL" profile add box --id demo-box --name "Demo Box" --enterprise-id 900001 --plan business_plus
run "$SEATCTL" entitlement set demo-box --license-type business_plus --purchased 220 --price 33.00 --currency USD
printf '+ %s\n' "printf '%s' sandbox-box-secret | seatctl credentials set-box demo-box --client-id sandbox-box-client --client-secret-stdin"
printf '%s' sandbox-box-secret | "$SEATCTL" credentials set-box demo-box --client-id sandbox-box-client --client-secret-stdin

log "6/9 box-sync through the Lambda runtime (cargo lambda watch / invoke)"
# `cargo lambda watch` runs `cargo run --bin <function>` on the first invoke; build that exact
# target now so the compile shows up here rather than as a silent wait inside the invoke.
cargo build --bin box-sync --bin dropbox-sync --bin oauth-callback --bin reclaim
# --ignore-changes: no hot reload in a demo. The function inherits this process's environment
# (TABLE_NAME, BOX_*, AWS_ENDPOINT_URL, test credentials).
start_bg lambda-watch "$SK_LOCAL/lambda-watch.log" \
    cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$LP"
wait_tcp "$LP" "$SK_LAST_PID" 60 || {
    show_log_tail "$SK_LOCAL/lambda-watch.log"
    die "cargo lambda watch did not start"
}
log "lambda runtime emulator on 127.0.0.1:$LP (function logs in .local/lambda-watch.log)"
printf '+ %s\n' "cargo lambda invoke box-sync --data-file infra/events/schedule-box-sync-profile.json"
if ! result="$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LP" \
    --data-file "$SK_ROOT/infra/events/schedule-box-sync-profile.json" box-sync)"; then
    printf '%s\n' "$result"
    show_log_tail "$SK_LOCAL/lambda-watch.log"
    die "box-sync invocation failed"
fi
printf 'box-sync result: %.120s...\n' "$result"

log "7/9 results (Box)"
# Outputs go to files first: `seatctl ... | head` would hand seatctl a closed pipe (and fail
# the script under pipefail).
# most recently active first: the seats with real activity (the full list is in the file)
run "$SEATCTL" seats demo-box --sort recent --output table >"$SK_LOCAL/demo-seats.txt"
head -n 30 "$SK_LOCAL/demo-seats.txt"
echo "... ($(wc -l <"$SK_LOCAL/demo-seats.txt") lines in .local/demo-seats.txt)"
run "$SEATCTL" seats demo-box --inactive-days 60 --output table >"$SK_LOCAL/demo-inactive.txt"
head -n 10 "$SK_LOCAL/demo-inactive.txt"
echo "... ($(wc -l <"$SK_LOCAL/demo-inactive.txt") lines in .local/demo-inactive.txt)"
run "$SEATCTL" tasks demo-box

command -v curl >/dev/null || die "curl is needed for the browser step (apt-get install curl)"
log "8/9 Dropbox: connect both credential slots through the OAuth callback, then sync"
run "$SEATCTL" profile add dropbox --id demo-dropbox --name "Demo Dropbox"
for slot in sync reclaim; do
    printf '+ %s\n' "printf '%s' sandbox-dbx-$slot-secret | seatctl credentials set-dropbox-app demo-dropbox --slot $slot --app-key sandbox-dbx-$slot --app-secret-stdin"
    printf '%s' "sandbox-dbx-$slot-secret" | "$SEATCTL" credentials set-dropbox-app demo-dropbox \
        --slot "$slot" --app-key "sandbox-dbx-$slot" --app-secret-stdin
    run "$SEATCTL" connect dropbox --profile demo-dropbox --slot "$slot" >"$SK_LOCAL/demo-connect-$slot.txt"
    # the authorize URL is long (state, PKCE challenge, scopes): shown shortened, used whole
    shorten <"$SK_LOCAL/demo-connect-$slot.txt"
    authorize_url="$(tail -n 1 "$SK_LOCAL/demo-connect-$slot.txt")"
    # The admin's browser: the sandbox approves as its authorizing admin and redirects to the
    # callback with code and state; following that redirect invokes the oauth-callback function.
    callback="$(curl -sS -o /dev/null -w '%{redirect_url}' "$authorize_url")"
    [ -n "$callback" ] || die "the sandbox did not redirect back from the authorize URL"
    if [ "$slot" = sync ]; then
        # the browser follows the redirect to the function URL
        printf '+ browser: GET %s\n' "${callback%%\?*}?code=…&state=…"
        page="$(curl -sS -w '\nHTTP %{http_code}' "$callback")"
    else
        # the same request as API Gateway hands it over (HTTP API, payload 2.0)
        query="${callback#*\?}"
        code="$(python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(sys.argv[1])["code"][0])' "$query")"
        state="$(python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(sys.argv[1])["state"][0])' "$query")"
        sed -e "s/__CODE__/$code/g" -e "s/__STATE__/$state/g" "$SK_ROOT/infra/events/apigw-oauth-callback.json" >"$SK_LOCAL/demo-callback-event.json"
        printf '+ %s\n' "cargo lambda invoke oauth-callback --data-file <infra/events/apigw-oauth-callback.json with code and state>"
        response="$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LP" \
            --data-file "$SK_LOCAL/demo-callback-event.json" oauth-callback)" || response='{}'
        page="$(printf '%s' "$response" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get("body","")); print("HTTP", r.get("statusCode"))')"
    fi
    # the page as a browser shows it: its text, one block per line, without markup
    printf '%s\n' "$page" | page_text | grep -E 'connected|HTTP|failed|denied|transferred' | shorten || true
    case "$page" in *"HTTP 200") ;; *) show_log_tail "$SK_LOCAL/lambda-watch.log"; die "the $slot connect failed" ;; esac
done
printf '+ %s\n' "cargo lambda invoke dropbox-sync --data-file infra/events/schedule-dropbox-sync-profile.json"
if ! result="$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LP" \
    --data-file "$SK_ROOT/infra/events/schedule-dropbox-sync-profile.json" dropbox-sync)"; then
    printf '%s\n' "$result"
    show_log_tail "$SK_LOCAL/lambda-watch.log"
    die "dropbox-sync invocation failed"
fi
printf 'dropbox-sync result: %.120s...\n' "$result"
run "$SEATCTL" seats demo-dropbox --sort recent --output table >"$SK_LOCAL/demo-dropbox-seats.txt"
head -n 20 "$SK_LOCAL/demo-dropbox-seats.txt"
echo "... ($(wc -l <"$SK_LOCAL/demo-dropbox-seats.txt") lines in .local/demo-dropbox-seats.txt)"
run "$SEATCTL" profile show demo-dropbox
run "$SEATCTL" tasks demo-dropbox --limit 7

log "9/9 reclaim one inactive seat on each provider (seatctl → SQS → the reclaim function)"
json_field() { # FILE EXPR: a value from seatctl's JSON output
    python3 -c 'import json,sys; data=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
"$SEATCTL" seats demo-box --output json >"$SK_LOCAL/demo-seats.json"
box_admin="$(json_field "$SK_LOCAL/demo-seats.json" 'next(s["user_id"] for s in data if s["role"] == "admin")')"
run "$SEATCTL" rules set demo-box --transfer-to "$box_admin"
for p in demo-box demo-dropbox; do
    run "$SEATCTL" candidates "$p" >"$SK_LOCAL/demo-candidates-$p.txt"
    head -n 8 "$SK_LOCAL/demo-candidates-$p.txt"
    tail -n 1 "$SK_LOCAL/demo-candidates-$p.txt"
    "$SEATCTL" candidates "$p" --output json >"$SK_LOCAL/demo-candidates-$p.json"
    user="$(json_field "$SK_LOCAL/demo-candidates-$p.json" 'data[0]["user_id"]')"
    run "$SEATCTL" reclaim "$p" "$user" --reason "demo: inactive seat" --by demo | shorten
    attempt=0
    until python3 "$SK_ROOT/infra/deliver-sqs.py" "$RECLAIM_QUEUE_URL" "$LP"; do
        attempt=$((attempt + 1))
        [ "$attempt" -lt 5 ] || { show_log_tail "$SK_LOCAL/lambda-watch.log"; die "the reclaim of $user did not finish"; }
        sleep 5 # a message handed back is visible again after the queue's visibility timeout
    done
    "$SEATCTL" reclaims "$p" --output json >"$SK_LOCAL/demo-reclaims-$p.json"
    request="$(json_field "$SK_LOCAL/demo-reclaims-$p.json" 'data[0]["request"]["request_id"]')"
    status="$(json_field "$SK_LOCAL/demo-reclaims-$p.json" 'data[0]["status"]')"
    run "$SEATCTL" reclaims "$p" --request "$request"
    [ "$status" = done ] || { show_log_tail "$SK_LOCAL/lambda-watch.log"; die "reclaim of $user ended $status"; }
    # what the provider says (the sandbox's control API)
    if [ "$p" = demo-box ]; then
        curl -sS "http://127.0.0.1:$SB/_sandbox/box/deleted-users" | grep -q "\"$user\"" || die "Box still has user $user"
        curl -sS "http://127.0.0.1:$SB/_sandbox/box/transfers" >"$SK_LOCAL/demo-transfers.json"
        printf 'sandbox: Box user %s deleted; their files moved: %s\n' "$user" "$(cat "$SK_LOCAL/demo-transfers.json")" | shorten
    else
        curl -sS "http://127.0.0.1:$SB/_sandbox/dropbox/removals" >"$SK_LOCAL/demo-removals.json"
        grep -q "\"$user\"" "$SK_LOCAL/demo-removals.json" || die "Dropbox still has member $user"
        printf 'sandbox: Dropbox removals: %s\n' "$(cat "$SK_LOCAL/demo-removals.json")" | shorten
    fi
done

log "the savings report (one self-contained HTML file per profile; seatctl report --format json for programs)"
for p in demo-box demo-dropbox; do
    run "$SEATCTL" report "$p" --out "$SK_LOCAL/report-$p.html"
done
printf 'open %s in a browser\n' "$SK_LOCAL/report-demo-box.html"

log "done in $((SECONDS - t0)) s; stopping moto, the sandbox and the lambda emulator"
