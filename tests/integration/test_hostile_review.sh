#!/bin/bash
# A reporter cannot bypass review, and overdose clustering costs the same
# however full the window (issue 10, items 9 and 11), as a partner sees it
# over HTTP and an officer with dawnctl:
# - a reporter's "1,000 dead" about an active info alert reaches no
#   recipient; it waits in dawnctl pending as a proposal of its own id, and
#   only approve sends the rise; reject refuses the alert's own id;
# - three pending overdose reports from one reporter raise no active cluster;
# - an issuer's plain report vouches for itself only: when it completes a
#   cluster with a reporter's reports ("500 dead" each), confirms a pending
#   cluster of them ("50 dead" each) or confirms a reporter's pending batch
#   report ("1,000 dead"), subscribers get the alert graded on the issuer's
#   report alone; the claims wait in dawnctl pending, and approve sends them;
# - three arrays of 1,000 overdose reports are each taken in one request,
#   and dawnctl status answers promptly while the third is processed.
. "$(dirname "$0")/lib.sh"

HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
for s in portsmouth-ph ambulance ed-feed; do printf '%s-%s%s\n' "$s" "$RANDOM" "$RANDOM" >"$T/$s.token"; done
write_config
# portsmouth-ph an issuer, ambulance a reporter, ed-feed an issuer sending overdose reports in bulk;
# no rate limits: this test is about review and cost, not request rates
/usr/bin/python3 - "$T/dawn.conf" "$T" <<'PY'
import re, sys
path, t = sys.argv[1], sys.argv[2]
text = open(path).read()
rows = [("portsmouth-ph", "issuer"), ("ambulance", "reporter"), ("ed-feed", "issuer")]
sources = "sources = (\n" + ",\n".join(
    '        { id = "%s"; role = "%s"; token_file = "%s/%s.token"; rate_per_minute = 0; }' % (s, r, t, s)
    for s, r in rows) + "\n);"
text = re.sub(r"sources = \(.*?\n\);", sources, text, flags=re.S)
open(path, "w").write(text)
PY
start_broker
start_dawnd

post() { # SOURCE JSON: the body lands in $T/body, the status is printed
        curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $(cat "$T/$1.token")" \
                -H 'Content-Type: application/json' --data-binary "$2" "$API/v1/alerts"
}
body() { json_get "$T/body" "$1"; }
# Items of dawnctl --json pending: "KIND ID ALERT GRADE", one a line
pending_items() {
        ctl --json pending | /usr/bin/python3 -c 'import json,sys
for p in json.load(sys.stdin): print(p.get("kind"), p["id"], p.get("alert", "-"), p["grade"])'
}
messages_for() { messages "$1" | grep -c "/$2 " || true; }

echo "# dawnd before: RSS $(rss) kB, $(fds) fds"

# ---- a reporter's claim about an active alert ----
# an info alert reaches public health only; the-haven-hostel takes warnings, fratton-pharmacy critical ones
subscribe "$T/ph" "$PREFIX/subscribers/ph-duty-officer/alerts/+"
subscribe "$T/haven" "$PREFIX/subscribers/the-haven-hostel/alerts/+"
subscribe "$T/fratton" "$PREFIX/subscribers/fratton-pharmacy/alerts/+"
subscribe "$T/review" "$PREFIX/subscribers/ph-duty-officer/review/+"
status=$(post portsmouth-ph '{"type":"batch","area":"portsmouth","summary":"Heroin in Portsmouth is unusually strong.","sold_as":["heroin"]}')
a=$(body .id)
check "portsmouth-ph's alert is accepted, graded info" test "$status/$(body .grade)/$(body .status)" = 201/info/active
check "it reaches ph-duty-officer" wait_count "$T/ph" "/alerts/$a " 1
status=$(post ambulance '{"type":"batch","area":"portsmouth","summary":"A thousand dead from this heroin.","sold_as":["heroin"],"casualties":1000,"fatalities":1000}')
check "ambulance's claim is answered as a corroboration of $a" test "$status/$(body .id)/$(body .outcome)" = "200/$a/merged"
check "the answer shows $a as it stands: info, revision 1" test "$(body .grade)/$(body .revision)" = info/1
check "the public-health reviewers are told of the proposal" wait_count "$T/review" "/review/P1 " 1
ctl --json show "$a" >"$T/shown.json"
check "$a is still info, revision 1" test "$(json_get "$T/shown.json" .grade)/$(json_get "$T/shown.json" .revision)" = info/1
check "its recipients have nothing new queued" test "$(subscribers_of "$a" 2 publish)" = ""
check "ph-duty-officer got only revision 1" test "$(messages_for "$T/ph" "$a")" -eq 1
check "the-haven-hostel (warning and up) got nothing" test "$(messages_for "$T/haven" "$a")" -eq 0
check "fratton-pharmacy (critical only) got nothing" test "$(messages_for "$T/fratton" "$a")" -eq 0
check "the retained alert still says info" bash -c \
        "mosquitto_sub -p $MQTT_PORT -v --retained-only -W 1 -t '$PREFIX/subscribers/ph-duty-officer/alerts/$a' 2>/dev/null | grep -q '\"grade\":\"info\"'"
