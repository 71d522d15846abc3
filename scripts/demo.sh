#!/bin/bash
# `make demo`: a local broker and dawnd on the demo config, a pharmacy's
# dashboard feed (mosquitto_sub), an alert issued with dawnctl, and the
# alert arriving. Everything runs in a temp directory on 127.0.0.1 and is
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

step "Starting dawnd on the demo config (conf/demo.conf: the pan-Hampshire area tree, 8 subscribers)"
sed -e "s#@STATE_DIR@#$D/state#" -e "s#@CONTROL_SOCKET@#$DAWN_SOCKET#" -e "s#@MQTT_PORT@#$PORT#" \
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

step "The officer sees exactly who was told (dawnctl show A1)"
# PUBACKs come back within milliseconds; show the final states rather than a moment in between
wait_for "! \"$DAWNCTL\" --json show A1 | grep -qE '\"state\":[[:space:]]*\"(pending|in-flight)\"'"
"$DAWNCTL" show A1

step "Done: stopping dawnd and mosquitto"
