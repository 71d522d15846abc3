#!/bin/bash
# Closing the loop, attacked by an unlucky operator (issue 13 review):
# - the disk fills just when an escalation falls due: its commit fails, and
#   once space returns it is told all the same, with nothing else written
#   meanwhile to wake the timer (promise: never silently dropped);
# - dawnctl summary --html never replaces something that is not a regular
#   file (a FIFO, a device node, a symbolic link) with its page.
# Needs root for the tmpfs part (skipped otherwise).
. "$(dirname "$0")/lib.sh"

MNT=""
umount_state() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; MNT=""; }
trap 'stop_dawnd 2>/dev/null; umount_state; cleanup' EXIT

# An escalation's state in dawnctl show: escalation ALERT SUBSCRIBER
escalation() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
for e in json.load(sys.stdin).get("escalations", []):
    if e["subscriber"]==sys.argv[1]: print(e["state"], " ".join(e.get("to", [])) or e.get("by") or e.get("reason") or "")' "$2"
}
settled() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
d=json.load(sys.stdin)["deliveries"]
sys.exit(0 if d and all(x["state"] not in ("pending","retrying","in-flight") for x in d) else 1)'
}

mkdir -p "$T/state"
start_broker
write_config
sed -i 's|{ id = "the-haven-hostel";|{ id = "the-haven-hostel"; escalate_after = "3s"; escalate_to = [ "ph-duty-officer" ];|' \
        "$T/dawn.conf"

