#!/bin/bash
# The test gateways themselves (tests/gateway/): the SMS gateway speaks Notify
# (JWT checked) and Twilio (basic auth), records every request and injects
# faults on request; the SMTP sink stores and records mail and refuses on
# request. Needs neither dawnd nor mosquitto; curl is the client.
. "$(dirname "$0")/lib.sh"
GW="$ROOT/tests/gateway"
SVC=6f0c5a4e-8d2b-4a71-9c3e-2b1d0f9e7a11
SECRET=0b9d7e52-3c4f-4e8a-a1b6-5d2c9f8e7a30
KEY="dawntest-$SVC-$SECRET"
SID=AC0123456789abcdef0123456789abcdef
TOKEN=test-twilio-token
TEMPLATE=f33517ff-2a88-4f6e-b855-c550268ce08a

/usr/bin/python3 "$GW/sms_gateway.py" --port 0 --notify-key "$KEY" --twilio-sid "$SID" --twilio-token "$TOKEN" \
        --record "$T/sms.jsonl" --ready-file "$T/sms.port" >"$T/sms.out" 2>"$T/sms.log" &
GW_PID=$!
mkdir -p "$T/mail"
/usr/bin/python3 "$GW/smtp_sink.py" --port 0 --maildir "$T/mail" --record "$T/smtp.jsonl" --ready-file "$T/smtp.port" \
        --fail-rcpt bad@example.org --tempfail-first 1 >"$T/smtp.out" 2>"$T/smtp.log" &
SINK_PID=$!
wait_for "[ -s '$T/sms.port' ]" 5 || { echo "sms gateway did not start"; cat "$T/sms.log"; exit 1; }
wait_for "[ -s '$T/smtp.port' ]" 5 || { echo "smtp sink did not start"; cat "$T/smtp.log"; exit 1; }
PORT=$(cat "$T/sms.port")
SMTP_PORT=$(cat "$T/smtp.port")
URL="http://127.0.0.1:$PORT"
check "the gateway prints where it listens" grep -qx "listening on 127.0.0.1:$PORT" "$T/sms.out"
check "the health endpoint answers ok" bash -c "[ \"\$(curl -s '$URL/_control/health')\" = ok ]"

# A Notify JWT: jwt [IAT_OFFSET [SECRET [ISS]]]
jwt() {
        /usr/bin/python3 -c 'import base64,hashlib,hmac,json,sys,time
e=lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h=e(json.dumps({"typ":"JWT","alg":"HS256"}).encode())
p=e(json.dumps({"iss":sys.argv[3],"iat":int(time.time())+int(sys.argv[1])}).encode())
print(h+"."+p+"."+e(hmac.new(sys.argv[2].encode(),(h+"."+p).encode(),hashlib.sha256).digest()))' \
                "${1:-0}" "${2:-$SECRET}" "${3:-$SVC}"
}
# notify TO TOKEN [CURL ARGS...]: prints the HTTP status; the body goes to $T/body
notify() {
        to=$1 token=$2
        shift 2
        curl -s -o "$T/body" -w '%{http_code}' "$@" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
                --data "{\"phone_number\":\"$to\",\"template_id\":\"$TEMPLATE\",\"personalisation\":{\"message\":\"Nitazene warning\"},\"reference\":\"alert-7-r1\"}" \
                "$URL/v2/notifications/sms"
}
# twilio TO USER:PASS [CURL ARGS...]
twilio() {
        to=$1 auth=$2
        shift 2
        curl -s -o "$T/body" -w '%{http_code}' "$@" -u "$auth" -H 'Idempotency-Key: alert-9-r2' \
                --data-urlencode "To=$to" --data-urlencode 'From=+447700900000' --data-urlencode 'Body=Test alert' \
                "$URL/2010-04-01/Accounts/$SID/Messages.json"
}
faults() { curl -s -o /dev/null -w '%{http_code}' -X POST --data "$1" "$URL/_control/faults" | grep -qx 200; }
# body_field EXPR: prints d EXPR... of the last JSON body, e.g. '["id"]'
body_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(*eval("(d"+sys.argv[2]+",)"))' "$T/body" "$1"; }

