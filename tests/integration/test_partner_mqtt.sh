#!/bin/bash
# Partners and dashboards over MQTT, through a broker set up as
# conf/mosquitto/ describes (its ACL and its conf, only the ports and paths
# changed; partners on its TLS listener): every client logs in, each partner writes only its own ingest
# topic, each dashboard reads and acknowledges only its own alerts.
# Reports are answered on <prefix>/ingest/<source>/result after the commit;
# a reporter's report waits for review; acks are recorded; what the ACL
# refuses is stored nowhere; a report sent while dawnd is away is answered
# when it is back (dawnd keeps its broker session).
. "$(dirname "$0")/lib.sh"

# ---- the broker, from the example files ----
start_example_broker ambulance portsmouth-ph booth-house
check "the broker refuses anonymous clients on the partners' listener" \
        bash -c "! mosquitto_pub -h 127.0.0.1 -p $PARTNER_PORT --cafile '$B/ca.crt' -t $PREFIX/ingest/ambulance -m '{}' 2>/dev/null"
check "and on dawnd's" bash -c "! mosquitto_pub -p $MQTT_PORT -t $PREFIX/ingest/ambulance -m '{}' 2>/dev/null"
check "and wrong passwords" \
        bash -c "! mosquitto_pub -h 127.0.0.1 -p $PARTNER_PORT --cafile '$B/ca.crt' -u ambulance -P wrong -t $PREFIX/ingest/ambulance -m '{}' 2>/dev/null"
check "the partners' listener speaks TLS only" \
        bash -c "! mosquitto_pub -h 127.0.0.1 -p $PARTNER_PORT -u ambulance -P pw-ambulance -t $PREFIX/ingest/ambulance -m '{}' 2>/dev/null"

# ---- dawnd, logging in as "dawnd"; no HTTP API; booth-house without quiet hours ----
write_config
config_dawnd_login
sed -i -e '/id = "booth-house"/{n;s#quiet_hours = "23:00-07:00"; ##}' "$T/dawn.conf"
grep -q http_listen "$T/dawn.conf" || sed -i 's#control_group = "nogroup";#control_group = "nogroup"; http_listen = "";#' "$T/dawn.conf"
check "the test config logs dawnd in" grep -q 'username = "dawnd"' "$T/dawn.conf"
start_dawnd

# USER mosquitto_pub|mosquitto_sub ARGS...: as that user, with its password, on the
# partners' listener (dawnd on its own)
as() {
        if [ "$1" = dawnd ]; then as_local "$@"; else as_partner "$@"; fi
}
online() { [ "$(as dawnd mosquitto_sub -t "$PREFIX/status" -C 1 -W 2 2>/dev/null)" = online ]; }
check "dawnd is online (it has subscribed before it says so)" wait_for online 15

# listen_as USER FILE FILTER: records what USER receives on FILTER (topic payload
# lines) and returns once subscribed: the retained status, subscribed in the
# same packet, arrives only after the broker has made the subscription.
# On the loopback listener (same logins, same ACL): on the partners' one, a
# listener and a publisher of the same login would share a client id (the
# login) and each would disconnect the other.
listen_as() {
        : >"$2"
        # not through as(): $! must be mosquitto_sub itself, for unsubscribe and cleanup
        mosquitto_sub -p "$MQTT_PORT" -u "$1" -P "pw-$1" -q 1 -v -t "$3" -t "$PREFIX/status" >"$2" 2>&1 &
        echo $! >"$2.pid"
        wait_for "grep -q '^$PREFIX/status ' '$2'" 10 || { echo "$1 could not subscribe to $3"; cat "$2"; return 1; }
}
heard() { grep -v "^$PREFIX/status " "$1"; true; }
# the payload of the Nth message in FILE (1 = first)
nth() { heard "$1" | sed -n "${2}p" | cut -d' ' -f2-; }
field() { /usr/bin/python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
ids() { ctl --json "$@" | /usr/bin/python3 -c 'import json,sys; print("\n".join(a["id"] for a in json.load(sys.stdin)))'; }
count_all() { ctl --json list --all | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

listen_as booth-house "$T/booth" "$PREFIX/subscribers/booth-house/alerts/+"
listen_as portsmouth-ph "$T/pph" "$PREFIX/ingest/portsmouth-ph/result"
listen_as ambulance "$T/amb" "$PREFIX/ingest/ambulance/result"
listen_as dawnd "$T/nobody" "$PREFIX/ingest/nobody/result"

# ---- an issuer's report goes straight out ----
as portsmouth-ph mosquitto_pub -q 1 -t "$PREFIX/ingest/portsmouth-ph" -m '{"type":"batch","area":"southampton",
 "summary":"Cocaine cut with xylazine: long sedation, wounds.","sold_as":["cocaine"],"adulterants":["xylazine"],
 "source_ref":"pph-0001"}'
check "portsmouth-ph's report is answered on its result topic" wait_count "$T/pph" "result" 1
ans=$(nth "$T/pph" 1)
A=$(field "$ans" id)
check "with an id" test -n "$A"
check "status active" test "$(field "$ans" status)" = active
check "and its source_ref" test "$(field "$ans" source_ref)" = pph-0001
check "the alert reaches booth-house's dashboard" wait_count "$T/booth" "/alerts/$A " 1
got=$(as booth-house mosquitto_sub --retained-only -C 1 -W 5 -t "$PREFIX/subscribers/booth-house/alerts/$A" 2>/dev/null)
check "retained there for a dashboard that connects later" test "$(field "$got" id)" = "$A"
check "dawnd says it came over MQTT from portsmouth-ph" \
        bash -c "\"$DAWNCTL\" --json show '$A' | grep -q 'portsmouth-ph'"

# ---- a reporter's report waits for review ----
as ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/ambulance" -m '{"type":"batch","area":"southampton",
 "summary":"Heroin with nitazene suspected after two overdoses.","sold_as":["heroin"],"adulterants":["nitazene"],
 "source_ref":"amb-0001"}'
