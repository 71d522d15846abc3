#!/bin/bash
# Alerts expire at expires_at: the status becomes expired, the retained
# dashboard messages are cleared (the final state is published first), and
# nobody gets a text or mail about it unless expiry.notify is set. An alert
# that expired while dawnd was down is expired when it starts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
start_broker
start_gateway
start_smtp
write_delivery_config
start_dawnd

subscribe "$T/booth" "$PREFIX/subscribers/booth-house/alerts/+"
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --expires 3s \
        "Short-lived alert." >"$T/a1.json"
check "A1 is issued with its expiry" test -n "$(json_get "$T/a1.json" .expires_at)"
check "booth-house's dashboard shows it" wait_count "$T/booth" "/alerts/A1 " 1
check "booth-house's phone gets it" wait_for "[ \$(sms_count +447700900123 201) -ge 1 ]" 15
check "after 3 s A1 is expired" wait_for "ctl --json show A1 | grep -q '\"status\":[[:space:]]*\"expired\"'" 20
check "the dashboard gets the final state" wait_count "$T/booth" "/alerts/A1 .*\"status\":\"expired\"" 1
check "and its retained message is cleared" \
        wait_for '[ -z "$(retained "$PREFIX/subscribers/booth-house/alerts/A1")" ]' 10
check "no text about the expiry (expiry.notify is off)" test "$(sms_count +447700900123)" -eq 1
check "the audit log records the expiry" \
        bash -c "store_sql \"SELECT actor FROM audit WHERE alert_id='A1' AND action='expire'\" | grep -q dawnd"
check "an expired alert is not listed as active" bash -c "! \"$DAWNCTL\" list | grep -q '^A1 '"

# expiring while dawnd is down: done at start-up
ctl --json issue --area portsmouth --sold-as diazepam --adulterant bromazolam --evidence clinical --casualties 2 \
        --expires 2s "Blue tablets." >"$T/a2.json"
stop_dawnd
expires=$(date -d "$(json_get "$T/a2.json" .expires_at)" +%s)
wait_for "[ \$(date +%s) -gt $expires ]" 10 # the alert's own clock, not a fixed pause
start_dawnd
check "an alert that expired while dawnd was down is expired at start" \
        wait_for "ctl --json show A2 | grep -q '\"status\":[[:space:]]*\"expired\"'" 10
finish