# ---- the disk is full when the escalation falls due ----
# (SQLite's file fills the disk; PostgreSQL's server keeps its files elsewhere)
if [ "$DAWN_TEST_STORE" = sqlite ] && [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=4m,mode=0750 tmpfs "$T/state" 2>/dev/null; then
        MNT="$T/state"
        start_dawnd
        ctl --json issue --area portsmouth --sold-as heroin --adulterant nitazene --evidence toxicology \
                --casualties 3 "Heroin in Portsmouth contains a nitazene." >"$T/a1.json"
        check "A1 is critical" test "$(json_get "$T/a1.json" .grade)" = critical
        check "A1 reaches the dashboards" wait_for "settled A1" 10
        check "the haven's escalation waits" test "$(escalation A1 the-haven-hostel)" = "waiting "
        dd if=/dev/zero of="$T/state/fill" bs=64k >/dev/null 2>&1
        check "the escalation's commit fails on the full disk" \
                wait_for "grep -q 'store: commit of .* failed' '$T/dawnd.log'" 10
        check "and it is still waiting (not claimed escalated)" test "$(escalation A1 the-haven-hostel)" = "waiting "
        rm -f "$T/state/fill"
        check "space back: the escalation is told without any other write to wake it" \
                wait_for '[ "$(escalation A1 the-haven-hostel)" = "escalated ph-duty-officer" ]' 8
        check "dawnd answers" ctl status
        # the same for an alert that expires while the disk is full
        ctl --json issue --area gosport --sold-as cannabis --expires 3s "Cannabis in Gosport, short-lived." >"$T/e.json"
        E=$(json_get "$T/e.json" .id)
        check "$E reaches the dashboards" wait_for "settled $E" 10
        n_failed=$(grep -c 'store: commit of .* failed' "$T/dawnd.log")
        dd if=/dev/zero of="$T/state/fill" bs=64k >/dev/null 2>&1
        check "the expiry's commit fails on the full disk" \
                wait_for "[ \$(grep -c 'store: commit of .* failed' '$T/dawnd.log') -gt $n_failed ]" 10
        rm -f "$T/state/fill"
        check "space back: $E expires without any other write to wake the timer" \
                wait_for "ctl --json show $E | grep -q '\"status\":[[:space:]]*\"expired\"'" 8
        stop_dawnd
        umount_state
else
        ok "an escalation due on a full disk is told once space returns # SKIP needs root and tmpfs"
fi

# ---- dawnctl summary --html and what it must not replace ----
[ -n "$DAWND_PID" ] || start_dawnd
mkfifo "$T/fifo"
ctl summary --html "$T/fifo" >/dev/null 2>"$T/err"
check "--html to a FIFO is refused, saying why" grep -q 'cannot write .*fifo: it is not a regular file; nothing was written' "$T/err"
check "and the FIFO is still a FIFO" test -p "$T/fifo"
echo "kept" >"$T/target.html"
ln -s "$T/target.html" "$T/link.html"
ctl summary --html "$T/link.html" >/dev/null 2>"$T/err"
check "--html to a symbolic link is refused, saying why" grep -q 'it is a symbolic link; name the file itself' "$T/err"
check "and the link is still a link to the untouched file" \
        bash -c "test -L '$T/link.html' && grep -qx kept '$T/target.html'"
check "no temporary page is left beside them" bash -c "! ls '$T' | grep -q '\.tmp\.'"
if [ "$(id -u)" -eq 0 ] && mknod "$T/full" c 1 7 2>/dev/null; then
        ctl summary --html "$T/full" >/dev/null 2>"$T/err"
        check "--html to a device node is refused" grep -q 'it is not a regular file' "$T/err"
        check "and the device node is still one" test -c "$T/full"
fi
ctl summary --html "$T/page.html" >/dev/null
check "a regular file is still written" grep -q '<svg' "$T/page.html"

# ---- a critical alert downgraded to a warning before the deadline ----
# Escalation is for escalating grades (escalation.grades): the waiting clock
# stops ("grade warning does not escalate") rather than waking the duty officer with a
# WARNING escalation; one upgraded again before its deadline goes on waiting.
# A reload that removes the subscriber whose clock waits stops it too ("not
# configured"), in the log as well. Both clocks run side by side.
[ -n "$DAWND_PID" ] || start_dawnd
ctl --json issue --area portsmouth --sold-as cocaine --adulterant fentanyl --evidence toxicology \
        --casualties 2 "Cocaine in Portsmouth contains fentanyl." >"$T/d.json"
ctl --json issue --area portsmouth --sold-as crack --adulterant xylazine --evidence toxicology --casualties 2 \
        "Crack in Portsmouth contains xylazine." >"$T/r.json"
D=$(json_get "$T/d.json" .id)
R=$(json_get "$T/r.json" .id)
check "$D is critical" test "$(json_get "$T/d.json" .grade)" = critical
check "and the haven's clocks wait" \
        test "$(escalation "$D" the-haven-hostel)/$(escalation "$R" the-haven-hostel)" = "waiting /waiting "
ctl update "$D" --grade warning >/dev/null
cp "$T/dawn.conf" "$T/dawn.conf.orig"
sed -i '/{ id = "the-haven-hostel";/d' "$T/dawn.conf"
ctl reload >/dev/null
check "after the deadline the downgraded alert's clock stopped, naming why" \
        wait_for '[ "$(escalation '"$D"' the-haven-hostel)" = "stopped grade warning does not escalate" ]' 8
check "and no escalation was queued for it" \
        bash -c "! '$DAWNCTL' --json show '$D' | grep -q '\"purpose\":[[:space:]]*\"escalation\"'"
check "the escalation count did not grow" test "$(ctl --json history "$D" | grep -c '"escalate"')" -eq 0
check "after the reload, $R's clock stops at its deadline, saying why" \
        wait_for '[ "$(escalation '"$R"' the-haven-hostel)" = "stopped not configured" ]' 8
check "and the log says so, naming the alert and the subscriber" \
        grep -q "alert $R: the-haven-hostel not escalated: .*no escalate_to subscriber" "$T/dawnd.log"
# upgraded again after its clock stopped: a new escalating episode, escalated
cp "$T/dawn.conf.orig" "$T/dawn.conf"
ctl reload >/dev/null
ctl update "$D" --grade critical >/dev/null
check "$D upgraded to critical again: the haven's clock waits anew" test "$(escalation "$D" the-haven-hostel)" = "waiting "
check "and escalates at its new deadline" \
        wait_for '[ "$(escalation '"$D"' the-haven-hostel)" = "escalated ph-duty-officer" ]' 8

# ---- 500 subscribers escalate at once ----
# Due escalations are decided 64 a turn: all 500 fire, none twice, and
# dawnctl status answers while they do.
stop_dawnd
fresh_store
write_config
subs=$(for i in $(seq 1 500); do
        printf '{ id = "site-%03d"; kind = "hostel"; area = "gosport"; mqtt = true; escalate_after = "2s"; escalate_to = [ "ph-duty-officer" ]; },\n' "$i"
done)
/usr/bin/python3 - "$T/dawn.conf" "$subs" <<'PY'
import sys
p, subs = sys.argv[1], sys.argv[2]
s = open(p).read().replace("subscribers = (", "area_details = { gosport = { name = \"</title><script>alert(1)</script>\"; }; };\n"
                           "subscribers = (\n" + subs, 1)
open(p, "w").write(s)
PY
start_dawnd
ctl --json issue --area gosport --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Gosport contains a nitazene." >"$T/g.json"
G=$(json_get "$T/g.json" .id)
esc_states() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys,collections
a=json.load(sys.stdin)
c=collections.Counter(e["state"] for e in a.get("escalations", []) if e["subscriber"].startswith("site-"))
d=collections.Counter(x["about"] for x in a["deliveries"] if x.get("purpose")=="escalation")
print(c.get("waiting",0), c.get("escalated",0), len(d), max(d.values()) if d else 0)'
}
check "500 clocks wait" test "$(esc_states "$G")" = "500 0 0 0"
slow=0
for i in $(seq 1 40); do
        timeout 5 "$DAWNCTL" status >/dev/null || slow=$((slow + 1))
        [ "$(esc_states "$G" | cut -d' ' -f2)" = 500 ] && break
        sleep 0.2