check "ambulance's report is answered" wait_count "$T/amb" "result" 1
ans=$(nth "$T/amb" 1)
R=$(field "$ans" id)
check "status pending" test "$(field "$ans" status)" = pending
pending_has() { ids pending | grep -qx "$1"; }
check "dawnctl pending lists it" pending_has "$R"
approve() { ctl approve "$1" >/dev/null; }
check "dawnctl approve $R" approve "$R"
check "once approved it reaches booth-house" wait_count "$T/booth" "/alerts/$R " 1

# ---- what the broker's ACL refuses is stored nowhere ----
before=$(count_all)
pph_before=$(heard "$T/pph" | wc -l)
as ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/portsmouth-ph" -m '{"type":"batch","area":"portsmouth",
 "summary":"Forged as portsmouth-ph.","sold_as":["mdma"],"source_ref":"forged-1"}'
# then a report of ambulance's own: once ITS answer is back, the forged one (sent
# earlier, over the same connection order) would have been answered too
as ambulance mosquitto_pub -q 1 -t "$PREFIX/ingest/ambulance" -m '{"type":"batch","area":"portsmouth",
 "summary":"Ketamine reported as very strong.","sold_as":["ketamine"],"source_ref":"amb-0002"}'
check "ambulance's next report is answered" wait_count "$T/amb" "result" 2
check "its report alone was stored" test "$(count_all)" = $((before + 1))
check "nobody answered on portsmouth-ph's topic" test "$(heard "$T/pph" | wc -l)" = "$pph_before"
check "no alert carries the forged source_ref" \
        bash -c "! \"$DAWNCTL\" --json list --all | grep -q 'Forged as portsmouth-ph'"

# ---- refusals, answered with the field ----
as dawnd mosquitto_pub -q 1 -t "$PREFIX/ingest/nobody" -m '{"type":"batch","area":"southampton","summary":"x"}'
check "a topic of no configured source is answered" wait_count "$T/nobody" "result" 1
check "with an error naming the source" test "$(nth "$T/nobody" 1)" = \
        "{\"error\":\"unknown source 'nobody': not in this dawnd's sources\",\"field\":\"source\"}"
k=$(heard "$T/pph" | wc -l)
as portsmouth-ph mosquitto_pub -q 1 -t "$PREFIX/ingest/portsmouth-ph" -m '{"type":"batch","area":'
check "malformed JSON is answered" wait_count "$T/pph" "result" $((k + 1))
ans=$(nth "$T/pph" $((k + 1)))
check "with an error naming the body" test "$(field "$ans" field)" = body
check "that says what is wrong" grep -q "malformed JSON" <<<"$ans"
as portsmouth-ph mosquitto_pub -q 1 -t "$PREFIX/ingest/portsmouth-ph" -m '[{"type":"batch"}]'
check "an array is answered" wait_count "$T/pph" "result" $((k + 2))
check "with an error naming the body: one alert per message" \
        test "$(field "$(nth "$T/pph" $((k + 2)))" field)" = body
check "nothing was stored for any of them" test "$(count_all)" = $((before + 1))

