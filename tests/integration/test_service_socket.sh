#!/bin/bash
# Socket activation, as dawnd.socket does it: systemd-socket-activate makes
# the listening socket, starts dawnd on the first connection and hands the
# socket over (LISTEN_FDS=1). dawnd then serves that socket and makes none
# of its own: daemon.control_socket names another path here, which must
# never appear. The first connection, made before dawnd ran, is answered.
. "$(dirname "$0")/lib.sh"
OWN="$T/own.sock"
ACTIVATED="$T/control.sock"
start_broker
DAWN_SOCKET="$OWN" write_config
export DAWN_SOCKET="$ACTIVATED"

systemd-socket-activate -l "$ACTIVATED" "$DAWND" -f -c "$T/dawn.conf" >>"$T/dawnd.log" 2>&1 &
DAWND_PID=$!
wait_for "[ -S '$ACTIVATED' ]" 10 || { echo "systemd-socket-activate did not listen"; exit 1; }
check "nothing but the socket exists before the first connection" \
        bash -c "[ \"\$(cat /proc/$DAWND_PID/comm)\" != dawnd ]"
check "the first connection starts dawnd and is answered (dawnctl status: exit 0)" \
        bash -c "\"$DAWNCTL\" status >/dev/null"
check "dawnd runs in the activator's place (same pid)" bash -c "[ \"\$(cat /proc/$DAWND_PID/comm)\" = dawnd ]"
check "dawnd says it serves the socket systemd passed" \
        grep -q "control socket $ACTIVATED (passed by systemd)" "$T/dawnd.log"
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene "Nitazene in heroin." >"$T/a.json"
check "an alert is accepted through the passed socket" test "$(json_get "$T/a.json" .status)" = active
check "dawnd made no socket of its own at daemon.control_socket" test ! -e "$OWN"
check "and logged nothing about one" bash -c "! grep -q '$OWN' '$T/dawnd.log'"
kill "$DAWND_PID"
wait "$DAWND_PID"
check "SIGTERM: exit 0" test $? -eq 0
DAWND_PID=""
check "dawnd leaves the passed socket alone when it stops (it belongs to the socket unit)" test -S "$ACTIVATED"
finish
