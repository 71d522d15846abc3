#!/bin/bash
# The test gateways themselves (tests/gateway/): the SMS gateway speaks Notify
# (JWT checked) and Twilio (basic auth), records every request, injects
# faults on request, and calls back as the providers do (delivery receipts,
# received texts; a small listener here stands in for dawnd); the SMTP sink
# stores and records mail and refuses on request. Needs neither dawnd nor
# mosquitto; curl is the client.
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

# --- callbacks: the gateway as the provider calling dawnd back ---
# A stand-in for dawnd's /v1/callbacks/: records each request as a JSON line, with whether
# a Twilio signature checks out (computed here, independently of the gateway's code);
# answers 204 to .../status, 200 "ok" otherwise.
/usr/bin/python3 -c 'import base64,hashlib,hmac,json,sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        sig = self.headers.get("X-Twilio-Signature")
        ok = None
        if sig is not None:
            data = "http://127.0.0.1:%d%s" % (port, self.path) + "".join(k + v for k, v in sorted(parse_qsl(body)))
            ok = sig == base64.b64encode(hmac.new(sys.argv[2].encode(), data.encode(), hashlib.sha1).digest()).decode()
        with open(sys.argv[3], "a") as f:
            f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"), "sig_ok": ok,
                                "type": self.headers.get("Content-Type"), "body": body}) + "\n")
        answer = b"" if "/status" in self.path else b"ok"
        self.send_response(204 if "/status" in self.path else 200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
port = s.server_address[1]
open(sys.argv[1] + ".tmp", "w").write(str(port))
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()' "$T/cb.port" "$TOKEN" "$T/cb.jsonl" 2>"$T/cb.log" &
wait_for "[ -s '$T/cb.port' ]" 5 || { echo "callback listener did not start"; cat "$T/cb.log"; exit 1; }
CB="http://127.0.0.1:$(cat "$T/cb.port")"
DEAD="http://127.0.0.1:$(free_port)" # nothing listens there
: >"$T/cb.jsonl"
# callbacks JSON: POSTs the settings, prints the HTTP status; the answer goes to $T/body
callbacks() { curl -s -o "$T/body" -w '%{http_code}' --data "$1" "$URL/_control/callbacks"; }
# inbound JSON: prints the gateway's answer
inbound() { curl -s --data "$1" "$URL/_control/inbound"; }
# cb_got PYTHON-CONDITION: true if a request the listener got satisfies it (r: the record,
# b: its body parsed as JSON or as a form)
cb_got() {
        /usr/bin/python3 -c 'import json,sys
from urllib.parse import parse_qsl
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = json.loads(r["body"]) if r["type"] == "application/json" else dict(parse_qsl(r["body"]))
    if eval(sys.argv[2]):
        sys.exit(0)
sys.exit(1)' "$T/cb.jsonl" "$1"
}
not() { ! "$@"; }
# sent PYTHON-CONDITION: true if an entry of GET /_control/callbacks "sent" satisfies it (s)
sent() {
        curl -s "$URL/_control/callbacks" | /usr/bin/python3 -c 'import json,sys
sys.exit(not any(eval(sys.argv[1]) for s in json.load(sys.stdin)["sent"]))' "$1"
}

curl -s -o "$T/body" "$URL/_control/callbacks"
check "callbacks: by default no URLs, no receipts, nothing sent" test "$(body_field '["settings"]["notify_status_url"], d["settings"]["default_receipt"], d["settings"]["receipts"], d["sent"], d["pending"]')" = "None None {} [] 0"
code=$(callbacks '{"default_receipt":"lost"}')
check "callbacks: an unknown receipt word gets 400 naming the key" bash -c "[ $code = 400 ] && grep -q default_receipt '$T/body'"
code=$(callbacks '{"notify_status":"x"}')
check "callbacks: an unknown key gets 400" test "$code" = 400
code=$(callbacks "{\"notify_status_url\":\"$CB/v1/callbacks/notify/status\",\"notify_inbound_url\":\"$CB/v1/callbacks/notify/inbound\",
        \"notify_token\":\"notify-callback-token-0123\",\"twilio_inbound_url\":\"$CB/v1/callbacks/twilio/inbound\",
        \"twilio_auth_token\":\"$TOKEN\",\"receipts\":{\"+447700900011\":\"permanent-failure\",\"+447700900013\":\"temporary-failure\"},
        \"default_receipt\":\"delivered\"}")
check "callbacks: settings accepted" test "$code" = 200
curl -s -o "$T/body" "$URL/_control/callbacks"
check "callbacks: the settings read back as set" test "$(body_field '["settings"]["notify_token"], d["settings"]["receipts"]["+447700900011"], d["settings"]["default_receipt"], d["settings"]["bad_signature"], d["settings"]["receipt_delay"]')" = "notify-callback-token-0123 permanent-failure delivered False 0"

notify +447700900010 "$(jwt)" >/dev/null
nid=$(body_field '["id"]')
check "Notify receipt: posted with the bearer token" \
        wait_for "cb_got 'r[\"path\"] == \"/v1/callbacks/notify/status\" and r[\"auth\"] == \"Bearer notify-callback-token-0123\" and b[\"to\"] == \"+447700900010\"'" 5
check "Notify receipt: id, reference, status and the other fields" \
        cb_got "b.get('to') == '+447700900010' and b['id'] == '$nid' and b['reference'] == 'alert-7-r1' and b['status'] == 'delivered' and b['notification_type'] == 'sms' and b['template_id'] == '$TEMPLATE' and b['template_version'] == 1 and all(b[k].endswith('Z') for k in ('created_at', 'completed_at', 'sent_at'))"
check "Notify receipt: the 204 it got is recorded" \
        wait_for "sent 's[\"kind\"] == \"receipt\" and s[\"api\"] == \"notify\" and s[\"to\"] == \"+447700900010\" and s[\"status\"] == 204 and s[\"reference\"] == \"alert-7-r1\" and s[\"receipt\"] == \"delivered\"'" 5
notify +447700900011 "$(jwt)" >/dev/null
check "Notify receipt: a listed number gets its own word (permanent-failure)" \
        wait_for "cb_got 'b.get(\"to\") == \"+447700900011\" and b[\"status\"] == \"permanent-failure\"'" 5

# Twilio: a receipt goes to the message's own StatusCallback, signed
code=$(twilio +447700900012 "$SID:$TOKEN" --data-urlencode "StatusCallback=$CB/v1/callbacks/twilio/status?ref=A17-r2-345")
msid=$(body_field '["sid"]')
check "Twilio: the StatusCallback is recorded with the request" \
        grep -q "\"to\": \"+447700900012\", .*\"status_callback\": \"$CB/v1/callbacks/twilio/status?ref=A17-r2-345\"" "$T/sms.jsonl"
check "Twilio receipt: posted to the StatusCallback URL, correctly signed" \
        wait_for "cb_got 'r[\"path\"] == \"/v1/callbacks/twilio/status?ref=A17-r2-345\" and r[\"sig_ok\"] is True and b[\"To\"] == \"+447700900012\"'" 5
check "Twilio receipt: the form Twilio sends" \
        cb_got "b.get('To') == '+447700900012' and b['MessageSid'] == b['SmsSid'] == '$msid' and b['AccountSid'] == '$SID' and b['From'] == '+447700900000' and b['MessageStatus'] == b['SmsStatus'] == 'delivered' and b['ApiVersion'] == '2010-04-01'"
check "Twilio receipt: recorded with the ref of its URL" \
        wait_for "sent 's[\"api\"] == \"twilio\" and s[\"kind\"] == \"receipt\" and s[\"reference\"] == \"A17-r2-345\" and s[\"status\"] == 204'" 5
twilio +447700900011 "$SID:$TOKEN" --data-urlencode "StatusCallback=$CB/v1/callbacks/twilio/status?ref=A17-r2-346" >/dev/null
twilio +447700900013 "$SID:$TOKEN" --data-urlencode "StatusCallback=$CB/v1/callbacks/twilio/status?ref=A17-r2-347" >/dev/null
check "Twilio receipt: permanent-failure is Twilio's failed (error 30005)" \
        wait_for "cb_got 'b.get(\"To\") == \"+447700900011\" and b[\"MessageStatus\"] == \"failed\" and b[\"ErrorCode\"] == \"30005\" and r[\"sig_ok\"]'" 5
check "Twilio receipt: temporary-failure is Twilio's undelivered" \
        wait_for "cb_got 'b.get(\"To\") == \"+447700900013\" and b[\"MessageStatus\"] == \"undelivered\" and r[\"sig_ok\"]'" 5
twilio +447700900014 "$SID:$TOKEN" >/dev/null
faults '{"rules":[{"match":{"to":"+447700900015"},"action":"status","status":500,"times":1}]}'
notify +447700900015 "$(jwt)" >/dev/null
callbacks "{\"notify_status_url\":\"$CB/v1/callbacks/notify/status\"}" >/dev/null
notify +447700900016 "$(jwt)" >/dev/null
sleep 0.5 # receipts go out at once: time enough for one that should not
check "no receipt for a Twilio message without StatusCallback, a refused message, or a number without a word" \
        not cb_got 'b.get("To") == "+447700900014" or b.get("to") in ("+447700900015", "+447700900016")'
curl -s -o /dev/null -X DELETE "$URL/_control/faults"

# received texts
callbacks "{\"notify_inbound_url\":\"$CB/v1/callbacks/notify/inbound\",\"notify_token\":\"notify-callback-token-0123\",
        \"twilio_inbound_url\":\"$CB/v1/callbacks/twilio/inbound\",\"twilio_auth_token\":\"$TOKEN\"}" >/dev/null
out=$(inbound '{"api":"notify","from":"+447700900123","body":"STOP"}')
check "inbound Notify: answers dawnd's status and body" test "$out" = '{"status": 200, "body": "ok", "error": null}'
check "inbound Notify: source_number without '+', the message, the bearer token" \
        cb_got "r['path'] == '/v1/callbacks/notify/inbound' and r['auth'] == 'Bearer notify-callback-token-0123' and b['source_number'] == '447700900123' and b['message'] == 'STOP' and b['destination_number'].isdigit() and b['date_received'].endswith('Z') and len(b['id']) == 36"
out=$(inbound '{"api":"twilio","from":"+447700900123","body":"ack a17. café & co"}')
check "inbound Twilio: answers dawnd's status and body" test "$out" = '{"status": 200, "body": "ok", "error": null}'
check "inbound Twilio: a signed form with From, To, Body, MessageSid, AccountSid" \
        cb_got "r['path'] == '/v1/callbacks/twilio/inbound' and r['sig_ok'] is True and b['From'] == '+447700900123' and b['Body'] == 'ack a17. café & co' and b['To'].startswith('+') and b['MessageSid'].startswith('SM') and b['AccountSid'] == '$SID'"
check "inbound: recorded as sent" sent "s['kind'] == 'inbound' and s['api'] == 'twilio' and s['status'] == 200 and s['message'] == 'ack a17. café & co'"
callbacks "{\"twilio_inbound_url\":\"$CB/v1/callbacks/twilio/inbound\",\"twilio_auth_token\":\"$TOKEN\",\"bad_signature\":true}" >/dev/null
inbound '{"api":"twilio","from":"+447700900124","body":"STOP"}' >/dev/null
check "bad_signature: the Twilio signature does not check out" \
        cb_got "b.get('From') == '+447700900124' and r['sig_ok'] is False"
code=$(curl -s -o "$T/body" -w '%{http_code}' --data '{"api":"notify","from":"+447700900123","body":"STOP"}' "$URL/_control/inbound")
check "inbound: 409 while that API's inbound URL is not set" test "$code" = 409
code=$(curl -s -o "$T/body" -w '%{http_code}' --data '{"api":"sms","from":"+447700900123","body":"STOP"}' "$URL/_control/inbound")
check "inbound: an unknown api gets 400" test "$code" = 400

# nobody listening
callbacks "{\"notify_status_url\":\"$DEAD/v1/callbacks/notify/status\",\"notify_inbound_url\":\"$DEAD/v1/callbacks/notify/inbound\",\"default_receipt\":\"delivered\"}" >/dev/null
notify +447700900017 "$(jwt)" >/dev/null
check "a receipt to an unreachable URL is recorded with status null and the error" \
        wait_for "sent 's[\"to\"] == \"+447700900017\" and s[\"status\"] is None and s[\"error\"]'" 5
out=$(inbound '{"api":"notify","from":"+447700900123","body":"STOP"}')
check "an inbound text to an unreachable URL answers status null" \
        /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(not (d["status"] is None and d["body"] is None and d["error"]))' "$out"
check "GET /_control/callbacks filters sent by kind" \
        bash -c "curl -s '$URL/_control/callbacks?kind=inbound' | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin)[\"sent\"]; sys.exit(not (s and all(x[\"kind\"] == \"inbound\" for x in s)))'"
curl -s -o /dev/null -X DELETE "$URL/_control/callbacks"
curl -s -o "$T/body" "$URL/_control/callbacks"
check "DELETE /_control/callbacks: back to the defaults, nothing sent" test "$(body_field '["settings"]["default_receipt"], d["sent"]')" = "None []"

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
