#!/bin/bash
# SMS (GOV.UK Notify API, the repo's test gateway) and email (a real SMTP
# server): a critical alert reaches every matching subscriber with the right
# content; gateway faults are retried or failed as they should be; quiet
# hours hold a warning but not a critical alert; a cancel retracts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
start_smtp
# quiet hours that cover now (UTC): two hours from the start of this hour
h=$(date -u +%H)
quiet="$(printf '%02d' "$h"):00-$(printf '%02d' $(((10#$h + 2) % 24))):00"
write_delivery_config "timeout = \"2s\"; rate_per_minute = 120;" "" \
        "{ id = \"night-outreach\"; kind = \"outreach\"; area = \"southampton\"; sms = [ \"+447700900126\" ];
           quiet_hours = \"$quiet\"; },"
start_dawnd

# ---- a critical alert: SMS and email with the right content ----
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology \
        --casualties 4 --fatalities 1 --appearance "light brown powder, wraps in blue cling film" \
        --advice "Carry naloxone and use it; more than one dose may be needed. Do not use alone." \
        "Heroin circulating in Southampton city centre contains a nitazene." >"$T/a1.json"
check "A1 is critical" test "$(json_get "$T/a1.json" .grade)" = critical
for n in +447700900123 +447700900124 +447700900126; do
        check "SMS to $n (southampton, or quiet hours overridden by critical)" \
                wait_for "[ \$(sms_count $n 201) -ge 1 ]" 15
