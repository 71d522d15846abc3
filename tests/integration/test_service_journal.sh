#!/bin/bash
# Without -f, dawnd logs to the journal with structured fields (log.c):
# MESSAGE, PRIORITY, DAWN_ALERT_ID, and for one delivery DAWN_CHANNEL and
# DAWN_DELIVERY (log_delivery()). There is no journald on a build machine, so
# a private mount namespace puts a stand-in at /run/systemd/journal/socket,
# where sd_journal_send() writes: a datagram socket that records each entry
# (the native protocol: NAME=value lines, or NAME, a length, and the bytes).
# A small program calls log_delivery() and its friends directly.
. "$(dirname "$0")/lib.sh"

# one JSON object a line per journal entry
cat >"$T/journald.py" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"listening": True}), flush=True)
while True:
    d, e = s.recv(1 << 20), {}
    while d:
        line, nl, rest = d.partition(b"\n")
        if b"=" in line:
            k, _, v = line.partition(b"=")
            d = rest
        else:
            n = struct.unpack("<Q", rest[:8])[0]
            k, v, d = line, rest[8:8 + n], rest[8 + n + 1:]
        e[k.decode()] = v.decode()
    print(json.dumps(e), flush=True)
PY

# the harness: log_delivery() and friends, to the journal and then to stderr
cat >"$T/harness.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include "log.h"
int main(void)
{
        log_init(0, LOG_INFO);
        log_delivery(LOG_WARNING, "A7", "mqtt", 42, "delivery %d of A7 on mqtt: retrying", 42);
        log_delivery_errno(LOG_ERR, -ECONNREFUSED, "A7", "sms", 43, "delivery 43 failed: %m");
        log_info("plain message");
        log_alert(LOG_NOTICE, "A8", "about A8");
        log_delivery(LOG_DEBUG, "A7", "mqtt", 44, "below the level: not logged");
        log_init(1, LOG_INFO);
        log_delivery(LOG_WARNING, "A7", "mqtt", 42, "delivery %d of A7 on mqtt: retrying", 42);
        return 0;
}
C
HARNESS_OK=no
if cc -std=c11 -D_GNU_SOURCE -I"$ROOT/daemon/base" -I"$ROOT/include" -o "$T/harness" "$T/harness.c" "$ROOT/daemon/base/log.c" "$ROOT/daemon/base/text.c" \
        $(pkg-config --cflags --libs libsystemd) 2>"$T/cc.log"; then
        HARNESS_OK=yes
fi
check "a program using log_delivery() compiles" test $HARNESS_OK = yes || sed 's/^/    /' "$T/cc.log"

start_broker
write_config
# inside the namespace: the stand-in journal, dawnd without -f, one alert, the harness
cat >"$T/ns.sh" <<EOS
set -u
mount -t tmpfs -o mode=0755 tmpfs /run/systemd || exit 77
mkdir -p /run/systemd/journal
/usr/bin/python3 -u "$T/journald.py" /run/systemd/journal/socket >"$T/journal.log" &
j=\$!
for i in \$(seq 100); do grep -q listening "$T/journal.log" && break; sleep 0.05; done
"$DAWND" -c "$T/dawn.conf" 2>"$T/dawnd.stderr" &
d=\$!
for i in \$(seq 200); do "$DAWNCTL" status >/dev/null 2>&1 && break; sleep 0.05; done
"$DAWNCTL" issue --area southampton --sold-as heroin --adulterant nitazene "Nitazene in heroin." >/dev/null
kill \$d; wait \$d
[ $HARNESS_OK = yes ] && "$T/harness" 2>"$T/harness.stderr"
# the last datagrams are read before the stand-in goes
for i in \$(seq 100); do grep -q 'about A8' "$T/journal.log" && break; sleep 0.05; done
kill \$j
EOS
unshare -m --propagation private bash "$T/ns.sh" 2>"$T/ns.stderr"
rc=$?
if [ $rc -eq 77 ] || grep -q "unshare failed\|Operation not permitted" "$T/ns.stderr"; then
        ok "journal fields # SKIP no private mount namespace here: $(head -1 "$T/ns.stderr")"
        finish
fi

# entry PYTHON-CONDITION: some recorded entry e satisfies it
entry() {
        /usr/bin/python3 -c 'import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(eval(sys.argv[2], {"e": e}) for e in es) else 1)' "$T/journal.log" "$1"
}
check "without -f dawnd writes nothing to stderr" test ! -s "$T/dawnd.stderr"
check "'ready' goes to the journal with PRIORITY=6" \
        entry 'e.get("PRIORITY") == "6" and "ready: store" in e.get("MESSAGE", "")'
check "an accepted alert's entry has DAWN_ALERT_ID=A1" \
        entry 'e.get("DAWN_ALERT_ID") == "A1" and "A1" in e["MESSAGE"] and "DAWN_CHANNEL" not in e'
check "log_delivery(): DAWN_ALERT_ID, DAWN_CHANNEL, DAWN_DELIVERY and PRIORITY" \
        entry 'e.get("DAWN_ALERT_ID") == "A7" and e.get("DAWN_CHANNEL") == "mqtt" and e.get("DAWN_DELIVERY") == "42" and e.get("PRIORITY") == "4" and e["MESSAGE"] == "delivery 42 of A7 on mqtt: retrying"'
check "log_delivery_errno(): %m is the error given" \
        entry 'e.get("DAWN_CHANNEL") == "sms" and e.get("DAWN_DELIVERY") == "43" and e["MESSAGE"] == "delivery 43 failed: Connection refused" and e["PRIORITY"] == "3"'
check "log_info(): no DAWN_ fields" \
        entry 'e.get("MESSAGE") == "plain message" and not any(k.startswith("DAWN_") for k in e)'
check "log_alert() as before: DAWN_ALERT_ID only" \
        entry 'e.get("DAWN_ALERT_ID") == "A8" and "DAWN_CHANNEL" not in e and "DAWN_DELIVERY" not in e'
check "below the log level: not sent" bash -c "! grep -q 'below the level' '$T/journal.log'"
check "with -f (stderr) the line is as it always was" \
        test "$(cat "$T/harness.stderr")" = "dawnd: warning: delivery 42 of A7 on mqtt: retrying"
finish
