#!/bin/bash
# Retention (UK GDPR storage limitation): with retention.deliveries = "2s",
# an alert that was delivered by SMS, email and MQTT and then cancelled
# loses its delivery details (the recipients' numbers and addresses) once
# it ended more than 2 s ago: "dawnctl prune --dry-run" lists it and
# changes nothing; "dawnctl prune" removes them; "dawnctl show" then gives
# only the counts per channel; no number of that alert is left in the
# store, while an active alert's deliveries are untouched. After a
# restart, the daily run's first turn does the same by itself.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
start_smtp
HTTP_LISTEN="127.0.0.1:$(free_port)"
write_delivery_config "" "" "" 'retention = { deliveries = "2s"; };'
start_dawnd
DB="$T/state/dawn.db"

# no delivery of ALERT waits or is in flight
settled() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin)["deliveries"]
sys.exit(0 if d and all(x["state"] not in ("pending","retrying","in-flight") for x in d) else 1)'
}
# how often NUMBER appears in the store (store_dump: every table, every row)
in_store() { store_dump | grep -c "$1"; }

ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Southampton contains a nitazene." >/dev/null
ctl --json issue --area portsmouth --sold-as cocaine --adulterant xylazine "Cocaine with xylazine in Portsmouth." \
        >/dev/null
check "A1 reaches its texts, mail and dashboard" wait_for "settled A1" 15
check "A2 (stays active) reaches its recipients" wait_for "settled A2" 15
ctl cancel A1 --reason "lab result was negative" >/dev/null
check "A1's cancellation reaches everyone" \
        wait_for "settled A1 && [ \$(sms_count +447700900123) -ge 2 ]" 15
check "before: the store holds A1's numbers" test "$(in_store 7700900123)" -gt 0

# ---- the dry run ----
check "once A1 ended 2 s ago, prune --dry-run lists it" wait_for "ctl prune --dry-run | grep -q 'alerts: A1\$'" 10
ctl prune --dry-run >"$T/dry.txt"
check "the dry run names the deliveries per channel" grep -q "would remove the delivery details of 1 alert(s).*sms" "$T/dry.txt"
ctl --json prune --dry-run >"$T/dry.json"
check "--json: the dry run counts A1's deliveries, and does not list A2" /usr/bin/python3 -c 'import json,sys
p=json.load(open(sys.argv[1]))
assert p["dry_run"] and p["alerts"]==1 and p["alert_ids"]==["A1"] and p["deliveries"]>=6, p
assert p["channels"]["sms"]>=4 and p["channels"]["email"]>=2 and p["channels"]["mqtt"]>=1, p' "$T/dry.json"
check "the dry run changed nothing: show still lists A1's recipients" \
        bash -c "\"$DAWNCTL\" show A1 | grep -q 'booth-house.*sms'"
check "and the store still has A1's numbers" test "$(in_store 7700900123)" -gt 0

# a request dawnctl would not send: refused, naming the field, and nothing removed
raw() {
        /usr/bin/python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n")
print(s.makefile().readline().strip())' "$DAWN_SOCKET" "$1"
}
field_of() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["field"])'; }
check "prune with a dry_run that is not a boolean is refused, naming it" \
        test "$(raw '{"cmd":"prune","dry_run":"yes"}' | field_of)" = dry_run
check "prune with an unknown argument is refused, naming it" \
        test "$(raw '{"cmd":"prune","before":"2020-01-01"}' | field_of)" = before
check "and nothing was removed" test "$(in_store 7700900123)" -gt 0

# ---- prune now ----
ctl prune >"$T/prune.txt"
check "prune says what it removed" grep -q "^removed the delivery details of 1 alert(s)" "$T/prune.txt"
ctl show A1 >"$T/show.txt"
check "show A1 gives the SMS counts, details removed" grep -qE "^  SMS: [0-9]+ (sent|delivered) \(details removed after [0-9]+s\)" "$T/show.txt"
check "and the email and dashboard counts" \
        bash -c "grep -qE '^  email: [0-9]+ (sent|delivered)' '$T/show.txt' && grep -qE '^  MQTT: [0-9]+ delivered' '$T/show.txt'"
check "show A1 names no recipient, not even masked" bash -c "! grep -qE '\\+4477|booth-house\\.example|\\*\\*\\*' '$T/show.txt'"
ctl --json show A1 >"$T/show.json"
check "--json: delivery_totals and details_removed_at, no deliveries" /usr/bin/python3 -c 'import json,sys
a=json.load(open(sys.argv[1]))
assert a["deliveries"]==[] and a["details_removed_at"], a
t=a["delivery_totals"]; assert t["sms"].get("sent",0)+t["sms"].get("delivered",0)>=4 and t["mqtt"]["delivered"]>=1, t' "$T/show.json"
check "no number of A1 is left in the store" test "$(in_store 7700900123)" -eq 0
check "nor the mail addresses" test "$(in_store nights@booth-house)" -eq 0
check "A2's deliveries are untouched (its number is still there)" test "$(in_store 7700900125)" -gt 0
check "A2 still lists its deliveries" bash -c "\"$DAWNCTL\" show A2 | grep -q 'the-haven-hostel.*sms'"
check "the audit trail has a prune row for A1 by the officer" \
        test "$(store_sql "select count(*) from audit where action='prune' and alert_id='A1' and actor not like 'dawnd%'")" -eq 1
check "a second prune finds nothing" bash -c "\"$DAWNCTL\" prune | grep -q 'of 0 alert(s)'"

# ---- the timer, after a restart ----
ctl --json issue --area southampton --sold-as mdma --adulterant fentanyl "Pills sold as MDMA contain fentanyl." >/dev/null
check "A3 reaches its recipients" wait_for "settled A3" 15
ctl cancel A3 --reason "withdrawn" >/dev/null
check "A3's cancellation reaches everyone" wait_for "settled A3 && [ \$(sms_count +447700900124) -ge 4 ]" 15
stop_dawnd
start_dawnd
check "after a restart the first run removes A3's details by itself" \
        wait_for "\"$DAWNCTL\" show A3 | grep -q 'details removed'" 10
check "it says so in the log" grep -q "retention: removed delivery details of 1 alert(s) ([0-9]* deliveries; .*) ended before" "$T/dawnd.log"
check "its audit row names dawnd (retention)" \
        test "$(store_sql "select actor from audit where action='prune' and alert_id='A3'")" = "dawnd (retention)"
check "A2 is still untouched" bash -c "\"$DAWNCTL\" show A2 | grep -q 'the-haven-hostel.*sms'"
check "/metrics counts what the run removed" \
        bash -c "curl -s http://$HTTP_LISTEN/metrics | grep -qx 'dawn_retention_pruned_total{what=\"alerts\"} 1'"
stop_dawnd
check "stopped: no A1/A3 number left in the database files (deleted content is overwritten)" \
        bash -c "! cat '$DB'* | grep -qaE '7700900123|7700900124|nights@booth-house'"
check "the store is intact" test "$(store_intact)" = ok
finish
