#!/bin/bash
# `make demo`: a local broker, the test SMS gateway, an SMTP server and
# dawnd on the demo config; a pharmacy's dashboard feed (mosquitto_sub); an
# alert issued with dawnctl, arriving on the dashboard, as an SMS and as an
# email; a partner's report over the HTTP API waiting for review, approved,
# and going out. Everything runs in a temp directory on 127.0.0.1 and is
# stopped at the end.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
DAWND="$ROOT/$BUILD/dawnd"
DAWNCTL="$ROOT/$BUILD/dawnctl"
D=$(mktemp -d /tmp/dawn-demo.XXXXXX)
export DAWN_SOCKET="$D/control.sock"
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$D"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for() { for _ in $(seq 200); do eval "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }

step "Starting mosquitto on 127.0.0.1:$PORT"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$PORT" >"$D/mosquitto.conf"
mosquitto -c "$D/mosquitto.conf" >"$D/mosquitto.log" 2>&1 &
pids+=($!)
wait_for "mosquitto_pub -p $PORT -t demo/ping -n" || { echo "mosquitto did not start"; exit 1; }

step "Starting the test SMS gateway (GOV.UK Notify's API) and an SMTP server (aiosmtpd)"
NOTIFY_KEY="dawn_demo-3d2b6c52-6e0c-4e56-a5d8-3a1c6f8f0a11-9f1d3a6e-2b4c-4d7e-8f90-123456789abc"
printf '%s\n' "$NOTIFY_KEY" >"$D/notify.key"
/usr/bin/python3 "$ROOT/tests/gateway/sms_gateway.py" --port 0 --notify-key "$NOTIFY_KEY" --quiet \
        --record "$D/sms.jsonl" --ready-file "$D/gw.port" >"$D/gateway.log" 2>&1 &
pids+=($!)
SMTP_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$D/mail"
/usr/bin/python3 "$ROOT/tests/gateway/smtp_sink.py" --port "$SMTP_PORT" --maildir "$D/mail" \
        --record "$D/smtp.jsonl" --ready-file "$D/smtp.port" >"$D/smtp.log" 2>&1 &
pids+=($!)
wait_for "[ -s '$D/gw.port' ] && [ -s '$D/smtp.port' ]" || { echo "test gateways did not start"; exit 1; }
echo "SMS gateway on 127.0.0.1:$(cat "$D/gw.port"), SMTP on 127.0.0.1:$SMTP_PORT"

HTTP_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AMBULANCE_TOKEN="demo-ambulance-$RANDOM$RANDOM"
printf '%s\n' "$AMBULANCE_TOKEN" >"$D/ambulance.token"
step "Starting dawnd on the demo config (conf/demo.conf: the pan-Hampshire area tree, 8 subscribers;"
echo "   here Booth House's night phone also gets SMS and the recovery service's duty inbox email)"
sed -e "s#@STATE_DIR@#$D/state#" -e "s#@CONTROL_SOCKET@#$DAWN_SOCKET#" -e "s#@MQTT_PORT@#$PORT#" \
    -e "s#^channels = {#channels = {\n        sms = { base_url = \"http://127.0.0.1:$(cat "$D/gw.port")\"; api_key_file = \"$D/notify.key\"; template_id = \"f1c2d3e4-0000-4a5b-8c9d-0123456789ab\"; };\n        email = { url = \"smtp://127.0.0.1:$SMTP_PORT\"; from = \"alerts@dawn.example\"; tls = \"none\"; };#" \
    -e "s#{ id = \"booth-house\";#{ id = \"booth-house\"; sms = [ \"+447700900123\" ];#" \
    -e "s#{ id = \"recovery-service\";#{ id = \"recovery-service\"; email = [ \"duty@recovery.example\" ];#" \
    -e "s#control_socket = \"$DAWN_SOCKET\";#control_socket = \"$DAWN_SOCKET\"; http_listen = \"127.0.0.1:$HTTP_PORT\";#" \
    -e "s#{ id = \"ambulance\"; role = \"reporter\"; }#{ id = \"ambulance\"; role = \"reporter\"; token_file = \"$D/ambulance.token\"; }#" \
        "$ROOT/conf/demo.conf" >"$D/dawn.conf"
"$DAWND" -n -c "$D/dawn.conf" || exit 1
"$DAWND" -f -c "$D/dawn.conf" 2>"$D/dawnd.log" &
pids+=($!)
wait_for "\"$DAWNCTL\" status" || { echo "dawnd did not start"; cat "$D/dawnd.log"; exit 1; }
"$DAWNCTL" status | head -n 8

