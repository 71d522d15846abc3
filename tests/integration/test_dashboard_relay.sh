#!/bin/bash
# dawnd's side of the pharmacy dashboard, without a browser: the page's
# files with a strict Content-Security-Policy, /config.json, and the /mqtt
# WebSocket relay, spoken to byte by byte (tests/dashboard/ws_client.py):
# the broker behind it still authenticates each pharmacy and applies the
# example ACL; handshakes and frames no browser would send are refused.
. "$(dirname "$0")/lib.sh"

start_example_broker st-marys-pharmacy fratton-pharmacy

# a dashboard directory of its own: the test checks what is served, not how it was built
mkdir -p "$T/dashboard"
printf '<!doctype html><title>DAWN</title>\n' >"$T/dashboard/index.html"
printf 'console.log("app");\n' >"$T/dashboard/app.js"
printf 'body{}\n' >"$T/dashboard/style.css"
printf 'secret\n' >"$T/dashboard/notes.txt"
HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
write_config
config_dawnd_login
sed -i -e "s#http_listen = \"$HTTP_LISTEN\";#http_listen = \"$HTTP_LISTEN\"; dashboard_dir = \"$T/dashboard\";#" \
        -e '/id = "st-marys-pharmacy"/{n;s#quiet_hours = "19:00-08:30"; ##}' "$T/dawn.conf"
start_dawnd
WS() { /usr/bin/python3 "$ROOT/tests/dashboard/ws_client.py" "$HTTP_LISTEN" "$@"; }

# ---- the page ----
code=$(curl -s -D "$T/h.txt" -o "$T/index.html" -w '%{http_code}' "$API/")
check "GET / serves the page" test "$code" = 200 -a "$(cat "$T/index.html")" = '<!doctype html><title>DAWN</title>'
check "as HTML" grep -qi '^Content-Type: text/html; charset=utf-8' "$T/h.txt"
check "with a Content-Security-Policy that allows nothing from elsewhere" \
        grep -qi "^Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'" "$T/h.txt"
check "the script is served as JavaScript" bash -c "curl -s -D - -o /dev/null '$API/app.js' | grep -qi '^Content-Type: text/javascript'"
check "a file dawnd does not serve is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$API/notes.txt")" = 404
check "no way out of the directory" test "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$API/../../etc/passwd")" = 404
code=$(curl -s -o "$T/missing.json" -w '%{http_code}' "$API/mqtt.min.js")
check "a file not built yet is 404, saying how to build it" \
        bash -c "[ $code = 404 ] && grep -q 'make dashboard' '$T/missing.json'"
curl -s "$API/config.json" >"$T/config.json"
check "/config.json gives the topic prefix and the relay as the way to the broker" \
        test "$(json_get "$T/config.json" .topic_prefix) $(json_get "$T/config.json" .broker_url)" = "dawn/v1 None"

# ---- the relay: a pharmacy logs in through it, and gets its own alerts ----
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Southampton contains a nitazene." >"$T/a1.json"
id=$(json_get "$T/a1.json" .id)
check "the alert reached st-marys' topic" wait_for \
        "[ -n \"\$(mosquitto_sub -p $MQTT_PORT -u dawnd -P pw-dawnd -t $PREFIX/subscribers/st-marys-pharmacy/alerts/$id --retained-only -C 1 -W 1)\" ]" 10
WS mqtt st-marys-pharmacy pw-st-marys-pharmacy "$PREFIX/subscribers/st-marys-pharmacy/alerts/#" >"$T/ws1.txt" 2>&1
check "through /mqtt the pharmacy logs in to the broker (CONNACK 0)" grep -q '^connack 0$' "$T/ws1.txt"
check "and receives its retained alert" grep -q "^$PREFIX/subscribers/st-marys-pharmacy/alerts/$id $id\$" "$T/ws1.txt"
check "the broker sees the relay's client id, not the page's" \
        grep -q "as dawn-st-marys-pharmacy-[0-9a-f]\{16\} (p2, c1, k30, u'st-marys-pharmacy')" "$T/mosquitto.log"
