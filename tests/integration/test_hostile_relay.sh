#!/bin/bash
# Hostile clients of the dashboard relay (/mqtt) and of the broker, against
# a full instance: the broker from conf/mosquitto/ (its two listeners, its
# ACL, its limits), dawnd with its HTTP API and relay. What a user would
# see: dawnd keeps answering (/healthz, dawnctl status), its memory and fds
# stay bounded and come back, a real dashboard still gets in, nobody takes
# dawnd's broker session, and every partner report is answered.
#
# Every flood is bounded in count and in time; RSS (kB) and fds of dawnd
# are printed before, during and after each ("# ..." lines).
. "$(dirname "$0")/lib.sh"

# dash01..dash40: dashboards' logins, 7 relays each, to fill the 256 places (8 per login at most)
start_example_broker ambulance st-marys-pharmacy $(seq -f 'dash%02g' 1 40)
HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
write_config
config_dawnd_login
# the store on a tmpfs when there is one: the burst below tests the broker's queue, not the disk's fsync
if [ -w /dev/shm ]; then
        SHM=$(mktemp -d /dev/shm/dawn-test.XXXXXX)
        trap 'cleanup; rm -rf "$SHM"' EXIT
        sed -i "s#state_dir = \"$T/state\";#state_dir = \"$SHM\";#" "$T/dawn.conf"
fi
start_dawnd
WS() { /usr/bin/python3 "$ROOT/tests/dashboard/ws_client.py" "$HTTP_LISTEN" "$@"; }

hwm() { awk '/^VmHWM/ {print $2}' "/proc/$DAWND_PID/status"; }
# dawnd answers both ways in, each within a second
answers() {
        [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$API/healthz")" = 200 ] && timeout 1 "$DAWNCTL" status >/dev/null
}
metric() { # NAME{LABELS} -> its value, 0 when absent
        curl -s -m 2 "$API/metrics" | awk -v n="$1" '$1 == n {v = $2} END {print v + 0}'
}
measure() { echo "# $1: rss $(rss) kB, peak $(hwm) kB, fds $(fds) [$SECONDS s]"; }

online() { [ "$(as_local dawnd mosquitto_sub -t "$PREFIX/status" -C 1 -W 2 2>/dev/null)" = online ]; }
check "dawnd is online on the broker" wait_for online 15
# what ambulance hears on its result topic (on the loopback listener: on the partners' one, the login is
# the client id, and this listener would be disconnected by ambulance's own publisher)
: >"$T/amb"
# not through as_local(): in the background that is a subshell, and cleanup would stop the
# subshell and leave mosquitto_sub running for ever
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -u ambulance -P pw-ambulance -q 1 \
        -t "$PREFIX/ingest/ambulance/result" -t "$PREFIX/status" -v >"$T/amb" 2>&1 &
wait_for "grep -q '^$PREFIX/status ' '$T/amb'" 10 || { echo "ambulance could not subscribe"; exit 1; }
answered() { grep -c "^$PREFIX/ingest/ambulance/result .*\"source_ref\":\"$1" "$T/amb"; true; }
report() { # SOURCE_REF [SOLD_AS]: a reporter's report
        printf '{"type":"batch","area":"southampton","summary":"Heroin reported unusually strong.","sold_as":["%s"],"source_ref":"%s"}' "${2:-heroin}" "$1"
}
as_partner ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/ambulance" -m "$(report warm-up)"
check "a partner's report is answered" wait_for "[ \$(answered warm-up) -ge 1 ]" 10
FDS0=$(fds)
measure "baseline"

# ---- 1. a client that pings and never reads its pongs (no login needed) ----
peak0=$(hwm)
out=$(WS pingflood 600000 10)
measure "after the ping flood ($out)"
check "the ping flood is cut off by dawnd ($out)" grep -q '^sent [0-9]* closed$' <<<"$out"
# the pongs waiting are capped at about 1 MiB; 16 MiB allows for the allocator and ASan's redzones
# (unbounded, 600,000 pings would have left some 75 MiB of pongs)
check "dawnd's peak RSS grew by less than 16 MiB ($(( $(hwm) - peak0 )) kB)" test $(( $(hwm) - peak0 )) -lt 16384
check "counted in dawn_relay_dropped_total{reason=unread_output}" \
        test "$(metric 'dawn_relay_dropped_total{reason="unread_output"}')" = 1
check "dawnd answers" answers
check "its fds are back to the baseline" wait_for "[ \$(fds) -le $FDS0 ]" 10

# ---- 2. the broker hangs up on a relay whose browser does not read ----
# 3 retained alerts of 900 kB for st-marys: more than the relay (and the kernel) hold for a browser that does
# not read
head -c 900000 /dev/zero | tr '\0' 'x' >"$T/big"
for i in 1 2 3; do
        as_local dawnd mosquitto_pub -q 1 -r -t "$PREFIX/subscribers/st-marys-pharmacy/alerts/BIG$i" -f "$T/big"