# ---- acknowledgements from a dashboard ----
acks_of() { # ID: "subscriber:by" of every ack of alert ID
        ctl --json show "$1" | /usr/bin/python3 -c 'import json,sys
print(" ".join(a["subscriber"] + ":" + a["by"] for a in json.load(sys.stdin).get("acks", [])))'
}
as booth-house mosquitto_pub -q 1 -r -t "$PREFIX/subscribers/booth-house/acks/$A" -m '{"revision":1,"by":"night manager"}'
check "booth-house's retained ack is recorded" wait_for "acks_of $A | grep -q 'booth-house:night manager'" 10
# an ack for another subscriber is refused by the broker; booth-house's next ack of
# its own, published after it, shows when the refused one would have arrived
as booth-house mosquitto_pub -q 1 -r -t "$PREFIX/subscribers/the-haven-hostel/acks/$A" -m '{"revision":1,"by":"impostor"}'
as booth-house mosquitto_pub -q 1 -r -t "$PREFIX/subscribers/booth-house/acks/$R" -m '{"revision":2,"by":"day manager"}'
check "booth-house's ack of $R is recorded" wait_for "acks_of $R | grep -q 'booth-house:day manager'" 10
check "its ack for the-haven-hostel is not: $A has booth-house's alone" \
        test "$(acks_of "$A")" = "booth-house:night manager"

# ---- a retained report, and a report sent while dawnd is away ----
k=$(heard "$T/pph" | wc -l)
# live, the broker delivers a retained message like any other: it is taken
as portsmouth-ph mosquitto_pub -q 1 -r -t "$PREFIX/ingest/portsmouth-ph" -m '{"type":"batch","area":"portsmouth",
 "summary":"Retained by mistake: pills sold as MDMA.","sold_as":["mdma"]}'
check "a report published retained is answered" wait_count "$T/pph" "result" $((k + 1))
check "and taken" test "$(field "$(nth "$T/pph" $((k + 1)))" status)" = active
stored=$(count_all)
stop_dawnd
as portsmouth-ph mosquitto_pub -q 1 -t "$PREFIX/ingest/portsmouth-ph" -m '{"type":"batch","area":"portsmouth",
 "summary":"Counterfeit diazepam tablets, blue, stamped DAN 5620.","sold_as":["diazepam"],"source_ref":"pph-0002"}'
start_dawnd
check "after dawnd returns, two answers: the report sent while it was away, and the retained one's replay" \
        wait_count "$T/pph" "result" $((k + 3)) 15
after=$(heard "$T/pph" | tail -n 2)
check "the report sent while dawnd was away is stored (active, with its source_ref)" \
        grep -q '"source_ref":"pph-0002",.*"status":"active"' <<<"$after"
check "the retained report coming back is refused, naming retain" grep -q '"field":"retain"' <<<"$after"
check "so only the away report was stored" test "$(count_all)" = $((stored + 1))
check "booth-house's retained acks coming back are not recorded twice" \
        test "$(acks_of "$A")/$(acks_of "$R")" = "booth-house:night manager/booth-house:day manager"
# cleared with an empty retained message, which dawnd takes as nothing at all
as portsmouth-ph mosquitto_pub -q 1 -r -n -t "$PREFIX/ingest/portsmouth-ph"
as portsmouth-ph mosquitto_pub -q 1 -t "$PREFIX/ingest/portsmouth-ph" -m '{"type":"batch","area":"portsmouth",
 "summary":"Pregabalin sold loose, unknown strength.","sold_as":["pregabalin"],"source_ref":"pph-0003"}'
check "the next report is answered" wait_for "heard '$T/pph' | grep -q pph-0003" 10
check "and the empty message before it was not" test "$(heard "$T/pph" | wc -l)" = $((k + 4))

# ---- a withdrawn alert takes its retained acks with it ----
check "booth-house's ack of $A is retained on the broker" \
        test -n "$(as dawnd mosquitto_sub -t "$PREFIX/subscribers/booth-house/acks/$A" --retained-only -W 1 2>/dev/null)"
ctl cancel "$A" --reason "Test over." >/dev/null
check "cancelling $A clears booth-house's retained ack of it" \
        wait_for "[ -z \"\$(as dawnd mosquitto_sub -t '$PREFIX/subscribers/booth-house/acks/$A' --retained-only -W 1 2>/dev/null)\" ]" 10
check "and dawnctl show still has the ack" test "$(acks_of "$A")" = "booth-house:night manager"

for f in booth pph amb nobody; do unsubscribe "$T/$f"; done
finish
