#!/bin/bash
# Accepted means durable: an alert accepted while the broker is down goes
# out when it returns; an alert accepted just before dawnd is killed -9
# goes out after the restart.
. "$(dirname "$0")/lib.sh"
start_broker
start_dawnd

# the broker goes away; the officer still gets "accepted"
stop_broker
check "dawnd sees the broker go" wait_for "ctl --json status | grep -Eq '\"ready\":[[:space:]]*false'" 10
ctl --json issue --area portsmouth --sold-as diazepam --adulterant bromazolam --evidence clinical \
        --casualties 2 "Blue tablets sold as diazepam in Portsmouth." >"$T/a.json"
check "issue is accepted while the broker is down" test "$(json_get "$T/a.json" .id)" = A1
check "its deliveries wait (pending)" test "$(states A1)" = pending
start_broker
subscribe "$T/haven" "$PREFIX/subscribers/the-haven-hostel/alerts/+"
check "after the broker returns the hostel receives it" wait_count "$T/haven" "/alerts/A1 " 1 30
check "the deliveries are then delivered" wait_for '[ "$(states A1)" = delivered ]' 10

# kill -9 after "accepted" and before publication: the broker is down, so nothing can be
# published before the kill; the accepted alert must survive in the store
stop_broker
check "dawnd sees the broker go again" wait_for "ctl --json status | grep -Eq '\"ready\":[[:space:]]*false'" 10
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology \
        "Nitazene heroin in Southampton." >"$T/b.json"
check "second alert accepted" test "$(json_get "$T/b.json" .id)" = A2
kill9_dawnd
start_broker
subscribe "$T/booth" "$PREFIX/subscribers/booth-house/alerts/+"
start_dawnd
check "after kill -9 and restart the alert still arrives" wait_count "$T/booth" "/alerts/A2 " 1 30
check "the store passes an integrity check" \
        bash -c "sqlite3 '$T/state/dawn.db' 'PRAGMA integrity_check' | grep -qx ok"
check "the audit log records who issued it" \
        bash -c "sqlite3 '$T/state/dawn.db' \"SELECT actor FROM audit WHERE alert_id='A2' AND action='issue'\" | grep -q 'uid 0'"

# SIGTERM: dawnd stops accepting, finishes, exits 0
kill "$DAWND_PID"
wait "$DAWND_PID"
rc=$?
DAWND_PID=""
check "SIGTERM exits 0" test "$rc" -eq 0
check "the control socket is removed on exit" test ! -e "$DAWN_SOCKET"
finish
