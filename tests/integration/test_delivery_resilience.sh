#!/bin/bash
# The delivery engine under pressure: mail waits while the SMTP server is
# down and arrives when it is back, and a kill -9 in the middle of
# a 1,000-recipient fan-out loses nobody: after the restart every recipient
# has its message, and any duplicate carries the same reference.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
# the SMTP server is not started yet: mail must wait for it

subs=""
for i in $(seq -w 0 999); do
        subs+="{ id = \"site-$i\"; kind = \"pharmacy\"; area = \"gosport\"; sms = [ \"+447000100$i\" ]; },"
done
write_delivery_config "rate_per_minute = 0;" "" "$subs"
start_dawnd

ctl issue --area portsmouth --sold-as diazepam --adulterant bromazolam --evidence clinical --casualties 2 \
        "Blue tablets sold as diazepam." >/dev/null
check "the Portsmouth hostel's SMS arrives" wait_for "[ \$(sms_count +447700900125 201) -ge 1 ]" 15

# ---- mail waits for the SMTP server ----
check "mail to the Portsmouth hostel is retrying while the server is down" \
        wait_for "ctl --json show A1 | grep -q '\"retrying\"'" 15
start_smtp
check "once the server is up the mail arrives" wait_for "grep -q office@haven.example '$T/smtp.jsonl'" 30

# ---- kill -9 during a 1,000-recipient fan-out ----
gw_fault '{"rules":[{"action":"delay","seconds":0.02}]}'
ctl --json issue --area gosport --sold-as oxycodone --adulterant fentanyl --evidence toxicology --fatalities 1 \
        --casualties 3 "Fake oxycodone with fentanyl in Gosport." >"$T/big.json"
big=$(json_get "$T/big.json" .id)
check "the 1,000-recipient fan-out starts" wait_for "[ \$(grep -c '\"reference\": \"$big-' '$T/sms.jsonl') -ge 100 ]" 60
kill9_dawnd
sent_before=$(grep -c "\"reference\": \"$big-" "$T/sms.jsonl")
check "dawnd was killed in the middle of it" test "$sent_before" -lt 1000
gw_fault '{"rules":[]}'
start_dawnd
check "after the restart every one of the 1,000 recipients has its SMS" wait_for "/usr/bin/python3 -c '
import json,sys
got=set(json.loads(l)[\"to\"] for l in open(\"$T/sms.jsonl\") if \"\\\"$big-\" in l and json.loads(l)[\"status\"]==201)
sys.exit(0 if sum(1 for n in got if n.startswith(\"+447000100\"))==1000 else 1)'" 120
dups=$(/usr/bin/python3 -c 'import json,sys,collections
rows=[json.loads(l) for l in open(sys.argv[1])]
by=collections.defaultdict(set)
for r in rows:
    if r["reference"].startswith(sys.argv[2]+"-") and r["status"]==201: by[r["to"]].add(r["reference"])
print(sum(1 for v in by.values() if len(v)>1))' "$T/sms.jsonl" "$big")
check "a recipient who got it twice got the same reference both times" test "$dups" -eq 0

finish
