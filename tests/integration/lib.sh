# Shared by the integration tests: real peers (mosquitto, dawnd) on
# 127.0.0.1, on free ports, in a temp directory, stopped on exit.
# A test script sources this, calls start_broker / start_dawnd, then
# check "what a user would see" lines. Output is TAP-like:
#   ok - NAME / not ok - NAME (+ why)
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
DAWND="$ROOT/$BUILD/dawnd"
DAWNCTL="$ROOT/$BUILD/dawnctl"
T=$(mktemp -d /tmp/dawn-test.XXXXXX)
chmod 755 "$T" # dawnctl runs as 'nobody' in some tests and must reach the socket
export DAWN_SOCKET="$T/control.sock"
PREFIX=dawn/v1
FAILS=0
BROKER_PID=""
DAWND_PID=""

# DAWN_TEST_KEEP_LOG=FILE keeps dawnd's log in FILE when the script ends (and a
# PostgreSQL cluster's own, as FILE.pg), for a failure to be read after.
cleanup() {
        [ -n "${DAWN_TEST_KEEP_LOG:-}" ] && cp "$T/dawnd.log" "$DAWN_TEST_KEEP_LOG" 2>/dev/null && cp "$T/pg/server.log" "$DAWN_TEST_KEEP_LOG.pg" 2>/dev/null
        stop_dawnd 2>/dev/null
        stop_broker 2>/dev/null
        pg_cleanup
        # every other background helper of this test (subscribers, listeners): a helper left
        # running would hold the runner's output pipe open
        jobs -p | xargs -r kill 2>/dev/null
        wait 2>/dev/null
        # Under ASan/UBSan (CI), a report in dawnd's log fails the script whatever its
        # checks said: a leak is only reported as dawnd exits, after the last check.
        if [ -f "$T/dawnd.log" ] && grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/dawnd.log"; then
                echo "not ok - dawnd's log has a sanitizer report"
                grep -m3 -A12 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/dawnd.log" | sed 's/^/    /'
                rm -rf "$T"
                exit 1
        fi
        rm -rf "$T"
}
trap cleanup EXIT

# The store's backend, for the matrix (issue 15): DAWN_TEST_STORE=postgresql runs the
# script's dawnd on a database of its own on a throwaway PostgreSQL cluster, the one
# run.sh started (DAWN_TEST_PG: its conninfo, without dbname) or, for a script run
# alone, its own. $DAWND is then a wrapper that gives each config dawnd reads the
# store group (unless it has one), so that every way a script starts dawnd, and
# every config it writes, runs on PostgreSQL unchanged.
DAWN_TEST_STORE=${DAWN_TEST_STORE:-sqlite}
PG_DB=""
PG_OWN=""
if [ "$DAWN_TEST_STORE" = postgresql ]; then
        if [ -z "${DAWN_TEST_PG:-}" ]; then
                PG_OWN="$T/pg"
                DAWN_TEST_PG=$("$ROOT/tests/pg/throwaway.sh" start "$PG_OWN" | sed 's/ dbname=[^ ]*//') ||
                        { echo "not ok - PostgreSQL did not start"; exit 1; }
        fi
        PG_DB="dawn_t$$_$RANDOM"
        psql -q -X "$DAWN_TEST_PG dbname=postgres" -c "CREATE DATABASE $PG_DB" >/dev/null ||
                { echo "not ok - cannot create database $PG_DB"; exit 1; }
        PG_CONNINFO="$DAWN_TEST_PG dbname=$PG_DB"
        REAL_DAWND="$DAWND"
        DAWND="$T/dawnd"
        cat >"$DAWND" <<EOW
#!/bin/bash
conf=""
prev=""
for a in "\$@"; do
        [ "\$prev" = -c ] && conf=\$a
        prev=\$a
done
if [ -n "\$conf" ] && [ -f "\$conf" ] && ! grep -q '^store = ' "\$conf"; then
        printf 'store = { backend = "postgresql"; conninfo = "%s"; };\n' "$PG_CONNINFO" >>"\$conf"
fi
exec "$REAL_DAWND" "\$@"
EOW
        chmod 755 "$DAWND"
fi

