#!/bin/bash
# Checks the .deb that `make deb` built: its contents; dawnd and dawnctl
# unpacked into a scratch root (dpkg -x) run and accept the shipped
# configuration; and, as root with --install, a real install on this machine
# (the maintainer scripts: the user dawn, the config readable by it, the
# state directory), then a purge that leaves the machine as it was.
#   packaging/check-deb.sh build/dawn_VERSION_ARCH.deb [--install]
# Prints "ok - ..." lines and a last "deb: N passed, N failed" line.
set -u
DEB=$1
INSTALL=${2:-}
passed=0
failed=0
check() {
        name=$1
        shift
        if "$@"; then
                echo "ok - $name"
                passed=$((passed + 1))
        else
                echo "not ok - $name"
                failed=$((failed + 1))
        fi
}
T=$(mktemp -d /tmp/dawn-deb-check.XXXXXX)
CREATED_USER=no
cleanup() {
        if [ "$INSTALL" = --install ] && dpkg-query -W -f='${Status}' dawn 2>/dev/null | grep -q installed; then
                DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq dawn >/dev/null 2>&1
                rm -rf /var/lib/dawn /etc/dawn
                [ $CREATED_USER = yes ] && { userdel dawn 2>/dev/null; groupdel dawn 2>/dev/null; }
        fi
        rm -rf "$T"
}
trap cleanup EXIT

dpkg --contents "$DEB" | awk '{print $NF}' | sed 's#^\./#/#' >"$T/contents"
missing=""
for f in /usr/sbin/dawnd /usr/bin/dawnctl /lib/systemd/system/dawnd.service /lib/systemd/system/dawnd.socket \
        /usr/lib/sysusers.d/dawn.conf /usr/lib/tmpfiles.d/dawn.conf /etc/dawn/dawn.conf \
        /usr/share/man/man8/dawnd.8.gz /usr/share/man/man1/dawnctl.1.gz /usr/share/man/man5/dawn.conf.5.gz \
        /usr/share/bash-completion/completions/dawnctl /usr/share/doc/dawn/copyright; do
        grep -qx "$f" "$T/contents" || missing="$missing $f"
done
check "the package holds the binaries, units, sysusers/tmpfiles, config, man pages, completion" test -z "$missing"
[ -n "$missing" ] && echo "    missing:$missing"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles >"$T/conffiles" 2>/dev/null
check "/etc/dawn/dawn.conf is a conffile" grep -qx /etc/dawn/dawn.conf "$T/conffiles"
check "it depends on systemd-sysusers (for the user dawn)" \
        bash -c "dpkg-deb -f '$DEB' Depends | grep -q 'systemd | systemd-standalone-sysusers'"

dpkg -x "$DEB" "$T/root"
out=$("$T/root/usr/sbin/dawnd" -n -c "$T/root/etc/dawn/dawn.conf" 2>&1)
check "the unpacked dawnd accepts the shipped configuration (dawnd -n: $out)" test "$out" = "configuration OK"
check "the unpacked dawnctl runs" bash -c "'$T/root/usr/bin/dawnctl' --version | grep -q '^dawnctl '"
check "the shipped unit starts /usr/sbin/dawnd without -f" \
        grep -qx 'ExecStart=/usr/sbin/dawnd -c /etc/dawn/dawn.conf' "$T/root/lib/systemd/system/dawnd.service"

if [ "$INSTALL" = --install ]; then
        if [ "$(id -u)" -ne 0 ] || dpkg-query -W -f='${Status}' dawn 2>/dev/null | grep -q installed ||
                [ -e /etc/dawn ] || [ -e /var/lib/dawn ]; then
                INSTALL=""
                echo "ok - install # SKIP not root, or DAWN is on this machine already (/etc/dawn, /var/lib/dawn)"
        else
                getent passwd dawn >/dev/null || CREATED_USER=yes
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(realpath "$DEB")" >"$T/apt.log" 2>&1
                check "apt-get install of the .deb" test $? -eq 0 || tail -5 "$T/apt.log"
                check "the postinst made the system user dawn" bash -c "getent passwd dawn | grep -q ':/var/lib/dawn:'"
                check "/etc/dawn/dawn.conf is root:dawn 0640" test "$(stat -c %U:%G:%a /etc/dawn/dawn.conf)" = root:dawn:640
                check "/var/lib/dawn is dawn:dawn 0750 (tmpfiles.d)" test "$(stat -c %U:%G:%a /var/lib/dawn)" = dawn:dawn:750
                out=$(setpriv --reuid=dawn --regid=dawn --init-groups /usr/sbin/dawnd -n 2>&1)
                check "as the user dawn, dawnd -n reads the installed configuration ($out)" test "$out" = "configuration OK"
                check "the units are enabled" \
                        test -e /etc/systemd/system/multi-user.target.wants/dawnd.service -a \
                        -e /etc/systemd/system/sockets.target.wants/dawnd.socket
                check "man finds dawnd(8)" bash -c "man -w dawnd | grep -q /usr/share/man/man8/dawnd.8"
        fi
fi
echo "deb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
