# Shared by the SMS and email integration tests (sourced after lib.sh):
# the test SMS gateway, an SMTP server, and a config with channels.sms and
# channels.email pointing at them, all on 127.0.0.1.
GW_PORT=""
SMTP_PORT=${SMTP_PORT:-$(free_port)}
SMTP_PID=""
GW_PID=""
NOTIFY_KEY="dawn_test-3d2b6c52-6e0c-4e56-a5d8-3a1c6f8f0a11-9f1d3a6e-2b4c-4d7e-8f90-123456789abc"
TEMPLATE_ID="f1c2d3e4-0000-4a5b-8c9d-0123456789ab"

start_gateway() {
        rm -f "$T/gw.port"
        /usr/bin/python3 "$ROOT/tests/gateway/sms_gateway.py" --port 0 --notify-key "$NOTIFY_KEY" \
                --record "$T/sms.jsonl" --ready-file "$T/gw.port" "$@" >>"$T/gateway.log" 2>&1 &
        GW_PID=$!
        wait_for "[ -s '$T/gw.port' ]" 10 || { echo "gateway did not start"; cat "$T/gateway.log"; exit 1; }
        GW_PORT=$(cat "$T/gw.port")
}

start_smtp() {
        rm -f "$T/smtp.port"
        mkdir -p "$T/mail"
        /usr/bin/python3 "$ROOT/tests/gateway/smtp_sink.py" --port "$SMTP_PORT" --maildir "$T/mail" \
                --record "$T/smtp.jsonl" --ready-file "$T/smtp.port" "$@" >>"$T/smtp.log" 2>&1 &
        SMTP_PID=$!
        wait_for "[ -s '$T/smtp.port' ]" 10 || { echo "smtp sink did not start"; cat "$T/smtp.log"; exit 1; }
}

stop_smtp() {
        [ -n "$SMTP_PID" ] || return 0
        kill "$SMTP_PID" 2>/dev/null
        wait "$SMTP_PID" 2>/dev/null
        SMTP_PID=""
}

# gw_fault '{"rules":[...]}'
gw_fault() {
        /usr/bin/python3 - "$GW_PORT" "$1" <<'PY'
import sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:%s/_control/faults" % sys.argv[1], data=sys.argv[2].encode(),
                             method="POST", headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
}

# How many SMS requests the gateway recorded for a number (optionally with a status,
# and a reference that starts so, e.g. A2-r2-).
sms_count() {
        /usr/bin/python3 - "$T/sms.jsonl" "$1" "${2:-}" "${3:-}" <<'PY'
import json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r.get("to") == sys.argv[2] and (not sys.argv[3] or str(r.get("status")) == sys.argv[3]) \
                and str(r.get("reference") or "").startswith(sys.argv[4]):
            n += 1
except FileNotFoundError:
    pass
print(n)
PY
}

# The config: the demo's areas, MQTT, and subscribers with SMS and email.
# $1: extra keys for channels.sms, $2: extra keys for channels.email,
# $3: extra subscriber entries (each ending in a comma), $4: extra top-level
# settings (sources, grading). HTTP_LISTEN as in lib.sh.
write_delivery_config() {
        printf '%s\n' "$NOTIFY_KEY" >"$T/notify.key"
        cat >"$T/dawn.conf" <<EOC
daemon = { state_dir = "$T/state"; control_socket = "$DAWN_SOCKET"; control_socket_mode = "0666";
           control_group = "nogroup"; timezone = "UTC"; http_listen = "${HTTP_LISTEN:-}"; };
areas = { pan-hampshire = { southampton = {}; portsmouth = {}; isle-of-wight = {};
          hampshire = { fareham = {}; gosport = {}; winchester = {}; }; }; };
channels = {
        mqtt = { host = "127.0.0.1"; port = $MQTT_PORT; };
        sms = { provider = "notify"; base_url = "http://127.0.0.1:$GW_PORT"; api_key_file = "$T/notify.key";
                template_id = "$TEMPLATE_ID"; retry_initial = "1s"; ${1:-} };
        email = { url = "smtp://127.0.0.1:$SMTP_PORT"; from = "alerts@dawn.example"; tls = "none";
                  retry_initial = "1s"; ${2:-} };
};
subscribers = (
        ${3:-}
        { id = "booth-house"; kind = "hostel"; area = "southampton"; sms = [ "+447700900123" ];
          email = [ "nights@booth-house.example" ]; mqtt = true; },
        { id = "st-marys-pharmacy"; kind = "pharmacy"; area = "southampton"; sms = [ "+447700900124" ]; },
        { id = "recovery-service"; kind = "treatment"; area = "pan-hampshire";
          email = [ "duty@recovery.example" ]; },
        { id = "the-haven-hostel"; kind = "hostel"; area = "portsmouth"; sms = [ "+447700900125" ];
          email = [ "office@haven.example" ]; }
);
${4:-}
EOC
}
