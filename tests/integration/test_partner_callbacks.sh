#!/bin/bash
# Delivery receipts and SMS replies through the HTTP API, with the test
# gateway playing GOV.UK Notify and then Twilio: receipts move texts from
# "sent" to delivered, failed, or back to retrying; callbacks without the
# right token or signature are refused and change nothing; STOP stops texts
# to a number and START resumes them; "ACK A1" is shown by dawnctl show.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway --twilio-sid AC0123456789abcdef0123456789abcdef --twilio-token twilio-test-token
start_smtp
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
printf 'notify-callback-secret\n' >"$T/callback.token"
write_delivery_config "callback_token_file = \"$T/callback.token\";"
start_dawnd

# the gateway's side: where Notify would send receipts and received texts
gw_callbacks() {
        curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                -d "$1" "http://127.0.0.1:$GW_PORT/_control/callbacks"
}
# A text from a phone, through the gateway: prints dawnd's HTTP status and body
gw_inbound() {
        curl -s -X POST -H 'Content-Type: application/json' -d "{\"api\": \"$1\", \"from\": \"$2\", \"body\": \"$3\"}" \
                "http://127.0.0.1:$GW_PORT/_control/inbound"
}
# The state of ALERT's publish to NUMBER: "sent", "delivered", ...
state_of() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
alert=json.load(sys.stdin)
tail=sys.argv[1][-2:]
for d in alert["deliveries"]:
    if d["channel"]=="sms" and d["recipient"].endswith(tail) and d["action"]=="publish":
        print(d["state"], d.get("last_error") or "")' "$2"
}
metric() {
        curl -s "$API/metrics" | /usr/bin/python3 -c 'import sys
from prometheus_client.parser import text_string_to_metric_families
want=sys.argv[1]; labels=dict(kv.split("=",1) for kv in sys.argv[2:])
total=0
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        if s.name==want and all(s.labels.get(k)==v for k,v in labels.items()):
            total+=s.value
print(int(total))' "$@"
}

check "the gateway takes the callback settings" test "$(gw_callbacks "{\"notify_status_url\": \"$API/v1/callbacks/notify/status\",
        \"notify_inbound_url\": \"$API/v1/callbacks/notify/inbound\", \"notify_token\": \"notify-callback-secret\",
        \"receipts\": {\"+447700900124\": \"permanent-failure\"}, \"default_receipt\": \"delivered\"}")" = 200

# ---- receipts ----
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Southampton contains a nitazene." >"$T/a1.json"
check "booth-house's text is delivered to the handset, by receipt" \
        wait_for '[ "$(state_of A1 +447700900123)" = "delivered " ]' 15
check "st-marys' text failed for good, and dawnctl show says why" \
        wait_for 'state_of A1 +447700900124 | grep -q "^failed .*permanent-failure"' 15
check "a failed receipt is not sent again" test "$(sms_count +447700900124)" -eq 1
check "/metrics counts the receipts" test "$(metric dawn_receipts_total provider=notify status=delivered)" -ge 1
check "/metrics counts the failure by receipt" \
        test "$(metric dawn_delivery_failures_total channel=sms reason=receipt)" -eq 1

# a temporary failure: the text goes again, with the same reference
gw_callbacks "{\"notify_status_url\": \"$API/v1/callbacks/notify/status\",
        \"notify_inbound_url\": \"$API/v1/callbacks/notify/inbound\", \"notify_token\": \"notify-callback-secret\",
        \"receipts\": {\"+447700900125\": \"temporary-failure\"}, \"default_receipt\": \"delivered\"}" >/dev/null
