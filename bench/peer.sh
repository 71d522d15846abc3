#!/bin/bash
# Side by side with Prometheus Alertmanager (issue 12): the same wrk client
# and the same one-request-at-a-time latency client against dawnd (durable:
# WAL, synchronous=FULL, answer after commit, 6 MQTT deliveries per alert in
# conf/demo.conf) and Alertmanager 0.25 (in memory; one group per alert,
# group_wait 0s, a webhook receiver). Prints each figure and DAWN/Alertmanager.
#
#   BUILD=build bench/peer.sh     (PEER_SECONDS=10 measured after PEER_WARMUP=2,
#                                  PEER_N=500 latency probes each)
#   PEER_AM_GROUP_INTERVAL=5m ... Alertmanager's default instead of 1s
#   PEER_NO_HOOK=1 ...            no receiver for the throughput run's notifications (see below)
#   PEER_AREA=winchester ...      DAWN's alerts in another area of conf/demo.conf: Southampton
#                                  (the default) has 6 MQTT deliveries per alert, Winchester 3
#                                  (the issue's "at least 2": two subscribers and the area feed)
#   PEER_STRACE=1 BUILD=build bench/peer.sh   also counts dawnd's system calls during its
#                                  measured wrk run (strace -c -f; slows dawnd, so that run's
#                                  ingest figure is not one to quote) into bench/results/peer-strace.txt
#
# Installs nothing: `scripts/deps.sh bench` (or `make bench-deps`) brings
# prometheus-alertmanager and wrk. Nothing passes or fails on timing; the table
# goes to bench/results/peer-latest.txt and is discussed in bench/README.md.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
DAWND="$ROOT/$BUILD/dawnd"
SECS=${PEER_SECONDS:-10}
WARM=${PEER_WARMUP:-2}
export PEER_AREA=${PEER_AREA:-southampton}
N=${PEER_N:-500}
PY=/usr/bin/python3
AM=prometheus-alertmanager
for tool in mosquitto mosquitto_sub stdbuf wrk curl $AM $PY; do
        command -v "$tool" >/dev/null 2>&1 || { echo "bench/peer.sh: $tool not found (scripts/deps.sh bench)" >&2; exit 2; }
done
[ -x "$DAWND" ] || { echo "bench/peer.sh: $DAWND not built (make)" >&2; exit 2; }

