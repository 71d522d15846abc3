#!/bin/bash
# One critical alert fanned out to 10,000 recipients on one channel at a time:
# time until the peer has all of them, dawnd's CPU per 1,000 deliveries, and
# dawnd's peak RSS. Measures; nothing passes or fails on timing.
#
#   BUILD=build bench/fanout.sh [mqtt|sms|email|ratelimited|capacity|all]...
#
#   mqtt         mosquitto; a mosquitto_sub on <prefix>/subscribers/+/alerts/+
#                timestamps what it receives (QoS 0, broker queues unlimited)
#   sms          the test SMS gateway (tests/gateway/sms_gateway.py, no rate
#                limit) whose record file counts the 201s: at max_in_flight
#                1024 and at the default 32 (sms-if-32) through bench/fanout/
#                sms_gateway_backlog.py (the same gateway with a listen backlog
#                of 4096), then at 1024 against the gateway as it is (backlog 5:
#                most of 1,024 connections at once stall 15 s, see that file)
#   email        tests/gateway/smtp_sink.py (aiosmtpd, through bench/fanout/
#                smtp_sink_backlog.py; its record file counts the 250s), then
#                postfix's smtp-sink if it is installed (its -c counters, read
#                from a FIFO and timestamped, count the messages), at
#                max_in_flight 256 and 32 (email-smtp-sink-if-32)
#   ratelimited  10,000 SMS at rate_per_minute = 3000 (over 200 s): total time
#                against the 200 s floor, and the most requests the gateway saw
#                in any 60 s window
#   capacity     each peer without dawnd: curl --parallel (keep-alive, 32 and
#                256 at once) sends it 10,000 requests / messages, so that the
#                reader knows whether dawnd or the peer limited a figure
#   all          (the default) mqtt sms email capacity: everything but ratelimited
#
# Every run has its own mosquitto (free 127.0.0.1 port), peer, state directory
# and dawnd (`$BUILD/dawnd -f`), subscribers each with only that channel,
# max_in_flight at the most the config allows for it (mqtt 16384, sms 1024,
# email 256), rate_per_minute = 0 except ratelimited. t0 is taken just before
# `dawnctl issue`; "all delivered" is the peer's own time of the N-th
# delivery; then `dawnctl --json status` must show N delivered and none failed.
# dawnd's CPU is utime+stime from /proc/PID/stat (before the issue, after
# that status), its peak RSS VmHWM from /proc/PID/status at the end.
#
# The table goes to standard output and bench/results/fanout.txt (with
# FANOUT_PERF set: bench/results/fanout-perf.txt).
# Environment: FANOUT_N (default 10000) recipients; FANOUT_PERF=1 also records
# dawnd with `perf record -e cpu-clock --call-graph dwarf` and writes the
# profile to bench/results/fanout-perf-CASE.txt; FANOUT_PERF=epoll records
# dawnd's epoll_wait returns (tracepoint) and adds to the notes how many
# calls and how many ready descriptors per call (perf costs dawnd time:
# figures from such runs are not the reference ones); TMPDIR for the state
# directories;
# FANOUT_KEEP=1 keeps the temp directory (logs, records) and says where;
# FANOUT_MQTT_IN_FLIGHT, FANOUT_SMS_IN_FLIGHT, FANOUT_EMAIL_IN_FLIGHT replace
# the max_in_flight values above.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
case $BUILD in
/*) BUILD_DIR=$BUILD ;;        # an absolute path: binaries built elsewhere (e.g. a clean checkout)
*) BUILD_DIR="$ROOT/$BUILD" ;;
esac
DAWND="$BUILD_DIR/dawnd"
DAWNCTL="$BUILD_DIR/dawnctl"
HELPER="$ROOT/bench/fanout/fanout.py"
N=${FANOUT_N:-10000}
PY=/usr/bin/python3
NOTIFY_KEY="dawn_test-3d2b6c52-6e0c-4e56-a5d8-3a1c6f8f0a11-9f1d3a6e-2b4c-4d7e-8f90-123456789abc"
TEMPLATE_ID="f1c2d3e4-0000-4a5b-8c9d-0123456789ab"
PREFIX=dawn/v1
SMTP_SINK=$(command -v smtp-sink || { [ -x /usr/sbin/smtp-sink ] && echo /usr/sbin/smtp-sink; })
TICKS=$(getconf CLK_TCK)

modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(all)
want=()
for m in "${modes[@]}"; do
        case $m in
        all) want+=(mqtt sms email capacity) ;;
        mqtt | sms | email | ratelimited | capacity) want+=("$m") ;;
        *)
                echo "usage: bench/fanout.sh [mqtt|sms|email|ratelimited|capacity|all]..." >&2
                exit 2
                ;;
        esac
done

if [ ! -x "$DAWND" ] || [ ! -x "$DAWNCTL" ]; then
        echo "bench/fanout.sh: $DAWND or $DAWNCTL not built (make)" >&2
        exit 2
fi
for tool in mosquitto mosquitto_sub mosquitto_pub curl $PY; do
        if ! command -v "$tool" >/dev/null 2>&1; then
                echo "bench/fanout.sh: $tool not found (make deps)" >&2
                exit 2
        fi
done

D=$(mktemp -d "${TMPDIR:-/tmp}/dawn-fanout.XXXXXX") || exit 2
chmod 755 "$D"
pids=()      # everything started, in order; stopped in reverse
RESULTS="$D/results.txt"
ROWS="$D/rows.txt"
CAPS="$D/caps.txt"
NOTES="$D/notes.txt"
: >"$ROWS"
: >"$CAPS"
: >"$NOTES"

stop_pid() {
        [ -n "${1:-}" ] || return 0
        kill -TERM "$1" 2>/dev/null
        for _ in $(seq 1 100); do
                kill -0 "$1" 2>/dev/null || break
                sleep 0.05
        done
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        return 0
}
# stops what this run started (dawnd first: it was started last)
stop_run() {
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
                stop_pid "${pids[$i]}"
        done
        pids=()
}
cleanup() {
        stop_run
        if [ "${FANOUT_KEEP:-0}" = 1 ]; then echo "kept $D" >&2; else rm -rf "$D"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
        $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_for COND SECONDS: polls every 20 ms
wait_for() {
        local i=0 limit=$(($2 * 50))
        while ! eval "$1" >/dev/null 2>&1; do
                i=$((i + 1))
                [ $i -gt $limit ] && return 1
                sleep 0.02
        done
        return 0
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
note() { echo "$*" | tee -a "$NOTES" >&2; }

# ---- the peers ----
start_broker() { # $1 run dir
        MQTT_PORT=$(free_port)
        # no limits on what the broker queues for the counting subscriber
        printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n' \
                "$MQTT_PORT" >"$1/mosquitto.conf"
        mosquitto -c "$1/mosquitto.conf" >"$1/mosquitto.log" 2>&1 &
        BROKER_PID=$!
        pids+=("$BROKER_PID")
        wait_for "mosquitto_pub -p $MQTT_PORT -t dawn-bench/ping -n" 10 || {
                echo "bench/fanout.sh: mosquitto did not start" >&2
                cat "$1/mosquitto.log" >&2
                exit 1
        }
}

# GATEWAY=stock: tests/gateway/sms_gateway.py as it is (listen backlog 5);
# anything else: the same through bench/fanout/sms_gateway_backlog.py (backlog 4096)
start_gateway() { # $1 run dir, $2 record file
        rm -f "$1/gw.port"
        local gw="$ROOT/bench/fanout/sms_gateway_backlog.py"
        [ "${GATEWAY:-}" = stock ] && gw="$ROOT/tests/gateway/sms_gateway.py"
        $PY "$gw" --port 0 --notify-key "$NOTIFY_KEY" --quiet \
                --record "$2" --ready-file "$1/gw.port" >>"$1/gateway.log" 2>&1 &
        PEER_PID=$!
        pids+=("$PEER_PID")
        wait_for "[ -s '$1/gw.port' ]" 10 || {
                echo "bench/fanout.sh: the SMS gateway did not start" >&2
                cat "$1/gateway.log" >&2
                exit 1
        }
        GW_PORT=$(cat "$1/gw.port")
}

# SINK=stock: tests/gateway/smtp_sink.py as it is (asyncio's backlog of 100);
# anything else: the same through bench/fanout/smtp_sink_backlog.py (backlog 4096)
start_smtp_sink_py() { # $1 run dir, $2 record file
        rm -f "$1/smtp.port"
        mkdir -p "$1/mail"
        local sink="$ROOT/bench/fanout/smtp_sink_backlog.py"
        [ "${SINK:-}" = stock ] && sink="$ROOT/tests/gateway/smtp_sink.py"
        $PY "$sink" --port 0 --maildir "$1/mail" --record "$2" \
                --ready-file "$1/smtp.port" >>"$1/smtp.log" 2>&1 &
        PEER_PID=$!
        pids+=("$PEER_PID")
        wait_for "[ -s '$1/smtp.port' ]" 10 || {
                echo "bench/fanout.sh: smtp_sink.py did not start" >&2
                cat "$1/smtp.log" >&2
                exit 1
        }
        SMTP_PORT=$(cat "$1/smtp.port")
}

# postfix's smtp-sink: throws messages away; -c prints its counters after every
# event, which the helper reads from a FIFO and timestamps (-M would exit on the
# last "." before answering it).
start_smtp_sink_postfix() { # $1 run dir, $2 result file (written when N messages are in)
        SMTP_PORT=$(free_port)
        mkfifo "$1/sink.fifo"
        $PY "$HELPER" wait smtpsink "$N" "$2" 600 <"$1/sink.fifo" &
        pids+=($!)
        local user=()
        [ "$(id -u)" -eq 0 ] && user=(-u nobody)
        "$SMTP_SINK" "${user[@]}" -c -m 2048 "127.0.0.1:$SMTP_PORT" 2048 >"$1/sink.fifo" 2>"$1/smtp-sink.log" &
        PEER_PID=$!
        pids+=("$PEER_PID")
        wait_for "(exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT)" 10 || {
                echo "bench/fanout.sh: smtp-sink did not start" >&2
                cat "$1/smtp-sink.log" >&2
                exit 1
        }
}

start_dawnd() { # $1 run dir
        export DAWN_SOCKET="$1/control.sock"
        "$DAWND" -n -c "$1/dawn.conf" >"$1/check.log" 2>&1 || {
                echo "bench/fanout.sh: the generated config is refused:" >&2
                head -n 20 "$1/check.log" >&2
                exit 1
        }
        "$DAWND" -f -c "$1/dawn.conf" 2>"$1/dawnd.log" &
        DAWND_PID=$!
        pids+=("$DAWND_PID")
        wait_for "'$DAWNCTL' --json status | grep -q '\"ready\":[[:space:]]*true'" 20 || {
                echo "bench/fanout.sh: dawnd did not start (or a channel is not ready):" >&2
                tail -n 20 "$1/dawnd.log" >&2
                exit 1
        }
}

write_config() { # $1 run dir, $2 channel, $3 max_in_flight, $4 rate_per_minute
        printf '%s\n' "$NOTIFY_KEY" >"$1/notify.key"
        $PY "$HELPER" config "$2" "$N" "$1/dawn.conf" state="$1/state" socket="$1/control.sock" \
                mqtt_port="$MQTT_PORT" gw_port="${GW_PORT:-0}" smtp_port="${SMTP_PORT:-0}" \
                key_file="$1/notify.key" template="$TEMPLATE_ID" in_flight="$3" rate="$4"
}

# ---- one measured fan-out ----
# measure CASE CHANNEL EXPECTED RESULT_FILE TIMEOUT TARGET_S
#   EXPECTED: deliveries dawnd must count as delivered on CHANNEL
#   RESULT_FILE: "count first_t last_t" written by the peer-side waiter
measure() {
        local name=$1 channel=$2 expected=$3 result=$4 timeout=$5 target=$6 dir=$7
        local perf_pid=""
        case ${FANOUT_PERF:-0} in
        1)
                perf record -e cpu-clock -F 999 --call-graph dwarf,32768 -p "$DAWND_PID" -o "$dir/perf.data" \
                        >"$dir/perf.log" 2>&1 &
                perf_pid=$!
                sleep 0.5
                ;;
        epoll)
                perf record -e syscalls:sys_exit_epoll_wait -p "$DAWND_PID" -o "$dir/perf.data" >"$dir/perf.log" 2>&1 &
                perf_pid=$!
                sleep 0.5
                ;;
        esac
        local c0 p0 b0 t0 t_acc t_conf c1 p1 b1 hwm rss0
        rss0=$(rss_kb "$DAWND_PID")
        c0=$(cpu_ticks "$DAWND_PID")
        p0=$(cpu_ticks "$PEER_PID")
        b0=$([ "$PEER_PID" = "$BROKER_PID" ] && echo 0 || cpu_ticks "$BROKER_PID")
        t0=$(now)
        "$DAWNCTL" --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology \
                --casualties 4 --fatalities 1 --advice "Carry naloxone. Do not use alone." \
                "Heroin in Southampton city centre contains a nitazene." >"$dir/issue.json" 2>&1 || {
                echo "bench/fanout.sh: $name: the issue was refused:" >&2
                cat "$dir/issue.json" >&2
                return 1
        }
        t_acc=$(now)
        grep -q '"grade":[[:space:]]*"critical"' "$dir/issue.json" || note "$name: the alert is not critical"
        if ! wait_for "[ -s '$result' ]" "$timeout"; then
                note "$name: the peer's waiter gave no result within ${timeout} s"
                echo "0 0 0" >"$result"
        fi
        local count first last
        read -r count first last <"$result"
        # dawnd's own count: poll status (cheap with one alert) until it agrees
        local st="" ok=0
        for _ in $(seq 1 600); do
                "$DAWNCTL" --json status >"$dir/status.json" 2>/dev/null || true
                st=$($PY "$HELPER" status "$dir/status.json" "$channel" 2>/dev/null)
                if [ "${st%% *}" -ge "$expected" ] 2>/dev/null; then
                        ok=1
                        break
                fi
                sleep 0.05
        done
        t_conf=$(now)
        c1=$(cpu_ticks "$DAWND_PID")
        p1=$(cpu_ticks "$PEER_PID")
        b1=$([ "$PEER_PID" = "$BROKER_PID" ] && echo 0 || cpu_ticks "$BROKER_PID")
        hwm=$(hwm_kb "$DAWND_PID")
        if [ -n "$perf_pid" ]; then
                kill -INT "$perf_pid" 2>/dev/null
                wait "$perf_pid" 2>/dev/null
                if [ "$FANOUT_PERF" = epoll ]; then
                        perf script -i "$dir/perf.data" 2>/dev/null | $PY "$HELPER" epoll | sed "s/^/$name: /" >>"$NOTES"
                else
                        {
                                perf report -i "$dir/perf.data" --stdio --children --sort symbol -g none \
                                        --percent-limit 0.5 2>/dev/null | grep -v '^$' | head -n 150
                                perf report -i "$dir/perf.data" --stdio --no-children --percent-limit 1 2>/dev/null |
                                        grep -v '^$' | head -n 400
                        } >"$ROOT/bench/results/fanout-perf-$name.txt"
                fi
        fi
        local delivered failed retried
        read -r delivered failed retried _ <<<"${st:-0 0 0 0 -}"
        [ "$ok" = 1 ] || note "$name: dawnd counts $delivered delivered on $channel, expected $expected (status: ${st:-none})"
        [ "$failed" = 0 ] || note "$name: dawnd failed $failed deliveries"
        [ "$count" -ge "$N" ] || note "$name: the peer saw $count of $N"
        local all
        all=$(calc "%.3f" "$last - $t0")
        local first_s
        first_s=$(calc "%.3f" "$first - $t0")
        local acc_ms
        acc_ms=$(calc "%.0f" "($t_acc - $t0) * 1000")
        local conf_s
        conf_s=$(calc "%.3f" "$t_conf - $t0")
        local cpu
        cpu=$(calc "%.2f" "($c1 - $c0) / $TICKS")
        local per1k
        per1k=$(calc "%.3f" "($c1 - $c0) / $TICKS / $count * 1000")
        local util
        util=$(calc "%.0f" "($c1 - $c0) / $TICKS / ($t_conf - $t0) * 100")
        local pcpu
        pcpu=$(calc "%.2f" "($p1 - $p0) / $TICKS")
        local putil
        putil=$(calc "%.0f" "($p1 - $p0) / $TICKS / ($t_conf - $t0) * 100")
        local bcpu
        bcpu=$(calc "%.2f" "($b1 - $b0) / $TICKS")
        local rate
        rate=$(calc "%.0f" "$count / ($last - $t0)")
        local rss
        rss=$(calc "%.1f" "$hwm / 1024")
        local mb0
        mb0=$(calc "%.1f" "$rss0 / 1024")
        local verdict
        verdict=$(awk -v a="$all" -v t="$target" -v r="$rss" -v c="$count" -v n="$N" \
                'BEGIN { print (c >= n && a <= t ? "met" : "MISSED") "/" (r <= 50 ? "met" : "MISSED") }')
        printf '%-22s %6d %6s %7s %7s %7s %6d %6s %6s %5s%% %6s %5s%% %6s %5s %5s %4s %4s  <=%ss %s\n' \
                "$name" "$count" "$acc_ms" "$first_s" "$all" "$conf_s" "$rate" "$cpu" "$per1k" "$util" \
                "$pcpu" "$putil" "$bcpu" "$mb0" "$rss" "$failed" "$retried" "$target" "$verdict" | tee -a "$ROWS"
        LAST_ALL=$all
}

# ---- the cases ----
case_mqtt() {
        local dir="$D/mqtt"
        mkdir -p "$dir"
        start_broker "$dir"
        write_config "$dir" mqtt "${FANOUT_MQTT_IN_FLIGHT:-16384}" 0
        # the counting subscriber (QoS 0: the broker holds nothing back for it), and a
        # probe topic to know that the broker has its subscription
        local probe="dawn-bench/probe/$$"
        mosquitto_sub -p "$MQTT_PORT" -q 0 -F '%U %t' -t "$PREFIX/subscribers/+/alerts/+" -t "$probe" \
                >"$dir/sub.txt" 2>&1 &
        SUB_PID=$!
        pids+=("$SUB_PID")
        local got=0
        for _ in $(seq 1 20); do
                mosquitto_pub -p "$MQTT_PORT" -t "$probe" -m probe
                if wait_for "grep -q ' $probe' '$dir/sub.txt'" 1; then
                        got=1
                        break
                fi
        done
        [ $got = 1 ] || {
                echo "bench/fanout.sh: the counting subscriber did not start" >&2
                exit 1
        }
        $PY "$HELPER" wait mqtt "$dir/sub.txt" "/alerts/A1" "$N" "$dir/result" 120 &
        pids+=($!)
        start_dawnd "$dir"
        PEER_PID=$SUB_PID
        # + 1: the area feed (<prefix>/alerts/pan-hampshire/southampton/A1)
        measure mqtt mqtt $((N + 1)) "$dir/result" 120 0.5 "$dir"
        stop_run
}

case_sms() { # $1 name, $2 rate_per_minute, $3 target seconds, $4 timeout, $5 gateway: backlog|stock,
        # $6 max_in_flight
        local name=$1 rate=$2 target=$3 timeout=$4 inflight=$6
        local dir="$D/$name"
        mkdir -p "$dir"
        start_broker "$dir"
        GATEWAY=$5 start_gateway "$dir" "$dir/sms.jsonl"
        write_config "$dir" sms "$inflight" "$rate"
        $PY "$HELPER" wait jsonl "$dir/sms.jsonl" 201 "$N" "$dir/result" "$timeout" &
        pids+=($!)
        start_dawnd "$dir"
        measure "$name" sms "$N" "$dir/result" "$timeout" "$target" "$dir"
        [ -s "$D/sms-record.jsonl" ] || cp "$dir/sms.jsonl" "$D/sms-record.jsonl" 2>/dev/null
        local max total first last statuses
        read -r max total first last statuses < <($PY "$HELPER" window "$dir/sms.jsonl" 60)
        [ "$total" -gt "$N" ] && note "$name: the gateway answered $total requests ($statuses) for $N deliveries:" \
                "dawnd gave up on some and sent them again (same reference); all_s is the N-th distinct one"
        if [ "$rate" != 0 ]; then
                local floor
                floor=$(calc "%.1f" "($N / $rate) * 60")
                local over
                over=$(calc "%.2f" "($LAST_ALL / $floor - 1) * 100")
                local w
                w=$(awk -v m="$max" -v r="$rate" 'BEGIN { print (m <= r ? "met" : "MISSED") }')
                local f
                f=$(awk -v o="$over" 'BEGIN { print (o <= 5 ? "met" : "MISSED") }')
                {
                        echo "$name: rate_per_minute = $rate, $N SMS: all delivered after $LAST_ALL s;" \
                                "floor $floor s (N / rate); $over % over it (target <= 5 %: $f)"
                        echo "$name: the gateway saw $total request(s) ($statuses); the most in any 60 s window" \
                                "(half-open, the gateway's timestamps): $max (limit $rate: $w)"
                } | tee -a "$NOTES"
        fi
        stop_run
}

case_email() { # $1 sink: py | postfix, $2 max_in_flight, $3 name
        local sink=$1 inflight=$2 name=$3 dir
        dir="$D/$name"
        mkdir -p "$dir"
        start_broker "$dir"
        if [ "$sink" = py ]; then
                start_smtp_sink_py "$dir" "$dir/smtp.jsonl"
                $PY "$HELPER" wait jsonl "$dir/smtp.jsonl" 250 "$N" "$dir/result" 300 &
                pids+=($!)
        else
                start_smtp_sink_postfix "$dir" "$dir/result"
        fi
        write_config "$dir" email "$inflight" 0
        start_dawnd "$dir"
        measure "$name" email "$N" "$dir/result" 300 5 "$dir"
        if [ "$sink" = py ]; then
                local f
                f=$(ls "$dir/mail" | head -n 1)
                [ -n "$f" ] && cp "$dir/mail/$f" "$D/sample.eml"
        fi
        stop_run
}

# ---- the peers alone ----
cap_row() { # name conc n_ok t0 last peer_ticks other
        local rate
        rate=$(calc "%.0f" "$3 / ($5 - $4)")
        local secs
        secs=$(calc "%.3f" "$5 - $4")
        local pcpu
        pcpu=$(calc "%.2f" "$6 / $TICKS")
        local putil
        putil=$(calc "%.0f" "$6 / $TICKS / ($5 - $4) * 100")
        printf '%-38s %5s %6d %8s %7s/s %8s %5s%%  %s\n' "$1" "$2" "$3" "$secs" "$rate" "$pcpu" "$putil" "$7" |
                tee -a "$CAPS"
}

cap_gateway() { # $1 concurrency, $2 backlog|stock
        local c=$1 dir="$D/cap-gw-$2-$1" name="SMS gateway (backlog 4096)"
        [ "$2" = stock ] && name="SMS gateway (stock, backlog 5)"
        mkdir -p "$dir"
        GATEWAY=$2 start_gateway "$dir" "$dir/rec.jsonl"
        if [ -s "$D/sms-record.jsonl" ]; then
                $PY "$HELPER" notify-body "$D/sms-record.jsonl" "$TEMPLATE_ID" "$dir/body.json"
        else
                printf '{"phone_number":"+447000000001","template_id":"%s","personalisation":{"message":"%s"},"reference":"bench"}' \
                        "$TEMPLATE_ID" "CRITICAL heroin with nitazene in southampton. Carry naloxone. Do not use alone. A1" \
                        >"$dir/body.json"
        fi
        local jwt p0 t0 t1 p1
        jwt=$($PY "$HELPER" jwt "$NOTIFY_KEY")
        p0=$(cpu_ticks "$PEER_PID")
        t0=$(now)
        curl -s --parallel --parallel-max "$c" -H "Authorization: Bearer $jwt" -H "Content-Type: application/json" \
                -H "Accept: application/json" --data-binary @"$dir/body.json" \
                "http://127.0.0.1:$GW_PORT/v2/notifications/sms?n=[1-$N]" >/dev/null 2>"$dir/curl.log"
        t1=$(now)
        p1=$(cpu_ticks "$PEER_PID")
        local max total first last statuses
        read -r max total first last statuses < <($PY "$HELPER" window "$dir/rec.jsonl" 60)
        local ok
        ok=$(grep -c '"status": 201' "$dir/rec.jsonl")
        cap_row "$name" "$c" "$ok" "$t0" "$last" $((p1 - p0)) "requests: $statuses"
        stop_run
}

cap_smtp() { # $1 py|postfix, $2 concurrency
        local sink=$1 c=$2 dir="$D/cap-smtp-$1-$2" name
        mkdir -p "$dir"
        if [ ! -s "$D/sample.eml" ]; then
                printf 'From: alerts@dawn.example\r\nTo: site00001@example.org\r\nSubject: [DAWN] CRITICAL batch southampton A1\r\nMessage-ID: <A1-r1-1@dawn.example>\r\n\r\nHeroin in Southampton city centre contains a nitazene.\r\nCarry naloxone. Do not use alone.\r\n' \
                        >"$D/sample.eml"
        fi
        if [ "$sink" = py ]; then
                name="smtp_sink.py (aiosmtpd, backlog 4096)"
                start_smtp_sink_py "$dir" "$dir/rec.jsonl"
        else
                name="smtp-sink (postfix)"
                start_smtp_sink_postfix "$dir" "$dir/result"
        fi
        local p0 t0 t1 p1 ok last
        p0=$(cpu_ticks "$PEER_PID")
        t0=$(now)
        curl -s --parallel --parallel-max "$c" --mail-from alerts@dawn.example --mail-rcpt site00001@example.org \
                -T "$D/sample.eml" -w '%{response_code}\n' "smtp://127.0.0.1:$SMTP_PORT/bench[1-$N]" \
                >"$dir/codes.txt" 2>"$dir/curl.log"
        t1=$(now)
        if [ "$sink" = py ]; then
                ok=$(grep -c '"status": 250' "$dir/rec.jsonl")
                last=$($PY -c 'import json,sys; print(max(json.loads(l)["t"] for l in open(sys.argv[1])))' "$dir/rec.jsonl")
        else
                wait_for "[ -s '$dir/result' ]" 5
                ok=$(grep -c '^250$' "$dir/codes.txt")
                last=$t1
        fi
        p1=$(cpu_ticks "$PEER_PID")
        cap_row "$name" "$c" "$ok" "$t0" "$last" $((p1 - p0)) "$(sort "$dir/codes.txt" | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')"
        stop_run
}

# ---- the run ----
mkdir -p bench/results || exit 2
fs=$(df -PT "$D" 2>/dev/null | awk 'NR == 2 { print $2 " (" $1 ")" }')
{
        echo "DAWN fan-out benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'): ${want[*]}"
        echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(uname -sr)"
        if [ "$BUILD_DIR" = "$ROOT/$BUILD" ]; then
                src="$(git log -1 --format='commit %h' 2>/dev/null)$(git diff --quiet HEAD -- daemon include 2>/dev/null || echo ' (daemon modified)')"
        else
                src="built $(date -u -r "$DAWND" '+%Y-%m-%d %H:%M UTC')"
        fi
        echo "dawnd $("$DAWND" -v | awk '{ print $2 }') ($DAWND, $src), store on ${fs:-?}"
        echo "peers: $(mosquitto -h 2>&1 | head -n 1 | sed 's/ (build.*//'), $($PY --version), curl $(curl --version | awk 'NR==1 { print $2 }'), smtp-sink: ${SMTP_SINK:-not installed (apt-get install postfix)}"
        echo "one critical alert in southampton to $N subscribers, each with only the channel measured"
        [ "${FANOUT_PERF:-0}" != 0 ] && echo "NOTE: perf record ($FANOUT_PERF) was running on dawnd: times and CPU include its cost"
        echo
} >"$RESULTS"
cat "$RESULTS"

