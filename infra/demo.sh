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
#   9. notify mode (docs/notify.md): the Box users are emailed first (SES on moto; one notice
#      shown as its user reads it), one keeps the license through the keep page in a real headless
#      Chromium (infra/keep-browser.py), and on Dropbox, with the notice period shortened to 0
#      days, the next sync enqueues the most inactive notified member and the reclaim function
#      removes them; the admins' digest is printed
#  10. reclaim one inactive seat on each provider: seatctl candidates / reclaim → the SQS queue →
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

log "1/10 setup"
bash "$SK_ROOT/infra/setup.sh"
use_venv_path

log "2/10 cargo build --workspace --bins (first run on a fresh machine: several minutes)"
cargo build --workspace --bins

log "3/10 moto server"
start_moto

log "4/10 provider sandbox (200 Box users, seed 42)"
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
# Notify mode (step 9): notices come from a sender verified in SES (here moto's), their links point
# at the oauth-callback function (which serves the keep page), the digest goes to the admins.
export NOTICE_SENDER=it-notices@demo.example
export DIGEST_RECIPIENT=it-admins@demo.example
export KEEP_BASE_URL="http://127.0.0.1:$LP/lambda-url/oauth-callback"
python3 -c 'import boto3,os,sys; boto3.client("sesv2", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_email_identity(EmailIdentity=sys.argv[1])' "$NOTICE_SENDER"
# Notify mode (step 9): notices come from a sender verified in SES (here moto's), their links point
# at the oauth-callback function (which serves the keep page), the digest goes to the admins.
export NOTICE_SENDER=it-notices@demo.example
export DIGEST_RECIPIENT=it-admins@demo.example
export KEEP_BASE_URL="http://127.0.0.1:$LP/lambda-url/oauth-callback"
python3 -c 'import boto3,os,sys; boto3.client("sesv2", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_email_identity(EmailIdentity=sys.argv[1])' "$NOTICE_SENDER"
# cargo lambda watch gives each invocation a short deadline; in AWS the default (660 s) keeps a
# message from starting when a Box transfer could outlast the function.
export RECLAIM_MIN_TIME_LEFT_SECS=5

log "5/10 seatctl: table, profile, entitlement, credentials"
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

log "6/10 box-sync through the Lambda runtime (cargo lambda watch / invoke)"
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

log "7/10 results (Box)"
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
log "8/10 Dropbox: connect both credential slots through the OAuth callback, then sync"
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

log "9/10 notify mode: tell each user first; one keeps the license in the browser; one is reclaimed after the notice period"
json_field() { # FILE EXPR: a value from seatctl's JSON output
    python3 -c 'import json,sys; data=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
invoke() { # FUNCTION EVENT-FILE: one invocation through the Lambda runtime emulator
    printf '+ %s\n' "cargo lambda invoke $1 --data-file ${2#"$SK_ROOT"/}"
    if ! result="$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LP" --data-file "$2" "$1")"; then
        printf '%s\n' "$result"
        show_log_tail "$SK_LOCAL/lambda-watch.log"
        die "$1 invocation failed"
    fi
}
reclamation_detail() { # PROFILE: what the last sync's Reclamation task said
    "$SEATCTL" tasks "$1" --limit 1 --output json >"$SK_LOCAL/demo-task-$1.json"
    json_field "$SK_LOCAL/demo-task-$1.json" 'next(t["detail"] for t in data if t["task"] == "reclamation")' |
        python3 -c 'import sys; [print("Reclamation: " + p.strip()) for p in sys.stdin.read().split("; ") if p.startswith(("notify", "digest")) or "candidate(s)" in p]' | shorten
}
"$SEATCTL" seats demo-box --output json >"$SK_LOCAL/demo-seats.json"
box_admin="$(json_field "$SK_LOCAL/demo-seats.json" 'next(s["user_id"] for s in data if s["role"] == "admin")')"
run "$SEATCTL" rules set demo-box --transfer-to "$box_admin" --mode notify --notice-days 7 --reminder-days 2 >/dev/null
# this time as the dispatcher's sync job, the SQS event the Box sync queue delivers
invoke box-sync "$SK_ROOT/infra/events/sqs-box-sync-job.json"
[ "$result" = '{"batchItemFailures":[]}' ] || die "the sync job was handed back: $result"
reclamation_detail demo-box
run "$SEATCTL" notices demo-box >"$SK_LOCAL/demo-notices.txt"
head -n 6 "$SK_LOCAL/demo-notices.txt" | shorten
echo "... ($(wc -l <"$SK_LOCAL/demo-notices.txt") lines in .local/demo-notices.txt)"
"$SEATCTL" notices demo-box --output json >"$SK_LOCAL/demo-notices.json"
told="$(json_field "$SK_LOCAL/demo-notices.json" '[n["login"] for n in data if n["state"] == "sent"][0]')"
keeper="$(json_field "$SK_LOCAL/demo-notices.json" '[n["login"] for n in data if n["state"] == "sent"][1]')"
keeper_id="$(json_field "$SK_LOCAL/demo-notices.json" '[n["user_id"] for n in data if n["state"] == "sent"][1]')"
log "the notice $told received (read back from SES on moto; the token is masked here)"
python3 "$SK_ROOT/infra/ses-outbox.py" "$told" | sed -E 's/([?&]t=)[A-Za-z0-9_-]+/\1<token>/' | shorten
log "$keeper opens their link in Chromium, types a reason and presses Keep my license"
link="$(python3 "$SK_ROOT/infra/ses-outbox.py" "$keeper" --link)"
printf '+ %s\n' "infra/keep-browser.py '<the link>' --expect $keeper --reason 'Needed for the Q1 audit'" | shorten
confirmation="$(python3 "$SK_ROOT/infra/keep-browser.py" "$link" --expect "$keeper" --reason "Needed for the Q1 audit" \
    --shot-page "$SK_LOCAL/keep-page.png" --shot-done "$SK_LOCAL/keep-done.png")" || {
    show_log_tail "$SK_LOCAL/lambda-watch.log"
    die "the keep page did not keep $keeper's license"
}
printf 'browser: %s\n' "$confirmation" | shorten
# the keep is in the table, not just on the page: the candidate is gone and listed as kept
"$SEATCTL" candidates demo-box --all --output json >"$SK_LOCAL/demo-kept.json"
kept_reason="$(json_field "$SK_LOCAL/demo-kept.json" 'next((k.get("reason") for k in data["kept"] if k["user_id"] == "'"$keeper_id"'"), None)')"
[ "$kept_reason" = "Needed for the Q1 audit" ] || die "no keep for $keeper in the table"
json_field "$SK_LOCAL/demo-kept.json" 'all(c["user_id"] != "'"$keeper_id"'" for c in data["candidates"])' | grep -qx True ||
    die "$keeper is still a candidate after keeping the license"