D=$(mktemp -d "${TMPDIR:-/tmp}/dawn-bench-peer.XXXXXX") || exit 2
pids=()
cleanup() {
        # last started first; each gets 10 s after SIGTERM, then SIGKILL
        local i p t
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                p=${pids[$i]}
                kill -TERM "$p" 2>/dev/null || continue
                for ((t = 0; t < 100; t++)); do
                        kill -0 "$p" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_http URL SECONDS: poll until it answers 2xx, or fail
wait_http() {
        local t
        for ((t = 0; t < $2 * 10; t++)); do
                curl -sf -o /dev/null "$1" && return 0
                sleep 0.1
        done
        return 1
}
# wait_idle PID...: until together they use under 10 % of a core over 0.5 s (at most 60 s),
# so neither side's backlog (dawnd's outbox draining, Alertmanager notifying the webhook)
# runs during the other's measurement
wait_idle() {
        local t p a b tick
        tick=$(getconf CLK_TCK)
        for ((t = 0; t < 120; t++)); do
                a=0
                for p in "$@"; do a=$((a + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
                sleep 0.5
                b=0
                for p in "$@"; do b=$((b + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done
                [ $(((b - a) * 20)) -lt "$tick" ] && return 0
        done
        echo "bench/peer.sh: still busy after 60 s; measuring anyway" >&2
}
# hwm PID: peak resident set in kB
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

MQTT_PORT=$(port)
HTTP_PORT=$(port)
AM_PORT=$(port)
HOOK_PORT=$(port)
LAT_HOOK_PORT=$(port)

# ---- mosquitto + dawnd (as bench/http.sh: issuer with a token, no request limit) ----
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQTT_PORT" >"$D/mosquitto.conf"
mosquitto -c "$D/mosquitto.conf" >"$D/mosquitto.log" 2>&1 &
pids+=($!)
export BENCH_TOKEN="bench-token-$RANDOM$RANDOM"
printf '%s\n' "$BENCH_TOKEN" >"$D/partner.token"
sed -e "s#@STATE_DIR@#$D/state#" -e "s#@MQTT_PORT@#$MQTT_PORT#" \
    -e "s#control_socket = \"@CONTROL_SOCKET@\";#control_socket = \"$D/control.sock\"; http_listen = \"127.0.0.1:$HTTP_PORT\";#" \
    -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$D/partner.token\"; rate_per_minute = 0; }#" \
    conf/demo.conf >"$D/dawn.conf"
"$DAWND" -f -c "$D/dawn.conf" 2>"$D/dawnd.log" &
DAWND_PID=$!
pids+=("$DAWND_PID")

# ---- Alertmanager: every label in group_by (one group, one notification per alert),
# no group_wait; the latency probes (phase="latency") go to the latency client's receiver ----
cat >"$D/alertmanager.yml" <<YML
route:
  receiver: count
  group_by: ['...']
  group_wait: 0s
  group_interval: ${PEER_AM_GROUP_INTERVAL:-1s}
  repeat_interval: 4h
  routes:
    - matchers: ['phase="latency"']
      receiver: latency
receivers:
  - name: count
    webhook_configs: [{ url: 'http://127.0.0.1:$HOOK_PORT/', send_resolved: false }]
  - name: latency
    webhook_configs: [{ url: 'http://127.0.0.1:$LAT_HOOK_PORT/', send_resolved: false }]
YML
# PEER_NO_HOOK=1: nothing listens there, Alertmanager's notifications fail (and back off):
# its ingest without the cost of notifying, for comparison only
HOOK_PID=$$
if [ -z "${PEER_NO_HOOK:-}" ]; then
        "$PY" bench/peer_client.py webhook "$HOOK_PORT" >"$D/webhook.log" 2>&1 &
        HOOK_PID=$!
        pids+=("$HOOK_PID")
fi
# --cluster.listen-address= : no gossip peer (a lone instance, as most teams run it)
"$AM" --config.file="$D/alertmanager.yml" --storage.path="$D/am" \
        --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$D/alertmanager.log" 2>&1 &
AM_PID=$!
pids+=("$AM_PID")

wait_http "http://127.0.0.1:$HTTP_PORT/healthz" 10 || { echo "dawnd did not start:"; cat "$D/dawnd.log"; exit 1; }
wait_http "http://127.0.0.1:$AM_PORT/-/ready" 10 || { echo "alertmanager did not start:"; cat "$D/alertmanager.log"; exit 1; }

# ---- latency first, while both are idle (the throughput runs leave backlogs behind:
# dawnd's outbox drains, Alertmanager keeps 100k+ groups and their notifications) ----
lat_am=$(timeout 300 "$PY" bench/peer_client.py latency-am "$AM_PORT" "$LAT_HOOK_PORT" "$N") ||
        { echo "latency client (Alertmanager) failed"; exit 1; }
lat_dawn=$(timeout 300 "$PY" bench/peer_client.py latency-dawn "$HTTP_PORT" "$MQTT_PORT" "$N") ||
        { echo "latency client (dawnd) failed"; exit 1; }

# ---- throughput: wrk, 1 thread, 4 keep-alive connections, warm-up then the measured run ----
# thr TARGET PORT: prints "req/s p50 p99 requests refused socket-errors"
thr() {
        local spid="" t
        wait_idle "$DAWND_PID" "$AM_PID" "$HOOK_PID" "${pids[0]}"
        PEER_TARGET=$1 PEER_RUN="w$RANDOM" timeout $((WARM + 30)) wrk -t 1 -c 4 -d "${WARM}s" \
                -s bench/peer_intake.lua "http://127.0.0.1:$2" >/dev/null 2>&1
        if [ "$1" = dawn ] && [ -n "${PEER_STRACE:-}" ]; then
                strace -c -f -p "$DAWND_PID" -o "$D/strace.txt" 2>/dev/null &
                spid=$!
                pids+=("$spid")
                sleep 0.5 # strace needs a moment to attach to every thread
        fi
        PEER_TARGET=$1 PEER_RUN="m$RANDOM" timeout $((SECS + 30)) wrk -t 1 -c 4 -d "${SECS}s" \
                -s bench/peer_intake.lua "http://127.0.0.1:$2" 2>"$D/wrk-$1.err" | awk '/^PEER / { $1 = ""; print substr($0, 2) }'
        if [ -n "$spid" ]; then
                kill -INT "$spid" 2>/dev/null # strace prints its table on SIGINT
                for ((t = 0; t < 100; t++)); do
                        kill -0 "$spid" 2>/dev/null || break
                        sleep 0.1
                done
                cp "$D/strace.txt" bench/results/peer-strace.txt 2>/dev/null
        fi
}
thr_dawn=$(thr dawn "$HTTP_PORT")
thr_am=$(thr am "$AM_PORT")

for p in "$DAWND_PID" "$AM_PID"; do
        kill -0 "$p" 2>/dev/null || { echo "a server stopped during the run:"; tail "$D/dawnd.log" "$D/alertmanager.log"; exit 1; }
done
rss_dawn=$(hwm "$DAWND_PID")
# who each alert goes to, as dawnctl's dry run says (a warning: the bench's alerts name nitazene)
deliveries=$("$ROOT/$BUILD/dawnctl" --socket "$D/control.sock" route --area "$PEER_AREA" --type batch --grade warning |
        grep -c ' mqtt ')
rss_am=$(hwm "$AM_PID")
rss_mq=$(pidof_mq=${pids[0]}; hwm "$pidof_mq")

# ratio A B: A/B to 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "?" }'; }
read -r am_rps am_p50 am_p99 am_req am_ref am_err <<<"$thr_am"
read -r dw_rps dw_p50 dw_p99 dw_req dw_ref dw_err <<<"$thr_dawn"
read -r lam50 lam99 lamn lamlost lama <<<"$lat_am"
read -r ldw50 ldw99 ldwn ldwlost ldwa <<<"$lat_dawn"

mkdir -p bench/results
{
        echo "DAWN vs Alertmanager, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "dawnd: store on $(df -PT "$D" | awk 'NR == 2 { print $2 }'), synchronous=FULL, conf/demo.conf, alerts in $PEER_AREA ($deliveries MQTT deliveries each)"
        echo "alertmanager: $("$AM" --version 2>&1 | awk 'NR == 1 { print $3 }'), in memory, group_by ['...'], group_wait 0s, webhook receiver"
        echo
        printf '%-46s %12s %12s %10s\n' "" "DAWN" "Alertmanager" "DAWN/AM"
        printf '%-46s %12s %12s %10s\n' "ingest, wrk -t1 -c4 ${SECS}s, alerts/s" "$dw_rps" "$am_rps" "$(ratio "$dw_rps" "$am_rps")"
        printf '%-46s %12s %12s %10s\n' "  wrk latency p50 / p99, ms" "$dw_p50/$dw_p99" "$am_p50/$am_p99" ""
        printf '%-46s %12s %12s %10s\n' "  requests (refused, socket errors)" "$dw_req ($dw_ref, $dw_err)" "$am_req ($am_ref, $am_err)" ""
        printf '%-46s %12s %12s %10s\n' "new alert -> first recipient p50, ms (N=$N)" "$ldw50" "$lam50" "$(ratio "$ldw50" "$lam50")"
        printf '%-46s %12s %12s %10s\n' "new alert -> first recipient p99, ms" "$ldw99" "$lam99" "$(ratio "$ldw99" "$lam99")"
        printf '%-46s %12s %12s %10s\n' "  POST answered p50, ms" "$ldwa" "$lama" "$(ratio "$ldwa" "$lama")"
        printf '%-46s %12s %12s %10s\n' "  arrived / lost (5 s deadline)" "$ldwn/$ldwlost" "$lamn/$lamlost" ""
        printf '%-46s %12s %12s %10s\n' "peak RSS (VmHWM), kB" "$rss_dawn" "$rss_am" "$(ratio "$rss_dawn" "$rss_am")"
        echo "(DAWN: POST /v1/alerts -> first MQTT message via mosquitto, whose peak RSS was ${rss_mq} kB;"
        echo " Alertmanager: POST /api/v2/alerts -> webhook POST arrival)"
} | tee bench/results/peer-latest.txt