# --- Notify ---
code=$(notify +447700900001 "$(jwt)")
check "Notify: a valid request gets 201" test "$code" = 201
check "Notify: the 201 body is Notify-shaped" test "$(body_field '["content"]["body"], d["content"]["from_number"], d["template"]["version"], d["reference"]')" = "Nitazene warning GOVUK 1 alert-7-r1"
check "Notify: the request is recorded with number, text and reference" \
        grep -q '"api": "notify", "to": "+447700900001", "body": "Nitazene warning", "reference": "alert-7-r1", "status": 201, "fault": null' "$T/sms.jsonl"
code=$(notify +447700900001 "$(jwt 0 00000000-0000-4000-8000-000000000000)")
check "Notify: a JWT signed with the wrong secret gets 403" test "$code" = 403
check "Notify: the 403 is an AuthError" grep -q '"error": "AuthError"' "$T/body"
code=$(notify +447700900001 "$(jwt -60)")
check "Notify: a JWT issued 60 s ago gets 403" test "$code" = 403
check "Notify: ... because of the clock" grep -q 'within 30 seconds' "$T/body"
code=$(notify +447700900001 "$(jwt 0 "$SECRET" 00000000-0000-4000-8000-000000000000)")
check "Notify: a JWT for another service gets 403" test "$code" = 403
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $(jwt)" --data '{"template_id":"'$TEMPLATE'"}' "$URL/v2/notifications/sms")
check "Notify: no phone_number gets 400 ValidationError" bash -c "[ $code = 400 ] && grep -q ValidationError '$T/body'"

# --- Twilio ---
code=$(twilio +447700900002 "$SID:$TOKEN")
check "Twilio: a valid request gets 201" test "$code" = 201
check "Twilio: the 201 body has an SM sid and status queued" bash -c "grep -q '\"sid\": \"SM' '$T/body' && grep -q '\"status\": \"queued\"' '$T/body'"
check "Twilio: recorded with the Idempotency-Key as reference" \
        grep -q '"api": "twilio", "to": "+447700900002", "body": "Test alert", "reference": "alert-9-r2", "status": 201' "$T/sms.jsonl"
code=$(twilio +447700900002 "$SID:wrong")
check "Twilio: wrong auth gets 401" test "$code" = 401
check "Twilio: the 401 carries code 20003" grep -q '"code": 20003' "$T/body"
code=$(curl -s -o "$T/body" -w '%{http_code}' -u "$SID:$TOKEN" --data 'Body=x&From=%2B447700900000' "$URL/2010-04-01/Accounts/$SID/Messages.json")
check "Twilio: no To gets 400 code 21604" bash -c "[ $code = 400 ] && grep -q '\"code\": 21604' '$T/body'"

# --- faults ---
faults '{"rules":[{"match":{"to":"+447700900003"},"action":"status","status":500,"times":1}]}'
c1=$(notify +447700900003 "$(jwt)")
c2=$(notify +447700900003 "$(jwt)")
check "fault status 500 times 1: first 500, then 201" test "$c1 $c2" = "500 201"
check "the faulted attempt is recorded with its fault" \
        grep -q '"to": "+447700900003", .*"status": 500, "fault": "status"' "$T/sms.jsonl"
faults '{"rules":[{"action":"status","status":503,"retry_after_date":5,"times":1}]}'
code=$(twilio +447700900004 "$SID:$TOKEN" -D "$T/headers")
check "fault 503 with an HTTP-date Retry-After" bash -c "[ $code = 503 ] && grep -qiE '^Retry-After: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT' '$T/headers'"
curl -s -o /dev/null -X DELETE "$URL/_control/faults"

