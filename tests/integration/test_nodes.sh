#!/bin/bash
# Two dawnd nodes on one PostgreSQL store (issue 15), as an operator runs them
# so that no single host's failure silences the alerts:
# - an alert issued on node A is shown by dawnctl on node B, and status on
#   either lists both nodes;
# - a fan-out of 2,000 texts, shared by both nodes, with node A killed (-9)
#   mid-way: every recipient gets the text, what A had taken but not
#   recorded as done is sent again by B once A's lease runs out (so a
#   recipient may have it twice, never not at all), and B finishes within
#   the lease and a few seconds;
# - the same partner report posted to both nodes at once: one alert, one
#   "duplicate".
# - PostgreSQL restarted in the middle of a stream of reports: every "ok"
#   survives, every refusal says "temporary", and dawnd takes reports again
#   once the database is back, without a restart.
# - PostgreSQL that stops answering (every process of it stopped: a host gone
#   silent or a network split, where no reset ever comes): the control socket
#   and /healthz still answer, a report is refused as temporary rather than
#   left hanging, and once it answers again reports are taken.
# - reports a partner publishes over MQTT while node A is dead: the broker may
#   hold some in A's kept session (eclipse-mosquitto #2662) and leave them
#   unanswered; the partner sends each unanswered one again with the same
#   source_ref until it is answered, every one is stored once, and when A
#   comes back what was held for it is answered "duplicate".
# Always on PostgreSQL, a throwaway cluster of its own (it is restarted).
DAWN_TEST_STORE=postgresql
unset DAWN_TEST_PG
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"

N=2000
LEASE=3
IN_FLIGHT=8
STORE_TIMEOUT=2
RATED=6 # texts sent under a shared rate of 60 a minute

start_broker
start_gateway
start_smtp
# the gateway takes its time, as a real one does: the fan-out lasts long enough for
# node A to die in the middle of it
gw_fault '{"rules":[{"match":{"api":"notify"},"action":"delay","seconds":0.02}]}'

subs=$(for i in $(seq 1 $N); do
        printf '{ id = "hostel-%d"; kind = "hostel"; area = "winchester"; sms = [ "+4477009%05d" ]; },\n' "$i" "$i"
done
for i in $(seq 1 $RATED); do
        printf '{ id = "hostel-iow-%d"; kind = "hostel"; area = "isle-of-wight"; sms = [ "+4477008%05d" ]; },\n' "$i" "$i"
done)
printf 'ph-token-a\n' >"$T/ph.token"
HTTP_LISTEN="127.0.0.1:$(free_port)"
write_delivery_config "rate_per_minute = 0; max_in_flight = $IN_FLIGHT;" "" "$subs" \
        "sources = ( { id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$T/ph.token\"; } );"
cat >>"$T/dawn.conf" <<EOC
store = { backend = "postgresql"; conninfo = "$PG_CONNINFO"; lease = "${LEASE}s"; timeout = "${STORE_TIMEOUT}s"; };
EOC
API_A="http://$HTTP_LISTEN"
# node B: the same config, its own node id, state folder, socket and HTTP port
HTTP_B="127.0.0.1:$(free_port)"
SOCK_B="$T/b.sock"
sed -e "s#state_dir = \"$T/state\";#state_dir = \"$T/state-b\"; node_id = \"node-b\";#" \
        -e "s#control_socket = \"$DAWN_SOCKET\";#control_socket = \"$SOCK_B\";#" \
        -e "s#http_listen = \"$HTTP_LISTEN\";#http_listen = \"$HTTP_B\";#" "$T/dawn.conf" >"$T/b.conf"
sed -i "s#state_dir = \"$T/state\";#state_dir = \"$T/state\"; node_id = \"node-a\";#" "$T/dawn.conf"
API_B="http://$HTTP_B"

start_dawnd
"$DAWND" -f -c "$T/b.conf" >>"$T/dawnd-b.log" 2>&1 &
B_PID=$!
ctl_b() { DAWN_SOCKET="$SOCK_B" "$DAWNCTL" "$@"; }
check "node B starts on the same store" wait_for "ctl_b status" 10
trap 'kill $B_PID 2>/dev/null; wait $B_PID 2>/dev/null
      [ -n "${DAWN_TEST_KEEP_LOG:-}" ] && cp "$T/dawnd-b.log" "$DAWN_TEST_KEEP_LOG.b" && cp "$T/sms.jsonl" "$DAWN_TEST_KEEP_LOG.sms"; cleanup' EXIT