pg_cleanup() {
        [ -n "$PG_DB" ] && psql -q -X "$DAWN_TEST_PG dbname=postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1
        [ -n "$PG_OWN" ] && "$ROOT/tests/pg/throwaway.sh" stop "$PG_OWN"
        PG_DB=""
        PG_OWN=""
}

# store_sql SQL: what the store holds, as the script's backend answers (one value per
# line, columns separated by |): sqlite3 on the file, or psql on the database.
store_sql() {
        if [ "$DAWN_TEST_STORE" = postgresql ]; then
                psql -X -A -t -q "$PG_CONNINFO" -c "$1"
        else
                sqlite3 "$T/state/dawn.db" "$1"
        fi
}

# store_intact: prints "ok" when the store's own check finds nothing wrong: SQLite's
# integrity_check, or PostgreSQL's amcheck over every index of the store's tables
store_intact() {
        if [ "$DAWN_TEST_STORE" = postgresql ]; then
                psql -X -A -t -q "$PG_CONNINFO" -c "CREATE EXTENSION IF NOT EXISTS amcheck" \
                        -c "SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                            JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree'
                            AND c.relnamespace = 'public'::regnamespace" >/dev/null && echo ok
        else
                sqlite3 "$T/state/dawn.db" 'PRAGMA integrity_check'
        fi
}

# store_dump: every row of every table, as text (for "is this number anywhere"), but
# the nodes' heartbeats, which change by themselves every few seconds
store_dump() {
        if [ "$DAWN_TEST_STORE" = postgresql ]; then
                # (pg_dump's \restrict lines carry a key of their own each time)
                pg_dump --data-only --inserts --exclude-table-data=nodes "$PG_CONNINFO" | grep -v '^\\\(un\)\?restrict '
        else
                sqlite3 "$T/state/dawn.db" .dump | grep -v '^INSERT INTO nodes '
        fi
}
# for the checks that run in bash -c
export -f store_sql store_intact store_dump
export DAWN_TEST_STORE T
export PG_CONNINFO=${PG_CONNINFO:-}

