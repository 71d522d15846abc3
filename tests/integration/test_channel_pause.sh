#!/bin/bash
# A provider that refuses the whole channel pauses it instead of failing
# every text: Notify answering 403 (a wrong key, a skewed clock) leaves the
# texts pending with the reason, shows in dawnctl status, STATUS= and
# /metrics, logs one error line, stops their lifetime clock, and keeps the
# watchdog pinging; `dawnctl resume sms` (the cause fixed elsewhere) or a
# reload with a corrected key sends what waited. A 429 with Retry-After
# pauses the channel and resumes it by itself. An SMTP server that refuses
# the login pauses the email channel the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
start_smtp --auth dawn:smtp-secret
printf 'smtp-secret\n' >"$T/smtp.pw"
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
# a 3 s lifetime: the pauses below last longer, and must not fail the texts
# 2 s request timeouts (sms, email): the watchdog's stall limit is then 3 intervals (3 s), which the
# pause outlasts
write_delivery_config 'lifetime = "3s"; timeout = "2s";' "timeout = \"2s\"; username = \"dawn\"; password_file = \"$T/smtp.pw\";"
notify_listener "$T/notify.log"
NOTIFY_SOCKET="$T/notify.log.sock" WATCHDOG_USEC=1000000 "$DAWND" -f -c "$T/dawn.conf" >>"$T/dawnd.log" 2>&1 &
DAWND_PID=$!
wait_for "\"$DAWNCTL\" status" 10 || { echo "dawnd did not start"; cat "$T/dawnd.log"; exit 1; }

metric() {
        curl -s "$API/metrics" | /usr/bin/python3 -c 'import sys
want=sys.argv[1]; labels=sys.argv[2:]
total=0
for line in sys.stdin:
    if line.startswith(want + "{") or line.startswith(want + " "):
        head, value = line.rsplit(" ", 1)
        if all(l in head for l in labels):
            total += float(value)
print(int(total))' "$@"
}
# "STATE last_error" of each SMS delivery of ALERT, one a line
sms_states() {
        ctl --json show "$1" | /usr/bin/python3 -c 'import json,sys
for d in json.load(sys.stdin)["deliveries"]:
    if d["channel"] == "sms": print(d["state"], d.get("last_error") or "")'
}
sms_state() { ctl --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["channels"]["sms"]["state"])'; }
gw_clear() { curl -s -X DELETE "http://127.0.0.1:$GW_PORT/_control/faults" >/dev/null; }
pause_lines() { grep -c "error: outbox: channel sms paused" "$T/dawnd.log"; }

# ---- 403: paused until `dawnctl resume sms` ----
gw_fault '{"rules":[{"match":{"api":"notify"},"action":"status","status":403}]}'
ctl issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Southampton contains a nitazene." >/dev/null
check "a 403 pauses the sms channel: dawnctl status says so" \
        wait_for 'sms_state | grep -q "^paused: the provider refused our credentials since 20"' 10
check "dawnctl status (human) shows the paused state" bash -c "'$DAWNCTL' status | grep -q 'paused: the provider refused our credentials'"
check "the texts wait as pending with the reason, none failed" \
        wait_for '[ "$(sms_states A1 | sort -u)" = "pending channel paused: the provider refused our credentials" ]' 10
check "/metrics: dawn_channel_paused{channel=sms} is 1" test "$(metric dawn_channel_paused 'channel="sms"')" -eq 1
check "/metrics: dawn_channel_paused{channel=email} is 0" test "$(metric dawn_channel_paused 'channel="email"')" -eq 0
check "/metrics counts the pause once" \
        test "$(metric dawn_channel_pauses_total 'channel="sms"' 'reason="credentials"')" -eq 1
check "/metrics: the oldest waiting sms delivery is there" \
        bash -c "curl -s '$API/metrics' | grep -q '^dawn_outbox_oldest_waiting_seconds{channel=\"sms\"} '"
check "STATUS= says the sms channel is paused" \
        wait_for "grep -q '^STATUS=.*sms paused: the provider refused our credentials' '$T/notify.log'" 10
pings=$(grep -cx WATCHDOG=1 "$T/notify.log")
# past the texts' 3 s lifetime, and past the watchdog's 3 intervals (the texts are due, on a
# channel that cannot send them: not a stall)
check "the watchdog keeps pinging while the channel is paused" \
        wait_for "[ \$(grep -cx WATCHDOG=1 '$T/notify.log') -ge $((pings + 12)) ]" 15
# another alert while paused: nothing more goes to the gateway, nothing more is logged
before=$(sms_count +447700900125)
ctl issue --area portsmouth --sold-as cocaine --adulterant xylazine "Cocaine with xylazine in Portsmouth." >/dev/null
check "a text queued while paused waits too" \
        wait_for '[ "$(sms_states A2 | sort -u)" = "pending " ] || [ "$(sms_states A2 | sort -u)" = "pending channel paused: the provider refused our credentials" ]' 10
check "no request reached the gateway while paused" test "$(sms_count +447700900125)" -eq "$before"
check "one error line for the pause, not one per text" test "$(pause_lines)" -eq 1
check "the texts are still pending after their lifetime: its clock stopped" \
        test "$(sms_states A1 | cut -d' ' -f1 | sort -u)" = pending
check "mail went out meanwhile" wait_for "ctl --json show A1 | grep -q '\"channel\": \"email\".*\"state\": \"delivered\"' || [ \$(ls '$T/mail' | wc -l) -ge 1 ]" 10

