#!/bin/bash
# The HTTP API against hostile and careless clients (RELIABILITY.md,
# promises 8 and 9): slowloris headers, idle floods and connection churn
# cannot keep /healthz, a gateway's callback or a partner (even one on a
# slow uplink) out, and cost bounded fds
# and memory; slow clients are cut at the header deadline; out of file
# descriptors dawnd does not spin; a source cannot read another's pending
# reports; rate_per_minute counts alerts, over HTTP and MQTT alike; and
# what a bad Content-Length is answered with.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh" # NOTIFY_KEY, TEMPLATE_ID

HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
CLIENT="$ROOT/tests/integration/hostile_http_client.py"
HEADER_TIMEOUT=2 # seconds: daemon.http_header_timeout, short so that the test need not wait long
for s in portsmouth-ph ambulance needle-exchange slow-lab; do
        printf '%s-token-0123456789\n' "$s" >"$T/$s.token"
done
printf 'notify-callback-secret\n' >"$T/callback.token"
printf '%s\n' "$NOTIFY_KEY" >"$T/notify.key"
cat >"$T/dawn.conf" <<EOC
daemon = { state_dir = "$T/state"; control_socket = "$DAWN_SOCKET"; control_socket_mode = "0666";
           control_group = "nogroup"; timezone = "UTC"; http_listen = "$HTTP_LISTEN";
           http_header_timeout = "${HEADER_TIMEOUT}s"; };
areas = { pan-hampshire = { southampton = {}; portsmouth = {}; fareham = {}; }; };
channels = {
        mqtt = { host = "127.0.0.1"; port = $MQTT_PORT; };
        # texts would go nowhere (no subscriber has a number): only the callbacks matter here
        sms = { provider = "notify"; base_url = "http://127.0.0.1:9"; api_key_file = "$T/notify.key";
                template_id = "$TEMPLATE_ID"; callback_token_file = "$T/callback.token"; };
};
sources = (
        { id = "portsmouth-ph"; role = "issuer"; token_file = "$T/portsmouth-ph.token"; rate_per_minute = 0; },
        { id = "ambulance"; role = "reporter"; token_file = "$T/ambulance.token"; rate_per_minute = 0; },
        { id = "needle-exchange"; role = "issuer"; token_file = "$T/needle-exchange.token"; rate_per_minute = 0; },
        { id = "slow-lab"; role = "issuer"; token_file = "$T/slow-lab.token"; rate_per_minute = 6; },
        { id = "mqtt-lab"; role = "issuer"; rate_per_minute = 6; }
);
subscribers = ( { id = "the-haven-hostel"; kind = "hostel"; area = "portsmouth"; mqtt = true; } );
EOC
start_broker
start_dawnd