step "St Mary's pharmacy's dashboard subscribes to its alerts (dawn/v1/subscribers/st-marys-pharmacy/alerts/#)"
mosquitto_sub -p "$PORT" -v -C 1 -W 20 -t 'dawn/v1/subscribers/st-marys-pharmacy/alerts/#' >"$D/pharmacy.txt" &
sub=$!
wait_for "mosquitto_sub -p $PORT -t '\$SYS/broker/subscriptions/count' -C 1 -W 2 | grep -qv '^0$'"

step "Who would hear of a critical batch alert in Southampton? (dawnctl route)"
"$DAWNCTL" route --area southampton --type batch --grade critical

step "A public-health officer issues an alert (dawnctl issue)"
echo '$ dawnctl issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology \'
echo '      --casualties 4 --fatalities 1 --appearance "light brown powder, wraps in blue cling film" \'
echo '      --advice "Carry naloxone and use it; more than one dose may be needed. Do not use alone. Call 999." \'
echo '      "Heroin circulating in Southampton city centre contains a nitazene. Four overdoses in 48 hours, one fatal."'
"$DAWNCTL" issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology \
        --casualties 4 --fatalities 1 --appearance "light brown powder, wraps in blue cling film" \
        --advice "Carry naloxone and use it; more than one dose may be needed. Do not use alone. Call 999." \
        "Heroin circulating in Southampton city centre contains a nitazene. Four overdoses in 48 hours, one fatal." || exit 1

step "It arrives on the pharmacy's dashboard topic"
wait "$sub"
if [ -s "$D/pharmacy.txt" ]; then
        topic=$(cut -d' ' -f1 "$D/pharmacy.txt")
        echo "topic: $topic"
        cut -d' ' -f2- "$D/pharmacy.txt" | /usr/bin/python3 -m json.tool
else
        echo "nothing arrived: see $D/dawnd.log"
        cat "$D/dawnd.log"
        exit 1
fi

step "Booth House's night phone gets an SMS (as the gateway received it)"
wait_for "grep -q '\"status\": 201' '$D/sms.jsonl'" || { echo "no SMS arrived: see $D/dawnd.log"; exit 1; }
/usr/bin/python3 -c 'import json,sys
r=json.loads(open(sys.argv[1]).readline())
print("to %s (reference %s):\n  %s" % (r["to"], r["reference"], r["body"]))' "$D/sms.jsonl"

step "The recovery service's duty inbox gets the full alert by email"
wait_for "ls '$D'/mail/*.eml" || { echo "no mail arrived: see $D/dawnd.log"; exit 1; }
/usr/bin/python3 -c 'import email,sys
m=email.message_from_binary_file(open(sys.argv[1],"rb"))
print("Subject:", " ".join(m["Subject"].split()))
body=m.get_payload(decode=True).decode()
print("\n".join(body.splitlines()[:14]))
print("  ...")' "$(ls "$D"/mail/*.eml | head -n 1)"

step "The officer sees exactly who was told (dawnctl show A1)"
# PUBACKs come back within milliseconds; show the final states rather than a moment in between
wait_for "! \"$DAWNCTL\" --json show A1 | grep -qE '\"state\":[[:space:]]*\"(pending|in-flight)\"'"
"$DAWNCTL" show A1

step "The ambulance service (a reporter) sends a report over the HTTP API: it waits for review"
mosquitto_sub -p "$PORT" -v -C 1 -W 20 -t 'dawn/v1/subscribers/the-haven-hostel/alerts/#' >"$D/haven.txt" &
sub=$!
echo "POST http://127.0.0.1:$HTTP_PORT/v1/alerts (Authorization: Bearer <the ambulance service's token>)"
curl -s -H "Authorization: Bearer $AMBULANCE_TOKEN" -H 'Content-Type: application/json' \
        -d '{"type":"batch","area":"portsmouth","summary":"Crews attended three people in Fratton who took blue tablets sold as diazepam; all very drowsy.","sold_as":["diazepam"],"adulterants":["bromazolam"],"evidence":"clinical","casualties":3,"source_ref":"scas-20261201-0417"}' \
        "http://127.0.0.1:$HTTP_PORT/v1/alerts"
echo
"$DAWNCTL" pending

step "A public-health officer approves it (dawnctl approve A2); the Haven hostel's dashboard gets it"
"$DAWNCTL" approve A2
wait "$sub"
/usr/bin/python3 -c 'import json,sys
line=open(sys.argv[1]).read().strip()
if not line: sys.exit("nothing arrived on the hostel topic")
topic,payload=line.split(" ",1)
a=json.loads(payload)
print(topic)
print("  %s %s %s in %s: %s" % (a["id"], a["grade"].upper(), a["type"], a["area"], a["summary"]))' "$D/haven.txt" || exit 1

step "What Prometheus would scrape (GET /metrics, a few lines)"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -E '^dawn_(intake_accepted_total|review_decisions_total|alerts\{|delivery_attempts_total)' | grep -v ' 0$' | head -n 10

step "Done: stopping dawnd and mosquitto"
