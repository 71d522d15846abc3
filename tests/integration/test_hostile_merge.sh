#!/bin/bash
# Repeated reports cannot silence DAWN or bury its reviewers (issue 10,
# "no client can silence DAWN", "every loop an end"), as a partner sees it
# over HTTP and an officer with dawnctl:
# - a reporter repeats a rising claim about an active alert 50 times: one
#   proposal waits in dawnctl pending (it used to be 50, each with its
#   reviewer notice), carrying the largest claim, and the reviewers are
#   told once per grade it would reach;
# - a partner resends one batch report (no source_ref) 2,000 times, in two
#   arrays of 1,000: every report is answered as a merge into the one
#   alert, dawnctl status answers within 3 s throughout, dawnd's RSS grows
#   by a bounded amount, and the alert is graded as after one report (each
#   merge used to read every corroboration the alert had: quadratic work,
#   dawnd unanswering at the ~512th under ASan, 900 MB).
. "$(dirname "$0")/lib.sh"

# Under ASan (BUILD=build-san), freed memory waits in a quarantine (256 MB by default)
# and would read as growth in the RSS checks: a small one keeps them meaningful.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
DB="$T/state/dawn.db"
for s in portsmouth-ph ambulance; do printf '%s-%s%s\n' "$s" "$RANDOM" "$RANDOM" >"$T/$s.token"; done
write_config
# portsmouth-ph an issuer, ambulance a reporter; no rate limits: this test is about what a
# merge costs, not request rates (each report of an array would count against one)
/usr/bin/python3 - "$T/dawn.conf" "$T" <<'PY'
import re, sys
path, t = sys.argv[1], sys.argv[2]
text = open(path).read()
rows = [("portsmouth-ph", "issuer"), ("ambulance", "reporter")]
sources = "sources = (\n" + ",\n".join(
    '        { id = "%s"; role = "%s"; token_file = "%s/%s.token"; rate_per_minute = 0; }' % (s, r, t, s)
    for s, r in rows) + "\n);"
text = re.sub(r"sources = \(.*?\n\);", sources, text, flags=re.S)
open(path, "w").write(text)
PY
start_broker
start_dawnd

post() { # SOURCE JSON: the body lands in $T/body, the status is printed
        curl -s -o "$T/body" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $(cat "$T/$1.token")" \
                -H 'Content-Type: application/json' --data-binary "$2" "$API/v1/alerts"
}
body() { json_get "$T/body" "$1"; }
# dawnctl with a deadline shorter than its own minute: a daemon stuck in merges fails the test soon
ctlt() { timeout 10 "$DAWNCTL" "$@"; }
echo "# dawnd at start: RSS $(rss) kB, $(fds) fds"

# ---- a reporter's rising claim, 50 times over ----
subscribe "$T/review" "$PREFIX/subscribers/ph-duty-officer/review/+"
status=$(post portsmouth-ph '{"type":"batch","area":"portsmouth","summary":"Cocaine in Portsmouth is unusually strong.","sold_as":["cocaine"]}')
c=$(body .id)
check "portsmouth-ph's cocaine alert $c is info" test "$status/$(body .grade)" = 201/info
# 1 to 50 casualties, deaths claimed from the 26th on: warning, then critical (bounded: 50 posts, 30 s)
refused=0 deadline=$((SECONDS + 30))
for i in $(seq 50); do
        [ "$SECONDS" -lt "$deadline" ] || { refused=$((refused + 51 - i)); break; }
        deaths=$((i > 25 ? i - 25 : 0))
        status=$(post ambulance "{\"type\":\"batch\",\"area\":\"portsmouth\",\"summary\":\"Claim $i: the cocaine is killing people.\",\"sold_as\":[\"cocaine\"],\"casualties\":$i,\"fatalities\":$deaths}")
        [ "$status/$(body .id)/$(body .grade)" = "200/$c/info" ] || refused=$((refused + 1))