done
# keepalive 1 s: the broker gives up on it after 1.5 s; then a PINGREQ goes to a connection it has closed
# not through WS(): $! must be the client itself, to be killed below
/usr/bin/python3 "$ROOT/tests/dashboard/ws_client.py" "$HTTP_LISTEN" stall st-marys-pharmacy pw-st-marys-pharmacy "$PREFIX/subscribers/st-marys-pharmacy/alerts/#" 1 20 >"$T/stall" 2>&1 &
STALL=$!
check "the stalled client logged in" wait_for "grep -q '^connack 0' '$T/stall'" 10
check "the broker gave up on it" wait_for "grep -q 'dawn-st-marys-pharmacy-.* has exceeded timeout' '$T/mosquitto.log'" 10
check "and it sent its ping" wait_for "grep -q '^pinged' '$T/stall'" 10
measure "broker gone, browser not reading"
t0=$(cpu_ticks)
sleep 1 # the measure: how much CPU dawnd takes over one second
used=$(( $(cpu_ticks) - t0 ))
check "dawnd does not spin: $used/100 s of CPU in 1 s" test "$used" -lt 30
check "dawnd answers" answers
check "the relay's broker side had been paused (dawn_relay_paused_total)" test "$(metric dawn_relay_paused_total)" -ge 1
for i in 1 2 3; do
        as_local dawnd mosquitto_pub -q 1 -r -n -t "$PREFIX/subscribers/st-marys-pharmacy/alerts/BIG$i"
done
# The broker has not even sent its FIN: it waits behind what the relay does not read. The relay costs its
# two fds until the browser goes (or takes nothing for DAWN_WS_RELAY_STALL_USEC, 60 s).
kill "$STALL" 2>/dev/null
wait "$STALL" 2>/dev/null
check "when the browser goes, so does the relay" wait_for "[ \$(fds) -le $FDS0 ]" 10
measure "after"

# ---- 3. 300 upgrades that never log in ----
/usr/bin/python3 "$ROOT/tests/dashboard/ws_client.py" "$HTTP_LISTEN" squat 300 25 >"$T/squat" 2>&1 &
SQUAT=$!
check "300 upgrades are made" wait_for "grep -q '^upgraded' '$T/squat'" 20
measure "squatters in ($(head -n 1 "$T/squat"))"
check "none is refused: the oldest waiting ones make room" grep -q '^upgraded 300 refused 0$' "$T/squat"
check "dawnd holds a bounded number of them (fds $(fds) <= baseline + 70)" test "$(fds)" -le $((FDS0 + 70))
WS mqtt st-marys-pharmacy pw-st-marys-pharmacy "$PREFIX/status" >"$T/real" 2>&1
check "a real dashboard still logs in (CONNACK 0)" grep -q '^connack 0$' "$T/real"
check "dawnd answers" answers

# ---- 4. a pharmacy's login asks for dawnd's client id ----
grep -c "Client dawnd-demo already connected" "$T/mosquitto.log" >"$T/takeovers0"
got=$(as_partner st-marys-pharmacy mosquitto_sub -i dawnd-demo -t "$PREFIX/status" -C 1 -W 3 2>&1)
check "directly on the partners' listener it logs in ($got)" test "$got" = online
check "but as itself: the broker made its login its client id" \
        grep -q "as st-marys-pharmacy (p2, c1, k60, u'st-marys-pharmacy')" "$T/mosquitto.log"
WS mqtt st-marys-pharmacy pw-st-marys-pharmacy "$PREFIX/status" dawnd-demo >"$T/via" 2>&1
check "through /mqtt it logs in too" grep -q '^connack 0$' "$T/via"
check "neither took dawnd's session" test "$(grep -c "Client dawnd-demo already connected" "$T/mosquitto.log")" = "$(cat "$T/takeovers0")"
check "dawnd stayed connected" bash -c "! grep -q 'Client dawnd-demo \(closed its connection\|disconnected\)' '$T/mosquitto.log'"
as_partner ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/ambulance" -m "$(report after-takeover)"
check "a partner's report is still answered" wait_for "[ \$(answered after-takeover) -ge 1 ]" 10

# ---- 5. oversize reports ----
big_report() { # BYTES
        /usr/bin/python3 -c 'import json,sys; print(json.dumps({"type":"batch","area":"southampton","summary":"x"*int(sys.argv[1]),"source_ref":sys.argv[2]}))' "$1" "$2"
}
big_report 100000 big-100k >"$T/r100k"
as_partner ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/ambulance" -f "$T/r100k"
check "a 100 kB report is answered" wait_for "grep -q 'larger than the limit' '$T/amb'" 10
check "with an error naming the body (too large to be read, so without its source_ref)" \
        grep -q '{"error":"a report of [0-9]* bytes is larger than the limit of 65536 bytes","field":"body"}' "$T/amb"
too_large0=$(metric 'dawn_intake_rejected_total{way="mqtt",reason="too_large"}')
peak0=$(hwm)
big_report 2000000 big-2m >"$T/r2m"
rc=0
as_partner ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/ambulance" -f "$T/r2m" 2>/dev/null || rc=$?
check "a 2 MB report: the broker disconnects its sender (mosquitto_pub exit $rc)" test "$rc" -ne 0
check "saying why in its log" grep -q 'Client ambulance disconnected due to oversize packet' "$T/mosquitto.log"
as_partner ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/ambulance" -m "$(report after-big)"
check "the next report is answered" wait_for "[ \$(answered after-big) -ge 1 ]" 10
check "and the 2 MB one never reached dawnd" \
        test "$(metric 'dawn_intake_rejected_total{way="mqtt",reason="too_large"}')" = "$too_large0"