WS mqtt st-marys-pharmacy pw-st-marys-pharmacy "$PREFIX/subscribers/st-marys-pharmacy/alerts/#" tab-5 5 >"$T/ws5.txt" 2>&1
check "an MQTT 5 login works too (CONNACK 0)" grep -q '^connack 0$' "$T/ws5.txt"
check "and receives the retained alert" grep -q "^$PREFIX/subscribers/st-marys-pharmacy/alerts/$id $id\$" "$T/ws5.txt"
check "the kept session it asked for was made a clean one (p5, c1)" \
        grep -q "as dawn-st-marys-pharmacy-[0-9a-f]\{16\} (p5, c1, k30, u'st-marys-pharmacy')" "$T/mosquitto.log"
WS mqtt st-marys-pharmacy wrong-password "$PREFIX/subscribers/st-marys-pharmacy/alerts/#" >"$T/ws2.txt" 2>&1
check "a wrong password is refused by the broker (CONNACK 5, not authorised)" grep -q '^connack 5$' "$T/ws2.txt"
mosquitto_pub -p "$MQTT_PORT" -u dawnd -P pw-dawnd -t "$PREFIX/subscribers/st-marys-pharmacy/alerts/Z9" -r -q 1 \
        -m '{"id":"Z9"}'
# st-marys' topics first, then the status: had the ACL let fratton read st-marys', Z9 would come first
WS mqtt fratton-pharmacy pw-fratton-pharmacy "$PREFIX/subscribers/st-marys-pharmacy/alerts/#,$PREFIX/status" >"$T/ws3.txt" 2>&1
check "another pharmacy logs in, and can read the daemon's status" grep -q "^$PREFIX/status" "$T/ws3.txt"
check "but the broker's ACL gives it nothing of st-marys'" bash -c "! grep -q '/alerts/' '$T/ws3.txt'"
mosquitto_pub -p "$MQTT_PORT" -u dawnd -P pw-dawnd -t "$PREFIX/subscribers/st-marys-pharmacy/alerts/Z9" -r -n

# ---- what no browser sends ----
check "no Upgrade header: 426" bash -c "WS() { /usr/bin/python3 '$ROOT/tests/dashboard/ws_client.py' '$HTTP_LISTEN' \"\$@\"; }
        WS handshake 'Upgrade:' | grep -q ' 426 '"
check "no mqtt subprotocol: 400" bash -c "/usr/bin/python3 '$ROOT/tests/dashboard/ws_client.py' '$HTTP_LISTEN' handshake 'Sec-WebSocket-Protocol: chat' | grep -q ' 400 '"
check "a malformed key: 400" bash -c "/usr/bin/python3 '$ROOT/tests/dashboard/ws_client.py' '$HTTP_LISTEN' handshake 'Sec-WebSocket-Key: nope' | grep -q ' 400 '"
check "a page from another site: 403" bash -c "/usr/bin/python3 '$ROOT/tests/dashboard/ws_client.py' '$HTTP_LISTEN' handshake 'Origin: https://evil.example' | grep -q ' 403 '"
check "an unmasked frame is a protocol error (close 1002)" test "$(WS raw 820178)" = "close 1002"
check "a text frame is refused (close 1003)" test "$(WS raw 8181000000004d)" = "close 1003"
# a binary frame announcing 1 MiB: over the relay's frame limit
check "a frame over the limit is refused (close 1009)" test "$(WS raw 82ff0000000000100000deadbeef)" = "close 1009"
# an MQTT 3.1 CONNECT (MQIsdp), and a PINGREQ before any CONNECT, each in one masked frame
check "an MQTT 3.1 CONNECT is refused (close 1002)" \
        test "$(WS raw 829200000000101000064d51497364700302003c00026162)" = "close 1002"
check "a first packet other than CONNECT is refused (close 1002)" test "$(WS raw 828200000000c000)" = "close 1002"
check "a ping is answered with a pong" test "$(WS raw 898100000000aa)" = "frame 10"
check "dawnd is still serving" test "$(curl -s -o /dev/null -w '%{http_code}' "$API/healthz")" = 200
finish