done
check "all 50 claims are answered as merges into $c, still info" test "$refused" -eq 0
ctlt --json pending >"$T/pending.json"
check "dawnctl pending lists one proposal for $c" /usr/bin/python3 -c 'import json,sys
p = [x for x in json.load(open(sys.argv[1])) if x.get("kind") == "proposal"]
assert len(p) == 1 and p[0]["alert"] == sys.argv[2], [(x["id"], x["alert"]) for x in p][:5]' "$T/pending.json" "$c"
check "carrying the largest claim: critical, 50 casualties, 25 deaths" /usr/bin/python3 -c 'import json,sys
p = [x for x in json.load(open(sys.argv[1])) if x.get("kind") == "proposal"][0]
got = (p["grade_change"], p.get("casualties"), p.get("fatalities"))
assert got == ("info -> critical", 50, 25), got' "$T/pending.json"
p=$(json_get "$T/pending.json" .0.id)
check "the reviewers are told of $p" wait_count "$T/review" "/review/$p " 1
check "and of no more than the two grades the claim reached" test "$(messages "$T/review" | grep -c '/review/')" -le 2
check "$c is still info, revision 1" test "$(ctlt --json show "$c" | json_get /dev/stdin .grade)" = info
ctlt --json approve "$p" >"$T/approved.json"
check "dawnctl approve $p raises $c to critical in revision 2" \
        test "$(json_get "$T/approved.json" .grade)/$(json_get "$T/approved.json" .revision)" = critical/2
echo "# dawnd after the 50 claims: RSS $(rss) kB, $(fds) fds"

# ---- one batch report, 2,000 times over ----
REPORT='{"type":"batch","area":"portsmouth","summary":"Heroin in Portsmouth contains a nitazene.","sold_as":["heroin"],"adulterants":["nitazene"]}'
status=$(post portsmouth-ph "$REPORT")
a=$(body .id)
check "the first report is alert $a, graded warning" test "$status/$(body .grade)/$(body .revision)" = 201/warning/1
ctlt --json show "$a" >"$T/first.json"
/usr/bin/python3 -c 'import json,sys
n = int(sys.argv[2]); r = sys.argv[1]
print("[" + ",".join([r] * n) + "]")' "$REPORT" 1000 >"$T/array.json"
RSS0=$(rss) FD0=$(fds)
echo "# dawnd before the 2,000 reports: RSS $RSS0 kB, $FD0 fds"

peak_rss=$RSS0 peak_fds=$FD0 slow=0 polls=0
for n in 1 2; do
        curl -s -o "$T/array$n.out" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $(cat "$T/portsmouth-ph.token")" \
                -H 'Content-Type: application/json' --data-binary "@$T/array.json" "$API/v1/alerts" >"$T/array$n.code" &
        curl_pid=$!
        # while the array is taken: dawnctl status each time within 3 seconds (bounded: 200 tries, 30 s)
        deadline=$((SECONDS + 30))
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
        check "array $n of 1,000 identical reports is answered" grep -qE '^20[01]$' "$T/array$n.code"
        check "every report of array $n merged into $a" /usr/bin/python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
assert len(r) == 1000 and all(x.get("id") == sys.argv[2] and x.get("outcome") == "merged" for x in r), len(r)' "$T/array$n.out" "$a"
done
RSS1=$(rss) FD1=$(fds)
[ "$RSS1" -gt "$peak_rss" ] && peak_rss=$RSS1 # what the heap grew to stays in RSS
echo "# dawnd during the 2,000 reports: $polls status polls, peak RSS $peak_rss kB, peak $peak_fds fds"
echo "# dawnd after the 2,000 reports: RSS $RSS1 kB, $FD1 fds"
check "dawnctl status answered within 3 s every time while they were taken ($polls polls)" test "$slow" -eq 0
# the arrays' bodies (2 x 150 kB), their answers, SQLite's page cache (2 MB) and, under ASan,
# its small quarantine and shadow: far below the hundreds of MB that re-reading every
# corroboration for each merge took
check "RSS grew by less than 48 MB while they were taken" test $((peak_rss - RSS0)) -lt 49152
check "no fds were left open by them" test "$FD1" -le $((FD0 + 2))

ctlt --json show "$a" >"$T/shown.json"
check "$a is graded as after the first report, revision 1" /usr/bin/python3 -c 'import json,sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert (a["grade"], a["grade_reasons"], a["revision"]) == (b["grade"], b["grade_reasons"], b["revision"]), (a["grade_reasons"], b["grade_reasons"])' \
        "$T/shown.json" "$T/first.json"
check "the 2,000 repeats are one corroboration that counts them" /usr/bin/python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))["corroborations"]
assert len(c) == 1 and c[0]["repeats"] == 2000, (len(c), c[0].get("repeats"))' "$T/shown.json"
check "every report is in the audit log" \
        test "$(store_sql "select count(*) from audit where alert_id = '$a' and action = 'corroborate'")" = 2000

check "dawnd answers /healthz" bash -c "curl -s --max-time 3 '$API/healthz' >/dev/null"
echo "# dawnd at the end: RSS $(rss) kB, $(fds) fds"
check "the store is intact" test "$(store_intact)" = ok
check "dawnd logged no sanitizer report" bash -c "! grep -qE 'runtime error|AddressSanitizer' '$T/dawnd.log'"
finish