check "dawnctl pending lists proposal P1 to raise $a to critical" \
        test "$(pending_items)" = "proposal P1 $a critical"
ctl pending >"$T/pending.txt"
check "the table shows the rise" grep -q '^P1 .*info -> critical' "$T/pending.txt"

ctl reject "$a" --reason "meant the proposal" >/dev/null 2>"$T/reject.err"
rc=$?
check "dawnctl reject $a (the active alert) is refused with exit 1" test "$rc" -eq 1
check "pointing to dawnctl cancel" grep -q "dawnctl cancel $a" "$T/reject.err"
check "and $a stays active" test "$(ctl --json show "$a" | json_get /dev/stdin .status)" = active

ctl --json approve P1 >"$T/approved.json"
check "dawnctl approve P1 raises $a to critical in revision 2" \
        test "$(json_get "$T/approved.json" .id)/$(json_get "$T/approved.json" .grade)/$(json_get "$T/approved.json" .revision)" = "$a/critical/2"
check "fratton-pharmacy now gets it" wait_count "$T/fratton" "/alerts/$a \{.*\"critical\"" 1
check "the-haven-hostel gets it too" wait_count "$T/haven" "/alerts/$a \{.*\"critical\"" 1
check "ph-duty-officer gets revision 2" wait_count "$T/ph" "/alerts/$a \{.*\"revision\":2" 1
check "nothing waits for review any more" test -z "$(pending_items)"

