#!/bin/bash
# The disk fills while four clients pipeline alerts over the control socket:
# some are refused ("the disk is full"), and every alert that was answered
# "ok" is in the store after space returns and dawnd restarts. A "ok" for
# an alert whose commit failed is the one thing that must never happen
# (RELIABILITY.md promises 1 and 4).
#
# Needs root to mount a small tmpfs for the store (falls back to a loop
# ext4 image, as test_service_watchdog.sh does); skipped where neither works.
. "$(dirname "$0")/lib.sh"
skip_on_postgresql "it fills the file system under SQLite's own file (PostgreSQL's server keeps its files elsewhere)"

MNT=""
umount_state() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; MNT=""; }
trap 'stop_dawnd 2>/dev/null; umount_state; cleanup' EXIT

mkdir -p "$T/state"
KIND=""
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1536k,mode=0750 tmpfs "$T/state" 2>/dev/null; then
        MNT="$T/state" KIND=tmpfs
elif [ "$(id -u)" -eq 0 ] && truncate -s 2M "$T/state.img" && mkfs.ext4 -q -F "$T/state.img" 2>/dev/null &&
        mount -o loop "$T/state.img" "$T/state" 2>/dev/null; then
        MNT="$T/state" KIND=ext4
else
        ok "every alert answered ok survives a full disk # SKIP needs root and tmpfs or a loop device"
        finish
fi

start_broker
start_dawnd

# Four clients, each on its own connection, write issue requests without
# waiting for answers (a reader thread takes them as they come). Each stops
# writing a little after its first "disk is full" refusal, or at its cap, and
# then reads every answer it is owed. Every id answered ok is printed.
/usr/bin/python3 - "$DAWN_SOCKET" "$T" <<'EOF' >"$T/flood.out" 2>"$T/flood.err"
import json, socket, sys, threading, time
path, tmp = sys.argv[1], sys.argv[2]
CAP, AFTER_FULL, DEADLINE = 4000, 300, time.monotonic() + 20
acked, refused, other = [], [], []
lock = threading.Lock()

def client(k):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(10)
    state = {"sent": 0, "answers": 0, "full_at": None, "eof": False}
    def reader():
        f = s.makefile("rb")
        while time.monotonic() < DEADLINE:
            try:
                line = f.readline()
            except OSError:
                break
            if not line:
                state["eof"] = True
                break
            state["answers"] += 1
            a = json.loads(line)
            with lock:
                if a.get("ok"):
                    acked.append(a["alert"]["id"])
                elif "disk is full" in a.get("error", ""):
                    refused.append(a["error"])
                    if state["full_at"] is None:
                        state["full_at"] = state["sent"]
                else:
                    other.append(a.get("error"))
            if state["full_at"] is not None and state["answers"] >= state["sent"] and state["stopped"]:
                break
    state["stopped"] = False
    t = threading.Thread(target=reader)
    t.start()
    for i in range(CAP):
        if state["eof"] or time.monotonic() > DEADLINE:
            break
        if state["full_at"] is not None and state["sent"] >= state["full_at"] + AFTER_FULL:
            break
        req = {"cmd": "issue", "alert": {"type": "batch", "area": "southampton",
               "sold_as": ["pill c%d n%d" % (k, i)], "summary": "Disk-full test alert %d of client %d." % (i, k)}}
        try:
            s.sendall((json.dumps(req) + "\n").encode())
        except OSError:
            break
        state["sent"] += 1
    state["stopped"] = True
    t.join(max(0, DEADLINE - time.monotonic()) + 1)
    s.close()

threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(acked))
sys.stderr.write("acked %d, refused for a full disk %d, other %d: %s\n" % (len(acked), len(refused), len(other), sorted(set(map(str, other)))[:5]))
EOF
echo "# store on a $KIND: $(cat "$T/flood.err")"
check "some alerts were accepted" test "$(wc -l <"$T/flood.out")" -gt 0
check "the full disk was reached: some alerts were refused with 'the disk is full'" \
        grep -q "refused for a full disk [1-9]" "$T/flood.err"

# space returns; dawnd is restarted (if it stopped by itself, it is started again)
if [ "$KIND" = tmpfs ]; then mount -o remount,size=64m "$T/state"; else
        stop_dawnd; umount_state; truncate -s 64M "$T/state.img"; e2fsck -fy "$T/state.img" >/dev/null 2>&1
        resize2fs "$T/state.img" >/dev/null 2>&1; mount -o loop "$T/state.img" "$T/state" && MNT="$T/state"; fi
stop_dawnd
start_dawnd

store_sql "SELECT id FROM alerts" | sort >"$T/stored"
sort -u "$T/flood.out" >"$T/acked"
missing=$(comm -23 "$T/acked" "$T/stored")
check "every alert answered ok is in the store after space returned and dawnd restarted" \
        test -z "$missing"
[ -n "$missing" ] && echo "#   missing: $(echo $missing | head -c 300)"
check "the store passes an integrity check" \
        bash -c "store_intact | grep -qx ok"
quiet() { "$@" >/dev/null; }
check "dawnd answers after the restart" quiet ctl status
check "and takes a new alert" quiet ctl issue --area portsmouth --sold-as diazepam "After the disk filled."
[ -n "${DAWN_TEST_SHOW_LOG:-}" ] && grep -v "^$" "$T/dawnd.log" | grep -iv "delivered\|accepted" | head -40
stop_dawnd
check "no sanitizer or leak report from dawnd (under BUILD=build-san)" \
        bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$T/dawnd.log'"
finish
