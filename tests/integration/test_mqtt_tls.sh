#!/bin/bash
# TLS to the MQTT broker (channels.mqtt.tls, ca_file, cert_file, key_file):
# a real mosquitto with TLS listeners whose certificates come from a
# throwaway CA made here. With tls = "required" and that CA, an alert
# reaches a subscriber (mosquitto_sub --cafile); with another CA, or a
# broker certificate for another name, dawnd refuses to connect, says why
# in its status and log, and the outbox keeps the deliveries until a
# reload puts the right CA back; a broker that requires a client
# certificate takes dawnd's and refuses dawnd without one. `dawnd -n`
# refuses bad values naming the key.
. "$(dirname "$0")/lib.sh"

# ---- a CA, a second one nobody trusts, and the certificates they sign ----
P="$T/pki"
mkdir -p "$P"
make_ca() {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                -subj "/O=Test NHS Trust/CN=$2" -addext basicConstraints=critical,CA:TRUE \
                -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$P/$1.key" -out "$P/$1.crt" >/dev/null 2>&1
}
# sign NAME CA SUBJECT_ALT_NAME EXTENDED_KEY_USAGE
sign() {
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
                -keyout "$P/$1.key" -out "$P/$1.csr" >/dev/null 2>&1 &&
                printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "$3" "$4" >"$P/$1.ext" &&
                openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.crt" -CAkey "$P/$2.key" -CAcreateserial -days 2 \
                        -extfile "$P/$1.ext" -out "$P/$1.crt" >/dev/null 2>&1
}
{ make_ca ca "Test Root CA" && make_ca rogue "Rogue CA" &&
        sign server ca IP:127.0.0.1 serverAuth &&
        sign elsewhere ca DNS:mqtt.elsewhere.example serverAuth &&
        sign dawnd-node ca DNS:dawnd-node clientAuth; } ||
        { echo "openssl could not make the test CA"; exit 1; }
chmod 600 "$P"/*.key

# ---- the broker: three TLS listeners on 127.0.0.1 ----
#   TLS_PORT    the server's certificate, no client certificate asked for
#   CERT_PORT   the same, and a client certificate from the CA required
#   WRONG_PORT  a certificate from the CA, but for another host name
TLS_PORT=$(free_port)
CERT_PORT=$(free_port)
WRONG_PORT=$(free_port)
cat >"$T/mosquitto.conf" <<EOC
allow_anonymous true
persistence false
listener $TLS_PORT 127.0.0.1
cafile $P/ca.crt
certfile $P/server.crt
keyfile $P/server.key
listener $CERT_PORT 127.0.0.1
cafile $P/ca.crt
certfile $P/server.crt
keyfile $P/server.key
require_certificate true
listener $WRONG_PORT 127.0.0.1
cafile $P/ca.crt
certfile $P/elsewhere.crt
keyfile $P/elsewhere.key
EOC
# as root, mosquitto would become user "mosquitto", who cannot read this test's keys
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$T/mosquitto.conf"
mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.log" 2>&1 &
BROKER_PID=$!
wait_for "mosquitto_pub -h 127.0.0.1 -p $TLS_PORT --cafile '$P/ca.crt' -t dawn-test/ping -n" 10 ||
        { echo "broker did not start"; cat "$T/mosquitto.log"; exit 1; }
check "the broker speaks TLS only" \
        bash -c "! mosquitto_pub -h 127.0.0.1 -p $TLS_PORT -t dawn-test/ping -n 2>/dev/null"
check "and its certificate chains to the test CA only" \
        bash -c "openssl verify -CAfile '$P/ca.crt' '$P/server.crt' >/dev/null && ! openssl verify '$P/server.crt' >/dev/null 2>&1"

# A subscriber over TLS, as lib.sh's subscribe(): returns once the broker has
# its subscription (a probe published until it comes back).
subscribe_tls() {
        file=$1 filter=$2
        probe="dawn-test/probe/$$"
        : >"$file"
        mosquitto_sub -h 127.0.0.1 -p "$TLS_PORT" --cafile "$P/ca.crt" -v -t "$filter" -t "$probe" >"$file" 2>&1 &
        echo $! >"$file.pid"
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                mosquitto_pub -h 127.0.0.1 -p "$TLS_PORT" --cafile "$P/ca.crt" -t "$probe" -m probe
                wait_for "grep -q '^$probe' '$file'" 1 && return 0
        done
        echo "subscriber on $filter did not start"
        return 1
}
# alert ID DRUG ADULTERANT: a new alert each (another drug or adulterant, so
# that dedup does not make it a revision of the last), which must get ID
alert() {
        ctl --json issue --area southampton --sold-as "$2" --adulterant "$3" --evidence toxicology \
                --casualties 3 "$2 in Southampton contains $3." >"$T/$1.json"
        [ "$(json_get "$T/$1.json" .id)" = "$1" ] || not_ok "the alert is $1" "$(cat "$T/$1.json")"
}
# whether the subscriber has had alert ID
heard() { messages "$T/sub" | grep -q "^$PREFIX/alerts/.*/$1 "; }
mqtt_status() { ctl status | grep -A1 '^  mqtt:'; }
# the MQTT deliveries of an alert, by state: "delivered pending"
mqtt_states() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
print(" ".join(sorted(set(d["state"] for d in json.load(sys.stdin)["deliveries"] if d["channel"]=="mqtt"))))'
}
# set_mqtt TEXT: channels.mqtt's TLS settings (after client_id) become TEXT
set_mqtt() {
        sed -i -e "s#client_id = \"dawnd-demo\";.*#client_id = \"dawnd-demo\"; $1#" "$T/dawn.conf"
}
set_port() { sed -i -e "s#port = [0-9]*;#port = $1;#" "$T/dawn.conf"; }