hdr=$(printf '%-22s %6s %6s %7s %7s %7s %6s %6s %6s %6s %6s %6s %6s %5s %5s %4s %4s  %s\n' \
        case delivd acc_ms first_s all_s confm_s per_s cpu_s cpu/1k util peer_s putil broker MB0 MB fail rtry "target time/RSS")
need_hdr=1
for m in "${want[@]}"; do
        if [ "$m" != capacity ] && [ $need_hdr = 1 ]; then
                echo "$hdr"
                need_hdr=0
        fi
        case $m in
        mqtt) case_mqtt ;;
        sms)
                case_sms sms 0 2 300 backlog "${FANOUT_SMS_IN_FLIGHT:-1024}"
                # the same at the config's default max_in_flight, and against the gateway as it is
                case_sms sms-if-32 0 2 300 backlog 32
                case_sms sms-stock-gateway 0 2 300 stock "${FANOUT_SMS_IN_FLIGHT:-1024}"
                ;;
        email)
                case_email py "${FANOUT_EMAIL_IN_FLIGHT:-256}" email-aiosmtpd
                if [ -n "$SMTP_SINK" ]; then
                        case_email postfix "${FANOUT_EMAIL_IN_FLIGHT:-256}" email-smtp-sink
                        # the same at a smaller max_in_flight: dawnd's cost per delivery depends on it
                        case_email postfix 32 email-smtp-sink-if-32
                else
                        note "email: smtp-sink not installed (apt-get install postfix): only the aiosmtpd figure"
                fi
                ;;
        ratelimited) case_sms ratelimited 3000 210 400 backlog "${FANOUT_SMS_IN_FLIGHT:-1024}" ;;
        capacity)
                for c in 32 256; do cap_gateway $c backlog; done
                for c in 32 256; do cap_smtp py $c; done
                if [ -n "$SMTP_SINK" ]; then for c in 32 256; do cap_smtp postfix $c; done; fi
                ;;
        esac