nodes_seen() { # SOCKET: the node ids its status lists
        DAWN_SOCKET="$1" "$DAWNCTL" --json status | /usr/bin/python3 -c 'import json,sys
print(" ".join(n["node"] for n in json.load(sys.stdin)["nodes"]))'
}
check "status on A lists both nodes" test "$(nodes_seen "$DAWN_SOCKET")" = "node-a node-b"
check "status on B lists both nodes" test "$(nodes_seen "$SOCK_B")" = "node-a node-b"

# ---- one store: what A takes in, B shows ----
ctl --json issue --area southampton --sold-as ketamine "Ketamine cut with something unknown in Southampton." \
        >"$T/a1.json"
A1=$(json_get "$T/a1.json" .id)
check "an alert issued on node A ($A1)" test -n "$A1"
check "is shown by dawnctl on node B" bash -c "DAWN_SOCKET='$SOCK_B' '$DAWNCTL' show '$A1' | grep -q 'Ketamine cut'"
check "and listed there" bash -c "DAWN_SOCKET='$SOCK_B' '$DAWNCTL' list | grep -q '^$A1 '"

# ---- /metrics: which node, every node, and the one store's figures on each ----
curl -s --max-time 10 "$API_A/metrics" >"$T/metrics-a"
curl -s --max-time 10 "$API_B/metrics" >"$T/metrics-b"
check "node B's /metrics says it is node-b" grep -q '^dawn_node_info{node="node-b",version="' "$T/metrics-b"
check "and shows both nodes' heartbeats" \
        test "$(grep -c '^dawn_node_heartbeat_age_seconds{node="node-[ab]"}' "$T/metrics-b")" = 2
alerts_total() { awk '/^dawn_alerts\{/ { n += $2 } END { print n + 0 }' "$1"; }
check "the store's alerts are counted alike on both nodes ($(alerts_total "$T/metrics-a") and $(alerts_total "$T/metrics-b"))" \
        test "$(alerts_total "$T/metrics-a")" = "$(alerts_total "$T/metrics-b")" -a "$(alerts_total "$T/metrics-b")" -ge 1
check "promtool accepts the exposition" bash -c "promtool check metrics <'$T/metrics-b' >'$T/promtool.out' 2>&1 ||
        { cat '$T/promtool.out'; false; }"

# ---- the same partner report on both nodes at once: one alert ----
report='{"type":"batch","area":"portsmouth","sold_as":["heroin"],"adulterants":["xylazine"],"summary":"Heroin with xylazine in Portsmouth.","source_ref":"ph-both-1"}'
post() { curl -s -o "$T/post-$2.json" -w '%{http_code}' --max-time 20 -H "Authorization: Bearer ph-token-a" \
        -H 'Content-Type: application/json' -d "$report" "$1/v1/alerts"; }
# the outcomes of the two answers (post-a, post-b), sorted, and how many alerts they name
both_outcomes() {
        cat "$T/post-a.json" "$T/post-b.json" | /usr/bin/python3 -c 'import json,sys
d = json.JSONDecoder(); t = sys.stdin.read().strip(); out = []
while t:
    o, i = d.raw_decode(t); out.append(o); t = t[i:].strip()
print(" ".join(sorted(o.get("outcome", "?") for o in out)), len(set(o.get("id") for o in out)))'
}
post "$API_A" a >"$T/code-a" &
pa=$!
post "$API_B" b >"$T/code-b" &
pb=$!
wait $pa $pb
outcomes=$(both_outcomes)
[ "$outcomes" = "duplicate new 1" ] || cat "$T/post-a.json" "$T/post-b.json"
check "the same report on both nodes at once: one new alert and one duplicate ($outcomes)" \
        test "$outcomes" = "duplicate new 1"
check "one alert in the store for it" \
        test "$(store_sql "SELECT count(*) FROM submissions WHERE source_ref = 'ph-both-1'")" = 1

# ---- two partners' reports of one batch, one to each node at once: one alert ----
# Each node looks for an alert to merge into and, finding none, makes its own; intake in
# an area is one node's at a time, so the second waits for the first's commit and merges.
# The race is made certain, not left to timing: node A's insert of a Gosport alert is
# held for half a second (a trigger on its connection only), and the report goes to
# node B while A is inside it, after A looked and before A's alert is visible.
store_sql "CREATE FUNCTION dawn_test_slow_insert() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
        IF current_setting('application_name') = 'dawnd node-a' AND NEW.area = 'gosport' THEN
                PERFORM pg_sleep(0.5);
        END IF;
        RETURN NEW;