gw_clear
check "dawnctl resume sms says it resumed" bash -c "'$DAWNCTL' resume sms | grep -q 'channel sms resumed'"
check "then every waiting text is sent" \
        wait_for '[ "$(sms_count +447700900123 201)" -ge 1 ] && [ "$(sms_count +447700900124 201)" -ge 1 ] && [ "$(sms_count +447700900125 201)" -ge 1 ]' 10
check "and delivered, none failed" wait_for '[ "$(sms_states A1 | cut -d" " -f1 | sort -u)" = delivered ]' 10
check "/metrics: dawn_channel_paused{channel=sms} is 0 again" test "$(metric dawn_channel_paused 'channel="sms"')" -eq 0
check "dawnctl resume on a channel not paused changes nothing" \
        bash -c "'$DAWNCTL' resume sms | grep -q 'was not paused'"
out=$(ctl resume fax 2>&1)
check "dawnctl resume names a bad channel, and fails" test $? -ne 0 -a -n "$(grep "'fax' is not a channel" <<<"$out")"

# resume's argument comes from whoever may use the control socket: refused clearly, nothing changes
raw() {
        /usr/bin/python3 - "$DAWN_SOCKET" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())
PY
}
out=$(raw '{"cmd":"resume","channel":5}')
check "resume with a channel that is not a string names the field" grep -q '"field": *"channel"' <<<"$out" ||
        echo "    $out"
check "resume with an unknown argument is refused" \
        test -n "$(raw '{"cmd":"resume","channel":"sms","force":true}' | grep -i 'force')"
check "resume with a long channel name is cut in the answer" \
        test "$(raw "{\"cmd\":\"resume\",\"channel\":\"$(printf 'x%.0s' $(seq 1 2000))\"}" | wc -c)" -lt 400

# ---- a wrong key: paused until a reload brings the right one ----
printf 'dawn_test-3d2b6c52-6e0c-4e56-a5d8-3a1c6f8f0a11-00000000-2b4c-4d7e-8f90-123456789abc\n' >"$T/notify.key"
ctl reload >/dev/null
ctl issue --area southampton --sold-as ketamine --adulterant nitazene --evidence toxicology --casualties 2 \
        "Ketamine in Southampton contains a nitazene." >/dev/null
check "the gateway refuses the wrong key (403) and the channel pauses" \
        wait_for 'sms_state | grep -q "^paused: the provider refused our credentials"' 10 || { tail -20 "$T/dawnd.log"; tail -5 "$T/gateway.log"; ctl status; }
check "the texts wait" wait_for '[ "$(sms_states A3 | sort -u)" = "pending channel paused: the provider refused our credentials" ]' 10
printf '%s\n' "$NOTIFY_KEY" >"$T/notify.key"
ctl reload >/dev/null
check "after a reload with the right key the texts go out" \
        wait_for '[ "$(sms_states A3 | cut -d" " -f1 | sort -u)" = delivered ]' 10
check "the channel is no longer paused" test -z "$(sms_state | grep paused)"

# ---- 429: the whole channel waits for Retry-After, then goes on by itself ----
gw_fault '{"rules":[{"match":{"api":"notify"},"action":"status","status":429,"retry_after":"2","times":1}]}'
ctl issue --area southampton --sold-as mdma --adulterant nitazene --evidence toxicology --casualties 2 \
        "Pills sold as MDMA contain a nitazene." >/dev/null
check "a 429 pauses the channel for its Retry-After" \
        wait_for 'sms_state | grep -q "^paused: the provider.s rate limit since .* until "' 10
check "/metrics counts the rate-limit pause" \
        test "$(metric dawn_channel_pauses_total 'channel="sms"' 'reason="rate_limit"')" -eq 1
check "after it, the channel resumes by itself and the texts are delivered" \
        wait_for '[ "$(sms_states A4 | cut -d" " -f1 | sort -u)" = delivered ]' 10
check "the 429 was one request: the rest waited instead of hitting the limit" \
        test "$(/usr/bin/python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["status"]==429))' "$T/sms.jsonl")" -eq 1
check "three pauses, three error lines in all" test "$(pause_lines)" -eq 3
# ---- SMTP authentication refused: the email channel pauses until a reload ----
email_state() { ctl --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["channels"]["email"]["state"])'; }
mails() { ls "$T/mail" | wc -l; }
printf 'not-the-password\n' >"$T/smtp.pw"
ctl reload >/dev/null
before=$(mails)
ctl issue --area southampton --sold-as crack --adulterant nitazene --evidence toxicology --casualties 2 \
        "Crack cocaine in Southampton contains a nitazene." >/dev/null
check "an SMTP login refused pauses the email channel" \
        wait_for 'email_state | grep -q "^paused: the provider refused our credentials since"' 10
check "the mail waits as pending" bash -c "'$DAWNCTL' --json show A5 | grep -q 'channel paused: the provider refused our credentials'"
check "/metrics: dawn_channel_paused{channel=email} is 1" test "$(metric dawn_channel_paused 'channel="email"')" -eq 1
printf 'smtp-secret\n' >"$T/smtp.pw"
ctl reload >/dev/null
check "after a reload with the right password the mail goes out" wait_for "[ \$(mails) -gt $before ]" 10
check "the email channel is no longer paused" wait_for '! email_state | grep -q paused' 5
check "the audit log keeps each credentials pause (sms twice, email once)" \
        test "$(store_sql "select count(*) from audit where action = 'pause'")" -eq 3
check "and who resumed: the operator, then reloads" \
        test "$(store_sql "select actor from audit where action = 'resume' order by id" | paste -sd'|')" = \
        "uid $(id -u) ($(id -un))|dawnd (reload)|dawnd (reload)"
check "no text failed in all this" test -z "$(for a in A1 A2 A3 A4; do sms_states $a; done | grep failed)"
finish
