#!/bin/bash
# Hostile receipts, replayed callbacks and acks from those an alert never
# reached, against a full instance (broker, HTTP API, SMS through the test
# gateway with receipts, first as GOV.UK Notify, then as Twilio, on the same
# store). What a user would see:
#   - a receipt naming another alert's reference with the same row id, a
#     "delivered" receipt for a text never sent (opted out), and a receipt
#     for no text at all change nothing, are answered 200 (a gateway retries
#     anything else for days) and are counted in /metrics; no text is sent
#     again because of them;
#   - a flood of such receipts costs a bounded amount and a bounded number
#     of log lines, and dawnd keeps answering;
#   - a signed Twilio START replayed after a later STOP leaves texts off;
#   - "ACK A2" from a number A2 never reached, and a dashboard ack from a
#     subscriber A2 never reached, are not recorded, and the answer to an
#     ACK of an alert that does not exist is the same as to one not sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
TWILIO_SID=AC0123456789abcdef0123456789abcdef
TWILIO_TOKEN=twilio-test-token
# Under ASan (BUILD=build-san), freed memory waits in a quarantine (256 MB by default)
# and would read as growth in the RSS checks: a small one keeps them meaningful.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
start_broker
start_gateway --twilio-sid "$TWILIO_SID" --twilio-token "$TWILIO_TOKEN"
start_smtp
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
DB="$T/state/dawn.db"
printf 'notify-callback-secret\n' >"$T/callback.token"
write_delivery_config "callback_token_file = \"$T/callback.token\";"
start_dawnd

gw_callbacks() {
        curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                -d "$1" "http://127.0.0.1:$GW_PORT/_control/callbacks"
}
gw_inbound() { # API FROM TEXT: dawnd's answer, through the gateway
        curl -s -X POST -H 'Content-Type: application/json' -d "{\"api\": \"$1\", \"from\": \"$2\", \"body\": \"$3\"}" \
                "http://127.0.0.1:$GW_PORT/_control/inbound"
}
# A Notify receipt as anyone holding the callback token could post it: prints the HTTP status
notify_receipt() { # REFERENCE STATUS
        curl -s -o "$T/receipt.out" -w '%{http_code}' -X POST -H 'Authorization: Bearer notify-callback-secret' \
                -H 'Content-Type: application/json' \
                -d "{\"id\":\"f0e1d2c3-0000-4000-8000-000000000001\",\"reference\":\"$1\",\"to\":\"+447700900123\",\"status\":\"$2\"}" \
                "$API/v1/callbacks/notify/status"
}
state_of() { # ALERT NUMBER: the state of ALERT's publish to NUMBER
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
for d in json.load(sys.stdin)["deliveries"]:
    if d["channel"]=="sms" and d["recipient"][-2:]==sys.argv[1][-2:] and d["action"]=="publish":
        print(d["state"])' "$2"
}
row_of() { store_sql "SELECT id FROM outbox WHERE alert_id='$1' AND channel='sms' AND recipient='$2' AND action='publish'"; }
acks_of() { # ALERT: "subscriber/via" of each ack
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
print(" ".join(a["subscriber"] + "/" + a["via"] for a in json.load(sys.stdin).get("acks", [])))'
}
metric() { # NAME LABEL=VALUE...: the sum of the matching series (0 if none)
        curl -s "$API/metrics" | /usr/bin/python3 -c 'import re,sys
want=sys.argv[1]; labels=dict(kv.split("=",1) for kv in sys.argv[2:]); total=0
for line in sys.stdin:
    m=re.match(r"(\w+)(?:\{(.*)\})? (\S+)$", line.strip())
    if m and m.group(1)==want:
        have=dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(2) or ""))
        if all(have.get(k)==v for k,v in labels.items()): total+=float(m.group(3))
print(int(total))' "$@"
}
sends_of() { grep -c "\"reference\": \"$1\"" "$T/sms.jsonl"; }
answers() { "$DAWNCTL" status >/dev/null && curl -sf -m 1 "$API/healthz" >/dev/null; }

check "the gateway sends receipts to dawnd" test "$(gw_callbacks "{\"notify_status_url\": \"$API/v1/callbacks/notify/status\",
        \"notify_inbound_url\": \"$API/v1/callbacks/notify/inbound\", \"notify_token\": \"notify-callback-secret\",
        \"default_receipt\": \"delivered\"}")" = 200

