#!/bin/bash
# Replies to texts received through GOV.UK Notify (issue 13, README "Replies
# by text"): Notify cannot answer an inbound text the way Twilio's TwiML does,
# so dawnd queues the reply in the same write as the text's effect and the
# SMS channel texts it back. With the test gateway as Notify: JOIN, AREAS,
# STOP (its confirmation goes although the number has opted out), START
# (points to JOIN) and ACK are answered on the phone; the gateway's receipt
# for a reply is taken; a reply queued while the gateway is down (and dawnd
# restarted) is sent once it is back; a flood of 100 JOINs from 100 numbers
# does not stand between a hostel and its alert, and every JOIN is answered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
start_smtp
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
printf 'notify-callback-secret\n' >"$T/callback.token"
# 1,200 texts a minute (20 a second): 100 replies take about 5 s to drain, so a
# queue of them is there when the hostel's alert comes
write_delivery_config "callback_token_file = \"$T/callback.token\"; rate_per_minute = 1200;" "" "" "
area_details = { southampton = { name = \"Southampton\"; }; isle-of-wight = { name = \"Isle of Wight\"; }; };
public = { enabled = true; min_grade = \"warning\"; aliases = { soton = \"southampton\"; };
           max_subscribers = 500; max_joins_per_day = 3; };"
check "the config is valid" "$DAWND" -n -c "$T/dawn.conf"
start_dawnd

gw_callbacks() {
        curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                -d "{\"notify_status_url\": \"$API/v1/callbacks/notify/status\",
                     \"notify_inbound_url\": \"$API/v1/callbacks/notify/inbound\",
                     \"notify_token\": \"notify-callback-secret\", \"default_receipt\": \"delivered\"}" \
                "http://127.0.0.1:$GW_PORT/_control/callbacks"
}
# A text from a phone through the gateway: {"status": dawnd's status, "body": its answer}
gw_inbound() {
        curl -s -X POST -H 'Content-Type: application/json' -d "{\"api\": \"notify\", \"from\": \"$1\", \"body\": \"$2\"}" \
                "http://127.0.0.1:$GW_PORT/_control/inbound"
}
# A field of dawnd's answer to the text
answer_field() {
        /usr/bin/python3 -c 'import json,sys
out=json.loads(sys.stdin.read()); body=json.loads(out.get("body") or "{}"); v=body.get(sys.argv[1], "")
print(json.dumps(v) if isinstance(v, bool) else v)' "$1"
}
# The replies the gateway was asked to text to NUMBER (and took), one body a line
replies_to() {
        /usr/bin/python3 -c 'import json,sys
try:
    for line in open(sys.argv[1]):
        r=json.loads(line)
        if r.get("to")==sys.argv[2] and r.get("status") in (200,201) and str(r.get("reference") or "").startswith("reply-"):
            print((r.get("body") or "").replace("\n"," "))
except FileNotFoundError: pass' "$T/sms.jsonl" "$1"
}
metric() {
        curl -s "$API/metrics" | /usr/bin/python3 -c 'import sys
from prometheus_client.parser import text_string_to_metric_families
want=sys.argv[1]; labels=dict(kv.split("=",1) for kv in sys.argv[2:])
total=0
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        if s.name==want and all(s.labels.get(k)==v for k,v in labels.items()):
            total+=s.value
print(int(total))' "$@"
}
db() { store_sql "$1"; }
# dawnctl status's count of replies not yet sent
replies_waiting() {
        ctl --json status | /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin); d=d.get("status", d); print(d["channels"]["sms"].get("replies_waiting"))'
}

check "the gateway takes the Notify callback settings" test "$(gw_callbacks)" = 200

# ---- each command is answered on the phone ----
P1=+447700900901
out=$(gw_inbound $P1 "JOIN soton")
check "JOIN through Notify is answered 200" grep -q '"status": 200' <<<"$out"
check "the callback's answer says the reply is queued" test "$(answer_field reply_queued <<<"$out")" = true
r=$(answer_field reply <<<"$out")
check "the gateway is asked to text the reply to the number ($r)" \
        wait_for "replies_to $P1 | grep -qF '$r'" 10
check "the reply names the area and says how to leave" grep -q 'Southampton.*Reply STOP to leave' <<<"$r"
check "it went with the template and a reply-<id> reference" \
        bash -c "grep -F '\"to\": \"$P1\"' '$T/sms.jsonl' | grep -q '\"reference\": \"reply-[0-9]*\"'"
check "the gateway's delivery receipt for it is taken" \
        wait_for "[ \"\$(db \"SELECT state FROM sms_replies WHERE number = '$P1'\")\" = delivered ]" 10
check "and nothing was ignored" test "$(metric dawn_callbacks_ignored_total)" = 0
gw_inbound $P1 "AREAS" >/dev/null
check "AREAS: the list arrives" wait_for "replies_to $P1 | grep -q 'JOIN.*Southampton.*Isle of Wight'" 10
gw_inbound $P1 "STOP" >/dev/null
check "STOP: its confirmation arrives although the number has opted out" \
        wait_for "replies_to $P1 | grep -q 'no more drug alert texts.*START'" 10
gw_inbound $P1 "START" >/dev/null
check "START: the reply says to text JOIN" wait_for "replies_to $P1 | grep -q 'on again.*JOIN'" 10
gw_inbound +447700900123 "ACK A99" >/dev/null
check "ACK from a subscriber: answered too, saying how to leave" wait_for "replies_to +447700900123 | grep -q 'no alert A99.*Reply STOP to stop all texts'" 10
out=$(gw_inbound +447700900999 "hello")
check "a text from a number nobody knows gets no reply" test "$(answer_field reply_queued <<<"$out")" = ""
check "/metrics counts the replies sent" test "$(metric dawn_sms_reply_texts_total result=sent)" = 5
check "dawnctl status shows none waiting" test "$(replies_waiting)" = 0

# ---- one number cannot make dawnd spend texts without end ----
P3=+447700900124  # the pharmacy's: ACK is answered every time (AREAS counts against JOINs a day)
for i in $(seq 12); do gw_inbound $P3 "ACK A9$i" >/dev/null; done
check "a number's 11th and 12th text in a day are taken but not answered" \
        test "$(metric dawn_sms_reply_texts_total result=not-queued)" = 2
check "dawnd says so once in its log, the number masked" \
        test "$(grep 'no reply texted to' "$T/dawnd.log" | grep -vc 900124)" = 1
gw_inbound $P3 "STOP" >/dev/null
check "but its STOP is still confirmed" wait_for "replies_to $P3 | grep -q 'no more drug alert texts'" 10
check "and the 10 answered all arrive" test "$(replies_to $P3 | grep -c 'ACK')" = 10

# ---- the gateway down: the reply waits, across a restart of dawnd ----
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
# Notify's received-text callback, straight to dawnd (the gateway is down): prints the status
notify_inbound() {
        curl -s -o "$T/in.json" -w '%{http_code}' -X POST -H 'Authorization: Bearer notify-callback-secret' \
                -H 'Content-Type: application/json' \
                -d "{\"id\":\"5f9a6c2e-0000-4000-8000-00000000000$3\",\"source_number\":\"${1#+}\",\"destination_number\":\"447700900000\",\"message\":\"$2\",\"date_received\":\"2026-12-05T04:00:00.000000Z\"}" \
                "$API/v1/callbacks/notify/inbound"
}
P2=+447700900902
code=$(notify_inbound $P2 "JOIN isle of wight" 1)
check "a JOIN while the gateway is down is answered 200 ($(cat "$T/in.json"))" test "$code" = 200
check "and its reply waits" wait_for "[ \"\$(db \"SELECT state FROM sms_replies WHERE number = '$P2'\")\" = retrying ]" 10
P4=+447700900904
notify_inbound $P4 "JOIN soton" 2 >/dev/null
notify_inbound $P4 "STOP" 3 >/dev/null
check "dawnctl status counts the replies waiting" test "$(replies_waiting)" = 3
stop_dawnd
start_dawnd
start_gateway --port "$GW_PORT"
gw_callbacks >/dev/null
check "once the gateway is back, the reply is texted (after dawnd restarted)" \
        wait_for "replies_to $P2 | grep -q 'Isle of Wight.*Reply STOP to leave'" 20
check "once" test "$(replies_to $P2 | wc -l)" = 1
check "a number that sent STOP after its JOIN gets only the STOP's confirmation" \
        wait_for "replies_to $P4 | grep -q 'no more drug alert texts'" 10
check "the JOIN's reply is not sent to it" test "$(replies_to $P4 | wc -l)" = 1
check "it is recorded as opted-out" \
        test "$(db "SELECT state FROM sms_replies WHERE number = '$P4' ORDER BY id LIMIT 1")" = opted-out
check "/metrics counts it" test "$(metric dawn_sms_reply_texts_total result=opted-out)" = 1

# ---- a flood of JOINs does not delay a hostel's alert ----
rss_before=$(rss)
/usr/bin/python3 "$(dirname "$0")/join_flood.py" "$GW_PORT" notify 20000 100 >"$T/flood.out"
ctl --json issue --area portsmouth --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 2 \
        "Heroin in Portsmouth contains a nitazene." >"$T/pro.json"
read -r answered _ <"$T/flood.out"
check "100 JOINs from 100 numbers are all answered 200 ($answered)" test "$answered" = 100
check "the hostel's alert text is delivered" wait_for "[ \$(sms_count +447700900125 '' A) -ge 1 ]" 10
before=$(/usr/bin/python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
first=min(i for i,r in enumerate(rows) if r.get("to")=="+447700900125" and str(r.get("reference")).startswith("A"))
print(sum(1 for r in rows[:first] if str(r.get("to")).startswith("+447700920")))' "$T/sms.jsonl")
check "while replies to the flood still waited (only $before had gone)" test "$before" -lt 100
check "every JOIN of the flood gets its reply" \
        wait_for "[ \$(grep -c '\"to\": \"+447700920.*\"reference\": \"reply-' '$T/sms.jsonl') -ge 100 ]" 20
echo "# dawnd RSS before the flood ${rss_before} kB, after $(rss) kB; fds $(fds)"
check "dawnd still answers" bash -c "'$DAWNCTL' status >/dev/null"
check "the store is sound" test "$(store_intact)" = ok
finish