done

{
        if [ -s "$ROWS" ]; then
                echo "(a) fan-out: one alert, $N recipients on one channel, peer without limits"
                echo "$hdr"
                cat "$ROWS"
                echo
                echo "    delivd: deliveries the peer counted; acc_ms: dawnctl issue until its answer ($N outbox rows"
                echo "    committed); first_s / all_s: t0 to the peer's first / N-th delivery; confm_s: t0 to dawnd's"
                echo "    status showing all delivered; per_s: delivd / all_s; cpu_s: dawnd utime+stime, t0 to confm;"
                echo "    cpu/1k: cpu_s per 1,000 deliveries; util: cpu_s / confm_s (100% = one core: dawnd's loop is"
                echo "    single-threaded); peer_s/putil: the peer's CPU (gateway, sink, or mqtt's counting subscriber);"
                echo "    broker: mosquitto's CPU (sms/email runs: ~0); MB0: dawnd's VmRSS before the issue; MB: its VmHWM"
                echo "    (peak RSS) at the end; fail/rtry: dawnd's failed/retried counters; target: the issue's time"
                echo "    target for the channel and RSS <= 50 MB. Peers: the SMS gateway and smtp_sink.py run through"
                echo "    bench/fanout/*_backlog.py (listen backlog 4096), except sms-stock-gateway (backlog 5); -if-32:"
                echo "    max_in_flight 32 instead of the most the config allows."
                echo
        fi
        if [ -s "$CAPS" ]; then
                echo "(b) the peers alone: curl --parallel (keep-alive), $N requests/messages; curl shares the"
                echo "    $(nproc) cores with the peer, as dawnd does: a rate here is what the peer gives such a client"
                printf '%-38s %5s %6s %8s %9s %8s %6s  %s\n' peer conc ok secs rate cpu_s util "answers"
                cat "$CAPS"
                echo
        fi
        if [ -s "$NOTES" ]; then
                echo "notes:"
                sed 's/^/    /' "$NOTES"
        fi
} >"$D/tail.txt"
echo
cat "$D/tail.txt"
cat "$D/tail.txt" >>"$RESULTS"
# a profiled run is not a reference one: it does not replace fanout.txt
OUT=bench/results/fanout.txt
[ "${FANOUT_PERF:-0}" != 0 ] && OUT=bench/results/fanout-perf.txt
cp "$RESULTS" "$OUT"
echo
echo "written to $OUT"
