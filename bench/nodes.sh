#!/bin/bash
# Intake and fan-out on each store (issue 15): SQLite (one node), PostgreSQL
# with one node, PostgreSQL with two nodes on one database. The same wrk
# client as bench/peer.sh (each request a new alert, 3 MQTT deliveries each
# in Winchester), and a fan-out of one alert to BENCH_FANOUT dashboards (MQTT,
# QoS 1, every PUBACK recorded in the store) timed from its issue to its last
# delivery. PostgreSQL is a throwaway cluster on this machine (fsync on),
# so its commits cost a local fsync as SQLite's do; a real one is a network
# round trip away. Nothing passes or fails; the table goes to
# bench/results/nodes-latest.txt and is discussed in bench/README.md.
#
#   BUILD=build bench/nodes.sh   (NODES_SECONDS=10 after NODES_WARMUP=2, BENCH_FANOUT=2000)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
DAWND="$ROOT/$BUILD/dawnd"
SECS=${NODES_SECONDS:-10}
WARM=${NODES_WARMUP:-2}
FANOUT=${BENCH_FANOUT:-2000}
PY=/usr/bin/python3
for tool in mosquitto wrk curl psql sqlite3 $PY; do
        command -v "$tool" >/dev/null 2>&1 || { echo "bench/nodes.sh: $tool not found (scripts/deps.sh bench)" >&2; exit 2; }
done
[ -x "$DAWND" ] || { echo "bench/nodes.sh: $DAWND not built (make)" >&2; exit 2; }

D=$(mktemp -d "${TMPDIR:-/tmp}/dawn-bench-nodes.XXXXXX") || exit 2
chmod 755 "$D" # the cluster runs as postgres
pids=()
cleanup() {
        local i
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                kill -TERM "${pids[$i]}" 2>/dev/null && wait "${pids[$i]}" 2>/dev/null
        done
        tests/pg/throwaway.sh stop "$D/pg"
        rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
        local t
        for ((t = 0; t < $2 * 10; t++)); do
                curl -sf -o /dev/null "$1" && return 0
                sleep 0.1
        done
        return 1
}

