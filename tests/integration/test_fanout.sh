#!/bin/bash
# An officer's alert reaches exactly the subscribers whose rules match, on
# their MQTT topics and the area feed; an update replaces the retained
# message; a cancel publishes the final state and then clears it.
. "$(dirname "$0")/lib.sh"
start_broker
start_dawnd

subscribe "$T/subs" "$PREFIX/subscribers/+/alerts/+"
subscribe "$T/feed" "$PREFIX/alerts/#"

ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology \
        --casualties 4 --fatalities 1 --advice "Carry naloxone. Do not use alone." \
        "Heroin in Southampton city centre contains a nitazene." >"$T/a1.json"
check "issue exits 0 and prints the alert" test "$(json_get "$T/a1.json" .id)" = A1
check "grade is critical" test "$(json_get "$T/a1.json" .grade)" = critical
check "grade reasons explain the grade" grep -q "adulterant nitazene is on the high-risk list" "$T/a1.json"

# southampton hostel, southampton pharmacy, southampton outreach, pan-hampshire treatment
# and public health match; portsmouth and isle-of-wight subscribers do not
expected="booth-house ph-duty-officer recovery-service rough-sleeper-outreach st-marys-pharmacy"
check "five matching subscribers receive it" wait_count "$T/subs" "/alerts/A1 " 5
check "the area feed receives it on the area path" \
        wait_count "$T/feed" "^$PREFIX/alerts/pan-hampshire/southampton/A1 " 1
got=$(retained "$PREFIX/subscribers/+/alerts/A1" | awk '{print $1}' | cut -d/ -f4 | sort | tr '\n' ' ')
check "exactly the matching subscribers hold it (retained)" test "$got" = "$expected "
ctl --json show A1 >"$T/show.json"
shown=$(json_get "$T/show.json" .deliveries | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(d["subscriber"] for d in json.load(sys.stdin) if d["subscriber"])))')
check "dawnctl show lists the same subscribers" test "$shown " = "$expected "
check "every delivery is delivered (on PUBACK)" wait_for '[ "$(states A1)" = delivered ]' 10

# update: a new revision replaces the retained message
ctl update A1 --advice "Carry two naloxone kits; more than one dose may be needed." >/dev/null
check "the update reaches booth-house" wait_count "$T/subs" "booth-house/alerts/A1 .*\"revision\":2" 1
r=$(retained "$PREFIX/subscribers/booth-house/alerts/A1")
check "the retained message is revision 2" grep -q '"revision":2' <<<"$r"
check "the retained message carries the new advice" grep -q "two naloxone kits" <<<"$r"
check "only one retained message for the topic" test "$(grep -c . <<<"$r")" -eq 1

# cancel: the final state goes out (not retained), then the retained message is cleared
ctl cancel A1 --reason "Toxicology found no nitazene after all." >/dev/null
check "recipients see the cancellation" wait_count "$T/subs" "booth-house/alerts/A1 .*\"status\":\"cancelled\"" 1
check "the cancel reason is in the final message" \
        bash -c "grep 'booth-house/alerts/A1 ' '$T/subs' | grep -q 'no nitazene after all'"
check "the withdrawals are delivered; older revisions' are delivered or superseded" \
        wait_for '[ "$(states A1)" = delivered ] || [ "$(states A1)" = "delivered superseded" ]' 10
check "no retained message is left for A1 anywhere" test -z "$(retained "$PREFIX/+/+/alerts/A1"; retained "$PREFIX/alerts/#")"
check "the alert is listed as cancelled" bash -c "\"$DAWNCTL\" list --all | grep -q 'A1 .*cancelled'"
check "an active list no longer shows it" bash -c "! \"$DAWNCTL\" list | grep -q '^A1 '"
finish