HTTP_PORT=$(free_port)
MQTT_PORT=$TLS_PORT HTTP_LISTEN="127.0.0.1:$HTTP_PORT" write_config
set_mqtt "tls = \"required\"; ca_file = \"$P/ca.crt\";"
check "the config asks for TLS with the test CA" grep -q "tls = \"required\"; ca_file = \"$P/ca.crt\";" "$T/dawn.conf"

# ---- dawnd -n: bad values refused by name ----
check "dawnd -n accepts it" "$DAWND" -n -c "$T/dawn.conf"
refused() { # refused NAME TLS-SETTINGS MESSAGE
        cp "$T/dawn.conf" "$T/bad.conf"
        sed -i -e "s#client_id = \"dawnd-demo\";.*#client_id = \"dawnd-demo\"; $2#" "$T/bad.conf"
        "$DAWND" -n -c "$T/bad.conf" >"$T/bad.out" 2>&1
        rc=$?
        if [ $rc -ne 0 ] && grep -qF "$3" "$T/bad.out"; then ok "$1"; else not_ok "$1" "exit $rc" "$(cat "$T/bad.out")"; fi
}
refused "dawnd -n refuses tls = \"maybe\"" 'tls = "maybe";' 'channels.mqtt.tls must be "required" or "none"'
refused "a cert_file without key_file" "tls = \"required\"; cert_file = \"$P/dawnd-node.crt\";" \
        "channels.mqtt.cert_file: give key_file too, or neither"
refused "a ca_file that is not there" "tls = \"required\"; ca_file = \"$P/none.crt\";" \
        "channels.mqtt.ca_file: $P/none.crt: cannot read it: No such file"
refused "a key that is not the certificate's" \
        "tls = \"required\"; cert_file = \"$P/dawnd-node.crt\"; key_file = \"$P/server.key\";" \
        "channels.mqtt.key_file: $P/server.key: not the key of the certificate in cert_file"
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
        # as root every file is readable: the key's permissions are tried as nobody
        cp "$T/dawn.conf" "$T/nobody.conf"
        sed -i -e "s#client_id = \"dawnd-demo\";.*#client_id = \"dawnd-demo\"; tls = \"required\"; cert_file = \"$P/dawnd-node.crt\"; key_file = \"$P/dawnd-node.key\";#" \
                "$T/nobody.conf"
        chmod 755 "$P"
        chmod 644 "$T/nobody.conf" "$P/dawnd-node.crt"
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$DAWND" -n -c "$T/nobody.conf" >"$T/nobody.out" 2>&1
        check "a key_file dawnd may not read is refused by name (as nobody)" \
                grep -qF "channels.mqtt.key_file: $P/dawnd-node.key: cannot read it: Permission denied" "$T/nobody.out"
        check "and nothing of the key is shown" bash -c "! grep -q 'PRIVATE KEY' '$T/nobody.out'"
fi

# ---- with the CA: the alert goes over TLS ----
subscribe_tls "$T/sub" "$PREFIX/alerts/#"
start_dawnd
check "dawnd is connected to the broker over TLS" \
        wait_for "mqtt_status | grep -q 'connected to 127.0.0.1:$TLS_PORT over TLS'" 15
check "and its log says so" grep -q "MQTT: connected to 127.0.0.1:$TLS_PORT over TLS" "$T/dawnd.log"
check "and that it trusts the CA as well as the system's" \
        grep -q "channels.mqtt: trusting 1 certificate from $P/ca.crt as well as the system's" "$T/dawnd.log"
# The dashboard relay (/mqtt) speaks plain TCP to the broker: not towards a TLS one
check "dawnd says the dashboard relay is off, and what to do" \
        grep -q "the dashboard relay (/mqtt) is off: it does not speak TLS.*daemon.dashboard_broker_url" "$T/dawnd.log"
