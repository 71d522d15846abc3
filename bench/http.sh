#!/bin/bash
# HTTP intake: accepted alerts/s and request latency with 4 concurrent
# keep-alive clients (wrk, 2 threads), each POST one new alert (unbatched),
# durable store (WAL, synchronous=FULL), dawnd on conf/demo.conf with the
# HTTP API on a free 127.0.0.1 port and mosquitto behind it.
#
#   BUILD=build bench/http.sh          (HTTP_BENCH_SECONDS=20, HTTP_BENCH_CLIENTS=4,
#                                       BENCH_BATCH=1: alerts per request, up to 1,000)
#
# Nothing passes or fails on timing; the figures go to bench/results/http-batchN.txt
# and are discussed in bench/README.md.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
DAWND="$ROOT/$BUILD/dawnd"
SECONDS_RUN=${HTTP_BENCH_SECONDS:-20}
CLIENTS=${HTTP_BENCH_CLIENTS:-4}
for tool in mosquitto wrk /usr/bin/python3; do
        command -v $tool >/dev/null 2>&1 || { echo "bench/http.sh: $tool not found (apt-get install wrk mosquitto)" >&2; exit 2; }
done
[ -x "$DAWND" ] || { echo "bench/http.sh: $DAWND not built (make)" >&2; exit 2; }

D=$(mktemp -d "${TMPDIR:-/tmp}/dawn-bench-http.XXXXXX") || exit 2
pids=()
cleanup() {
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                kill -TERM "${pids[$i]}" 2>/dev/null
                wait "${pids[$i]}" 2>/dev/null
        done
        rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQTT_PORT=$(port)
HTTP_PORT=$(port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQTT_PORT" >"$D/mosquitto.conf"
mosquitto -c "$D/mosquitto.conf" >"$D/mosquitto.log" 2>&1 &
pids+=($!)

export BENCH_TOKEN="bench-token-$RANDOM$RANDOM"
printf '%s\n' "$BENCH_TOKEN" >"$D/partner.token"
# the issuer gets a token and no request limit: the benchmark measures dawnd, not the limiter
sed -e "s#@STATE_DIR@#$D/state#" -e "s#@MQTT_PORT@#$MQTT_PORT#" \
    -e "s#control_socket = \"@CONTROL_SOCKET@\";#control_socket = \"$D/control.sock\"; http_listen = \"127.0.0.1:$HTTP_PORT\";#" \
    -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$D/partner.token\"; rate_per_minute = 0; }#" \
    conf/demo.conf >"$D/dawn.conf"
"$DAWND" -f -c "$D/dawn.conf" 2>"$D/dawnd.log" &
pids+=($!)
for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
        sleep 0.1
done
curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null || { echo "dawnd did not start"; cat "$D/dawnd.log"; exit 1; }

mkdir -p bench/results
{
        echo "DAWN HTTP intake benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
        echo "store on $(df -PT "$D" | awk 'NR == 2 { print $2 }'), synchronous=FULL; $CLIENTS keep-alive clients, ${SECONDS_RUN} s, ${BENCH_BATCH:-1} alert(s) per request"
        wrk -t 2 -c "$CLIENTS" -d "${SECONDS_RUN}s" -s bench/http_intake.lua "http://127.0.0.1:$HTTP_PORT" 2>&1 |
                sed -n '/^requests /,$p'
        echo "dawnd peak RSS: $(awk '/VmHWM/ { print $2 " kB" }' /proc/"${pids[1]}"/status)"
} | tee "bench/results/http-batch${BENCH_BATCH:-1}.txt"
kill -0 "${pids[1]}" 2>/dev/null || { echo "dawnd stopped during the run"; tail "$D/dawnd.log"; exit 1; }