PG=$(tests/pg/throwaway.sh start "$D/pg" | sed 's/ dbname=[^ ]*//') || exit 1
MQTT_PORT=$(port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n' \
        "$MQTT_PORT" >"$D/mosquitto.conf"
mosquitto -c "$D/mosquitto.conf" >"$D/mosquitto.log" 2>&1 &
pids+=($!)
export BENCH_TOKEN="bench-token-$RANDOM$RANDOM"
printf '%s\n' "$BENCH_TOKEN" >"$D/partner.token"
for i in $(seq 1 "$FANOUT"); do
        echo "{ id = \"dash-$i\"; kind = \"pharmacy\"; area = \"fareham\"; mqtt = true; },"
done >"$D/dashboards.conf"

# config NAME STORE_GROUP NODE HTTP_PORT: a dawnd config in $D/NAME.conf
config() {
        sed -e "s#@STATE_DIR@#$D/state-$1#" -e "s#@MQTT_PORT@#$MQTT_PORT#" \
            -e "s#control_socket = \"@CONTROL_SOCKET@\";#control_socket = \"$D/$1.sock\"; http_listen = \"127.0.0.1:$4\"; node_id = \"$3\";#" \
            -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$D/partner.token\"; rate_per_minute = 0; }#" \
            -e "/^subscribers = (/r $D/dashboards.conf" \
            conf/demo.conf >"$D/$1.conf"
        [ -n "$2" ] && printf '%s\n' "$2" >>"$D/$1.conf"
}
# start NAME: dawnd on $D/NAME.conf; its pid in $started
start() {
        "$DAWND" -f -c "$D/$1.conf" 2>"$D/$1.log" &
        started=$!
        pids+=("$started")
}
stop_all_dawnd() {
        local p
        for p in "$@"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
}
# intake PORT...: wrk on each port at once (1 thread, 4 connections each); the summed alerts/s
intake() {
        local p
        for p in "$@"; do
                PEER_TARGET=dawn PEER_AREA=winchester PEER_RUN="w$p$RANDOM" timeout $((WARM + 30)) wrk -t 1 -c 4 -d "${WARM}s" \
                        -s bench/peer_intake.lua "http://127.0.0.1:$p" >/dev/null 2>&1 &
        done
        wait
        for p in "$@"; do
                PEER_TARGET=dawn PEER_AREA=winchester PEER_RUN="m$p$RANDOM" timeout $((SECS + 30)) wrk -t 1 -c 4 -d "${SECS}s" \
                        -s bench/peer_intake.lua "http://127.0.0.1:$p" 2>/dev/null | awk '/^PEER / { print $2 }' >"$D/rps-$p" &
        done
        wait
        cat "$D"/rps-* | awk '{ s += $1 } END { printf "%.0f", s }'
        rm -f "$D"/rps-*
}
# delivered QUERY_CMD ALERT: how many of ALERT's MQTT deliveries to dashboards are delivered
# fanout SOCKET QUERY...: issues one alert to the FANOUT dashboards through SOCKET, prints the
# seconds until every one of its deliveries was delivered (PUBACK recorded)
fanout() {
        local sock=$1 id t0 n
        shift
        t0=$(date +%s.%N)
        # critical (a high-risk adulterant, toxicology): every pharmacy's rules take it
        id=$("$ROOT/$BUILD/dawnctl" --socket "$sock" --json issue --area fareham --sold-as "bench-$RANDOM" \
                --adulterant nitazene --evidence toxicology --casualties 3 "Fan-out bench." |
                "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
        for ((t = 0; t < 1200; t++)); do
                n=$("$@" "SELECT count(*) FROM outbox WHERE alert_id = '$id' AND subscriber LIKE 'dash-%' AND state = 'delivered'")
                [ "${n:-0}" -ge "$FANOUT" ] && break
                sleep 0.05
        done
        [ "${n:-0}" -ge "$FANOUT" ] || { echo "?"; return; } # not all delivered in a minute: no figure
        awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}

# ---- SQLite, one node ----
P1=$(port)
config sqlite "" node-a "$P1"
start sqlite
S1=$started
wait_http "http://127.0.0.1:$P1/healthz" 10 || { cat "$D/sqlite.log"; exit 1; }
sq_in=$(intake "$P1")
sq_fan=$(fanout "$D/sqlite.sock" sqlite3 "$D/state-sqlite/dawn.db")
stop_all_dawnd "$S1"

# ---- PostgreSQL, one node, then two ----
psql -q -X "$PG dbname=dawn" -c "SELECT 1" >/dev/null || exit 1
store="store = { backend = \"postgresql\"; conninfo = \"$PG dbname=dawn\"; };"
PA=$(port)
PB=$(port)
config pga "$store" node-a "$PA"
config pgb "$store" node-b "$PB"
start pga
A=$started
wait_http "http://127.0.0.1:$PA/healthz" 10 || { cat "$D/pga.log"; exit 1; }
pg1_in=$(intake "$PA")
pg1_fan=$(fanout "$D/pga.sock" psql -X -A -t -q "$PG dbname=dawn" -c)
start pgb
B=$started
wait_http "http://127.0.0.1:$PB/healthz" 10 || { cat "$D/pgb.log"; exit 1; }
pg2_in=$(intake "$PA" "$PB")
pg2_fan=$(fanout "$D/pga.sock" psql -X -A -t -q "$PG dbname=dawn" -c)
stop_all_dawnd "$A" "$B"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "?" }'; }
mkdir -p bench/results
{
        echo "DAWN on each store, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "PostgreSQL $(psql -X -A -t -q "$PG dbname=dawn" -c 'SHOW server_version'), a local throwaway cluster (fsync on); intake: wrk -t1 -c4 per node, ${SECS}s"
        echo
        printf '%-44s %10s %12s %12s\n' "" "SQLite" "PG, 1 node" "PG, 2 nodes"
        printf '%-44s %10s %12s %12s\n' "intake, new alerts/s (3 MQTT deliveries each)" "$sq_in" "$pg1_in" "$pg2_in"
        printf '%-44s %10s %12s %12s\n' "  against SQLite" "1.00" "$(ratio "$pg1_in" "$sq_in")" "$(ratio "$pg2_in" "$sq_in")"
        printf '%-44s %10s %12s %12s\n' "fan-out of one alert to $FANOUT dashboards, s" "$sq_fan" "$pg1_fan" "$pg2_fan"
        printf '%-44s %10s %12s %12s\n' "  against SQLite" "1.00" "$(ratio "$pg1_fan" "$sq_fan")" "$(ratio "$pg2_fan" "$sq_fan")"
} | tee bench/results/nodes-latest.txt