done
check "dawnctl status answered (within 5 s) throughout" test "$slow" -eq 0
check "all 500 escalated, each told once to the duty officer's dashboard" \
        wait_for '[ "$(esc_states '"$G"')" = "0 500 500 1" ]' 15
ctl summary --html "$T/g.html" >/dev/null
check "summary --html: a hostile area name from the config is escaped, no script" \
        bash -c "! grep -qi '<script' '$T/g.html' && grep -q '&lt;/title&gt;&lt;script&gt;' '$T/g.html'"
check "the audit has 500 escalate rows" \
        test "$(store_sql "select count(*) from audit where action='escalate' and alert_id='$G'")" -eq 500

# ---- retention while dawnd runs: the numbers leave the files, not only the tables ----
# secure_delete overwrites the database's pages, but in WAL mode the frames
# that held the rows stay in dawn.db-wal until the log wraps: on a quiet
# system that is months. A dry run changes nothing (the dump is the same).
stop_dawnd
fresh_store
. "$(dirname "$0")/delivery.sh"
start_gateway
start_smtp
HTTP_LISTEN="127.0.0.1:$(free_port)"
write_delivery_config "" "" "" 'retention = { deliveries = "2s"; };'
start_dawnd
DB="$T/state/dawn.db"
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene "Heroin in Southampton contains a nitazene." \
        >/dev/null
check "A1 reaches its texts" wait_for "settled A1" 15
ctl cancel A1 --reason "lab result was negative" >/dev/null
check "A1's cancellation reaches everyone" wait_for "settled A1 && [ \$(sms_count +447700900123) -ge 2 ]" 15
check_sqlite "the running store's files hold A1's number" bash -c "cat '$DB' '$DB-wal' | grep -qa 7700900123"
check "A1 becomes prunable" wait_for "ctl prune --dry-run | grep -q 'alerts: A1\$'" 10
store_dump >"$T/dump.before"
ctl --json prune --dry-run >/dev/null
store_dump >"$T/dump.after"
check "a dry run writes nothing (the dump is the same)" cmp -s "$T/dump.before" "$T/dump.after"
ctl prune >/dev/null
check "prune: the tables hold no number of A1" bash -c "! store_dump | grep -q 7700900123"
check_sqlite "nor the database file and its WAL while dawnd runs" \
        wait_for "! cat '$DB' '$DB-wal' 2>/dev/null | grep -qaE '7700900123|nights@booth-house'" 5
