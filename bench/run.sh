#!/bin/bash
# `make bench`: issue-to-delivery latency and intake throughput of dawnd.
#
#   BUILD=build bench/run.sh
#
# Starts mosquitto on a free 127.0.0.1 port and dawnd on conf/demo.conf (in
# a temp directory, durable store: WAL, synchronous=FULL), runs
# $BUILD/bench/dawn_bench (bench/dawn_bench.c), prints its table and writes
# it to bench/results/latest.txt. Nothing here passes or fails on timing:
# the figures are what they are (see bench/README.md).
#
# Environment: BENCH_ARGS passes options to dawn_bench (e.g. "--alerts 200
# --per-client 1000"); BENCH_STATE_DIR puts the store somewhere else (it
# defaults to the temp directory under ${TMPDIR:-/tmp}: on a tmpfs, fsync is
# free and the numbers are not those of a disk).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
DAWND="$ROOT/$BUILD/dawnd"
BENCH="$ROOT/$BUILD/bench/dawn_bench"

if [ ! -x "$DAWND" ]; then
        echo "bench/run.sh: $DAWND not built (make)" >&2
        exit 2
fi
for tool in mosquitto python3; do
        if ! command -v $tool >/dev/null 2>&1; then
                echo "bench/run.sh: $tool not found (make deps)" >&2
                exit 2
        fi
done

# ---- build the client ----
mkdir -p "$BUILD/bench" bench/results || exit 2
printf '  CC      %s\n' "$BENCH"
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter $(pkg-config --cflags libmosquitto libcjson) \
        -Iinclude -o "$BENCH" bench/dawn_bench.c $(pkg-config --libs libmosquitto libcjson) -lpthread -lm || exit 1

D=$(mktemp -d "${TMPDIR:-/tmp}/dawn-bench.XXXXXX") || exit 2
STATE=${BENCH_STATE_DIR:-$D/state}
SOCK="$D/control.sock"
pids=()
cleanup() {
        # dawnd first (SIGTERM: it commits what it has and stops), then the broker
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                kill -TERM "${pids[$i]}" 2>/dev/null
                wait "${pids[$i]}" 2>/dev/null
        done
        rm -rf "$D"
        [ -n "${BENCH_STATE_DIR:-}" ] && rm -rf "$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$PORT" >"$D/mosquitto.conf"
mosquitto -c "$D/mosquitto.conf" >"$D/mosquitto.log" 2>&1 &
pids+=($!)

sed -e "s#@STATE_DIR@#$STATE#" -e "s#@CONTROL_SOCKET@#$SOCK#" -e "s#@MQTT_PORT@#$PORT#" conf/demo.conf >"$D/dawn.conf"
"$DAWND" -f -c "$D/dawn.conf" 2>"$D/dawnd.log" &
pids+=($!)
if ! "$BENCH" ping --socket "$SOCK" --timeout 10; then
        echo "bench/run.sh: dawnd did not start:" >&2
        cat "$D/dawnd.log" >&2
        exit 1
fi

fs=$(df -PT "$STATE" 2>/dev/null | awk 'NR == 2 { print $2 " (" $1 ")" }')
{
        echo "DAWN benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
        echo "dawnd $("$DAWND" -v | awk '{ print $2 }') ($BUILD/dawnd), mosquitto on 127.0.0.1:$PORT, store on ${fs:-?}"
        echo "$("$BENCH" fsync "$STATE")"
        echo "config: conf/demo.conf (each alert in Southampton: 6 MQTT deliveries: 5 subscribers + the area feed)"
        echo
} >"$D/results.txt"
cat "$D/results.txt"

# shellcheck disable=SC2086
"$BENCH" run --socket "$SOCK" --mqtt-port "$PORT" ${BENCH_ARGS:-} | tee -a "$D/results.txt"
rc=${PIPESTATUS[0]}

if ! kill -0 "${pids[1]}" 2>/dev/null; then
        echo "bench/run.sh: dawnd stopped during the run:" >&2
        tail -n 20 "$D/dawnd.log" >&2
        rc=1
fi
cp "$D/results.txt" bench/results/latest.txt
echo
echo "written to bench/results/latest.txt"
exit "$rc"