ctl --json issue --area portsmouth --sold-as cocaine --adulterant xylazine "Cocaine with xylazine in Portsmouth." >"$T/a2.json"
check "after a temporary-failure receipt the text is sent again" wait_for "[ \$(sms_count +447700900125 201) -ge 2 ]" 20
refs=$(/usr/bin/python3 -c 'import json,sys
print(len(set(json.loads(l)["reference"] for l in open(sys.argv[1]) if json.loads(l)["to"]=="+447700900125")))' "$T/sms.jsonl")
check "with the same reference each time" test "$refs" -eq 1

# ---- callbacks that cannot be verified ----
before=$(ctl --json show A1)
code=$(curl -s -o "$T/r.json" -w '%{http_code}' -X POST -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' \
        -d '{"id":"x","reference":"A1-r1-2","to":"+447700900123","status":"permanent-failure"}' "$API/v1/callbacks/notify/status")
check "a receipt with the wrong token is refused with 401" test "$code" = 401
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d '{"id":"x","source_number":"447700900123","destination_number":"07700900000","message":"STOP"}' \
        "$API/v1/callbacks/notify/inbound")
check "a received text without a token is refused with 401" test "$code" = 401
check "and nothing changed" test "$(ctl --json show A1)" = "$before"
check "dawnctl optouts still lists nobody" test "$(ctl --json optouts)" = "[]"
check "/metrics counts the refusals" test "$(metric dawn_callbacks_refused_total provider=notify reason=unauthenticated)" -eq 2

# ---- STOP, START, ACK ----
out=$(gw_inbound notify +447700900123 "Stop")
check "a STOP text is accepted" grep -q '"status": 200' <<<"$out"
ctl --json optouts >"$T/optouts.json"
check "dawnctl optouts lists the number, masked, with its subscriber" \
        /usr/bin/python3 -c 'import json,sys
o=json.load(open(sys.argv[1]))
assert len(o)==1 and o[0]["subscribers"]==["booth-house"] and o[0]["number"]!="+447700900123" and o[0]["number"].startswith("+4477"), o' "$T/optouts.json"
sent_before=$(sms_count +447700900123)
ctl --json issue --area southampton --sold-as mdma --adulterant fentanyl "Pills sold as MDMA contain fentanyl." >"$T/a3.json"
check "the other Southampton number still gets the new alert" wait_for "[ \$(sms_count +447700900124) -ge 2 ]" 15
check "the number that said STOP does not" test "$(sms_count +447700900123)" -eq "$sent_before"
check "dawnctl show says the text was not sent because of STOP" wait_for 'state_of A3 +447700900123 | grep -q "^opted-out"' 5

out=$(gw_inbound notify +447700900123 "START")
check "a START text is accepted" grep -q '"status": 200' <<<"$out"
check "dawnctl optouts is empty again" test "$(ctl --json optouts)" = "[]"
ctl --json issue --area southampton --sold-as ketamine --adulterant medetomidine "Ketamine contains medetomidine." >"$T/a4.json"
check "texts reach the number again after START" wait_for "[ \$(sms_count +447700900123) -gt $sent_before ]" 15

out=$(gw_inbound notify +447700900123 "ack a1.")
check "an ACK text is accepted" grep -q '"status": 200' <<<"$out"
ctl --json show A1 >"$T/show.json"
check "dawnctl show lists the acknowledgement by text, with the subscriber and a masked number" \
        /usr/bin/python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))["acks"]
assert len(a)==1 and a[0]["subscriber"]=="booth-house" and a[0]["via"]=="sms" and "900123" not in a[0]["by"], a' "$T/show.json"
check "/metrics counts the replies" test "$(metric dawn_sms_replies_total kind=stop)" -eq 1

# ---- Twilio: signed callbacks ----
stop_dawnd
printf 'twilio-test-token\n' >"$T/twilio.token"
cat >"$T/twilio.sms" <<EOC
provider = "twilio"; base_url = "http://127.0.0.1:$GW_PORT"; account_sid = "AC0123456789abcdef0123456789abcdef";
auth_token_file = "$T/twilio.token"; from = "+447700900000"; retry_initial = "1s";
callback_base_url = "$API";
EOC
# the same subscribers and store, SMS now through Twilio
sed -i -e '/sms = { provider = "notify"/,/template_id/c\        sms = { '"$(tr '\n' ' ' <"$T/twilio.sms")"' };' "$T/dawn.conf"
check "the Twilio config is valid" "$DAWND" -n -c "$T/dawn.conf"
start_dawnd
gw_callbacks "{\"twilio_inbound_url\": \"$API/v1/callbacks/twilio/inbound\", \"twilio_auth_token\": \"twilio-test-token\",
        \"default_receipt\": \"delivered\"}" >/dev/null
ctl --json issue --area portsmouth --sold-as heroin --adulterant nitazene --casualties 3 \
        "Heroin in Portsmouth contains a nitazene." >"$T/a5.json"
check "a Twilio status callback, signed, marks the text delivered" \
        wait_for '[ "$(state_of A5 +447700900125)" = "delivered " ]' 15
out=$(gw_inbound twilio +447700900125 "STOP")
check "a signed Twilio STOP is accepted, and the answer texts back a confirmation" \
        grep -q '"status": 200.*<Message>.*START' <<<"$out"
check "the number is opted out" bash -c "'$DAWNCTL' --json optouts | grep -q the-haven-hostel"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Twilio-Signature: bm90IGEgc2lnbmF0dXJl' \
        -d 'From=%2B447700900125&Body=START&MessageSid=SM1' "$API/v1/callbacks/twilio/inbound")
check "a Twilio text with a forged signature is refused with 403" test "$code" = 403
check "and the number stays opted out" bash -c "'$DAWNCTL' --json optouts | grep -q the-haven-hostel"
finish
