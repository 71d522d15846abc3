#!/bin/bash
# The watchdog is pinged only while dawnd is healthy (daemon.c, on_watchdog):
#  1. the store takes writes: the state directory lives on a small ext4 file
#     system mounted with errors=remount-ro, and an ext4 error is injected
#     through sysfs (trigger_fs_error), the way a failing disk turns a file
#     system read-only under a running service. Needs root, a loop device and
#     mount; skipped (and said so) where those are not allowed.
#  2. the outbox moves: a broker that accepts the connection and every
#     publish but never sends PUBACK leaves deliveries in flight; after three
#     watchdog intervals without one ending, the pings stop.
# A datagram socket stands in for systemd, as in test_notify.sh; WATCHDOG_USEC
# is 0.4 s, so a ping every 0.2 s and a stall after 1.2 s.
. "$(dirname "$0")/lib.sh"

MNT=""
service_cleanup() {
        stop_dawnd 2>/dev/null
        [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
        cleanup
}
trap service_cleanup EXIT

pings() { grep -cx WATCHDOG=1 "$1"; }
# no_ping_for FILE SECONDS: no WATCHDOG=1 arrives in that time (a wait for
# something not to happen cannot be an event; 1.5 s is almost 4 intervals)
no_ping_for() {
        n=$(pings "$1")
        sleep "$2"
        [ "$(pings "$1")" -eq "$n" ]
}
start_watched_dawnd() {
        NOTIFY_SOCKET="$1.sock" WATCHDOG_USEC=400000 "$DAWND" -f -c "$T/dawn.conf" >>"$T/dawnd.log" 2>&1 &
        DAWND_PID=$!
        wait_for "grep -qx READY=1 '$1'" 10 || { echo "dawnd did not start"; cat "$T/dawnd.log"; exit 1; }
}

# ---- 1. the store's file system turns read-only ----
start_broker
write_config
can_mount=no
if [ "$(id -u)" -eq 0 ] && truncate -s 16M "$T/state.img" && mkfs.ext4 -q -F "$T/state.img" 2>/dev/null; then
        mkdir -p "$T/state"
        if mount -o loop,errors=remount-ro "$T/state.img" "$T/state" 2>/dev/null; then
                MNT="$T/state"
                dev=$(findmnt -n -o SOURCE "$MNT")
                trigger="/sys/fs/ext4/$(basename "$dev")/trigger_fs_error"
                [ -w "$trigger" ] && can_mount=yes
        fi
fi
if [ $can_mount = yes ]; then
        notify_listener "$T/n1"
        start_watched_dawnd "$T/n1"
        check "pings arrive while the store is healthy" wait_for "[ \$(pings '$T/n1') -ge 3 ]" 10
        ctl --json issue --area southampton --sold-as heroin --adulterant nitazene "Nitazene in heroin." >"$T/a1.json"
        id=$(json_get "$T/a1.json" .id)
        check "an alert is accepted and delivered" wait_for "[ \"\$(states $id)\" = delivered ]" 10
        n=$(pings "$T/n1")
        check "pings go on after the deliveries ended (no false stall)" \
                wait_for "[ \$(pings '$T/n1') -ge $((n + 8)) ]" 10
        echo 1 >"$trigger"
        check "the file system is read-only now" bash -c "! touch '$MNT/probe' 2>/dev/null"
        check "dawnd says the state directory is not writable" \
                wait_for "grep -q 'watchdog: state directory .* not writable' '$T/dawnd.log'" 5
        check "and sends no more pings" no_ping_for "$T/n1" 1.5
        check "dawnd is still running (systemd, not dawnd, acts on a missed ping)" kill -0 "$DAWND_PID"
        stop_dawnd
        umount "$MNT" && MNT=""
else
        ok "pings stop when the store's file system turns read-only # SKIP needs root, a loop device, mkfs.ext4 and ext4's trigger_fs_error"
fi

# ---- 2. the outbox stops moving ----
# A broker that says CONNACK and answers pings, takes publishes and never acknowledges them.
STUCK_PORT=$(free_port)
/usr/bin/python3 -u -c '
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(8)
print("listening", flush=True)
def serve(c):
    buf = b""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            d = c.recv(65536)
            if not d: raise EOFError
            buf += d
    try:
        while True:
            need(2)
            i, mult, length = 1, 1, 0
            while True:
                need(i + 1)
                b = buf[i]; length += (b & 127) * mult; mult *= 128; i += 1
                if not b & 128: break
            need(i + length)
            kind = buf[0] >> 4
            buf = buf[i + length:]
            if kind == 1: c.sendall(b"\x20\x02\x00\x00")      # CONNECT -> CONNACK
            elif kind == 12: c.sendall(b"\xd0\x00")           # PINGREQ -> PINGRESP
            elif kind == 3: print("publish", flush=True)      # PUBLISH: never acknowledged
            elif kind == 14: break
    except (EOFError, OSError):
        pass
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$STUCK_PORT" >"$T/stuck.log" &
wait_for "grep -q listening '$T/stuck.log'" 5
stop_broker
rm -rf "$T/state"
sed -i "s/port = $MQTT_PORT;/port = $STUCK_PORT;/" "$T/dawn.conf"
notify_listener "$T/n2"
start_watched_dawnd "$T/n2"
check "connected to a broker that never acknowledges" \
        wait_for "\"$DAWNCTL\" --json status | grep -q '\"ready\":.*true'" 10
n=$(pings "$T/n2")
check "with nothing to deliver, pings go on past three intervals" \
        wait_for "[ \$(pings '$T/n2') -ge $((n + 8)) ]" 10
ctl issue --area portsmouth --sold-as heroin --adulterant nitazene "Nitazene in heroin." >/dev/null
check "the alert's deliveries are published" wait_for "grep -q publish '$T/stuck.log'" 10
check "dawnd says the outbox is stuck" \
        wait_for "grep -q 'watchdog: deliveries are waiting but none has ended' '$T/dawnd.log'" 5
check "and sends no more pings" no_ping_for "$T/n2" 1.5
finish
