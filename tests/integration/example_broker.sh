# The example broker, for tests that source lib.sh and then this file:
# mosquitto run with conf/mosquitto/dawn-mosquitto.conf and its acl, only
# the ports and the paths changed. Two listeners, as in the file:
#   $MQTT_PORT     127.0.0.1, for dawnd and its /mqtt relay (client ids as asked)
#   $PARTNER_PORT  TLS, for partners and pharmacies (client id = login),
#                  with a certificate for 127.0.0.1 made here ($B/ca.crt)
# start_example_broker USER... makes a password "pw-USER" for each user
# (and for dawnd) and starts it. as_partner USER TOOL ARGS... runs
# mosquitto_pub/mosquitto_sub as USER on the partners' listener;
# as_local USER TOOL ARGS... the same on the loopback listener.

B="$T/broker"
PARTNER_PORT=${PARTNER_PORT:-$(free_port)}

start_example_broker() {
        mkdir -p "$B"
        sed -e "s#^listener 1883 127.0.0.1\$#listener $MQTT_PORT 127.0.0.1#" \
                -e "s#^listener 8883\$#listener $PARTNER_PORT 127.0.0.1#" \
                -e "s#/etc/mosquitto/dawn/#$B/#g" -e "s#/etc/mosquitto/certs/mqtt.dawn.example.org#$B/server#g" \
                "$ROOT/conf/mosquitto/dawn-mosquitto.conf" >"$B/mosquitto.conf"
        cp "$ROOT/conf/mosquitto/acl" "$B/acl"
        # as root, mosquitto would become user "mosquitto", who cannot read this test's files
        [ "$(id -u)" -eq 0 ] && echo "user root" >>"$B/mosquitto.conf"
        grep -q "^listener $MQTT_PORT 127.0.0.1\$" "$B/mosquitto.conf" &&
                grep -q "^listener $PARTNER_PORT 127.0.0.1\$" "$B/mosquitto.conf" ||
                { echo "the example conf does not have the listeners the test replaces"; exit 1; }
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
                -addext subjectAltName=IP:127.0.0.1 -keyout "$B/server.key" -out "$B/server.crt" >/dev/null 2>&1 ||
                { echo "openssl could not make a test certificate"; exit 1; }
        cp "$B/server.crt" "$B/ca.crt"
        : >"$B/passwd"
        for user in dawnd "$@"; do
                mosquitto_passwd -b "$B/passwd" "$user" "pw-$user" || { echo "mosquitto_passwd failed"; exit 1; }
        done
        printf 'pw-dawnd\n' >"$T/dawnd-mqtt-password"
        mosquitto -c "$B/mosquitto.conf" >>"$T/mosquitto.log" 2>&1 &
        BROKER_PID=$!
        wait_for "mosquitto_pub -p $MQTT_PORT -u dawnd -P pw-dawnd -t $PREFIX/test/ping -n" 10 ||
                { echo "broker did not start"; cat "$T/mosquitto.log"; exit 1; }
}

as_partner() {
        user=$1 tool=$2
        shift 2
        "$tool" -h 127.0.0.1 -p "$PARTNER_PORT" --cafile "$B/ca.crt" -u "$user" -P "pw-$user" "$@"
}
as_local() {
        user=$1 tool=$2
        shift 2
        "$tool" -h 127.0.0.1 -p "$MQTT_PORT" -u "$user" -P "pw-$user" "$@"
}

# dawn.conf logs dawnd in as "dawnd" with its password file
config_dawnd_login() {
        sed -i -e "s#client_id = \"dawnd-demo\";#client_id = \"dawnd-demo\"; username = \"dawnd\"; password_file = \"$T/dawnd-mqtt-password\";#" \
                "$T/dawn.conf"
}
