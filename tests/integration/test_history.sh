#!/bin/bash
# The alert's history and the audit trail as an officer reads them: an alert
# issued with dawnctl, a partner's report over HTTP that merges into it and
# raises its grade, an update, a dashboard acknowledgement over MQTT, a
# reload and a cancel; then `dawnctl history` shows each in order with who
# did it and from which way in, and `dawnctl audit` filters by actor and time.
. "$(dirname "$0")/lib.sh"

HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
printf 'ph-7f3a9c0e5b21\n' >"$T/portsmouth-ph.token"
write_config
sed -i -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$T/portsmouth-ph.token\"; rate_per_minute = 0; }#" \
        "$T/dawn.conf"
start_broker
start_dawnd

ME="uid $(id -u)"
# q EXPR [FILE]: EXPR (Python, on the JSON as d) of FILE or standard input; prints
# it unless it is a truth, which is the exit status instead (jq may not be installed)
q() { /usr/bin/python3 -c 'import json,sys,re
d=json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
v=eval(sys.argv[1])
if isinstance(v,bool): sys.exit(0 if v else 1)
print(v)' "$@"; }
export -f q

# ---- the alert's life ----
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene \
        "Brown heroin in Southampton contains a nitazene." >"$T/issued" 2>"$T/err"
ID=$(json_get "$T/issued" .id)
GRADE1=$(json_get "$T/issued" .grade)
check "an officer issues an alert" test "$ID" = A1

status=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$T/portsmouth-ph.token")" \
        -H 'Content-Type: application/json' --data-binary \
        '{"type":"batch","area":"southampton","summary":"Toxicology confirms a nitazene in brown heroin.",
          "sold_as":["heroin"],"adulterants":["nitazene"],"evidence":"toxicology","casualties":3,"fatalities":1}' \
        "$API/v1/alerts")
check "a partner's report over HTTP merges into it" \
        bash -c "[ '$status' = 200 ] || [ '$status' = 201 ]; grep -q '\"id\":\"$ID\"' '$T/body'"
GRADE2=$(ctl --json show "$ID" | q 'd["grade"]')
check "and changes its grade ($GRADE1 -> $GRADE2)" test "$GRADE1" != "$GRADE2"

ctl update "$ID" --advice "Carry naloxone; do not use alone." >/dev/null
check "an officer updates it" test "$(ctl --json show "$ID" | q 'd["revision"]')" -ge 3

# the dashboard of rough-sleeper-outreach acknowledges what reached it
wait_for "ctl --json show $ID | q 'any(x[\"subscriber\"] == \"rough-sleeper-outreach\" and x[\"channel\"] == \"mqtt\" and x[\"state\"] in (\"delivered\", \"sent\") for x in d[\"deliveries\"])'" 10
mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/subscribers/rough-sleeper-outreach/acks/$ID" -m '{"revision":1,"by":"Sam"}'
check "a dashboard acknowledges it over MQTT" \
        wait_for "ctl --json show $ID | q 'len(d[\"acks\"]) == 1'" 10

ctl reload >/dev/null
kill -HUP "$DAWND_PID"
check "a SIGHUP reload is audited too" wait_for "ctl --json audit --actor SIGHUP | q 'len(d) == 1'" 10
cp "$T/dawn.conf" "$T/dawn.conf.good"
echo 'subscribers = ( { id = "x"; kind = "nonsense"; } );' >>"$T/dawn.conf"
ctl reload >/dev/null 2>&1
check "a refused reload exits 1" test $? -eq 1
cp "$T/dawn.conf.good" "$T/dawn.conf"
ctl cancel "$ID" --reason "lab retest: not a nitazene" >/dev/null
check "an officer cancels it" test "$(ctl --json show "$ID" | q 'd["status"]')" = cancelled

# ---- dawnctl history ----
ctl history "$ID" >"$T/history" 2>"$T/err"
check "dawnctl history succeeds" test $? -eq 0
sed 's/^/    | /' "$T/history"
check "it has a header and one line per event" \
        bash -c "head -1 '$T/history' | grep -q '^WHEN  *ACTOR  *EVENT  *REV  *DETAIL'"
ctl --json history "$ID" >"$T/history.json"
events=$(q '" ".join(e["event"] for e in d)' "$T/history.json")
check "the events come in the order they happened: $events" \
        test "$events" = "issue grade corroborate grade update ack cancel"