# fresh_store: the next dawnd starts on an empty store (dawnd stopped first)
fresh_store() {
        rm -rf "${T:?}/state"/*
        if [ "$DAWN_TEST_STORE" = postgresql ]; then
                psql -q -X "$DAWN_TEST_PG dbname=postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
                        -c "CREATE DATABASE $PG_DB" >/dev/null
        fi
}

# check_sqlite NAME COMMAND...: a check of SQLite's own file (what its pages hold): skipped
# on PostgreSQL, whose files are the server's
check_sqlite() {
        if [ "$DAWN_TEST_STORE" = postgresql ]; then
                ok "$1 # SKIP on PostgreSQL: a check of SQLite's own file"
        else
                check "$@"
        fi
}

# skip_on_postgresql WHY: the script (or the rest of it) is about SQLite's own file
skip_on_postgresql() {
        if [ "$DAWN_TEST_STORE" = postgresql ]; then
                echo "ok - # SKIP on PostgreSQL: $1"
                exit 0
        fi
}

ok() { echo "ok - $1"; }
not_ok() {
        echo "not ok - $1"
        shift
        for line in "$@"; do printf '    %s\n' "$line"; done
        FAILS=$((FAILS + 1))
}
# check NAME COMMAND...: passes when the command succeeds
check() {
        name=$1
        shift
        if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
finish() {
        [ "$FAILS" -eq 0 ]
        exit $?
}

free_port() {
        /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Polls a condition (no fixed sleeps): up to $2 seconds, every 50 ms.
wait_for() {
        cond=$1
        limit=${2:-10}
        i=0
        while ! eval "$cond" >/dev/null 2>&1; do
                i=$((i + 1))
                [ $i -gt $((limit * 20)) ] && return 1
                sleep 0.05
        done
        return 0
}

MQTT_PORT=${MQTT_PORT:-$(free_port)}

start_broker() {
        cat >"$T/mosquitto.conf" <<EOC
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
EOC
        mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.log" 2>&1 &
        BROKER_PID=$!
        wait_for "mosquitto_pub -p $MQTT_PORT -t dawn-test/ping -n" 10 || { echo "broker did not start"; cat "$T/mosquitto.log"; exit 1; }
}

stop_broker() {
        [ -n "$BROKER_PID" ] || return 0
        kill "$BROKER_PID" 2>/dev/null
        wait "$BROKER_PID" 2>/dev/null
        BROKER_PID=""
}

# The demo config with this test's paths and port; extra libconfig text
# may be appended with $1 (e.g. a different control_group).
# The HTTP API is off unless a test sets HTTP_LISTEN ("127.0.0.1:PORT") first:
# the default address would clash between tests.
write_config() {
        sed -e "s#@STATE_DIR@#$T/state#" -e "s#@CONTROL_SOCKET@#$DAWN_SOCKET#" -e "s#@MQTT_PORT@#$MQTT_PORT#" \
                -e "s#control_socket_mode = \"0660\";#control_socket_mode = \"0666\"; control_group = \"nogroup\";#" \
                -e "s#control_socket = \"\([^\"]*\)\";#control_socket = \"\1\"; http_listen = \"${HTTP_LISTEN:-}\";#" \
                "$ROOT/conf/demo.conf" >"$T/dawn.conf"
}

start_dawnd() {
        [ -f "$T/dawn.conf" ] || write_config
        "$DAWND" -f -c "$T/dawn.conf" >>"$T/dawnd.log" 2>&1 &
        DAWND_PID=$!
        wait_for "\"$DAWNCTL\" status" 10 || { echo "dawnd did not start"; cat "$T/dawnd.log"; exit 1; }
}

stop_dawnd() {
        [ -n "$DAWND_PID" ] || return 0
        kill "$DAWND_PID" 2>/dev/null
        wait "$DAWND_PID" 2>/dev/null
        DAWND_PID=""
}

kill9_dawnd() {
        kill -9 "$DAWND_PID" 2>/dev/null
        wait "$DAWND_PID" 2>/dev/null
        DAWND_PID=""
}

ctl() { "$DAWNCTL" "$@"; }

# Starts a subscriber on FILTER that records messages (topic payload) into
# FILE, and returns once the broker has the subscription: a probe topic is
# subscribed alongside, and probes are published until one comes back.
subscribe() {
        file=$1 filter=$2
        probe="dawn-test/probe/$$"
        : >"$file"
        mosquitto_sub -p "$MQTT_PORT" -v -t "$filter" -t "$probe" >"$file" 2>&1 &
        echo $! >"$file.pid"
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                mosquitto_pub -p "$MQTT_PORT" -t "$probe" -m probe
                wait_for "grep -q '^$probe' '$file'" 1 && return 0
        done
        echo "subscriber on $filter did not start"
        return 1
}
# The messages a subscriber got, without probes.
messages() { grep -v '^dawn-test/probe/' "$1"; true; }
# Waits until FILE holds at least N messages matching PATTERN (grep -E).
wait_count() {
        file=$1 pattern=$2 n=$3
        wait_for "[ \$(messages '$file' | grep -cE '$pattern') -ge $n ]" "${4:-15}"
}
unsubscribe() { kill "$(cat "$1.pid")" 2>/dev/null; wait "$(cat "$1.pid")" 2>/dev/null; true; }
# The retained messages on a filter now (one line each: topic payload).
retained() {
        mosquitto_sub -p "$MQTT_PORT" -v --retained-only -W 1 -t "$1" 2>/dev/null
        true
}

# A field of the alert dawnctl printed as JSON: json_get FILE '.path'
json_get() {
        /usr/bin/python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split(".")[1:]:
    d=d[int(k)] if isinstance(d,list) else d.get(k)
print(json.dumps(d) if isinstance(d,(list,dict)) else d)' "$1" "$2"
}
# The distinct delivery states of an alert, sorted: "delivered pending"
states() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
print(" ".join(sorted(set(d["state"] for d in json.load(sys.stdin)["deliveries"]))))'
}
# The distinct subscribers with a delivery of revision REV and action ACTION
subscribers_of() {
        "$DAWNCTL" --json show "$1" | /usr/bin/python3 -c 'import json,sys
rev=int(sys.argv[1]); act=sys.argv[2]
print(" ".join(sorted(set(d["subscriber"] for d in json.load(sys.stdin)["deliveries"] if d["revision"]==rev and d["action"]==act and d["subscriber"]))))' "$2" "$3"
}

# ---- dawnd's footprint, for the hostile tests' bounds ----
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$DAWND_PID/status"; }
fds() { ls "/proc/$DAWND_PID/fd" | wc -l; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$DAWND_PID/stat"; }

# ---- systemd's notify socket, stood in for ----
# notify_listener FILE: records every notify message sent to FILE.sock, one a line
notify_listener() {
        /usr/bin/python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    for line in s.recv(4096).decode().split("\n"):
        if line: print(line, flush=True)
' "$1.sock" >"$1" &
        wait_for "grep -q listening '$1'" 5
}

# ---- the example broker: password file, ACL, a TLS listener for partners ----
#
# mosquitto run with conf/mosquitto/dawn-mosquitto.conf and its acl, only
# the ports and the paths changed. Two listeners, as in the file:
#   $MQTT_PORT     127.0.0.1, for dawnd and its /mqtt relay (client ids as asked)
#   $PARTNER_PORT  TLS, for partners and pharmacies (client id = login),
#                  with a certificate for 127.0.0.1 made here ($B/ca.crt)
# start_example_broker USER... makes a password "pw-USER" for each user
# (and for dawnd) and starts it. as_partner USER TOOL ARGS... runs
# mosquitto_pub/mosquitto_sub as USER on the partners' listener;
# as_local USER TOOL ARGS... the same on the loopback listener.

# write_example_broker USER...: the files only (conf, acl, certificate, passwords), for a test
# that adds listeners or starts the broker its own way (test_dashboard.sh)
write_example_broker() {
        B="$T/broker"
        PARTNER_PORT=${PARTNER_PORT:-$(free_port)}
        mkdir -p "$B"
        sed -e "s#^listener 1883 127.0.0.1\$#listener $MQTT_PORT 127.0.0.1#" \
                -e "s#^listener 8883\$#listener $PARTNER_PORT 127.0.0.1#" \
                -e "s#/etc/mosquitto/dawn/#$B/#g" -e "s#/etc/mosquitto/certs/mqtt.dawn.example.org#$B/server#g" \
                "$ROOT/conf/mosquitto/dawn-mosquitto.conf" >"$B/mosquitto.conf"
        cp "$ROOT/conf/mosquitto/acl" "$B/acl"
        # as root, mosquitto would become user "mosquitto", who cannot read this test's files
        [ "$(id -u)" -eq 0 ] && echo "user root" >>"$B/mosquitto.conf"
        grep -q "^listener $MQTT_PORT 127.0.0.1\$" "$B/mosquitto.conf" &&
                grep -q "^listener $PARTNER_PORT 127.0.0.1\$" "$B/mosquitto.conf" ||
                { echo "the example conf does not have the listeners the test replaces"; exit 1; }
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
                -addext subjectAltName=IP:127.0.0.1 -keyout "$B/server.key" -out "$B/server.crt" >/dev/null 2>&1 ||
                { echo "openssl could not make a test certificate"; exit 1; }
        cp "$B/server.crt" "$B/ca.crt"
        : >"$B/passwd"
        for user in dawnd "$@"; do
                mosquitto_passwd -b "$B/passwd" "$user" "pw-$user" || { echo "mosquitto_passwd failed"; exit 1; }
        done
        printf 'pw-dawnd\n' >"$T/dawnd-mqtt-password"
}

start_example_broker() {
        write_example_broker "$@"
        mosquitto -c "$B/mosquitto.conf" >>"$T/mosquitto.log" 2>&1 &
        BROKER_PID=$!
        wait_for "mosquitto_pub -p $MQTT_PORT -u dawnd -P pw-dawnd -t $PREFIX/test/ping -n" 10 ||
                { echo "broker did not start"; cat "$T/mosquitto.log"; exit 1; }
}

as_partner() {
        user=$1 tool=$2
        shift 2
        "$tool" -h 127.0.0.1 -p "$PARTNER_PORT" --cafile "$B/ca.crt" -u "$user" -P "pw-$user" "$@"
}
as_local() {
        user=$1 tool=$2
        shift 2
        "$tool" -h 127.0.0.1 -p "$MQTT_PORT" -u "$user" -P "pw-$user" "$@"
}

# dawn.conf logs dawnd in as "dawnd" with its password file
config_dawnd_login() {
        sed -i -e "s#client_id = \"dawnd-demo\";#client_id = \"dawnd-demo\"; username = \"dawnd\"; password_file = \"$T/dawnd-mqtt-password\";#" \
                "$T/dawn.conf"
}
