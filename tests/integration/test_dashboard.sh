#!/bin/bash
# The pharmacy dashboard in a real browser (Debian's chromium, driven by
# playwright-core from dashboard/node_modules): dawnd serves the page and
# relays its MQTT-over-WebSocket to a broker set up as conf/mosquitto/
# describes (password file and ACL; only the port and paths changed), so the
# page logs in as the pharmacy and sees only what the ACL lets it. The browser
# side is tests/dashboard/board.test.mjs; it prints the ok / not ok lines, and
# stops and starts the broker and dawnd through the scripts written below.
# It saves a screenshot of the board to $BUILD/dashboard.png; the one the README
# shows is refreshed with DAWN_SCREENSHOT=docs/dashboard.png (the times on the
# cards change every run, so a plain test run leaves the tracked file alone).
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
need() { # what the test cannot run without: one not ok line saying what to do
        not_ok "the dashboard test can run" "$1"
        finish
}
command -v node >/dev/null || need "node is not installed (scripts/deps.sh installs it)"
[ -x "$CHROMIUM" ] || need "$CHROMIUM is missing (scripts/deps.sh installs Debian's chromium)"
[ -d "$ROOT/dashboard/node_modules/playwright-core" ] || need "dashboard/node_modules is missing: run make dashboard"
for f in index.html app.js style.css mqtt.min.js; do
        [ -f "$ROOT/$BUILD/dashboard/$f" ] || need "$BUILD/dashboard/$f is missing: run make dashboard"
done

# ---- the broker, from the example files, keeping retained messages over a restart ----
WS_PORT=$(free_port)
SUB=st-marys-pharmacy
write_example_broker "$SUB" fratton-pharmacy
# Debian's own mosquitto.conf turns persistence on (conf/mosquitto/README.md): so here; and a
# WebSocket listener for the page's "the broker speaks WebSocket itself" setting (with
# per_listener_settings, its own logins and ACL)
cat >>"$B/mosquitto.conf" <<EOF
persistence true
persistence_location $B/
listener $WS_PORT 127.0.0.1
protocol websockets
allow_anonymous false
password_file $B/passwd
acl_file $B/acl
EOF

# The browser test stops and starts the broker and dawnd with these; pid files, not $BROKER_PID
# and $DAWND_PID, say what runs, so whoever started it, the exit trap stops it.
cat >"$T/broker-start" <<EOF
#!/bin/bash
mosquitto -c "$B/mosquitto.conf" </dev/null >>"$T/mosquitto.log" 2>&1 &
echo \$! >"$T/broker.pid"
for _ in \$(seq 200); do
        mosquitto_pub -p $MQTT_PORT -u dawnd -P pw-dawnd -t $PREFIX/test/ping -n 2>/dev/null && exit 0
        sleep 0.05
done
echo "the broker did not start" >&2
exit 1
EOF
cat >"$T/dawnd-start" <<EOF
#!/bin/bash
"$DAWND" -f -c "$T/dawn.conf" </dev/null >>"$T/dawnd.log" 2>&1 &
echo \$! >"$T/dawnd.pid"
for _ in \$(seq 200); do
        "$DAWNCTL" status >/dev/null 2>&1 && exit 0
        sleep 0.05
done
echo "dawnd did not start" >&2
exit 1
EOF
# stop-by-pid-file SIGNAL NAME: signals the process and waits until it is gone (or a zombie,
# if it is not this shell's child)
cat >"$T/stop" <<EOF
#!/bin/bash
pid=\$(cat "$T/\$2.pid" 2>/dev/null) || exit 0
kill -s "\$1" "\$pid" 2>/dev/null
for _ in \$(seq 200); do
        [ -e /proc/\$pid ] || break
        grep -q '^State:.*Z' /proc/\$pid/status 2>/dev/null && break
        sleep 0.05
done
rm -f "$T/\$2.pid"
EOF
printf '#!/bin/bash\n"%s/stop" TERM broker\n' "$T" >"$T/broker-stop"
printf '#!/bin/bash\n"%s/stop" KILL dawnd\n' "$T" >"$T/dawnd-kill"
# dawnd again, with the page told to reach the broker's own WebSocket listener
cat >"$T/dawnd-direct" <<EOF
#!/bin/bash
"$T/stop" TERM dawnd
sed -i 's#dashboard_dir = #dashboard_broker_url = "ws://127.0.0.1:$WS_PORT/"; &#' "$T/dawn.conf"
exec "$T/dawnd-start"
EOF
chmod +x "$T"/broker-start "$T"/broker-stop "$T"/dawnd-start "$T"/dawnd-kill "$T"/dawnd-direct "$T"/stop
trap '"$T/stop" TERM dawnd; "$T/stop" TERM broker; cleanup' EXIT

"$T/broker-start" || { cat "$T/mosquitto.log"; exit 1; }

# ---- dawnd: logs in as "dawnd", serves the page; the pharmacy hears every grade ----
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
write_config
config_dawnd_login
sed -i -e "s#http_listen = \"$HTTP_LISTEN\";#& dashboard_dir = \"$ROOT/$BUILD/dashboard\";#" \
        -e "/id = \"$SUB\"/{n;s#quiet_hours = \"[^\"]*\"; #min_grade = \"info\"; #}" "$T/dawn.conf"
check "the test config serves the dashboard" grep -q "dashboard_dir = \"$ROOT/$BUILD/dashboard\"" "$T/dawn.conf"
check "the test config lets $SUB see info alerts" grep -q 'min_grade = "info"; },' "$T/dawn.conf"
"$T/dawnd-start" || { cat "$T/dawnd.log"; exit 1; }

# ---- the browser ----
DAWN_DASHBOARD_URL="http://$HTTP_LISTEN/" DAWN_SUBSCRIBER="$SUB" DAWN_PASSWORD="pw-$SUB" \
        DAWN_OTHER_SUBSCRIBER=fratton-pharmacy DAWN_WS_PORT="$WS_PORT" DAWN_MQTT_PORT="$MQTT_PORT" \
        DAWN_TEST_DIR="$T" DAWNCTL="$DAWNCTL" CHROMIUM="$CHROMIUM" \
        DAWN_SCREENSHOT="${DAWN_SCREENSHOT:-$ROOT/$BUILD/dashboard.png}" \
        NODE_PATH="$ROOT/dashboard/node_modules" \
        node "$ROOT/tests/dashboard/board.test.mjs"
rc=$?
if [ $rc -ne 0 ]; then
        FAILS=$((FAILS + 1))
        echo "# the browser test exited $rc; dawnd's log:"
        tail -n 30 "$T/dawnd.log" | sed 's/^/#   /'
fi
finish