token() { head -n 1 "$T/$1.token"; }
# Every request waits at most $WITHIN seconds (less while a flood runs: an answer that only
# comes once the flood ends must count as none)
WITHIN=5
# req METHOD PATH SOURCE [curl args...]: the status; body in $T/body, headers in $T/headers
req() {
        method=$1 path=$2 source=$3
        shift 3
        auth=()
        [ -n "$source" ] && auth=(-H "Authorization: Bearer $(token "$source")")
        curl -s -m "$WITHIN" -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$API$path"
}
post() { req POST /v1/alerts "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
body() { json_get "$T/body" "$1"; }
healthz() { curl -s -m "$WITHIN" -o /dev/null -w '%{http_code}' "$API/healthz"; }
receipt() { # a Notify receipt for a delivery dawnd does not know: answered 200 (or the gateway retries for days)
        curl -s -m "$WITHIN" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer notify-callback-secret' \
                -H 'Content-Type: application/json' \
                -d '{"id":"x","reference":"A999-r1-1","to":"+447700900123","status":"delivered"}' \
                "$API/v1/callbacks/notify/status"
}
stored() { store_sql 'SELECT count(*) FROM alerts'; }
metric() {
        curl -s -m 5 "$API/metrics" | /usr/bin/python3 -c 'import sys
from prometheus_client.parser import text_string_to_metric_families
want=sys.argv[1]; labels=dict(kv.split("=",1) for kv in sys.argv[2:])
total=0
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        if s.name==want and all(s.labels.get(k)==v for k,v in labels.items()):
            total+=s.value
print(int(total))' "$@"
}
stat_of() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# report AREA ADULTERANT SUMMARY SOURCE_REF: each part of the test uses its own area and adulterant,
# so that no report merges into another part's alert
report() { printf '{"type":"batch","area":"%s","adulterants":["%s"],"summary":"%s","source_ref":"%s"}' "$@"; }

check "dawnd answers /healthz before any flood" test "$(healthz)" = 200
fds0=$(fds) rss0=$(rss)
echo "# baseline: fds $fds0, RSS $rss0 kB"

# ---- slowloris: 560 clients from one address, a header line a second each, for 7 s ----
/usr/bin/python3 "$CLIENT" slowloris "$HTTP_PORT" 560 7 1 >"$T/slowloris.json" &
attack=$!
wait_for "[ \$(fds) -ge $((fds0 + 500)) ]" 5
fds1=$(fds) rss1=$(rss)
WITHIN=2
check "during slowloris, /healthz is answered within 2 s" test "$(healthz)" = 200
check "during slowloris, a gateway's receipt is answered within 2 s" test "$(receipt)" = 200
status=$(post portsmouth-ph "$(report portsmouth xylazine 'Pink pills sold as MDMA contain xylazine.' ph-loris-1)")
check "during slowloris, a partner's report is accepted (201) within 2 s" test "$status" = 201
WITHIN=5
fds2=$(fds)
wait "$attack"
echo "# slowloris: fds $fds1/$fds2, RSS $rss1 kB during; client saw $(cat "$T/slowloris.json")"
check "during slowloris, dawnd's fds stay bounded (512 connections and its own: $fds1, $fds2)" \
        test "$fds1" -le $((fds0 + 512 + 140)) -a "$fds2" -le $((fds0 + 512 + 140))
check "slow clients are cut: dawnd closed at least as many connections as the 560 first opened" \
        test "$(stat_of "$T/slowloris.json" closed)" -ge 560
check "and none lasted much past the header deadline (${HEADER_TIMEOUT}s; longest $(stat_of "$T/slowloris.json" lasted_max)s)" \
        /usr/bin/python3 -c "import sys; sys.exit(not $(stat_of "$T/slowloris.json" lasted_max) <= $HEADER_TIMEOUT + 1.5)"
check "fds return to the baseline after the attack" wait_for "[ \$(fds) -le $((fds0 + 2)) ]" 5
rss3=$(rss)
echo "# after slowloris: fds $(fds), RSS $rss3 kB"
check "RSS grew by less than 80 MB during the attack ($((rss1 - rss0)) kB)" test $((rss1 - rss0)) -lt 81920
check "the header deadline is counted in /metrics" \
        test "$(metric dawn_http_connections_dropped_total reason=header_timeout)" -ge 1
check "and logged, not once per connection" \
        test "$(grep -c 'request headers not complete' "$T/dawnd.log")" -ge 1 -a \
        "$(grep -c 'request headers not complete' "$T/dawnd.log")" -le 3

# ---- a thousand idle connections ----
/usr/bin/python3 "$CLIENT" idle "$HTTP_PORT" 1000 4 >"$T/idle.json" &
attack=$!
wait_for "[ \$(fds) -ge $((fds0 + 500)) ]" 5
fds1=$(fds) rss1=$(rss)
WITHIN=1
check "with 1,000 idle connections, /healthz is answered within a second" test "$(healthz)" = 200
WITHIN=5
wait "$attack"
echo "# idle flood: fds $fds1, RSS $rss1 kB during; client saw $(cat "$T/idle.json")"
check "dawnd holds at most its 512 connections (fds $fds1)" test "$fds1" -le $((fds0 + 512 + 140))
check "the connections over the cap displaced the oldest (dawn_http_connections_dropped_total{reason=displaced})" \
        test "$(metric dawn_http_connections_dropped_total reason=displaced)" -ge 400
check "fds return to the baseline" wait_for "[ \$(fds) -le $((fds0 + 2)) ]" 5
echo "# after the idle flood: fds $(fds), RSS $(rss) kB"
check "dawnctl status answers" bash -c "'$DAWNCTL' status >/dev/null"

# ---- a connection-churn flood: idle connections opened as fast as one process can ----
# Each displaces another once 512 are open. Idle ones must displace each other, not a partner
# whose body trickles in over 2 s, a client whose headers take a second, or the gateways.
displaced0=$(metric dawn_http_connections_dropped_total reason=displaced)
/usr/bin/python3 "$CLIENT" churn "$HTTP_PORT" 100000 4 700 >"$T/churn.json" &
attack=$!
check "the churn flood fills dawnd's 512 connections" wait_for "[ \$(fds) -ge $((fds0 + 500)) ]" 5
fds1=$(fds) rss1=$(rss)
/usr/bin/python3 "$CLIENT" trickle "$HTTP_PORT" "$(token portsmouth-ph)" 2 ph-trickle-1 >"$T/trickle.out" &
trickle=$!
/usr/bin/python3 "$CLIENT" slowheaders "$HTTP_PORT" 1 >"$T/slowheaders.out" &
slowheaders=$!
WITHIN=2
check "during the churn flood, /healthz is answered within 2 s" test "$(healthz)" = 200
check "during the churn flood, a gateway's receipt is answered within 2 s" test "$(receipt)" = 200
WITHIN=5
wait "$trickle" "$slowheaders"
still=$(kill -0 "$attack" 2>/dev/null && echo yes || echo no)
fds2=$(fds)
check "and /healthz still answers at the flood's end (flood still running: $still)" test "$(healthz)" = 200
wait "$attack"
echo "# churn flood: fds $fds1/$fds2, RSS $rss1 kB during; client saw $(cat "$T/churn.json")," \
        "$(($(metric dawn_http_connections_dropped_total reason=displaced) - displaced0)) displaced"
check "the flood was a flood (over 2,000 connects; $(cat "$T/churn.json"))" test "$(stat_of "$T/churn.json" opened)" -gt 2000
check "a partner's report whose body trickled in over 2 s is answered 201 ($(cat "$T/trickle.out"))" \
        grep -q '^HTTP/1.1 201' "$T/trickle.out"
check "and it is stored" test "$(store_sql "SELECT count(*) FROM submissions s JOIN alerts a ON a.id = s.alert_id WHERE s.source = 'portsmouth-ph' AND s.source_ref = 'ph-trickle-1'")" = 1
check "a client whose headers took a second is answered ($(cat "$T/slowheaders.out"))" \
        grep -q '^HTTP/1.1 200' "$T/slowheaders.out"
check "during the churn flood, dawnd's fds stay bounded ($fds1, $fds2)" \
        test "$fds1" -le $((fds0 + 512 + 140)) -a "$fds2" -le $((fds0 + 512 + 140))
check "fds return to the baseline" wait_for "[ \$(fds) -le $((fds0 + 2)) ]" 5
echo "# after the churn flood: fds $(fds), RSS $(rss) kB"

# ---- a source sees its own reports and active alerts, never another's pending ones ----
status=$(post ambulance "$(report southampton medetomidine 'Crews report blue tablets sold as diazepam.' amb-1)")
pending=$(body .id)
check "ambulance's report is pending ($status $(body .status))" test "$status/$(body .status)" = 201/pending
status=$(req GET /v1/alerts/A99999 needle-exchange)
unknown=$(body .error)
status=$(req GET "/v1/alerts/$pending" needle-exchange)
check "another source asking for it by id gets 404" test "$status" = 404
check "with the same answer as for an id that does not exist" test "$(body .error)" = "${unknown/A99999/$pending}"
req GET /v1/alerts needle-exchange >/dev/null
check "another source's list of open alerts leaves it out" bash -c "! grep -q '\"$pending\"' '$T/body'"
req GET '/v1/alerts?all=1' needle-exchange >/dev/null
check "and so does its list of all alerts" bash -c "! grep -q '\"$pending\"' '$T/body'"
check "ambulance itself reads it by id" test "$(req GET "/v1/alerts/$pending" ambulance)/$(body .id)" = "200/$pending"
# libmicrohttpd decodes %00 into a NUL: "A1%00zz" must not be read as A1
check "an id with an encoded NUL after it is refused, naming the url" \
        test "$(req GET "/v1/alerts/$pending%00zz" ambulance)/$(body .field)" = "400/url"
check "and so is a query with one" test "$(req GET '/v1/alerts?since=2020-01-01T00:00:00Z%00junk' ambulance)" = 400
req GET /v1/alerts ambulance >/dev/null
check "and finds it in its list" grep -q "\"$pending\"" "$T/body"
post portsmouth-ph "$(report fareham xylazine 'Crack in Fareham contains xylazine.' ph-vis-1)" >/dev/null
active=$(body .id)
check "an active alert of one source is visible to another" \
        test "$(req GET "/v1/alerts/$active" needle-exchange)/$(body .status)" = 200/active

# ---- rate_per_minute counts alerts: 1,000 in one array against 6 a minute ----
/usr/bin/python3 -c 'import json
print(json.dumps([{"type":"batch","area":"portsmouth","summary":"Report %d of a flood." % i,
                   "adulterants":["fentanyl"],"source_ref":"lab-%d" % i} for i in range(1000)]))' >"$T/batch.json"
before=$(stored)
status=$(req POST /v1/alerts slow-lab -H 'Content-Type: application/json' --data-binary "@$T/batch.json")
retry=$(grep -i '^Retry-After:' "$T/headers" | tr -dc '0-9')
check "1,000 alerts in one array from a 6-a-minute source: 429" test "$status" = 429
check "with Retry-After in whole seconds ($retry)" test "${retry:-0}" -ge 1
check "and a JSON error saying when (retry_after $(body .retry_after))" test "$(body .retry_after)" = "$retry"
check "nothing of it is stored" test "$(stored)" = "$before"
status=$(post slow-lab "$(report portsmouth fentanyl 'One report from the lab.' lab-one-1)")
check "one alert from the same source is accepted" test "$status" = 201
status=$(post slow-lab "$(report portsmouth fentanyl 'Another report from the lab.' lab-one-2)")
check "a second at once is refused with 429 and Retry-After" test "$status/$(grep -ci '^Retry-After:' "$T/headers")" = 429/1
check "refused alerts are counted per alert in /metrics" \
        test "$(metric dawn_intake_rejected_total way=http reason=rate_limited)" -ge 1001
check "the source's refusals are logged once a minute, not per request" \
        test "$(grep -c 'source slow-lab is over its rate_per_minute' "$T/dawnd.log")" = 1

# ---- the same limit over MQTT ----
subscribe "$T/results" "$PREFIX/ingest/mqtt-lab/result"
before=$(stored)
for i in 1 2 3; do
        mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/ingest/mqtt-lab" \
                -m "$(report fareham nitazene "MQTT report $i from the lab." "mq-$i")"
done
check "three MQTT reports get three answers" wait_count "$T/results" '/result ' 3 10
check "the first is accepted" bash -c "grep '\"source_ref\":\"mq-1\"' '$T/results' | grep -q '\"status\":\"active\"'"
refusals=$(messages "$T/results" | grep -c '"retry_after"')
check "the others are refused on the result topic, saying when to retry ($refusals)" test "$refusals" = 2
check "each refusal names its source_ref" test "$(messages "$T/results" | grep '"retry_after"' | grep -c '"source_ref":"mq-[23]"')" = 2
check "and the refused reports are not stored (one new alert: the first)" test "$(stored)" = $((before + 1))
check "MQTT refusals are counted in /metrics" test "$(metric dawn_intake_rejected_total way=mqtt reason=rate_limited)" = 2

# ---- a bad Content-Length: libmicrohttpd's answer, or DAWN's JSON where DAWN decides ----
raw() { printf "$1" | /usr/bin/python3 -c 'import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=5); s.sendall(sys.stdin.buffer.read())
out=b""
while True:
    d=s.recv(65536)
    if not d: break
    out+=d
sys.stdout.buffer.write(out)' "$HTTP_PORT"; }
raw 'POST /v1/alerts HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n' >"$T/raw1"
check "Content-Length that is not a number: 400 from libmicrohttpd (its HTML, documented), and the connection closes" \
        grep -q '^HTTP/1.1 400' "$T/raw1"
raw "POST /v1/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $(token portsmouth-ph)\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n" >"$T/raw2"
check "a Content-Length over DAWN's limit: 413 as JSON naming the body" \
        bash -c "grep -q '^HTTP/1.1 413' '$T/raw2' && grep -q 'Content-Type: application/json' '$T/raw2' && grep -q '\"field\":\"body\"' '$T/raw2'"
check "/healthz still answers" test "$(healthz)" = 200

# ---- out of file descriptors: dawnd pauses accepting instead of spinning ----
stop_dawnd
prlimit --nofile=64:64 "$DAWND" -f -c "$T/dawn.conf" >>"$T/dawnd.log" 2>&1 &
DAWND_PID=$!
wait_for "ctl status" 10
fds0=$(fds)
ticks0=$(cpu_ticks)
/usr/bin/python3 "$CLIENT" idle "$HTTP_PORT" 150 3 >"$T/emfile.json" &
attack=$!
check "accept() runs out of fds, and dawnd says so" wait_for "grep -q 'cannot accept a connection' '$T/dawnd.log'" 5
wait "$attack"
ticks=$(($(cpu_ticks) - ticks0))
echo "# fd limit 64: dawnd used $ticks ticks of CPU ($(getconf CLK_TCK)/s) over the 3 s flood; client saw $(cat "$T/emfile.json")"
check "dawnd does not spin when accept() fails with EMFILE (CPU $ticks ticks in 3 s)" \
        test "$ticks" -lt $(($(getconf CLK_TCK) * 3 / 2))
check "the pause is logged and counted" test "$(metric dawn_http_accept_paused_total)" -ge 1
check "fds return to the baseline" wait_for "[ \$(fds) -le $((fds0 + 2)) ]" 5
WITHIN=1
check "and /healthz answers within a second" test "$(healthz)" = 200
WITHIN=5
check "the store is intact" test "$(store_intact)" = ok
kill "$DAWND_PID"
wait "$DAWND_PID"
rc=$?
DAWND_PID=""
check "dawnd stops cleanly (exit $rc)" test "$rc" = 0
check "and its log has no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error' '$T/dawnd.log'"
finish