run "$SEATCTL" notices demo-box --state kept | shorten
printf 'screenshots of the keep page: .local/keep-page.png, .local/keep-done.png\n'

log "Dropbox, the notice period shortened to 0 days and at most one reclaim per run"
run "$SEATCTL" rules set demo-dropbox --mode notify --notice-days 0 --max-per-run 1 >/dev/null
invoke dropbox-sync "$SK_ROOT/infra/events/schedule-dropbox-sync-profile.json"
reclamation_detail demo-dropbox
# the next sync finds the notices due and enqueues the most inactive member within the cap
invoke dropbox-sync "$SK_ROOT/infra/events/schedule-dropbox-sync-profile.json"
reclamation_detail demo-dropbox
attempt=0
until python3 "$SK_ROOT/infra/deliver-sqs.py" "$RECLAIM_QUEUE_URL" "$LP"; do
    attempt=$((attempt + 1))
    [ "$attempt" -lt 5 ] || { show_log_tail "$SK_LOCAL/lambda-watch.log"; die "the notified reclaim did not finish"; }
    sleep 5 # a message handed back is visible again after the queue's visibility timeout
done
"$SEATCTL" reclaims demo-dropbox --output json >"$SK_LOCAL/demo-dbx-reclaims.json"
request="$(json_field "$SK_LOCAL/demo-dbx-reclaims.json" 'data[0]["request"]["request_id"]')"
status="$(json_field "$SK_LOCAL/demo-dbx-reclaims.json" 'data[0]["status"]')"
reclaimed="$(json_field "$SK_LOCAL/demo-dbx-reclaims.json" 'data[0]["request"]["user_id"]')"
run "$SEATCTL" reclaims demo-dropbox --request "$request" | shorten
[ "$status" = done ] || { show_log_tail "$SK_LOCAL/lambda-watch.log"; die "the notified reclaim ended $status"; }
curl -sS "http://127.0.0.1:$SB/_sandbox/dropbox/removals" | grep -q "\"$reclaimed\"" || die "Dropbox still has member $reclaimed"
printf 'sandbox: Dropbox member %s removed after their notice period\n' "$reclaimed"
log "the admins' digest: as mailed by the first notify sync of the day, then what the next one will say"
# sed, not head: head would close the pipe early and fail the writer (and the demo, under pipefail)
python3 "$SK_ROOT/infra/ses-outbox.py" "$DIGEST_RECIPIENT" --subject demo-box | sed -n '1,14p' | shorten
run "$SEATCTL" notices demo-box --digest >"$SK_LOCAL/demo-digest-box.txt"
shorten <"$SK_LOCAL/demo-digest-box.txt" | grep -iE "^Subject|keep|Q1 audit" | sed -n '1,6p'
run "$SEATCTL" notices demo-dropbox --digest >"$SK_LOCAL/demo-digest-dropbox.txt"
shorten <"$SK_LOCAL/demo-digest-dropbox.txt" | grep -iE "^Subject|reclaim|$reclaimed" | sed -n '1,6p'
# step 10 reclaims by hand (`seatctl reclaim` works in any mode): back to report mode
"$SEATCTL" rules set demo-box --mode report >/dev/null
"$SEATCTL" rules set demo-dropbox --mode report --max-per-run 10 >/dev/null

log "10/10 reclaim one inactive seat on each provider (seatctl → SQS → the reclaim function)"
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