check "dawnd answers and takes an alert after" ctl issue --area portsmouth --sold-as ketamine "Ketamine test." 
check "the store is intact" test "$(store_intact)" = ok

# ---- ACK from a number two subscribers share ----
# A site's night phone is listed under the site and under its manager: the
# person who texts ACK A1 has read it for both, and neither is escalated.
stop_dawnd
fresh_store
printf 'notify-callback-secret\n' >"$T/callback.token"
write_delivery_config "callback_token_file = \"$T/callback.token\";" "" \
        '{ id = "booth-manager"; kind = "manager"; area = "southampton"; sms = [ "+447700900123" ];
           escalate_after = "3s"; escalate_to = [ "recovery-service" ]; },' \
        'public = { enabled = true; min_grade = "warning"; };'
sed -i 's|{ id = "booth-house";|{ id = "booth-house"; escalate_after = "3s"; escalate_to = [ "recovery-service" ];|' \
        "$T/dawn.conf"
start_dawnd
API="http://$HTTP_LISTEN"
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "{\"notify_status_url\": \"$API/v1/callbacks/notify/status\",
        \"notify_inbound_url\": \"$API/v1/callbacks/notify/inbound\", \"notify_token\": \"notify-callback-secret\",
        \"default_receipt\": \"delivered\"}" "http://127.0.0.1:$GW_PORT/_control/callbacks"
inbound() {
        curl -s -X POST -H 'Content-Type: application/json' -d "{\"api\": \"notify\", \"from\": \"$1\", \"body\": \"$2\"}" \
                "http://127.0.0.1:$GW_PORT/_control/inbound"
}
PUB="+447700900123" # the shared phone also joined Southampton's public texts (staff do)
check "a member of the public joins" bash -c "$(declare -f inbound); GW_PORT=$GW_PORT inbound $PUB 'JOIN southampton' | grep -q '\"status\": 200'"
ctl --json issue --area southampton --scope public --sold-as heroin --adulterant nitazene --evidence toxicology \
        --casualties 3 "Heroin in Southampton contains a nitazene." >/dev/null
check "both clocks wait" bash -c "$(declare -f escalation); DAWNCTL='$DAWNCTL'
        [ \"\$(escalation A1 booth-house)\" = 'waiting ' ] && [ \"\$(escalation A1 booth-manager)\" = 'waiting ' ]"
check "the shared phone gets the alert and the public text" wait_for "[ \$(sms_count +447700900123 201) -ge 2 ]" 10
curl -s -X POST -H 'Content-Type: application/json' \
        -d '{"api": "notify", "from": "+447700900123", "body": "ACK A1"}' \
        "http://127.0.0.1:$GW_PORT/_control/inbound" >"$T/ack.out"
check "ACK A1 from the shared phone is accepted" grep -q '"status": 200' "$T/ack.out"
check "the site is acknowledged" wait_for '[ "$(escalation A1 booth-house | cut -d" " -f1)" = acknowledged ]' 5
check "and so is the manager who shares the phone" \
        wait_for '[ "$(escalation A1 booth-manager | cut -d" " -f1)" = acknowledged ]' 5
check "an ACK is no public text's acknowledgement (no ack row for 'public')" \
        test "$(store_sql "select count(*) from acks where subscriber = 'public'")" -eq 0
sleep_until_deadline=$(( $(date +%s) + 3 ))
check "after the deadline nobody was escalated" \
        bash -c "while [ \$(date +%s) -lt $sleep_until_deadline ]; do sleep 0.5; done
                 ! '$DAWNCTL' --json show A1 | grep -q '\"purpose\":[[:space:]]*\"escalation\"'"

finish