# A1 reaches booth-house (+...123, also its dashboard) and st-marys (+...124); A2 the-haven (+...125)
ctl issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Southampton contains a nitazene." >/dev/null
ctl issue --area portsmouth --sold-as cocaine --adulterant xylazine "Cocaine with xylazine in Portsmouth." >/dev/null
check "A1's text to booth-house is delivered, by receipt" wait_for '[ "$(state_of A1 +447700900123)" = delivered ]' 15
check "A2's text to the-haven is delivered, by receipt" wait_for '[ "$(state_of A2 +447700900125)" = delivered ]' 15
mqtt_state() { # ALERT SUBSCRIBER
        store_sql "SELECT state FROM outbox WHERE alert_id='$1' AND subscriber='$2' AND channel='mqtt' AND action='publish'"
}
check "A1 reached booth-house's dashboard" wait_for '[ "$(mqtt_state A1 booth-house)" = delivered ]' 10
RSS0=$(rss) FD0=$(fds)

# ---- a receipt naming another alert, with A1's row id ----
row=$(row_of A1 +447700900123)
code=$(notify_receipt "A2-r1-$row" temporary-failure)
check "a receipt naming A2 with the row id of A1's text is answered 200 (ignored)" test "$code" = 200
check "A1's text stays delivered" test "$(state_of A1 +447700900123)" = delivered
code=$(notify_receipt "A1-r7-$row" temporary-failure)
check "nor does another revision's reference move it" test "$(state_of A1 +447700900123)/$code" = delivered/200
code=$(notify_receipt "A1-r1-$row" temporary-failure)
check "its own reference cannot take a delivered text back to retrying" \
        test "$(state_of A1 +447700900123)/$code" = delivered/200
check "/metrics counts the mismatched receipts" \
        test "$(metric dawn_callbacks_ignored_total provider=notify reason=mismatched)" -eq 2
check "and the illegal one" test "$(metric dawn_callbacks_ignored_total provider=notify reason=illegal-transition)" -eq 1

# ---- a "delivered" receipt for a text never sent ----
out=$(gw_inbound notify +447700900124 STOP)
check "st-marys' number replies STOP" grep -q '"status": 200' <<<"$out"
ctl issue --area southampton --sold-as mdma --adulterant fentanyl "Pills sold as MDMA contain fentanyl." >/dev/null
check "A3's text to st-marys is opted out" wait_for '[ "$(state_of A3 +447700900124)" = opted-out ]' 10
code=$(notify_receipt "A3-r1-$(row_of A3 +447700900124)" delivered)
check "a delivered receipt for it is answered 200" test "$code" = 200
check "and the text stays opted out" test "$(state_of A3 +447700900124)" = opted-out

# ---- a receipt for no text at all ----
before=$("$DAWNCTL" --json show A1)
code=$(notify_receipt "A1-r1-987654" permanent-failure)
check "a receipt for a reference DAWN never gave is answered 200" test "$code" = 200
check "and says ok" grep -q '"ok": *true' "$T/receipt.out"
check "nothing changed" test "$("$DAWNCTL" --json show A1)" = "$before"
check "/metrics counts it" test "$(metric dawn_callbacks_ignored_total provider=notify reason=unknown-delivery)" -eq 1