done
check "no SMS to the Portsmouth hostel" test "$(sms_count +447700900125)" -eq 0
body=$(/usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["to"]=="+447700900123": print(r["body"]); break' "$T/sms.jsonl")
check "the SMS leads with the grade" grep -q "^DAWN CRITICAL" <<<"$body"
check "the SMS names the drug and the adulterant" grep -qi "heroin.*nitazene" <<<"$body"
check "the SMS carries the alert id" grep -q "A1" <<<"$body"
check "the SMS says the harm in words" grep -q "4 overdoses, 1 death\." <<<"$body"
check "the SMS says what the batch looks like" grep -q "Looks like light brown powder, wraps in blue cling film\." <<<"$body"
check "the SMS keeps the whole advice and ends with the id" \
        grep -q "Do not use alone\. Ref A1 r1$" <<<"$body"
check "the SMS fits two GSM-7 parts (306 characters)" test "${#body}" -le 306
check "the Notify reference names the alert revision" \
        grep -q '"to": "+447700900123".*"reference": "A1-r1-' "$T/sms.jsonl"
check "mail reaches booth-house and the recovery service" \
        wait_for "grep -q nights@booth-house.example '$T/smtp.jsonl' && grep -q duty@recovery.example '$T/smtp.jsonl'" 15
check "no mail to the Portsmouth hostel" bash -c "! grep -q office@haven.example '$T/smtp.jsonl'"
mail=$(grep -l "nights@booth-house.example" "$T"/mail/* | head -n 1)
subject=$(/usr/bin/python3 -c 'import email,sys; print(" ".join(email.message_from_binary_file(open(sys.argv[1],"rb"))["Subject"].split()))' "$mail")
check "the subject has grade, type, area and id" grep -q "^\[DAWN CRITICAL\] Dangerous batch in Southampton.*(A1)" <<<"$subject"
check "the body has the advice" grep -q "more than one dose may be needed" "$mail"
check "the body has the grade reasons" grep -q "confirmed by toxicology" "$mail"
check "the Message-ID is derived from the alert revision" grep -qi "^Message-ID: <A1-r1-" "$mail"
check "all deliveries of A1 are delivered" wait_for '[ "$(states A1)" = delivered ]' 15
ctl --json show A1 >"$T/show1.json"
check "dawnctl show masks phone numbers" bash -c "grep -q '+4477' '$T/show1.json' && ! grep -q '+447700900123' '$T/show1.json'"
check "dawnctl show masks email addresses" bash -c "grep -q '@booth-house.example' '$T/show1.json' && ! grep -q 'nights@booth-house.example' '$T/show1.json'"

# ---- quiet hours: a warning waits, a critical did not ----
ctl --json issue --area southampton --sold-as cocaine --adulterant xylazine "Cocaine with xylazine." >"$T/a2.json"
check "A2 is a warning" test "$(json_get "$T/a2.json" .grade)" = warning
check "A2's SMS to booth-house goes at once" wait_for "[ \$(sms_count +447700900123 201) -ge 2 ]" 15
check "A2's SMS to the subscriber in quiet hours waits" \
        wait_for "ctl --json show A2 | grep -q 'quiet hours'" 10
check "and is not sent" test "$(sms_count +447700900126)" -eq 1

# the pharmacy's A2 text too, before the faults: the rate limit (2 a second) may hold it a moment,
# and a revision-1 text still on its way would take one of the 500s meant for revision 2 below
check "A2's SMS to the pharmacy goes too" wait_for "[ \$(sms_count +447700900124 201 A2-r1-) -ge 1 ]" 15
# ---- faults: 429 + Retry-After, 500 then success, 400 fails for good, a hang times out ----
gw_fault '{"rules":[
  {"match":{"to":"+447700900123"},"action":"status","status":429,"retry_after":"2","times":1},
  {"match":{"to":"+447700900124"},"action":"status","status":500,"times":2},
  {"match":{"to":"+447700900125"},"action":"status","status":400}]}'
# one update, so each recipient has one delivery (revision 2); pan-hampshire: the Portsmouth hostel matches too
ctl update A2 --area pan-hampshire --advice "Naloxone will not reverse xylazine: give it anyway, call 999." >/dev/null
check "booth-house gets it after the 429" wait_for "[ \$(sms_count +447700900123 201) -ge 3 ]" 20
gap=$(/usr/bin/python3 -c 'import json,sys
t=[json.loads(l) for l in open(sys.argv[1])]
r=[x for x in t if x["to"]=="+447700900123"]
i=[k for k,x in enumerate(r) if x["status"]==429][0]
print(int(r[i+1]["t"]-r[i]["t"] >= 2.0))' "$T/sms.jsonl")
check "the retry after a 429 waited for Retry-After (2 s)" test "$gap" = 1
# revision 2's own 201: the pharmacy already had revision 1, so a count of all its 201s would pass
# before this one came, and the attempts below would be read half-way
check "the pharmacy gets it after two 500s" wait_for "[ \$(sms_count +447700900124 201 A2-r2-) -ge 1 ]" 20
attempts=$(/usr/bin/python3 -c 'import json,sys,collections
t=[json.loads(l) for l in open(sys.argv[1])]
c=collections.Counter(x["reference"] for x in t if x["to"]=="+447700900124" and x["reference"].startswith("A2-r2-"))
print(" ".join(str(v) for v in c.values()))' "$T/sms.jsonl")
check "its three attempts (500, 500, 201) carry one reference" test "$attempts" = 3
check "the 400 is marked failed" wait_for "ctl --json show A2 | grep -q 'HTTP 400'" 15
check "and not retried" test "$(sms_count +447700900125)" -eq 1
failed=$(ctl --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["deliveries"]["sms"].get("failed",0))')
check "dawnctl status counts the failure" test "$failed" -ge 1

gw_fault '{"rules":[{"match":{"to":"+447700900124"},"action":"hang","times":1}]}'
ctl update A1 --advice "Carry two kits of naloxone." >/dev/null
check "after a hang times out (2 s) the SMS is retried and delivered" \
        wait_for "[ \$(sms_count +447700900124 201) -ge 3 ]" 20

# ---- cancel: a retraction to everyone who got it ----
ctl cancel A1 --reason "Toxicology retracted." >/dev/null
check "booth-house gets a retraction SMS" wait_for "grep -q 'A1 WITHDRAWN' '$T/sms.jsonl'" 15
check "and a retraction mail" wait_for "grep -l 'A1' '$T'/mail/* | xargs grep -l 'WITHDRAWN' | grep -q ." 15
# ---- the rate limit (120 a minute), over everything the gateway saw: in any stretch of time, no more than the
# bucket's one second of burst plus the rate allows
over=$(/usr/bin/python3 -c 'import json,sys
t=sorted(json.loads(l)["t"] for l in open(sys.argv[1]))
rate=120/60.0; burst=2; worst=0
for i in range(len(t)):
    for j in range(i, min(len(t), i+400)):
        allowed = burst + rate*(t[j]-t[i]) + 1   # +1: timestamps are taken after the network
        worst = max(worst, (j-i+1) - allowed)
print(1 if worst > 0 else 0)' "$T/sms.jsonl")
check "the gateway never saw more than 120 a minute (+ 1 s burst)" test "$over" = 0
# ---- a reload restarts the SMS and email channels (they re-read their secrets); delivery goes on ----
ctl reload >/dev/null
check "dawnctl reload with SMS and email configured exits 0" test $? -eq 0
ctl issue --area portsmouth --sold-as diazepam --adulterant bromazolam --evidence clinical --casualties 2 \
        "Blue tablets sold as diazepam." >/dev/null
check "after the reload the Portsmouth hostel's SMS is delivered" \
        wait_for "grep '\"to\": \"+447700900125\"' '$T/sms.jsonl' | grep -q '\"reference\": \"A3-r1-.*\"status\": 201'" 15
check "and its mail" wait_for "grep -q office@haven.example '$T/smtp.jsonl'" 15

check "no full number or address appears in dawnd's log" \
        bash -c "! grep -qE '\\+4477009001[0-9]{2}|nights@|duty@|office@' '$T/dawnd.log'"
[ -n "${KEEP:-}" ] && cp -r "$T" /tmp/keep-delivery
finish
