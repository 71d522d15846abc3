#!/bin/bash
# Twilio handles STOP itself (Advanced Opt-Out): it answers the sender,
# blocks further texts to the number (error 21610), and tells DAWN with
# OptOutType on the inbound webhook. DAWN learns the opt-out (and the
# opt-in) from OptOutType without texting its own reply, and a 21610 marks
# the number opted out and the text 'opted-out', not failed. Also: the
# sender_prefix DAWN puts before a Twilio text counts in its budget.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway --twilio-sid AC0123456789abcdef0123456789abcdef --twilio-token twilio-test-token
start_smtp
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
write_delivery_config
printf 'twilio-test-token\n' >"$T/twilio.token"
sed -i -e '/sms = { provider = "notify"/,/template_id/c\        sms = { provider = "twilio"; base_url = "http://127.0.0.1:'"$GW_PORT"'"; account_sid = "AC0123456789abcdef0123456789abcdef"; auth_token_file = "'"$T"'/twilio.token"; from = "+447700900000"; retry_initial = "1s"; sender_prefix = "DAWN: "; max_segments = 2; callback_base_url = "'"$API"'"; };' "$T/dawn.conf"
check "the Twilio config is valid" "$DAWND" -n -c "$T/dawn.conf"
start_dawnd

gw() { curl -s -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$GW_PORT/_control/$2"; }
gw_inbound() { gw POST inbound "{\"api\": \"twilio\", \"from\": \"$1\", \"body\": \"$2\"}"; }
optouts() { ctl --json optouts; }
sms_states() {
        ctl --json show "$1" | /usr/bin/python3 -c 'import json,sys
for d in json.load(sys.stdin)["deliveries"]:
    if d["channel"] == "sms" and d["recipient"].endswith(sys.argv[1][-2:]): print(d["state"], d.get("last_error") or "")' "$2"
}
gw POST callbacks "{\"twilio_inbound_url\": \"$API/v1/callbacks/twilio/inbound\", \"twilio_auth_token\": \"twilio-test-token\",
        \"twilio_opt_out\": true}" >/dev/null

# ---- OptOutType STOP: recorded, no reply of ours ----
out=$(gw_inbound +447700900125 "Stop please")
check "Twilio's STOP (OptOutType) is taken: 200" grep -q '"status": 200' <<<"$out"
check "and DAWN texts no reply of its own (Twilio answered)" test -z "$(grep '<Message>' <<<"$out")"
check "the number is opted out" bash -c "'$DAWNCTL' --json optouts | grep -q the-haven-hostel"
check "the audit log says why" bash -c "store_sql \"select count(*) from audit where action = 'sms-stop'\" | grep -qx 1"
out=$(gw_inbound +447700900125 "START")
check "Twilio's START (OptOutType) opts it back in, without a reply of ours" \
        test -z "$(grep '<Message>' <<<"$out")" -a -z "$(optouts | grep the-haven-hostel)"
out=$(gw_inbound +447700900125 "HELP")
check "Twilio's HELP (OptOutType) gets no reply of ours either" test -z "$(grep '<Message>' <<<"$out")"

# ---- 21610: Twilio refuses a number that opted out there ----
gw POST twilio-optouts '{"numbers": ["+447700900123"]}' >/dev/null
ctl issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        --advice "$(printf 'Do not use alone. %.0s' $(seq 1 30))" "Heroin in Southampton contains a nitazene." >/dev/null
check "Twilio answers 21610 for the unsubscribed number" \
        wait_for "[ \$(sms_count +447700900123 400) -ge 1 ]" 10
check "the text becomes opted-out, not failed" wait_for 'sms_states A1 +447700900123 | grep -q "^opted-out"' 10
check "and is not sent again" test "$(sms_count +447700900123)" -eq 1
check "dawnctl optouts lists the number" bash -c "'$DAWNCTL' --json optouts | grep -q booth-house"
check "the other number gets its text" wait_for "[ \$(sms_count +447700900124 201) -ge 1 ]" 10
body=$(/usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["to"]=="+447700900124" and r["status"]==201: print(r["body"]); break' "$T/sms.jsonl")
check "DAWN puts the sender prefix before a Twilio text" test "${body:0:6}" = "DAWN: "
check "and the whole text, prefix included, fits max_segments (2 parts: 306 characters)" test "${#body}" -le 306
check "no SMS delivery failed" test -z "$({ sms_states A1 +447700900124; sms_states A1 +447700900123; } | grep failed)"
finish