check "issue names the officer (control socket actor)" grep -Eq "^[0-9-]+ [0-9:]+  $ME \\(.*issue " "$T/history"
check "the merged report names its source and way in" grep -Eq "http:portsmouth-ph +corroborate .*report from portsmouth-ph" "$T/history"
check "the grade change shows from -> to and the reasons" \
        grep -Eq "http:portsmouth-ph +grade +2 +$GRADE1 -> $GRADE2: .+" "$T/history"
check "the ack names the dashboard and the subscriber" \
        grep -Eq "mqtt:rough-sleeper-outreach +ack +1 +rough-sleeper-outreach acknowledged revision 1 on the dashboard by Sam" "$T/history"
check "the cancel gives its reason" grep -q "cancel .*lab retest: not a nitazene" "$T/history"
check "times are local time to the second" \
        bash -c "sed -n 2p '$T/history' | grep -q \"^$(date +%Y-%m-%d) [0-9][0-9]:[0-9][0-9]:[0-9][0-9] \""

check "--json is an array of {at, actor, event, detail}" \
        q 'isinstance(d, list) and len(d) == 7 and all({"at", "actor", "event", "detail"} <= set(e) for e in d)' "$T/history.json"
check "with the revision each event made" \
        q '[e["revision"] for e in d if e["event"] in ("issue", "update", "cancel")] == [1, 3, 4]' "$T/history.json"
check "and times in RFC 3339" q 'all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["at"]) for e in d)' "$T/history.json"

ctl history A99 >"$T/out" 2>"$T/err"
check "history of an unknown alert exits 1" test $? -eq 1
check "with an error naming it" grep -q "no alert with id 'A99'" "$T/err"
ctl history >"$T/out" 2>"$T/err"
check "history without an id is a usage error (exit 2)" test $? -eq 2

# ---- dawnctl audit ----
ctl audit >"$T/audit"
sed 's/^/    | /' "$T/audit"
check "audit lists every decision, newest last" \
        bash -c "awk 'NR > 1' '$T/audit' | grep -Eo '(issue|corroborate|update|ack|reload|cancel) ' | tr -d ' ' | tr '\n' ' ' |
                grep -qx 'issue corroborate update ack reload reload reload cancel '"
check "a reload by dawnctl names the officer and says it applied" \
        grep -Eq "$ME \\(.*reload +- +applied \\([0-9]+ areas, [0-9]+ subscribers\\)" "$T/audit"
check "a refused one says it was not applied, and why" \
        grep -Eq "$ME \\(.*reload +- +not applied, [0-9]+ errors?: .+" "$T/audit"
ctl --json audit --actor "http:portsmouth-ph" >"$T/actor.json"
check "--actor filters exactly" q 'len(d) == 1 and d[0]["action"] == "corroborate" and d[0]["alert"] == "A1"' "$T/actor.json"
ctl --json audit --actor "http:portsmouth" >"$T/actor.json"
check "a prefix of an actor matches nothing" q 'd == []' "$T/actor.json"
check "--since 1m leaves nothing recent out" test "$(ctl --json audit --since 1m | q 'len(d)')" = "$(ctl --json audit | q 'len(d)')"
check "--limit 2 keeps the newest two" \
        bash -c "'$DAWNCTL' --json audit --limit 2 | q '[e[\"action\"] for e in d] == [\"reload\", \"cancel\"]'"
ctl audit --limit 2 >"$T/out"
check "and says older entries were left out" grep -q "only the newest 2 entries are shown" "$T/out"
ctl audit --since 7x >"$T/out" 2>"$T/err"
check "a bad --since exits 2" test $? -eq 2
check "naming the option" grep -q -- "--since wants a duration" "$T/err"
ctl audit --limit 0 >"$T/out" 2>"$T/err"
check "a bad --limit exits 2 naming it" bash -c "[ $? -eq 2 ] && grep -q -- '--limit' '$T/err'"

# a hostile control client: the daemon checks what dawnctl would have
printf '{"cmd":"audit","since_seconds":-5}\n{"cmd":"audit","limit":1e9}\n{"cmd":"audit","actor":""}\n{"cmd":"history","id":"A1","x":1}\n' |
        /usr/bin/python3 -c 'import socket,sys,os
s=socket.socket(socket.AF_UNIX); s.connect(os.environ["DAWN_SOCKET"]); s.sendall(sys.stdin.buffer.read()); s.shutdown(socket.SHUT_WR)
print(s.makefile().read(), end="")' >"$T/raw"
check "the socket refuses bad arguments, naming each" \
        test "$(/usr/bin/python3 -c 'import json,sys
print(" ".join(json.loads(l)["field"] for l in open(sys.argv[1])))' "$T/raw")" = "since_seconds limit actor x"
check "dawnd still answers" ctl status >/dev/null

finish
