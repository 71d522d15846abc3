# Shared by the integration tests: real peers (mosquitto, dawnd) on
# 127.0.0.1, on free ports, in a temp directory, stopped on exit.
# A test script sources this, calls start_broker / start_dawnd, then
# check "what a user would see" lines. Output is TAP-like:
#   ok - NAME / not ok - NAME (+ why)
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
DAWND="$ROOT/$BUILD/dawnd"
DAWNCTL="$ROOT/$BUILD/dawnctl"
T=$(mktemp -d /tmp/dawn-test.XXXXXX)
chmod 755 "$T" # dawnctl runs as 'nobody' in some tests and must reach the socket
export DAWN_SOCKET="$T/control.sock"
PREFIX=dawn/v1
FAILS=0
BROKER_PID=""
DAWND_PID=""

cleanup() {
        stop_dawnd 2>/dev/null
        stop_broker 2>/dev/null
        # every other background helper of this test (subscribers, listeners): a helper left
        # running would hold the runner's output pipe open
        jobs -p | xargs -r kill 2>/dev/null
        wait 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
not_ok() {
        echo "not ok - $1"
        shift
        for line in "$@"; do printf '    %s\n' "$line"; done
        FAILS=$((FAILS + 1))
}
# check NAME COMMAND...: passes when the command succeeds
check() {
        name=$1
        shift
        if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
finish() {
        [ "$FAILS" -eq 0 ]
        exit $?
}

free_port() {
        /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Polls a condition (no fixed sleeps): up to $2 seconds, every 50 ms.
wait_for() {
        cond=$1
        limit=${2:-10}
        i=0
        while ! eval "$cond" >/dev/null 2>&1; do
                i=$((i + 1))
                [ $i -gt $((limit * 20)) ] && return 1
                sleep 0.05
        done
        return 0
}

MQTT_PORT=${MQTT_PORT:-$(free_port)}

start_broker() {
        cat >"$T/mosquitto.conf" <<EOC
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
EOC
        mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.log" 2>&1 &
        BROKER_PID=$!
        wait_for "mosquitto_pub -p $MQTT_PORT -t dawn-test/ping -n" 10 || { echo "broker did not start"; cat "$T/mosquitto.log"; exit 1; }
}

stop_broker() {
        [ -n "$BROKER_PID" ] || return 0
        kill "$BROKER_PID" 2>/dev/null
        wait "$BROKER_PID" 2>/dev/null
        BROKER_PID=""
}

# The demo config with this test's paths and port; extra libconfig text
# may be appended with $1 (e.g. a different control_group).
# The HTTP API is off unless a test sets HTTP_LISTEN ("127.0.0.1:PORT") first:
# the default address would clash between tests.
write_config() {
        sed -e "s#@STATE_DIR@#$T/state#" -e "s#@CONTROL_SOCKET@#$DAWN_SOCKET#" -e "s#@MQTT_PORT@#$MQTT_PORT#" \
                -e "s#control_socket_mode = \"0660\";#control_socket_mode = \"0666\"; control_group = \"nogroup\";#" \
                -e "s#control_socket = \"\([^\"]*\)\";#control_socket = \"\1\"; http_listen = \"${HTTP_LISTEN:-}\";#" \
                "$ROOT/conf/demo.conf" >"$T/dawn.conf"
}

start_dawnd() {
        [ -f "$T/dawn.conf" ] || write_config
        "$DAWND" -f -c "$T/dawn.conf" >>"$T/dawnd.log" 2>&1 &
        DAWND_PID=$!
        wait_for "\"$DAWNCTL\" status" 10 || { echo "dawnd did not start"; cat "$T/dawnd.log"; exit 1; }
}

stop_dawnd() {
        [ -n "$DAWND_PID" ] || return 0
        kill "$DAWND_PID" 2>/dev/null
        wait "$DAWND_PID" 2>/dev/null
        DAWND_PID=""
}

kill9_dawnd() {
        kill -9 "$DAWND_PID" 2>/dev/null
        wait "$DAWND_PID" 2>/dev/null
        DAWND_PID=""
}

ctl() { "$DAWNCTL" "$@"; }

# Starts a subscriber on FILTER that records messages (topic payload) into
# FILE, and returns once the broker has the subscription: a probe topic is
# subscribed alongside, and probes are published until one comes back.
subscribe() {
        file=$1 filter=$2
        probe="dawn-test/probe/$$"
        : >"$file"
        mosquitto_sub -p "$MQTT_PORT" -v -t "$filter" -t "$probe" >"$file" 2>&1 &
        echo $! >"$file.pid"
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                mosquitto_pub -p "$MQTT_PORT" -t "$probe" -m probe
                wait_for "grep -q '^$probe' '$file'" 1 && return 0
        done
        echo "subscriber on $filter did not start"
        return 1
}
# The messages a subscriber got, without probes.
messages() { grep -v '^dawn-test/probe/' "$1"; true; }
# Waits until FILE holds at least N messages matching PATTERN (grep -E).
wait_count() {
        file=$1 pattern=$2 n=$3
        wait_for "[ \$(messages '$file' | grep -cE '$pattern') -ge $n ]" "${4:-15}"
}
unsubscribe() { kill "$(cat "$1.pid")" 2>/dev/null; wait "$(cat "$1.pid")" 2>/dev/null; true; }
# The retained messages on a filter now (one line each: topic payload).
retained() {
        mosquitto_sub -p "$MQTT_PORT" -v --retained-only -W 1 -t "$1" 2>/dev/null
        true
}

# A field of the alert dawnctl printed as JSON: json_get FILE '.path'
json_get() {
        /usr/bin/python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split(".")[1:]:
    d=d[int(k)] if isinstance(d,list) else d.get(k)
print(json.dumps(d) if isinstance(d,(list,dict)) else d)' "$1" "$2"
}
# The distinct delivery states of an alert, sorted: "delivered pending"
states() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
print(" ".join(sorted(set(d["state"] for d in json.load(sys.stdin)["deliveries"]))))'
}
# The distinct subscribers with a delivery of revision REV and action ACTION
subscribers_of() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
rev=int(sys.argv[1]); act=sys.argv[2]
print(" ".join(sorted(set(d["subscriber"] for d in json.load(sys.stdin)["deliveries"] if d["revision"]==rev and d["action"]==act and d["subscriber"]))))' "$2" "$3"
}
