#!/bin/bash
# packaging/systemd: the unit is hardened (systemd-analyze security, offline,
# must say 1.5 or less), verifies clean, agrees with dawnd's defaults and the
# packaging files, and its sandbox fits what dawnd really does. PID 1 here is
# not systemd, so the sandbox cannot be run; instead dawnd runs under strace
# through a socket-activated session (start, an alert delivered, a reload,
# which forks, a stop) and every system call, socket family and mapping it
# made is checked against SystemCallFilter=, RestrictAddressFamilies= and
# MemoryDenyWriteExecute=.
. "$(dirname "$0")/lib.sh"
UNIT="$ROOT/packaging/systemd/dawnd.service"
SOCKET_UNIT="$ROOT/packaging/systemd/dawnd.socket"
key() { sed -n "s/^$2=//p" "$1"; } # key FILE NAME: every value of NAME=, one a line

systemd-analyze security --offline=true "$UNIT" >"$T/security.txt" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for dawnd.service: \([0-9.]*\).*/\1/p' "$T/security.txt")
check "systemd-analyze security --offline: exposure ${exposure:-?} <= 1.5" \
        /usr/bin/python3 -c "import sys; sys.exit(0 if 0 < float(sys.argv[1] or 99) <= 1.5 else 1)" "$exposure"

# verify: the units as installed but with ExecStart= at the built dawnd, and the
# man pages of Documentation= where man finds them
mkdir -p "$T/units" "$T/man/man1" "$T/man/man5" "$T/man/man8"
sed "s#^ExecStart=/usr/sbin/dawnd #ExecStart=$DAWND #" "$UNIT" >"$T/units/dawnd.service"
cp "$SOCKET_UNIT" "$T/units/"
cp "$ROOT/packaging/man/dawnd.8" "$T/man/man8/"
cp "$ROOT/packaging/man/dawnctl.1" "$T/man/man1/"
cp "$ROOT/packaging/man/dawn.conf.5" "$T/man/man5/"
MANPATH="$T/man" systemd-analyze verify "$T/units/dawnd.service" "$T/units/dawnd.socket" >"$T/verify.txt" 2>&1
rc=$?
check "systemd-analyze verify: clean" bash -c "[ $rc -eq 0 ] && [ ! -s '$T/verify.txt' ]" || sed 's/^/    /' "$T/verify.txt"

check "Type=notify, NotifyAccess=main, WatchdogSec=30s, Restart=on-failure" \
        test "$(key "$UNIT" Type)/$(key "$UNIT" NotifyAccess)/$(key "$UNIT" WatchdogSec)/$(key "$UNIT" Restart)" = \
        "notify/main/30s/on-failure"
check "ExecStart without -f (so dawnd logs to the journal)" \
        bash -c "key() { sed -n \"s/^\$2=//p\" \"\$1\"; }; key '$UNIT' ExecStart | grep -qv -- ' -f'"
check "no PrivateUsers= (it would hide officers' uids from SO_PEERCRED)" bash -c "! grep -q '^PrivateUsers=' '$UNIT'"
check "the socket unit listens where dawnctl looks by default" \
        test "$(key "$SOCKET_UNIT" ListenStream)" = "$(sed -n 's/^#define DAWN_DEFAULT_SOCKET "\(.*\)"/\1/p' "$ROOT/include/dawn/protocol.h")"
check "its group is the example config's control_group, mode 0660" \
        test "$(key "$SOCKET_UNIT" SocketGroup)/$(key "$SOCKET_UNIT" SocketMode)" = \
        "$(sed -n 's/^ *control_group = "\(.*\)";/\1/p' "$ROOT/conf/dawn.conf.example")/0660"
check "sysusers.d makes the unit's User= and Group=" \
        bash -c "grep -qE '^u $(key "$UNIT" User) +- ' '$ROOT/packaging/sysusers.d/dawn.conf' &&
                 grep -qE '^g $(key "$UNIT" Group) +- *\$' '$ROOT/packaging/sysusers.d/dawn.conf'"
check "tmpfiles.d makes the state and runtime directories with the unit's modes" \
        bash -c "grep -qE '^d /var/lib/dawn +$(key "$UNIT" StateDirectoryMode) +dawn +dawn' '$ROOT/packaging/tmpfiles.d/dawn.conf' &&
                 grep -qE '^d /run/dawn +$(key "$UNIT" RuntimeDirectoryMode) +dawn +dawn' '$ROOT/packaging/tmpfiles.d/dawn.conf'"