curl -s -o /dev/null --data '{"per_minute":1}' "$URL/_control/rate-limit"
c1=$(notify +447700900005 "$(jwt)")
c2=$(notify +447700900005 "$(jwt)" -D "$T/headers")
check "rate limit 1/min: the first gets 201, the next 429" test "$c1 $c2" = "201 429"
check "rate limit: the 429 has Retry-After" grep -qiE '^Retry-After: [0-9]+' "$T/headers"
curl -s -o /dev/null --data '{"per_minute":0}' "$URL/_control/rate-limit"

faults '{"rules":[{"match":{"to":"+447700900006"},"action":"hang"},{"match":{"to":"+447700900008"},"action":"drip","interval":0.5},{"match":{"to":"+447700900007"},"action":"reset"}]}'
start=$(date +%s%N)
notify +447700900006 "$(jwt)" --max-time 1 >/dev/null &
HANG=$!
notify +447700900008 "$(jwt)" --max-time 1 >/dev/null &
DRIP=$!
code=$(notify +447700900001 "$(jwt)" --max-time 1)
check "while one request hangs, another gets 201" test "$code" = 201
wait $HANG
rc=$?
check "a hang rule: curl --max-time 1 times out (exit 28)" test "$rc" = 28
wait $DRIP
rc=$?
check "a drip rule (a byte every 0.5 s): curl --max-time 1 times out (exit 28)" test "$rc" = 28
check "the hang was recorded with no status" grep -q '"to": "+447700900006", .*"status": null, "fault": "hang"' "$T/sms.jsonl"
notify +447700900007 "$(jwt)" >/dev/null
rc=$?
check "a reset rule: curl sees the connection reset (exit 52 or 56)" bash -c "[ $rc = 52 ] || [ $rc = 56 ]"
check "the control endpoint lists the recorded requests" bash -c "curl -s '$URL/_control/requests?to=%2B447700900003' | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not [x[\"status\"] for x in r] == [500, 201])'"
curl -s -o /dev/null -X DELETE "$URL/_control/faults"
check "all of this took under 5 s" test $((($(date +%s%N) - start) / 1000000)) -lt 5000

# --- SMTP ---
printf 'From: dawn@example.org\r\nTo: c@example.org\r\nSubject: Drug alert 7\r\nMessage-ID: <alert-7-r1@dawn.test>\r\n\r\nDetails.\r\n' >"$T/msg"
smtp() { curl -s "smtp://127.0.0.1:$SMTP_PORT" --mail-from dawn@example.org "$@" -T "$T/msg"; }
smtp --mail-rcpt c@example.org
check "SMTP: --tempfail-first 1 refuses the first message" test $? -ne 0
check "SMTP: ... and records the 451" grep -q '"status": 451' "$T/smtp.jsonl"
smtp --mail-rcpt c@example.org
check "SMTP: the next message is accepted" test $? -eq 0
check "SMTP: the message is stored in the maildir" bash -c "grep -q 'Subject: Drug alert 7' '$T/mail'/000001-*.eml"
check "SMTP: recorded with envelope, Message-ID and subject" \
        grep -q '"status": 250, "mail_from": "dawn@example.org", "rcpt_tos": \["c@example.org"\], "message_id": "<alert-7-r1@dawn.test>", "subject": "Drug alert 7"' "$T/smtp.jsonl"
smtp --mail-rcpt bad@example.org
check "SMTP: --fail-rcpt gives curl an error" test $? -ne 0
check "SMTP: ... recorded as a 550" grep -q '"stage": "RCPT", "status": 550' "$T/smtp.jsonl"
check "SMTP: nothing else was stored" test "$(find "$T/mail" -name "*.eml" | wc -l)" = 1

kill "$GW_PID"
wait "$GW_PID"
check "SIGTERM: the gateway exits 0" test $? -eq 0
kill "$SINK_PID"
wait "$SINK_PID"
check "SIGTERM: the SMTP sink exits 0" test $? -eq 0
finish