measure "after the oversize reports"

# ---- 6. a burst of 2,500 reports from one partner ----
# each a batch of its own (sold as "street-<i>"): 2,500 alike would merge into one, whose cost grows with
# each merge (a matter for intake, not for the broker)
for i in $(seq 1 2500); do report "burst-$i" "street-$i"; echo; done >"$T/burst"
measure "before the burst"
as_partner ambulance mosquitto_pub -q 1 -l -t "$PREFIX/ingest/ambulance" <"$T/burst"
measure "burst sent"
check "all 2,500 are answered on the result topic" wait_for "[ \$(answered burst-) -ge 2500 ]" 90
n=$(grep -o '"source_ref":"burst-[0-9]*"' "$T/amb" | sort -u | wc -l)
check "each one ($n distinct)" test "$n" = 2500
check "none was dropped at the broker" bash -c "! grep -q 'Outgoing messages are being dropped' '$T/mosquitto.log'"
measure "after the burst"

# ---- 3, continued: the squatters are gone ----
check "every squatter was closed by dawnd" wait_for "grep -q '^closed' '$T/squat'" 25
check "all 300 ($(tail -n 1 "$T/squat"))" grep -q '^closed 300$' "$T/squat"
login=$(metric 'dawn_relay_dropped_total{reason="login_deadline"}')
evicted=$(metric 'dawn_relay_dropped_total{reason="evicted"}')
check "counted: $login at the login deadline, $evicted evicted" test $((login + evicted)) -eq 300 -a "$login" -ge 1
check "fds are back to the baseline" wait_for "[ \$(fds) -le $FDS0 ]" 10
measure "after the squatters"
check "dawnd answers" answers
check "one log line per limit, not one per client" test "$(grep -c 'no MQTT login within' "$T/dawnd.log")" -le 3
wait "$SQUAT" 2>/dev/null

LIMITS() { /usr/bin/python3 "$ROOT/tests/integration/relay_limits.py" "$HTTP_LISTEN" "$@"; }

# ---- 7. before the login, a CONNECT's worth: no 64 KiB frame, no frames of 200 KiB held half-sent ----
out=$(LIMITS bigframe 65536)
check "an unauthenticated 64 KiB frame is refused as too big ($out)" test "$out" = "close 1009"
rss0=$(rss)
coproc SQ { LIMITS squat 32 250000 200000 20; }
read -r -t 30 line <&"${SQ[0]}"
measure "32 squatters with 200 kB of a 250 kB frame each ($line)"
grew=$(( $(rss) - rss0 ))
# unbounded, each held 256 KiB (8 MiB in all); 3 MiB allows for the allocator and ASan
check "dawnd's RSS grew by less than 3 MiB ($grew kB)" test "$grew" -lt 3072
exec {SQIN}>&"${SQ[1]}"; exec {SQIN}>&-
wait "$SQ_PID" 2>/dev/null
check "counted in dawn_relay_dropped_total{reason=frame_too_large}" \
        test "$(metric 'dawn_relay_dropped_total{reason="frame_too_large"}')" -ge 33
check "its fds are back to the baseline" wait_for "[ \$(fds) -le $FDS0 ]" 10

# ---- 8. one login holds at most 8 relays ----
LIMITS perlogin st-marys-pharmacy dash01 >"$T/perlogin"
check "8 relays of one login sign in" test "$(head -n 8 "$T/perlogin" | grep -c '^connack 0$')" = 8
check "the 9th is closed with 1013 ($(sed -n 9p "$T/perlogin"))" test "$(sed -n 9p "$T/perlogin")" = "close 1013"
check "another login still signs in" test "$(sed -n 10p "$T/perlogin")" = "connack 0"
check "counted in dawn_relay_dropped_total{reason=per_login}" \
        test "$(metric 'dawn_relay_dropped_total{reason="per_login"}')" = 1
check "its fds are back to the baseline" wait_for "[ \$(fds) -le $FDS0 ]" 10

# ---- 9. 256 signed in: relays that waited while the others signed in do not take it past 256 ----
refused0=$(metric 'dawn_relay_refused_total{reason="full"}')
out=$(LIMITS full 250 30 dash)
measure "250 + 30 dashboards ($out)"
check "6 of the 30 waiting sign in, 24 are closed with 1013 ($out)" test "$out" = "waiting: 6 signed in, 24 closed 1013"
check "counted in dawn_relay_refused_total{reason=full}" \
        test "$(metric 'dawn_relay_refused_total{reason="full"}')" = $((refused0 + 24))
check "dawnd answers" answers
check "its fds are back to the baseline" wait_for "[ \$(fds) -le $FDS0 ]" 20
check "one log line per limit, not one per client" test "$(grep -c 'dashboards are signed in' "$T/dawnd.log")" -le 3
finish
