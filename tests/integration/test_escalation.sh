#!/bin/bash
# Escalation (README "Escalation"), with the real broker, the test SMS
# gateway as GOV.UK Notify and the SMTP sink: a critical alert that Booth
# House does not acknowledge within escalate_after ("2s") is told to its
# escalate_to subscriber, the public-health duty officer, who also got the
# alert itself (so the escalation is a delivery of its own); a pharmacy that
# replies "ACK A1" in time is not escalated; a waiting escalation survives a
# restart (its deadline is stored) and a cancel stops one. dawnctl show and
# unacked, and /metrics, say so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
start_smtp
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
API="http://$HTTP_LISTEN"
printf 'notify-callback-secret\n' >"$T/callback.token"
DUTY="+447700900199"
MANAGER="+447700900198" # Booth House's manager: no Southampton alert reaches this number itself
# the manager's quiet hours are now (two hours either side, UK time): a critical escalation goes anyway
QUIET="$(TZ=Europe/London date -d '-2 hours' +%H:%M)-$(TZ=Europe/London date -d '+2 hours' +%H:%M)"
write_delivery_config "callback_token_file = \"$T/callback.token\";" "" \
        "{ id = \"ph-duty\"; kind = \"public-health\"; area = \"pan-hampshire\"; sms = [ \"$DUTY\" ];
          email = [ \"duty@ph.example\" ]; mqtt = true; },
        { id = \"booth-manager\"; kind = \"manager\"; area = \"isle-of-wight\"; sms = [ \"$MANAGER\" ];
          quiet_hours = \"$QUIET\"; },"
# Booth House escalates after 2 s, the pharmacy after 4 s, both to the duty officer
sed -i -e 's|{ id = "booth-house";|{ id = "booth-house"; name = "Booth House"; escalate_after = "2s"; escalate_to = [ "ph-duty", "booth-manager" ];|' \
        -e 's|{ id = "st-marys-pharmacy";|{ id = "st-marys-pharmacy"; escalate_after = "4s"; escalate_to = [ "ph-duty" ];|' \
        "$T/dawn.conf"

# ---- the config's errors name the field ----
cp "$T/dawn.conf" "$T/bad.conf"
sed -i '0,/escalate_to = \[ "ph-duty", "booth-manager" \]/s//escalate_to = [ "nobody-here" ]/' "$T/bad.conf"
out=$("$DAWND" -n -c "$T/bad.conf" 2>&1)
check "an escalate_to naming no subscriber is refused, naming the field" \
        grep -q 'subscribers\[2\].escalate_to\[0\]: unknown subscriber .nobody-here.' <<<"$out"
check "the test config is valid" "$DAWND" -n -c "$T/dawn.conf"
start_dawnd

gw_callbacks() {
        curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                -d "$1" "http://127.0.0.1:$GW_PORT/_control/callbacks"
}
gw_inbound() {
        curl -s -X POST -H 'Content-Type: application/json' -d "{\"api\": \"$1\", \"from\": \"$2\", \"body\": \"$3\"}" \
                "http://127.0.0.1:$GW_PORT/_control/inbound"
}
metric() {
        curl -s "$API/metrics" | awk -v m="$1" '$1 == m {print int($2); f=1} END {if (!f) print 0}'
}
# The bodies of the texts a number got, one a line
texts_to() {
        /usr/bin/python3 - "$T/sms.jsonl" "$1" <<'PY'
import json, sys
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r.get("to") == sys.argv[2] and str(r.get("status")) == "201":
            print(r["body"].replace("\n", " "))
except FileNotFoundError:
    pass
PY
}
# An escalation's state in dawnctl show: escalation ALERT SUBSCRIBER
escalation() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
for e in json.load(sys.stdin).get("escalations", []):
    if e["subscriber"]==sys.argv[1]: print(e["state"], " ".join(e.get("to", [])) or e.get("by") or e.get("reason") or "")' "$2"
}
check "the gateway takes the callback settings" test "$(gw_callbacks "{\"notify_status_url\": \"$API/v1/callbacks/notify/status\",
        \"notify_inbound_url\": \"$API/v1/callbacks/notify/inbound\", \"notify_token\": \"notify-callback-secret\",
        \"default_receipt\": \"delivered\"}")" = 200

# ---- no ack: the duty officer is told ----
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Southampton contains a nitazene." >"$T/a1.json"
cp "$T/dawn.conf" "$T/self.conf"
sed -i '0,/escalate_to = \[ "ph-duty", "booth-manager" \]/s//escalate_to = [ "booth-house" ]/' "$T/self.conf"
check "a subscriber escalating to itself is refused, naming the field" \
        bash -c "'$DAWND' -n -c '$T/self.conf' 2>&1 | grep -q 'subscribers\[2\].escalate_to\[0\]: .booth-house. cannot escalate to itself'"
check "A1 is critical" test "$(json_get "$T/a1.json" .grade)" = critical
check "the duty officer gets the alert itself" wait_for "texts_to $DUTY | grep -q '^DAWN CRITICAL'" 10
check "dawnctl show: Booth House's escalation waits" test "$(escalation A1 booth-house)" = "waiting "
# the pharmacy acknowledges by text before its deadline
wait_for "[ \$(sms_count +447700900124 201) -ge 1 ]" 10
out=$(gw_inbound notify +447700900124 "ACK A1")
check "the pharmacy's ACK A1 is accepted" grep -q '"status": 200' <<<"$out"
check "dawnctl show: the pharmacy acknowledged, so is not escalated" \
        wait_for '[ "$(escalation A1 st-marys-pharmacy | cut -d" " -f1)" = acknowledged ]' 5
check "the duty officer's number gets the escalation, naming the site and the text's fate" \
        wait_for "texts_to $DUTY | grep -q '^DAWN A1 CRITICAL not acknowledged by Booth House (hostel) [0-9]* s after it was issued; SMS delivered'" 15
echo "# the escalation text: $(texts_to $DUTY | grep "A1 CRITICAL not acknowledged")"
check "it carries the summary" bash -c "$(declare -f texts_to); T='$T' texts_to $DUTY | grep 'not acknowledged' | grep -q 'Heroin in Southampton'"
check "the duty officer also gets the escalation by email" \
        wait_for "grep -l 'A1 not acknowledged by Booth House' '$T'/mail/* 2>/dev/null | grep -q ." 15
check "dawnctl show: escalated to ph-duty and booth-manager" \
        test "$(escalation A1 booth-house)" = "escalated ph-duty booth-manager"
check "the manager's number gets the escalation too, in the manager's quiet hours ($QUIET)" \
        wait_for "texts_to $MANAGER | grep -q '^DAWN A1 CRITICAL not acknowledged by Booth House'" 10
ctl show A1 >"$T/show.txt"
sed -n '/^Escalations:/,$s/^/# /p' "$T/show.txt"
check "dawnctl show (human) has an Escalations section" \
        bash -c "sed -n '/^Escalations:/,\$p' '$T/show.txt' | grep -q 'booth-house.*escalated.*ph-duty'"
check "dawnctl show lists the escalation deliveries apart from the alert's own" \
        bash -c "'$DAWNCTL' --json show A1 | /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin)[\"deliveries\"]
own=[x for x in d if x[\"subscriber\"]==\"ph-duty\" and x[\"channel\"]==\"sms\" and \"purpose\" not in x]
esc=[x for x in d if x.get(\"purpose\")==\"escalation\" and x[\"about\"]==\"booth-house\"]
assert own and len(esc)==4, d'"
check "no escalation for the pharmacy was sent" bash -c "! grep -q 'st-marys' <<<\"\$('$DAWNCTL' --json show A1 | grep -o '\"about\": *\"[a-z-]*\"')\""
check "the audit has the escalation" \
        bash -c "store_sql \"SELECT detail FROM audit WHERE alert_id='A1' AND action='escalate'\" | grep -qx 'not acknowledged by booth-house; told ph-duty, booth-manager'"
ctl unacked >"$T/unacked.txt"
sed 's/^/# /' "$T/unacked.txt"
check "dawnctl unacked takes no arguments" bash -c "! '$DAWNCTL' unacked A1 2>/dev/null"
check "dawnctl unacked lists Booth House as escalated, not the pharmacy" \
        bash -c "grep -q 'A1.*booth-house.*escalated' '$T/unacked.txt' && ! grep -q 'A1.*st-marys' '$T/unacked.txt'"
check "/metrics counts the escalation" test "$(metric dawn_escalations_total)" -eq 1
check "/metrics: no escalation clock is running" test "$(metric dawn_escalations_waiting)" -eq 0

# an ack after the escalation is recorded and shown; the duty officer's ACK is theirs
gw_inbound notify +447700900123 "ACK A1" >/dev/null
gw_inbound notify "$DUTY" "ACK A1" >/dev/null
out=$(gw_inbound notify "$MANAGER" "ACK A1")
check "the manager, who got only the escalation, can reply ACK A1" grep -q '"status": 200' <<<"$out"
ctl --json show A1 >"$T/show.json"
check "a late ack and the escalation contacts' own are recorded, each as its subscriber's" \
        /usr/bin/python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))
subs=sorted(x["subscriber"] for x in a["acks"])
assert subs==["booth-house","booth-manager","ph-duty","st-marys-pharmacy"], a["acks"]
e=[x for x in a["escalations"] if x["subscriber"]=="booth-house"][0]
assert e["state"]=="escalated", e' "$T/show.json"

# the alert withdrawn: the manager, told only by the escalation, hears of that too
ctl cancel A1 --reason "the batch was tested again: no nitazene" >/dev/null
check "the manager, who got only the escalation, is told A1 is withdrawn" \
        wait_for "texts_to $MANAGER | grep -q 'A1 WITHDRAWN'" 10
check "the duty officer is told once, as a recipient of A1 itself" \
        wait_for "[ \$(texts_to $DUTY | grep -c 'A1 WITHDRAWN') -eq 1 ]" 10

# ---- a waiting escalation survives a restart ----
ctl --json issue --area southampton --sold-as cocaine --adulterant fentanyl --evidence toxicology --casualties 2 \
        "Cocaine in Southampton contains fentanyl." >"$T/a2.json"
stop_dawnd
check "the clock is stored while dawnd is down" \
        test "$(store_sql "SELECT state FROM escalations WHERE alert_id='A2' AND subscriber='booth-house'")" = waiting
start_dawnd
check "after the restart, the escalation still fires" \
        wait_for "texts_to $DUTY | grep -q '^DAWN A2 CRITICAL not acknowledged by Booth House'" 15
check "/metrics counts it" wait_for '[ "$(metric dawn_escalations_total)" -eq 1 ]' 5

# ---- a cancel stops a waiting escalation ----
ctl --json issue --area southampton --sold-as ketamine --adulterant medetomidine --evidence toxicology --casualties 2 \
        "Ketamine in Southampton contains medetomidine." >"$T/a3.json"
check "A3's escalation waits" test "$(escalation A3 booth-house)" = "waiting "
ctl unacked >"$T/unacked3.txt"
check "dawnctl unacked shows it waiting" grep -q 'A3.*booth-house.*waiting' "$T/unacked3.txt"
ctl cancel A3 --reason "mistaken entry" >/dev/null
check "the cancel stops it" test "$(escalation A3 booth-house)" = "stopped cancelled"
due=$(( $(date +%s) + 5 ))
wait_for "[ \$(date +%s) -gt $due ]" 8 # past both deadlines, then nothing may have gone
check "no escalation of A3 was sent" bash -c "! (T='$T'; $(declare -f texts_to); texts_to $DUTY) | grep -q 'A3 CRITICAL not acknowledged'"
check "dawnctl unacked no longer lists A3" bash -c "! '$DAWNCTL' unacked | grep -q '^A3 '"

# ---- expiry stops a waiting escalation ----
ctl --json issue --area southampton --sold-as heroin --adulterant fentanyl --evidence toxicology --casualties 2 \
        --expires 1s "Heroin in Southampton contains fentanyl." >"$T/a4.json"
check "A4 is critical" test "$(json_get "$T/a4.json" .grade)" = critical
check "its expiry stops the pharmacy's waiting escalation" \
        wait_for '[ "$(escalation A4 st-marys-pharmacy)" = "stopped expired" ]' 5
check "/metrics: the clocks of ended alerts do not run" wait_for '[ "$(metric dawn_escalations_waiting)" -eq 0 ]' 5
finish