# ---- what dawnd does, against the sandbox ----
if ! command -v strace >/dev/null; then
        ok "system calls fit the filter # SKIP no strace"
        finish
fi
if grep -qa AddressSanitizer "$DAWND"; then
        # ASan's own calls are no part of dawnd's, and LeakSanitizer cannot run under ptrace
        ok "system calls fit the filter # SKIP a sanitizer build"
        finish
fi
start_broker
write_config
# as an unprivileged user, as under User=dawn: as root SQLite would also fchown() its -wal
# and -shm files to the database's owner, which it never does for anyone else
mkdir -p "$T/state"
chown nobody:nogroup "$T/state"
ACTIVATED="$T/activated.sock"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 strace -f -qq -o "$T/trace" \
        systemd-socket-activate -l "$ACTIVATED" \
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$DAWND" -c "$T/dawn.conf" >"$T/dawnd.log" 2>&1 &
STRACE_PID=$!
# strace's child becomes dawnd: stopped on the way out whatever happens (lib.sh stops strace
# itself with the other jobs, and strace would leave it running, detached)
trap 'kill $(pgrep -P $STRACE_PID) 2>/dev/null; cleanup' EXIT
export DAWN_SOCKET="$ACTIVATED"
wait_for "[ -S '$ACTIVATED' ]" 10
wait_for "\"$DAWNCTL\" --json status | grep -q '\"ready\":.*true'" 20
ctl --json status >"$T/status.json"
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene "Nitazene in heroin." >"$T/a.json"
wait_for "[ \"\$(states A1)\" = delivered ]" 10
ctl reload >/dev/null
sleep 0.5 # a few watchdog ticks (each writes and syncs in the state directory)
kill "$(json_get "$T/status.json" .pid)"
wait "$STRACE_PID"
trap cleanup EXIT

# dawnd's part of the trace: from its execve on (the activator's and setpriv's calls before)
sed -n "\#execve(\"$DAWND\"#,\$p" "$T/trace" >"$T/dawnd.trace"
check "strace saw dawnd" test -s "$T/dawnd.trace"
/usr/bin/python3 - "$T/dawnd.trace" "$UNIT" >"$T/filter.txt" <<'PY'
import re, subprocess, sys
trace, unit = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def expand(name, seen=None):
    seen = set() if seen is None else seen
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        w = line.strip()
        if not w or w.startswith("#"): continue
        if w.startswith("@"):
            if w not in seen:
                seen.add(w); calls |= expand(w, seen)
        else: calls.add(w)
    return calls
allowed, denied = set(), set()
for v in re.findall(r"^SystemCallFilter=(.*)$", unit, re.M):
    neg = v.startswith("~")
    for w in v.lstrip("~").split():
        (denied if neg else allowed).update(expand(w) if w.startswith("@") else {w})
used = set(re.findall(r"^\d+ +(?:<\.\.\. )?([a-z_0-9]+)[( ]", trace, re.M)) - {"exit", "resumed"}
bad = sorted(c for c in used if c not in allowed or c in denied)
print("used:", " ".join(sorted(used)))
print("outside:", " ".join(bad))
fams = set(re.findall(r"socket\((AF_[A-Z0-9]+)", trace))
ok_fams = set(re.search(r"^RestrictAddressFamilies=(.*)$", unit, re.M).group(1).split())
print("families:", " ".join(sorted(fams)))
print("bad families:", " ".join(sorted(fams - ok_fams)))
wx = [l for l in trace.splitlines() if re.search(r"PROT_WRITE\|PROT_EXEC|PROT_EXEC\|PROT_WRITE", l) or
      re.search(r"PROT_READ\|PROT_WRITE\|PROT_EXEC", l)]
print("wx:", len(wx))
PY
used=$(sed -n 's/^used: //p' "$T/filter.txt")
check "dawnd made $(echo $used | wc -w) kinds of system call, all in @system-service and none in @privileged @resources" \
        test -z "$(sed -n 's/^outside: //p' "$T/filter.txt")" || sed -n 's/^outside:/    outside the filter:/p' "$T/filter.txt"
check "its sockets are $(sed -n 's/^families: //p' "$T/filter.txt"): all in RestrictAddressFamilies=" \
        test -z "$(sed -n 's/^bad families: //p' "$T/filter.txt")"
check "no writable and executable mapping (MemoryDenyWriteExecute=)" test "$(sed -n 's/^wx: //p' "$T/filter.txt")" = 0
check "the reload forked its checker (so fork is covered above)" grep -qE '^[0-9]+ +(clone|clone3|fork|vfork)\(' "$T/dawnd.trace"
finish