# ---- a flood of forged receipts: bounded, and the log says so in a few lines ----
log_before=$(grep -c 'receipt.*ignored' "$T/dawnd.log")
/usr/bin/python3 - "$HTTP_PORT" "$row" <<'PY' >"$T/flood.out" 2>&1 &
import http.client, json, sys, time
port, row = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
codes = {}
deadline = time.monotonic() + 15
for i in range(400):
    if time.monotonic() > deadline:
        break
    ref = ["A2-r1-%s" % row, "A1-r1-%d" % (900000 + i), "A1-r1-%s" % row][i % 3]
    body = json.dumps({"id": "x%d" % i, "reference": ref, "status": "temporary-failure"})
    c.request("POST", "/v1/callbacks/notify/status", body,
              {"Authorization": "Bearer notify-callback-secret", "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    codes[r.status] = codes.get(r.status, 0) + 1
print(json.dumps(codes))
PY
FLOOD=$!
wait_for "[ \$(metric dawn_callbacks_ignored_total provider=notify) -ge 100 ]" 15
RSS1=$(rss) FD1=$(fds)
check "during the flood dawnd answers dawnctl and /healthz" answers
wait "$FLOOD"
check "every forged receipt was answered 200" grep -qx '{"200": 400}' "$T/flood.out"
check "all 400 are counted" test "$(metric dawn_callbacks_ignored_total provider=notify)" -ge 404
logged=$(( $(grep -c 'receipt.*ignored' "$T/dawnd.log") - log_before ))
# at most 10 a minute (DAWN_CALLBACK_LOG_PER_MINUTE); twice that if a slow run crosses a minute
check "but logged in a few lines, not 400 ($logged)" test "$logged" -le 20
check "A1's text is still delivered" test "$(state_of A1 +447700900123)" = delivered
# a text moved to retrying goes again within about a second (retry_initial 1s); the
# forged receipts began seconds ago, so a second sending would be in the record by now
check "and was sent once, forged receipts or not" test "$(sends_of "A1-r1-$row")" -eq 1
RSS2=$(rss) FD2=$(fds)
echo "# flood of 400 forged receipts: RSS ${RSS0} -> ${RSS1} -> ${RSS2} kB, fds ${FD0} -> ${FD1} -> ${FD2}"
# 400 requests of under 1 KiB each; ASan's own allocator takes about 6 MB as it warms up:
# a leak of 30 KiB per request would pass 12 MB
check "RSS grew by less than 12 MB over the flood" test $((RSS2 - RSS0)) -lt 12288
check "fds back to where they were (+2)" test "$FD2" -le $((FD0 + 2))

# ---- acks from those the alert did not reach ----
out=$(gw_inbound notify +447700900123 "ACK A2")
check "booth-house's number texts ACK A2 (A2 was never sent to it): answered 200" grep -q '"status": 200' <<<"$out"
out=$(gw_inbound notify +447700900124 "ACK A3")
check "st-marys texts ACK A3 (its text was opted out, never sent)" grep -q '"status": 200' <<<"$out"
out=$(gw_inbound notify +447700900123 "ACK A1")
check "booth-house texts ACK A1, which reached it" grep -q '"status": 200' <<<"$out"
check "A1's ack by text is recorded" test "$(acks_of A1)" = booth-house/sms
check "A2 lists no ack" test "$(acks_of A2)" = ""
check "A3 lists no ack" test "$(acks_of A3)" = ""
check "/metrics counts the ignored acks by text" test "$(metric dawn_acks_ignored_total via=sms)" -eq 2

# dashboards: booth-house was sent A2 nowhere; st-marys has no dashboard at all
mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/subscribers/booth-house/acks/A2" -m '{"revision":1,"by":"night manager"}'
mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/subscribers/st-marys-pharmacy/acks/A1" -m '{"revision":1,"by":"pharmacist"}'
mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/subscribers/booth-house/acks/A77" -m '{"revision":1,"by":"prober"}'
# then one it did reach: once that is recorded, the ones published before were handled
mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/subscribers/booth-house/acks/A1" -m '{"revision":1,"by":"day manager"}'
check "booth-house's dashboard ack of A1 is recorded" wait_for '[ "$(acks_of A1)" = "booth-house/sms booth-house/dashboard" ]' 10
check "its dashboard ack of A2, which never reached it, is not" test "$(acks_of A2)" = ""
check "nor st-marys' dashboard ack of A1 (its text reached it, no dashboard did)" \
        test "$(acks_of A1)" = "booth-house/sms booth-house/dashboard"
check "/metrics counts the ignored dashboard acks" test "$(metric dawn_acks_ignored_total via=dashboard)" -eq 3
unknown=$(grep -c "no alert 'A77' reached booth-house's dashboard" "$T/dawnd.log")
notsent=$(grep -c "no alert 'A2' reached booth-house's dashboard" "$T/dawnd.log")
check "an ack of an alert that does not exist reads like one not sent (logs)" test "$unknown/$notsent" = 1/1

# ---- Twilio: replays of signed requests ----
stop_dawnd
printf '%s\n' "$TWILIO_TOKEN" >"$T/twilio.token"
cat >"$T/twilio.sms" <<EOC
provider = "twilio"; base_url = "http://127.0.0.1:$GW_PORT"; account_sid = "$TWILIO_SID";
auth_token_file = "$T/twilio.token"; from = "+447700900000"; retry_initial = "1s";
callback_base_url = "$API";
EOC
sed -i -e '/sms = { provider = "notify"/,/template_id/c\        sms = { '"$(tr '\n' ' ' <"$T/twilio.sms")"' };' "$T/dawn.conf"
check "the Twilio config is valid" "$DAWND" -n -c "$T/dawn.conf"
start_dawnd
# A signed Twilio request, as Twilio (or anyone who captured one) sends it: saves
# the form and signature in $T/req.NAME, posts it, prints "STATUS BODY"
twilio_post() { # NAME PATH FIELD=VALUE...
        /usr/bin/python3 - "$TWILIO_TOKEN" "$API" "$T/req.$1" "${@:2}" <<'PY'
import base64, hashlib, hmac, json, sys, urllib.parse, urllib.request
token, api, save, path = sys.argv[1:5]
fields = dict(kv.split("=", 1) for kv in sys.argv[5:])
url = api + path
data = url + "".join(k + fields[k] for k in sorted(fields))
sig = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()
body = urllib.parse.urlencode(fields)
json.dump({"url": url, "body": body, "sig": sig}, open(save, "w"))
req = urllib.request.Request(url, data=body.encode(), headers={"X-Twilio-Signature": sig})
try:
    r = urllib.request.urlopen(req, timeout=5)
    print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}
replay() { # NAME: the saved request again, byte for byte
        /usr/bin/python3 - "$T/req.$1" <<'PY'
import json, sys, urllib.request
q = json.load(open(sys.argv[1]))
req = urllib.request.Request(q["url"], data=q["body"].encode(), headers={"X-Twilio-Signature": q["sig"]})
try:
    r = urllib.request.urlopen(req, timeout=5)
    print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}
optouts() { "$DAWNCTL" --json optouts | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
TO=To=+447700900000
out=$(twilio_post start1 /v1/callbacks/twilio/inbound From=+447700900124 Body=START MessageSid=SM00000000000000000000000000000a01 "$TO")
check "a signed START from st-marys is taken" grep -q '^200 .*<Message>.*on again' <<<"$out"
check "nobody is opted out" test "$(optouts)" -eq 0
out=$(twilio_post stop1 /v1/callbacks/twilio/inbound From=+447700900124 Body=STOP MessageSid=SM00000000000000000000000000000a02 "$TO")
check "then a signed STOP" grep -q '^200 .*<Message>.*START' <<<"$out"
check "st-marys is opted out" test "$(optouts)" -eq 1
out=$(replay start1)
check "the START replayed, byte for byte, is answered 200 without a text back" \
        grep -qx '200 <?xml version="1.0" encoding="UTF-8"?><Response></Response>' <<<"$out"
check "and st-marys stays opted out" test "$(optouts)" -eq 1
check "/metrics counts the replay" test "$(metric dawn_callbacks_ignored_total provider=twilio reason=replayed)" -eq 1
out=$(twilio_post nosid /v1/callbacks/twilio/inbound From=+447700900124 Body=START "$TO")
check "a signed text without a MessageSid is refused with 400 naming it" grep -q '^400 .*"field": *"MessageSid"' <<<"$out"
check "and changes nothing" test "$(optouts)" -eq 1

# ACKs by text, through Twilio's answer: the same words for no such alert and one not sent
out_a2=$(twilio_post ack2 /v1/callbacks/twilio/inbound From=+447700900123 "Body=ACK A2" MessageSid=SM00000000000000000000000000000a03 "$TO")
out_a99=$(twilio_post ack99 /v1/callbacks/twilio/inbound From=+447700900123 "Body=ACK A99" MessageSid=SM00000000000000000000000000000a04 "$TO")
check "ACK A2 (not sent to this number) and ACK A99 (no such alert) get the same answer" \
        test "${out_a2//A2/Ax}" = "${out_a99//A99/Ax}"
check "which is not a thank-you" bash -c "! grep -q 'thank you' <<<'$out_a2'"
check "A2 still lists no ack" test "$(acks_of A2)" = ""

check "dawnd still answers" answers
check "the store is intact" bash -c "store_intact | grep -qx ok"
stop_dawnd
check "dawnd's log has no sanitizer report (leaks show at exit)" \
        bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$T/dawnd.log'"
finish