code=$(curl -s -m 5 -o "$T/relay.json" -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
        -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
        -H 'Sec-WebSocket-Protocol: mqtt' "http://127.0.0.1:$HTTP_PORT/mqtt")
check "a dashboard's WebSocket to /mqtt is refused at once (503), saying why" \
        bash -c "[ '$code' = 503 ] && grep -q 'does not speak TLS to the broker' '$T/relay.json'"
alert A1 heroin nitazene
check "the subscriber (mosquitto_sub --cafile) has A1" wait_count "$T/sub" "^$PREFIX/alerts/.*/A1 " 1
check "A1's MQTT deliveries are delivered" wait_for '[ "$(mqtt_states A1)" = delivered ]' 15

# ---- a CA that did not sign the broker's certificate: refused, said, kept ----
set_mqtt "tls = \"required\"; ca_file = \"$P/rogue.crt\";"
ctl reload >/dev/null
check "with the wrong CA dawnd does not connect, and its status says why" \
        wait_for "mqtt_status | grep -q 'disconnected from 127.0.0.1:$TLS_PORT over TLS: TLS: .*certificate verify failed'" 15
check "its log says so too" \
        wait_for "grep -q 'MQTT: cannot connect to 127.0.0.1:$TLS_PORT over TLS: TLS: .*certificate verify failed' '$T/dawnd.log'" 5
alert A2 cocaine xylazine
check "A2's MQTT deliveries wait in the outbox" wait_for '[ "$(mqtt_states A2)" = pending ]' 10
check "and the subscriber has nothing of A2" eval '! heard A2'
# ---- the right CA back: what waited goes ----
set_mqtt "tls = \"required\"; ca_file = \"$P/ca.crt\";"
ctl reload >/dev/null
check "a reload with the right CA connects again" \
        wait_for "mqtt_status | grep -q 'connected to 127.0.0.1:$TLS_PORT over TLS'" 15
check "and A2 reaches the subscriber" wait_count "$T/sub" "^$PREFIX/alerts/.*/A2 " 1
check "A2's MQTT deliveries are delivered" wait_for '[ "$(mqtt_states A2)" = delivered ]' 15

# ---- the right CA, but the certificate is for another host: refused ----
signed_in() { grep -c 'New client connected from .* as dawnd-demo' "$T/mosquitto.log"; }
n=$(signed_in)
check "the broker logs dawnd's sign-ins (two so far)" test "$n" -ge 2
set_port "$WRONG_PORT"
ctl reload >/dev/null
check "a certificate for another host name is refused (the name is checked)" \
        wait_for "mqtt_status | grep -q 'disconnected from 127.0.0.1:$WRONG_PORT over TLS: TLS: host name verification failed'" 15
check "and dawnd never sent its CONNECT there" test "$(signed_in)" -eq "$n"

# ---- a broker that requires a client certificate ----
set_port "$CERT_PORT"
ctl reload >/dev/null
check "without a client certificate dawnd is refused" \
        wait_for "mqtt_status | grep -q 'disconnected from 127.0.0.1:$CERT_PORT over TLS: TLS: .*certificate required'" 15
alert A3 heroin fentanyl
check "A3's MQTT deliveries wait" wait_for '[ "$(mqtt_states A3)" = pending ]' 10
set_mqtt "tls = \"required\"; ca_file = \"$P/ca.crt\"; cert_file = \"$P/dawnd-node.crt\"; key_file = \"$P/dawnd-node.key\";"
check "dawnd -n accepts the client certificate" "$DAWND" -n -c "$T/dawn.conf"
ctl reload >/dev/null
check "with its certificate dawnd is let in" \
        wait_for "mqtt_status | grep -q 'connected to 127.0.0.1:$CERT_PORT over TLS'" 15
check "and A3 reaches the subscriber" wait_count "$T/sub" "^$PREFIX/alerts/.*/A3 " 1
check "A3's MQTT deliveries are delivered" wait_for '[ "$(mqtt_states A3)" = delivered ]' 15
check "dawnd's log holds nothing of its key" bash -c "! grep -q 'PRIVATE KEY' '$T/dawnd.log'"

# ---- a key gone after the check: the next connection says which files to look at ----
mv "$P/dawnd-node.key" "$P/dawnd-node.key.away"
stop_broker
check "with the broker gone dawnd is disconnected" wait_for "mqtt_status | grep -q 'disconnected from 127.0.0.1:$CERT_PORT over TLS'" 10
mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.log" 2>&1 &
BROKER_PID=$!
check "a key file gone since the check is named as the reason" \
        wait_for "mqtt_status | grep -q \"over TLS: TLS: cannot read channels.mqtt's ca_file, cert_file or key_file\"" 15
finish
