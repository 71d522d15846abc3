#!/bin/bash
# dawnd speaks systemd's notify protocol: READY=1 once the store is open and
# the control socket listens, STATUS= lines, WATCHDOG=1 pings when asked for,
# RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM. A datagram
# socket stands in for systemd.
. "$(dirname "$0")/lib.sh"
start_broker
write_config

notify_listener "$T/notify.log"

NOTIFY_SOCKET="$T/notify.log.sock" WATCHDOG_USEC=400000 "$DAWND" -f -c "$T/dawn.conf" 2>>"$T/dawnd.log" &
DAWND_PID=$!
check "READY=1 is sent" wait_for "grep -qx READY=1 '$T/notify.log'" 10
check "the control socket answers once READY=1 was sent" bash -c "\"$DAWNCTL\" status >/dev/null"
check "STATUS= describes the alerts, outbox and mqtt" \
        wait_for "grep -q '^STATUS=.*active alert.*outbox: .*mqtt: connected' '$T/notify.log'" 10
check "WATCHDOG=1 pings arrive" wait_for "[ \$(grep -cx WATCHDOG=1 '$T/notify.log') -ge 2 ]" 10
kill -HUP "$DAWND_PID"
check "SIGHUP sends RELOADING=1" wait_for "grep -qx RELOADING=1 '$T/notify.log'" 10
check "then READY=1 again" wait_for "sed -n '/^RELOADING=1/,\$p' '$T/notify.log' | grep -qx READY=1" 10
kill "$DAWND_PID"
wait "$DAWND_PID"
check "SIGTERM: exit 0" test $? -eq 0
DAWND_PID=""
check "SIGTERM sends STOPPING=1" grep -qx STOPPING=1 "$T/notify.log"
finish