END \$\$;
CREATE TRIGGER dawn_test_slow BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION dawn_test_slow_insert();"
a_in_insert() {
        [ "$(store_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dawnd node-a'
                        AND wait_event = 'PgSleep'")" = 1 ]
}
for round in 1 2 3; do
        report="{\"type\":\"batch\",\"area\":\"gosport\",\"sold_as\":[\"crack\"],\"adulterants\":[\"fentanyl-$round\"],\"summary\":\"Crack with fentanyl in Gosport.\",\"source_ref\":\"one-batch-a-$round\"}"
        post "$API_A" a >"$T/code-a" &
        pa=$!
        wait_for a_in_insert 10 || echo "# node A was not seen inside its insert"
        report="${report/one-batch-a-/one-batch-b-}"
        post "$API_B" b >"$T/code-b" &
        pb=$!
        wait $pa $pb
        outcomes=$(both_outcomes)
        [ "$outcomes" = "merged new 1" ] || cat "$T/post-a.json" "$T/post-b.json"
        check "one batch reported to both nodes at once (round $round): one new alert, one merge ($outcomes)" \
                test "$outcomes" = "merged new 1"
done
store_sql "DROP TRIGGER dawn_test_slow ON alerts; DROP FUNCTION dawn_test_slow_insert()"

# ---- a channel's rate is the provider's, for both nodes together ----
# rate_per_minute = 60: one text at once, then one a second, whichever node sends. Two
# nodes each keeping their own bucket would send two a second; the span of the texts
# can only be longer than the shared bucket allows, never shorter (a slow run passes too).
sed -i 's/rate_per_minute = 0;/rate_per_minute = 60;/' "$T/dawn.conf" "$T/b.conf"
check "both nodes take a rate of 60 a minute" bash -c "'$DAWNCTL' reload && DAWN_SOCKET='$SOCK_B' '$DAWNCTL' reload"
ctl --json issue --area isle-of-wight --sold-as cocaine --adulterant fentanyl --evidence toxicology \
        "Cocaine on the Isle of Wight contains fentanyl." >"$T/rated.json"
