#!/bin/bash
# Never silently dropped, never retried for ever: a delivery that cannot go
# within its channel's lifetime is marked failed, logged at error level and
# counted in dawnctl status. Here the SMTP server never comes up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
write_delivery_config "" "lifetime = \"3s\";"
start_dawnd

ctl issue --area portsmouth --sold-as diazepam --adulterant bromazolam --evidence clinical --casualties 2 \
        "Blue tablets sold as diazepam." >/dev/null
check "the SMS still goes" wait_for "[ \$(sms_count +447700900125 201) -ge 1 ]" 15
check "the mail is retried while the server is down" wait_for "ctl --json show A1 | grep -q '\"retrying\"'" 10
check "after its 3 s lifetime the mail delivery is failed" \
        wait_for "ctl --json show A1 | grep -q 'lifetime'" 20
state=$(ctl --json show A1 | /usr/bin/python3 -c 'import json,sys
print(" ".join(sorted(d["state"] for d in json.load(sys.stdin)["deliveries"] if d["channel"]=="email")))')
check "both mail deliveries are failed, none left waiting" test "$state" = "failed failed"
failed=$(ctl --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["deliveries"]["email"].get("failed",0))')
check "dawnctl status counts them" test "$failed" -eq 2
check "the failure is logged at error level" grep -q "dawnd: error: outbox: .*email.*lifetime" "$T/dawnd.log"
finish
