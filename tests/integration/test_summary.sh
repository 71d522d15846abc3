#!/bin/bash
# The panel's summary (dawnctl summary) over a small, real history: alerts of
# each type, grade and area issued by an officer, a reporter's report and an
# overdose cluster raised by reporters that an officer approved later, texts
# through the test SMS gateway (one number's texts fail by receipt), email to
# the SMTP sink, MQTT through a real broker, and an "ACK" text. The figures
# dawnctl prints as JSON are checked exactly; the text has its headings; the
# HTML page is self-contained. St Mary's never acknowledges and escalates after
# a second to the recovery service; a member of the public texts JOIN and gets
# the public alert; the Haven, whose texts fail, replies STOP. The window's cut-off with fixed
# timestamps is tests/unit/test_summary.c's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
start_smtp
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
printf 'notify-callback-secret\n' >"$T/callback.token"
for s in ambulance uhs-ed scas; do printf '%s-token-%s\n' "$s" "$RANDOM$RANDOM" >"$T/$s.token"; done
write_delivery_config "callback_token_file = \"$T/callback.token\";" "" "" "
sources = (
        { id = \"ambulance\"; role = \"reporter\"; token_file = \"$T/ambulance.token\"; },
        { id = \"uhs-ed\"; role = \"reporter\"; token_file = \"$T/uhs-ed.token\"; },
        { id = \"scas\"; role = \"reporter\"; token_file = \"$T/scas.token\"; }
);
grading = { cluster = { window = \"24h\"; threshold = 3; }; };
public = { enabled = true; };"
sed -i 's#{ id = "st-marys-pharmacy"; kind = "pharmacy"; area = "southampton"; sms = \[ "+447700900124" \]; }#{ id = "st-marys-pharmacy"; kind = "pharmacy"; area = "southampton"; sms = [ "+447700900124" ]; escalate_after = "1s"; escalate_to = [ "recovery-service" ]; }#' "$T/dawn.conf"
check "the test config escalates St Mary's" grep -q 'escalate_after = "1s"' "$T/dawn.conf"
start_dawnd

curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "{\"notify_status_url\": \"$API/v1/callbacks/notify/status\",
        \"notify_inbound_url\": \"$API/v1/callbacks/notify/inbound\", \"notify_token\": \"notify-callback-secret\",
        \"receipts\": {\"+447700900125\": \"permanent-failure\"}, \"default_receipt\": \"delivered\"}" \
        "http://127.0.0.1:$GW_PORT/_control/callbacks"
report() { # SOURCE JSON-FIELDS
        curl -s -H "Authorization: Bearer $(cat "$T/$1.token")" -H 'Content-Type: application/json' -d "{$2}" \
                "$API/v1/alerts"
}
summary() { ctl --json summary "$@" >"$T/summary.json"; }
fig() { json_get "$T/summary.json" "$1"; }
# every delivery has settled: nothing waiting, on its way, or sent without a receipt
settled() {
        ctl --json status | /usr/bin/python3 -c 'import json,sys
q=json.load(sys.stdin)["deliveries"]
sys.exit(any(n for ch in q.values() for st,n in ch.items() if st in ("pending","retrying","in-flight","sent")))'
}

gw_inbound() {
        curl -s -X POST -H 'Content-Type: application/json' -d "{\"api\": \"$1\", \"from\": \"$2\", \"body\": \"$3\"}" \
                "http://127.0.0.1:$GW_PORT/_control/inbound"
}

# ---- the history ----
check "a member of the public joins Southampton" grep -q '"status": 200' <<<"$(gw_inbound notify +447700900999 "JOIN southampton")"
# A1: critical, Southampton, public: booth-house (SMS, email, MQTT), st-marys (SMS), recovery-service
# (email), the public member (SMS)
ctl issue --area southampton --grade critical --scope public --sold-as heroin --adulterant nitazene \
        --advice "Do not use alone; carry naloxone." "Heroin with a nitazene." >/dev/null
# A2: warning, Portsmouth: the-haven-hostel (SMS fails by receipt, email), recovery-service (email)
ctl issue --area portsmouth --grade warning --sold-as cocaine "Cocaine cut with something harsh." >/dev/null
# A3: a reporter's report, pending until an officer approves it (critical: the reporter said so)
report ambulance '"type":"batch","area":"southampton","sold_as":["ketamine"],"summary":"Ketamine with a strong
reaction.","grade":"critical","source_ref":"amb-b1"' >"$T/a3.json"
A3=$(json_get "$T/a3.json" .id)
check "the reporter's report waits for review" test "$(json_get "$T/a3.json" .status)" = pending
# three overdose reports from reporters in Southampton raise a cluster that waits for review
for s in ambulance uhs-ed scas; do
        report $s "\"type\":\"nfod\",\"area\":\"southampton\",\"sold_as\":[\"heroin\"],\"source_ref\":\"$s-1\"" >/dev/null
done
CL=$(ctl --json pending | /usr/bin/python3 -c 'import json,sys
print(" ".join(a["id"] for a in json.load(sys.stdin) if a.get("type")=="cluster"))')
check "the overdose reports raised one cluster, waiting for review" test "$(wc -w <<<"$CL")" -eq 1
summary --since 1d
check "nothing pending counts as issued" test "$(fig .alerts.total)" = 2
ctl approve "$A3" >/dev/null
ctl approve "$CL" >/dev/null
escalated() { summary --since 1d && [ "$(fig .escalations.escalated)" = 2 ]; }
check "St Mary's silence about A1 and the approved report is escalated" wait_for escalated 15
check "every delivery settles" wait_for settled 20
check "booth-house acknowledges A1 by text" grep -q '"status": 200' <<<"$(gw_inbound notify +447700900123 "ACK A1")"
acked() {
        ctl --json show A1 | /usr/bin/python3 -c 'import json,sys
sys.exit(not any(a["via"]=="sms" and a["subscriber"]=="booth-house" for a in json.load(sys.stdin)["acks"]))'
}
check "the ack is recorded" wait_for acked 10
check "the Haven texts STOP" grep -q '"status": 200' <<<"$(gw_inbound notify +447700900125 "STOP")"

# ---- the figures, as JSON ----
summary --since 1d
echo "# $(tr -d '\n\t ' <"$T/summary.json" | cut -c1-900)"
check "four alerts issued: the pending reports are not" test "$(fig .alerts.total)" = 4
check "by type: three batches, one cluster" test "$(fig .alerts.by_type)" = '{"batch": 3, "cluster": 1, "nfod": 0}'
check "by grade: two critical, two warning (the cluster)" \
        test "$(fig .alerts.by_grade)" = '{"critical": 2, "warning": 2, "info": 0, "logged": 0}'
check "by area: Southampton three, Portsmouth one" test "$(fig .alerts.by_area)" = '{"southampton": 3, "portsmouth": 1}'
check "with the areas' display names" test "$(fig .alerts.area_names)" = '{"southampton": "Southampton", "portsmouth": "Portsmouth"}'
check "two alerts stood on reports (the approved report and the cluster)" test "$(fig .report_to_issue.alerts)" = 2
check "their median and longest time from report to issue" \
        /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["report_to_issue"]
assert 0 < r["median_seconds"] <= r["max_seconds"] < 60, r' "$T/summary.json"
# per alert: A1 and A3 (Southampton, critical) and the cluster (Southampton) reach booth-house by
# SMS, email and MQTT, st-marys by SMS and recovery-service by email; A2 (Portsmouth) the Haven by
# SMS (failed by receipt) and email, and recovery-service by email; each alert also goes to its
# area's MQTT topic; A1, public, to the member of the public by SMS; the two escalations to the
# recovery service by email
check "SMS: seven delivered, one failed" test "$(fig .delivery.sms.states)" = '{"delivered": 7, "failed": 1}'
check "SMS: succeeded 7 of 8" test "$(fig .delivery.sms.succeeded) $(fig .delivery.sms.failed) $(fig .delivery.sms.total)" = "7 1 8"
check "email: ten delivered" test "$(fig .delivery.email.states)" = '{"delivered": 10}'
check "MQTT: seven delivered" test "$(fig .delivery.mqtt.states)" = '{"delivered": 7}'
check "each channel has its p50 and p95 time to deliver" /usr/bin/python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))["delivery"]
for ch in ("sms","email","mqtt"):
    assert 0 <= d[ch]["p50_seconds"] <= d[ch]["p95_seconds"] < 30, (ch, d[ch])
assert d["sms"]["timed"] == 7, d["sms"]' "$T/summary.json"
check "hostels: one of four acknowledged, with a median time" \
        /usr/bin/python3 -c 'import json,sys
h=json.load(open(sys.argv[1]))["acks"]["hostel"]
assert (h["due"], h["acknowledged"], h["rate"]) == (4, 1, 0.25) and h["median_seconds"] > 0, h' "$T/summary.json"
check "pharmacies and treatment: none acknowledged" \
        test "$(fig .acks.pharmacy.rate) $(fig .acks.pharmacy.due) $(fig .acks.treatment.due)" = "0 3 4"
check "escalations: St Mary's two clocks, both escalated" \
        test "$(fig .escalations.started) $(fig .escalations.escalated) $(fig .escalations.waiting)" = "2 2 0"
check "one opt-out, in the window" test "$(fig .optouts.in_window) $(fig .optouts.total)" = "1 1"
check "one public subscriber, joined in the window" \
        test "$(fig .public.numbers) $(fig .public.subscriptions) $(fig .public.joined_in_window)" = "1 1 1"
check "the row cap is said and was not reached" test "$(fig .row_cap) $(fig .capped)" = "1000000 False"
summary
check "the default window (7 days) holds the same" test "$(fig .window_seconds) $(fig .alerts.total)" = "604800 4"

# ---- as text ----
ctl summary --since 2d >"$T/summary.txt"
sed "s/^/# /" "$T/summary.txt"
for heading in "Summary of alerts issued from" "Alerts issued: 4" "From first report to issue" "Delivery" \
        "Acknowledgements" "Escalations" "Opt-outs and public subscriptions"; do
        check "the text has '$heading'" grep -q "^$heading" "$T/summary.txt"
done
check "the text's areas, by name" grep -q '^  by area: *Southampton 3, Portsmouth 1$' "$T/summary.txt"
check "the text's SMS row" grep -Eq '^  sms +7 +1 +0 +87\.5%' "$T/summary.txt"
check "the text's hostel row" grep -Eq '^  hostel +4 +1 +25%' "$T/summary.txt"

# ---- bad input ----
ctl summary --since 7x >"$T/out" 2>"$T/err"
check "a bad --since exits 2" test $? -eq 2
check "and names it" grep -q -- "--since wants a duration" "$T/err"
ctl summary --since 0s >/dev/null 2>&1
check "--since 0s exits 2" test $? -eq 2
mkdir -p "$T/adir"
ctl summary --html "$T/adir" 2>"$T/err"
check "--html on a directory exits 2" test $? -eq 2
check "and says it is a directory" grep -q "is a directory" "$T/err"
ctl summary --html "$T/no/such/dir/page.html" 2>"$T/err"
check "--html where nothing can be written exits 1, saying why" \
        bash -c "test $? -eq 1 && grep -q 'cannot write .*No such file or directory' '$T/err'"
# what a client of the control socket may send that is not a window: each refused, naming the field
refusals=$(/usr/bin/python3 - <<'PY'
import json, os, socket
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["DAWN_SOCKET"])
f = s.makefile("rw")
bad = ['"7d"', '0', '-1', '1.5', '1e300', 'true', 'null', '[]', '{"a":1}']
for v in bad:
    f.write('{"cmd":"summary","since_seconds":%s}\n' % v)
f.write('{"cmd":"summary","until":5}\n')
f.flush()
for v in bad + ["until"]:
    a = json.loads(f.readline())
    print(v, a.get("ok"), a.get("field"))
PY
)
check "dawnd refuses every since that is not 1 s to 100 years, and unknown arguments, naming the field" \
        test "$(awk '$2 == "False" && ($3 == "since_seconds" || ($1 == "until" && $3 == "until"))' <<<"$refusals" | wc -l)" -eq 10 ||
        echo "$refusals" | sed 's/^/#   /'
check "and still answers" bash -c "\"$DAWNCTL\" status >/dev/null"

# ---- the HTML page ----
ctl summary --since 1d --html "$T/summary.html" >"$T/out"
check "--html writes the page, and says so" grep -q "^wrote the summary to .*summary.html (.* bytes)" "$T/out"
check "it holds charts" grep -q '<svg' "$T/summary.html"
check "each chart has a title" test "$(grep -c '<svg' "$T/summary.html")" -eq "$(grep -c '<title id=' "$T/summary.html")"
check "and tables with the numbers, areas by their names" grep -q '<td>Southampton</td><td class="n">3</td>' "$T/summary.html"
check "no script" bash -c "! grep -qi '<script' '$T/summary.html'"
check "nothing to fetch: no http(s) URL, no src" bash -c "! grep -Eqi 'https?://|src=|url\(' '$T/summary.html'"
check "no temporary file left beside it" test "$(ls "$T" | grep -c 'summary.html.tmp')" -eq 0
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
        # every host name resolves to nothing, so a request would fail in the log rather than leave
        shot=${DAWN_SCREENSHOT:-$T/summary.png}
        timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
                --host-resolver-rules='MAP * ~NOTFOUND' --hide-scrollbars --window-size=800,1640 --force-device-scale-factor=0.88 \
                --screenshot="$shot" "file://$T/summary.html" >"$T/chromium.log" 2>&1
        check "chromium renders the page to a PNG" test -s "$shot"
        timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
                --host-resolver-rules='MAP * ~NOTFOUND' --dump-dom "file://$T/summary.html" >"$T/dom.html" 2>>"$T/chromium.log"
        check "chromium loaded it whole" grep -q 'public subscriptions made in the window' "$T/dom.html"
        check "chromium found nothing it could not load" bash -c "! grep -Eqi 'ERR_NAME_NOT_RESOLVED|Refused to' '$T/chromium.log'"
else
        not_ok "chromium renders the page" "$CHROMIUM is missing (scripts/deps.sh installs Debian's chromium)"
fi
finish