RATED_ID=$(json_get "$T/rated.json" .id)
rated_texts() { grep -c "\"reference\": \"$RATED_ID-" "$T/sms.jsonl" 2>/dev/null || echo 0; }
check "the $RATED texts of $RATED_ID arrive" wait_for "[ \$(rated_texts) -ge $RATED ]" 30
span=$(/usr/bin/python3 -c 'import json,sys
t = [e["t"] for e in map(json.loads, open(sys.argv[1])) if (e.get("reference") or "").startswith(sys.argv[2] + "-")]
print("%.1f" % (max(t) - min(t)))' "$T/sms.jsonl" "$RATED_ID")
check "they took at least $((RATED - 2)).5 s, one bucket for both nodes (${span} s)" \
        /usr/bin/python3 -c "import sys; sys.exit(0 if $span >= $((RATED - 2)).5 else 1)"
sed -i 's/rate_per_minute = 60;/rate_per_minute = 0;/' "$T/dawn.conf" "$T/b.conf"
check "and back to no limit" bash -c "'$DAWNCTL' reload && DAWN_SOCKET='$SOCK_B' '$DAWNCTL' reload"

# ---- 2,000 texts, node A killed mid-way ----
ctl --json issue --area winchester --sold-as heroin --adulterant nitazene --evidence toxicology \
        "Heroin in Winchester contains a nitazene." >"$T/a2.json"
A2=$(json_get "$T/a2.json" .id)
check "an alert for $N hostels is issued on A ($A2)" test -n "$A2"
texts() { grep -c "\"reference\": \"$A2-" "$T/sms.jsonl" 2>/dev/null || echo 0; }
check "both nodes send while A lives" wait_for "[ \$(texts) -ge $((N / 4)) ]" 60
before_kill=$(texts)
kill9_dawnd
by_a=$(store_sql "SELECT count(*) FROM outbox WHERE alert_id = '$A2' AND claimed_by = 'node-a' AND state = 'in-flight'")
echo "# node A killed after $before_kill texts reached the gateway; $by_a left in flight under its claim"
killed_at=$SECONDS
done_all() {
        [ "$(store_sql "SELECT count(*) FROM outbox WHERE alert_id = '$A2' AND channel = 'sms'
                        AND state IN ('sent', 'delivered')")" -eq $N ]
}
check "node B finishes the fan-out within the lease and a few seconds" wait_for done_all $((LEASE + 20))
done_all || store_sql "SELECT state, coalesce(claimed_by, '-'), count(*) FROM outbox WHERE alert_id = '$A2'
                       AND channel = 'sms' GROUP BY 1, 2" | sed 's/^/#   /' 
echo "# B finished $((SECONDS - killed_at)) s after the kill (lease ${LEASE} s)"
numbers=$(/usr/bin/python3 - "$T/sms.jsonl" "$A2" <<'PY'
import json, sys
seen = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if str(r.get("reference") or "").startswith(sys.argv[2] + "-") and r.get("status") in (200, 201):
        seen[r["to"]] = seen.get(r["to"], 0) + 1
print(len(seen), sum(seen.values()) - len(seen))
PY
)
distinct=${numbers% *}
twice=${numbers#* }
echo "# $distinct numbers reached, $twice of them twice"
check "every one of the $N recipients got the text" test "$distinct" -eq $N
check "texts sent twice ($twice) are at most what A had taken and not recorded as done" \
        test "$twice" -le "$((by_a + IN_FLIGHT))"
check "status on B shows A's heartbeat stopped" bash -c "DAWN_SOCKET='$SOCK_B' '$DAWNCTL' --json status |
        /usr/bin/python3 -c 'import json,sys
n = {x[\"node\"]: x for x in json.load(sys.stdin)[\"nodes\"]}
sys.exit(0 if n[\"node-a\"][\"heartbeat_age_seconds\"] >= $LEASE and n[\"node-a\"][\"in_flight\"] == 0 else 1)'"
check "B's log says it sent A's claims again" grep -q "claimed by a node that stopped answering" "$T/dawnd-b.log"

# ---- PostgreSQL restarted mid-intake (node B: A is gone) ----
REPORTS=100
: >"$T/answers"
(for i in $(seq 1 $REPORTS); do
        code=$(curl -s -o "$T/r.json" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer ph-token-a" \
                -H 'Content-Type: application/json' \
                -d "{\"type\":\"nfod\",\"area\":\"fareham\",\"source_ref\":\"restart-$i\"}" "$API_B/v1/alerts")
        printf '%s %s %s\n' "$i" "$code" "$(tr -d '\n' <"$T/r.json" 2>/dev/null)" >>"$T/answers"
done) &
stream=$!
check "reports flow before the restart" wait_for "[ \$(grep -c ' 201 ' '$T/answers') -ge 20 ]" 30
"$ROOT/tests/pg/throwaway.sh" restart "$PG_OWN"
wait $stream
ok_n=$(grep -c ' 201 ' "$T/answers")
refused=$(grep -vc ' 201 ' "$T/answers")
echo "# $REPORTS reports during a PostgreSQL restart: $ok_n ok, $refused refused"
check "every report was answered" test "$(wc -l <"$T/answers")" -eq $REPORTS
check "every refusal says temporary" bash -c "! grep -v ' 201 ' '$T/answers' | grep -vq '\"temporary\":true'"
check "node B is still running" kill -0 "$B_PID"
lost=$(/usr/bin/python3 - "$T/answers" "$PG_CONNINFO" <<'PY'
import subprocess, sys
oks = [l.split()[0] for l in open(sys.argv[1]) if l.split()[1] == "201"]
have = set(subprocess.run(["psql", "-X", "-A", "-t", "-q", sys.argv[2], "-c",
                           "SELECT source_ref FROM submissions WHERE source_ref LIKE 'restart-%'"],
                          capture_output=True, text=True, check=True).stdout.split())
print(" ".join(i for i in oks if "restart-" + i not in have))
PY
)
check "every ok survived the restart (lost: ${lost:-none})" test -z "$lost"
code=$(curl -s -o "$T/after.json" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer ph-token-a" \
        -H 'Content-Type: application/json' -d '{"type":"nfod","area":"fareham","source_ref":"after-restart"}' \
        "$API_B/v1/alerts")
check "a report after the restart is taken" test "$code" = 201
check "B's log says the connection was made again" grep -q "the PostgreSQL connection is back" "$T/dawnd-b.log"

# ---- PostgreSQL stops answering: no reset, no refusal, silence ----
pg_processes() { # the postmaster and every process it started
        local pm
        pm=$(head -1 "$PG_OWN/data/postmaster.pid")
        echo "$pm" $(pgrep -P "$pm")
}
silenced=$(pg_processes)
trap 'kill -CONT $silenced 2>/dev/null; kill $B_PID 2>/dev/null; wait $B_PID 2>/dev/null; cleanup' EXIT
kill -STOP $silenced
code=$(curl -s -o "$T/silent.json" -w '%{http_code}' --max-time $((STORE_TIMEOUT * 3 + 5)) \
        -H "Authorization: Bearer ph-token-a" -H 'Content-Type: application/json' \
        -d '{"type":"nfod","area":"fareham","source_ref":"while-silent"}' "$API_B/v1/alerts")
check "a report while PostgreSQL is silent is refused, not left hanging ($code)" test "$code" = 503
check "and the refusal says temporary" grep -q '"temporary":true' "$T/silent.json"
for i in 1 2 3; do
        check "dawnctl status answers while PostgreSQL is silent ($i)" \
                timeout $((STORE_TIMEOUT + 3)) "$DAWNCTL" --socket "$SOCK_B" status
        check "/healthz answers while PostgreSQL is silent ($i)" \
                curl -s -o /dev/null --max-time $((STORE_TIMEOUT + 3)) "$API_B/healthz"
done
check "B's log says PostgreSQL did not answer" grep -q "did not answer within" "$T/dawnd-b.log"
kill -CONT $silenced
take_after_silence() {
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer ph-token-a" \
                -H 'Content-Type: application/json' \
                -d '{"type":"nfod","area":"fareham","source_ref":"after-silence"}' "$API_B/v1/alerts")" = 201 ]
}
check "once PostgreSQL answers again, a report is taken" wait_for take_after_silence 30
check "the report refused while it was silent was not stored" \
        test "$(store_sql "SELECT count(*) FROM submissions WHERE source_ref = 'while-silent'")" = 0

# ---- MQTT reports while node A is dead: held for it by the broker (#2662), sent again ----
PREFIX=dawn/v1
STRANDED_N=12
: >"$T/results"
mosquitto_sub -p "$MQTT_PORT" -q 1 -v -t "$PREFIX/ingest/portsmouth-ph/result" >"$T/results" 2>&1 &
results_pid=$!
trap 'kill -CONT $silenced 2>/dev/null; kill $results_pid $B_PID $A2_PID 2>/dev/null; wait $B_PID 2>/dev/null
      [ -n "${A2_PID:-}" ] && wait $A2_PID 2>/dev/null; cleanup' EXIT
publish() { # source_ref
        mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/ingest/portsmouth-ph" \
                -m "{\"type\":\"nfod\",\"area\":\"southampton\",\"source_ref\":\"$1\"}"
}
seq -f 'strand-%g' 1 $STRANDED_N | sort >"$T/strand-refs"
unanswered() {
        grep -o '"source_ref":"strand-[0-9]*"' "$T/results" | cut -d'"' -f4 | sort -u | comm -23 "$T/strand-refs" -
}
for i in $(seq 1 $STRANDED_N); do publish "strand-$i"; done
# a partner's resend timer: a report unanswered after a few seconds goes again (at most 10 rounds)
first_stranded=""
for round in $(seq 1 10); do
        wait_for "[ -z \"\$(unanswered)\" ]" 1 && break
        left=$(unanswered)
        [ -z "$first_stranded" ] && first_stranded=$(echo $left | wc -w)
        for ref in $left; do publish "$ref"; done
done
echo "# $STRANDED_N MQTT reports with node A dead: ${first_stranded:-0} unanswered at first (held in A's session), resent"
check "every MQTT report published while A was dead is answered once resent" test -z "$(unanswered)"
check "and each is stored once" \
        test "$(store_sql "SELECT count(*) FROM submissions WHERE source_ref LIKE 'strand-%'")" = $STRANDED_N
# node A comes back under its own id, and its kept session hands it what the broker held
"$DAWND" -f -c "$T/dawn.conf" >>"$T/dawnd-a2.log" 2>&1 &
A2_PID=$!
check "node A starts again" wait_for "'$DAWNCTL' status" 10
duplicates() { grep -c '"outcome":"duplicate"' "$T/results"; }
if [ "${first_stranded:-0}" -gt 0 ]; then
        check "what the broker held for A is answered as duplicates ($first_stranded)" \
                wait_for "[ \$(duplicates) -ge $first_stranded ]" 20
fi
check "still each stored once" \
        test "$(store_sql "SELECT count(*) FROM submissions WHERE source_ref LIKE 'strand-%'")" = $STRANDED_N
check "and one alert each" \
        test "$(store_sql "SELECT count(DISTINCT alert_id) FROM submissions WHERE source_ref LIKE 'strand-%'")" = $STRANDED_N
check "the store is intact" test "$(store_intact)" = ok
finish
