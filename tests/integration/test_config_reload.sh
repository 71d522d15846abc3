#!/bin/bash
# dawnd -n checks a config and names every error with file:line; SIGHUP and
# `dawnctl reload` swap in a valid new config and keep the old one when the
# new one is wrong; `dawnctl route` dry-runs the routing rules.
. "$(dirname "$0")/lib.sh"
write_config

out=$("$DAWND" -n -c "$T/dawn.conf" 2>&1)
check "a good config: 'configuration OK', exit 0" test "$?/$out" = "0/configuration OK"

cat >"$T/bad.conf" <<'EOC'
daemon = { state_dir = "/tmp/x"; sttae_dir = "/tmp/y"; };
areas = { pan-hampshire = { southampton = {}; }; };
channels = { mqtt = { port = 1883; qos = 0; }; };
subscribers = (
  { id = "booth-house"; kind = "hostel"; area = "southamptn"; mqtt = true; },
  { id = "booth-house"; kind = "hostel"; area = "southampton"; mqtt = true; }
);
EOC
out=$("$DAWND" -n -c "$T/bad.conf" 2>&1)
rc=$?
check "a bad config exits 1" test $rc -eq 1
check "an unknown key is named with its line" grep -q "bad.conf:1: .*unknown key 'daemon.sttae_dir'" <<<"$out"
check "qos 0 is refused with its line" grep -q "bad.conf:3: .*qos" <<<"$out"
check "an unknown area is named with its line" grep -q "bad.conf:5: .*unknown area 'southamptn'" <<<"$out"
check "a duplicate subscriber id is named with its line" grep -q "bad.conf:6: .*duplicate.*booth-house" <<<"$out"
check "every error is reported, not just the first" test "$(grep -c 'bad.conf:' <<<"$out")" -ge 4

start_broker
start_dawnd
ctl --json route --area portsmouth --type batch --grade warning >"$T/route.json"
got=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(d["subscriber"] or "(feed)" for d in json.load(open(sys.argv[1])))))' "$T/route.json")
check "route dry-runs a portsmouth warning" test "$got" = "(feed) ph-duty-officer recovery-service the-haven-hostel"
got=$(ctl --json route --area portsmouth --grade critical | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(d["subscriber"] for d in json.load(sys.stdin) if d["subscriber"])))')
check "a critical one also reaches the pharmacy that asked for critical only" \
        test "$got" = "fratton-pharmacy ph-duty-officer recovery-service the-haven-hostel"
ctl route --area portsmuth >/dev/null 2>"$T/err"
check "route names a bad area" test "$?/$(cat "$T/err")" = "1/dawnctl: area: 'portsmuth' is not in the configured area tree"

# a valid change by SIGHUP: a new pharmacy in Portsmouth
sed -i 's#^subscribers = (#subscribers = (\n        { id = "southsea-pharmacy"; kind = "pharmacy"; area = "portsmouth"; mqtt = true; },#' "$T/dawn.conf"
kill -HUP "$DAWND_PID"
check "after SIGHUP the new subscriber is routed" \
        wait_for "\"$DAWNCTL\" --json route --area portsmouth | grep -q southsea-pharmacy" 10
# an invalid change: the old config keeps running and the reason is logged
cp "$T/dawn.conf" "$T/good.conf"
sed -i 's#kind = "pharmacy"; area = "portsmouth"#kind = "pharmacy"; area = "portsmouht"#' "$T/dawn.conf"
ctl reload >/dev/null 2>"$T/err"
rc=$?
check "dawnctl reload of a bad config exits 1" test $rc -eq 1
check "and says why, with file:line" grep -q "dawn.conf:[0-9]*: .*unknown area 'portsmouht'" "$T/err"
check "the old config keeps running" bash -c "\"$DAWNCTL\" --json route --area portsmouth | grep -q southsea-pharmacy"
kill -HUP "$DAWND_PID"
check "a bad config by SIGHUP is logged and refused" \
        wait_for "grep -q 'SIGHUP: configuration not reloaded, the old one stays' '$T/dawnd.log'" 10
check "dawnd is still serving" bash -c "\"$DAWNCTL\" status >/dev/null"
cp "$T/good.conf" "$T/dawn.conf"
ctl reload >/dev/null
check "dawnctl reload of a good config exits 0" test $? -eq 0

# a reload that raises a channel's max_in_flight to the most it may be: the outbox's table
# of deliveries in flight, sized for the limits at start (MQTT's 1,024 here, the only
# channel), grows to fit 16,384 before its next dispatch, and sending goes on
sed -i 's#                qos = 1;#                qos = 1; max_in_flight = 16384;#' "$T/dawn.conf"
ctl reload >/dev/null
check "a reload raising mqtt.max_in_flight to 16384 exits 0" test $? -eq 0
out=$(ctl --json issue --area portsmouth --sold-as heroin --adulterant nitazene "Nitazene heroin, Fratton." 2>&1)
id=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out" 2>/dev/null)
check "an alert after it is delivered to all its MQTT recipients" \
        wait_for "test \"\$(states '$id')\" = delivered" 15
check "the outbox made room for them" \
        grep -q 'outbox: room for 16384 deliveries in flight now (1024 before)' "$T/dawnd.log"
finish