# ---- three pending overdose reports from one reporter ----
subscribe "$T/booth" "$PREFIX/subscribers/booth-house/alerts/+"
for i in 1 2 3; do post ambulance "{\"type\":\"nfod\",\"area\":\"southampton\",\"sold_as\":[\"heroin\"],\"source_ref\":\"amb-od-$i\"}" >/dev/null; done
clusters() { ctl --json list --all | /usr/bin/python3 -c 'import json,sys
print(" ".join(a["id"] + ":" + a["status"] for a in json.load(sys.stdin) if a["type"] == "cluster"))'; }
cl=$(clusters)
check "they raise one cluster, pending, not active" test "${cl#*:}" = pending -a "$(wc -w <<<"$cl")" -eq 1
cl=${cl%%:*}
check "the reviewers are told of it" wait_count "$T/review" "/review/$cl " 1
check "booth-house (southampton) got nothing" test "$(messages_for "$T/booth" "$cl")" -eq 0
check "dawnctl pending lists cluster $cl as an alert" grep -qx "alert $cl - warning" <(pending_items)

# ---- an issuer's report vouches for itself, not for the reporters' claims ----
# What a subscriber holds of an alert (its retained message, as a dashboard that connects now
# gets it): "GRADE FATALITIES", "-" where none
held_by() { # SUBSCRIBER ID
        mosquitto_sub -p "$MQTT_PORT" -v --retained-only -C 1 -W 2 -t "$PREFIX/subscribers/$1/alerts/$2" 2>/dev/null |
                /usr/bin/python3 -c 'import json,sys
for line in sys.stdin:
    a = json.loads(line.partition(" ")[2]); print(a["grade"], a.get("fatalities", "-"))'
}
# The latest message a subscriber got for an alert, the same way
last_seen() { # FILE ID
        messages "$1" | /usr/bin/python3 -c 'import json,sys
last = ""
for line in sys.stdin:
    topic, _, p = line.rstrip("\n").partition(" ")
    if topic.endswith("/alerts/" + sys.argv[1]) and p:
        a = json.loads(p); last = "%s %s" % (a["grade"], a.get("fatalities", "-"))
print(last)' "$2"
}
# The fatalities of every message a subscriber got for an alert, sorted: "0 500"
fatalities_seen() { # FILE ID
        messages "$1" | /usr/bin/python3 -c 'import json,sys
seen = set()
for line in sys.stdin:
    topic, _, p = line.rstrip("\n").partition(" ")
    if topic.endswith("/alerts/" + sys.argv[1]) and p:
        seen.add(str(json.loads(p).get("fatalities", "-")))
print(" ".join(sorted(seen)))' "$2"
}
proposals_for() { pending_items | awk -v a="$1" '$1 == "proposal" && $3 == a {print $2 " " $4}'; }
newest_cluster() { ctl --json list --all | /usr/bin/python3 -c 'import json,sys
c = [a for a in json.load(sys.stdin) if a["type"] == "cluster" and a["area"] == sys.argv[1]]
print(c[-1]["id"] if c else "")' "$1"; }

# 1. a new cluster: a reporter's two reports claiming 500 dead each, then one plain issuer report
subscribe "$T/newport" "$PREFIX/subscribers/newport-pharmacy/alerts/+"
for i in 1 2; do post ambulance "{\"type\":\"nfod\",\"area\":\"isle-of-wight\",\"fatalities\":500,\"casualties\":500,\"source_ref\":\"iow-$i\"}" >/dev/null; done
check "a reporter's two reports alone raise no cluster on the island" test -z "$(newest_cluster isle-of-wight)"
status=$(post ed-feed '{"type":"nfod","area":"isle-of-wight","source_ref":"iow-ed"}')
check "ed-feed's plain overdose report is accepted" test "$status" = 201
c1=$(newest_cluster isle-of-wight)
check "it completes cluster $c1 on the island, which goes out" test -n "$c1" -a "$(ctl --json show "$c1" | json_get /dev/stdin .status)" = active
check "newport-pharmacy gets $c1 as a warning with no deaths" wait_for "[ \"\$(last_seen $T/newport $c1)\" = 'warning 0' ]" 10
check "and holds it so (retained)" test "$(held_by newport-pharmacy "$c1")" = "warning 0"
check "it never got the reporter's 500 deaths" test "$(fatalities_seen "$T/newport" "$c1")" = 0
# (how many proposals one reporter's claims make is the proposal queue's business: at least one)
check "dawnctl pending lists the claims as proposals to make $c1 critical" \
        test "$(proposals_for "$c1" | awk '{print $2}' | sort -u)" = critical
p=$(proposals_for "$c1" | awk 'NR == 1 {print $1}')
ctl approve "$p" >/dev/null
check "approve $p: newport-pharmacy gets $c1, critical with 500 deaths" wait_for "[ \"\$(last_seen $T/newport $c1)\" = 'critical 500' ]" 10

# 2. a pending cluster of a reporter's three reports (50 dead each), then one plain issuer report
for i in 1 2 3; do post ambulance "{\"type\":\"nfod\",\"area\":\"portsmouth\",\"fatalities\":50,\"casualties\":50,\"source_ref\":\"pm-$i\"}" >/dev/null; done
c2=$(newest_cluster portsmouth)
check "they raise cluster $c2 in portsmouth, pending and critical" \
        test -n "$c2" -a "$(ctl --json show "$c2" | json_get /dev/stdin .status)/$(ctl --json show "$c2" | json_get /dev/stdin .grade)" = pending/critical
post ed-feed '{"type":"nfod","area":"portsmouth","source_ref":"pm-ed"}' >/dev/null
check "ed-feed's plain report sends $c2 out" test "$(ctl --json show "$c2" | json_get /dev/stdin .status)" = active
check "the-haven-hostel gets $c2 as a warning with no deaths" wait_for "[ \"\$(last_seen $T/haven $c2)\" = 'warning 0' ]" 10
check "and holds it so (retained)" test "$(held_by the-haven-hostel "$c2")" = "warning 0"
check "fratton-pharmacy (critical only) got nothing of $c2" test "$(messages_for "$T/fratton" "$c2")" -eq 0
check "dawnctl pending lists the claims as proposals to make $c2 critical" \
        test "$(proposals_for "$c2" | awk '{print $2}' | sort -u)" = critical
p=$(proposals_for "$c2" | awk 'NR == 1 {print $1}')
ctl approve "$p" >/dev/null
check "approve $p: fratton-pharmacy gets $c2, critical with 50 deaths" wait_for "[ \"\$(last_seen $T/fratton $c2)\" = 'critical 50' ]" 10

# 3. a reporter's pending batch report claiming 1,000 dead, then an issuer's plain report of the same batch
post ambulance '{"type":"batch","area":"portsmouth","summary":"Ketamine cut with something.","sold_as":["ketamine"],"casualties":1000,"fatalities":1000}' >/dev/null
k=$(body .id)
check "ambulance's report $k waits, critical" test "$(body .status)/$(body .grade)" = pending/critical
status=$(post portsmouth-ph '{"type":"batch","area":"portsmouth","summary":"Ketamine cut with something.","sold_as":["ketamine"]}')
check "portsmouth-ph's report confirms $k: it goes out graded info" \
        test "$status/$(body .id)/$(body .status)/$(body .grade)" = "200/$k/active/info"
check "ph-duty-officer gets $k as info with no deaths" wait_for "[ \"\$(last_seen $T/ph $k)\" = 'info -' ]" 10
check "and holds it so (retained)" test "$(held_by ph-duty-officer "$k")" = "info -"
check "it never got the reporter's 1,000 deaths" test "$(fatalities_seen "$T/ph" "$k")" = "-" -a \
        "$(messages "$T/ph" | grep "/alerts/$k " | grep -c "1000 fatalities")" -eq 0
check "the-haven-hostel (warning and up) got nothing of $k" test "$(messages_for "$T/haven" "$k")" -eq 0
check "dawnctl pending lists the claim as a proposal to make $k critical" test "$(proposals_for "$k" | awk '{print $2}')" = critical
p=$(proposals_for "$k" | cut -d' ' -f1)
ctl approve "$p" >/dev/null
check "approve $p: fratton-pharmacy gets $k, critical for 1000 deaths" wait_count "$T/fratton" "/alerts/$k \\{.*\"critical\".*1000 fatalities" 1

# ---- 3,000 overdose reports, 1,000 to an array ----
batch() { # N: an array of 1,000 overdose reports in winchester
        /usr/bin/python3 -c 'import json,sys
n = int(sys.argv[1])
print(json.dumps([{"type": "nfod", "area": "winchester", "source_ref": "ed-%d-%d" % (n, i)} for i in range(1000)]))' "$1" >"$T/batch$1.json"
}
for n in 1 2 3; do batch "$n"; done
for n in 1 2; do
        code=$(curl -s -o "$T/batch$n.out" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $(cat "$T/ed-feed.token")" \
                -H 'Content-Type: application/json' --data-binary "@$T/batch$n.json" "$API/v1/alerts")
        check "array $n of 1,000 reports is answered" test "$code" = 200 -o "$code" = 201
done
echo "# dawnd with 2,000 reports in the window: RSS $(rss) kB, $(fds) fds"
curl -s -o "$T/batch3.out" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $(cat "$T/ed-feed.token")" \
        -H 'Content-Type: application/json' --data-binary "@$T/batch3.json" "$API/v1/alerts" >"$T/batch3.code" &
curl_pid=$!
# while the third array is taken: dawnctl status each time within 3 seconds (bounded: 200 tries, 30 s)
slow=0 polls=0 peak_rss=0 peak_fds=0 deadline=$((SECONDS + 30))
for _ in $(seq 200); do
        kill -0 "$curl_pid" 2>/dev/null || break
        [ "$SECONDS" -lt "$deadline" ] || break
        polls=$((polls + 1))
        timeout 3 "$DAWNCTL" status >/dev/null 2>&1 || slow=$((slow + 1))
        r=$(rss) f=$(fds)
        [ "$r" -gt "$peak_rss" ] && peak_rss=$r
        [ "$f" -gt "$peak_fds" ] && peak_fds=$f
done
wait "$curl_pid"
echo "# dawnd during array 3: $polls status polls, peak RSS $peak_rss kB, peak $peak_fds fds"
check "dawnctl status answered within 3 s every time during array 3 ($polls polls)" test "$slow" -eq 0
check "array 3 of 1,000 reports is answered" grep -qE '^20[01]$' "$T/batch3.code"
check "every report of array 3 was accepted" /usr/bin/python3 -c 'import json,sys
r = json.load(open(sys.argv[1])); assert len(r) == 1000 and all(x.get("status") for x in r), r[:2]' "$T/batch3.out"
wc=$(ctl --json list | /usr/bin/python3 -c 'import json,sys
print(" ".join(a["id"] for a in json.load(sys.stdin) if a["type"] == "cluster" and a["area"] == "winchester"))')
check "one cluster in winchester" test -n "$wc" -a "$(wc -w <<<"$wc")" -eq 1
ctl --json show "$wc" >"$T/wc.json"
check "it counts 3,000 overdoses" test "$(json_get "$T/wc.json" .casualties)" = 3000
check "its reason names five reports and counts the rest" /usr/bin/python3 -c 'import json,sys
r = [x for x in json.load(open(sys.argv[1]))["grade_reasons"] if x.startswith("from ")]
assert len(r) == 1 and r[0].startswith("from 3,000 overdose reports: ") and r[0].endswith(" and 2,995 more") and len(r[0]) < 400, r' "$T/wc.json"
check "dawnd answers /healthz" bash -c "curl -s --max-time 3 '$API/healthz' >/dev/null"
echo "# dawnd after: RSS $(rss) kB, $(fds) fds"
check "the store is intact" test "$(store_intact)" = ok
check "dawnd logged no sanitizer report" bash -c "! grep -qE 'runtime error|AddressSanitizer' '$T/dawnd.log'"
finish
