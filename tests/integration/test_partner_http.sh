#!/bin/bash
# The HTTP API as a partner system sees it: bearer tokens per source,
# reports in (one or a batch) answered only once durable, idempotency,
# refusals that name the field and store nothing, size and rate limits,
# reading alerts back, the review queue, /metrics and /healthz.
. "$(dirname "$0")/lib.sh"

HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
printf 'ph-7f3a9c0e5b21\n' >"$T/portsmouth-ph.token"
printf 'amb-51d2e8a40c77\n' >"$T/ambulance.token"
printf 'nx-0c44aa19f3d2\n' >"$T/needle-exchange.token"
PH=$(head -n 1 "$T/portsmouth-ph.token")
AMB=$(head -n 1 "$T/ambulance.token")
NX=$(head -n 1 "$T/needle-exchange.token")
write_config
# token files for the demo's two sources, and a third source allowed two alerts a minute;
# portsmouth-ph is unlimited here because this test fires its requests back to back
sed -i -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$T/portsmouth-ph.token\"; rate_per_minute = 0; }#" \
        -e "s#{ id = \"ambulance\"; role = \"reporter\"; }#{ id = \"ambulance\"; role = \"reporter\"; token_file = \"$T/ambulance.token\"; },\n        { id = \"needle-exchange\"; role = \"issuer\"; token_file = \"$T/needle-exchange.token\"; rate_per_minute = 2; }#" \
        "$T/dawn.conf"
start_broker
start_dawnd

# req METHOD PATH TOKEN [curl args...]: prints the status; the body lands in $T/body, headers in $T/headers
req() {
        method=$1 path=$2 token=$3
        shift 3
        auth=()
        [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
        curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$API$path"
}
# post TOKEN JSON: a report (or a batch) to POST /v1/alerts
post() { req POST /v1/alerts "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
body() { json_get "$T/body" "$1"; }
has_header() { grep -qi "^$1" "$T/headers"; }
alerts_now() { ctl --json list --all; }
# The ids in a JSON array of alerts, one a line
ids_in() { /usr/bin/python3 -c 'import json,sys
for a in json.load(open(sys.argv[1])): print(a["id"])' "$1"; }
stored() { store_sql "SELECT (SELECT count(*) FROM alerts) || '/' || (SELECT count(*) FROM outbox)"; }

UNAUTHORIZED_POSTS=0
NEW_ALERTS=0
before=$(alerts_now)

# ---- who may submit ----
report='{"type":"batch","area":"portsmouth","summary":"Pink pills sold as MDMA contain a nitazene.","sold_as":["mdma"],"adulterants":["nitazene"],"source_ref":"ph-2026-0042"}'
status=$(post "" "$report")
UNAUTHORIZED_POSTS=$((UNAUTHORIZED_POSTS + 1))
check "a report without a token is refused with 401" test "$status" = 401
check "with a Bearer challenge" has_header 'WWW-Authenticate: Bearer realm="dawn"'
check "and a JSON error naming Authorization" test "$(body .field)" = Authorization
check "and nothing is stored" test "$(alerts_now)" = "$before"
status=$(post "not-$PH" "$report")
UNAUTHORIZED_POSTS=$((UNAUTHORIZED_POSTS + 1))
check "a wrong token is refused with 401" test "$status" = 401
wrong_token_error=$(body .error)
status=$(req POST /v1/alerts "" -H "Authorization: Basic $(printf 'x:%s' "$PH" | base64)" \
        -H 'Content-Type: application/json' --data-binary "$report")
UNAUTHORIZED_POSTS=$((UNAUTHORIZED_POSTS + 1))
check "another scheme than Bearer is refused with 401" test "$status" = 401
check "with the same message as a missing token (no hint which part was wrong)" \
        test "$(body .error)" = "$wrong_token_error"
check "and still nothing is stored" test "$(alerts_now)" = "$before"
check "no token reaches the log" bash -c "! grep -q -e '$PH' -e 'not-$PH' '$T/dawnd.log'"

# ---- an issuer's report goes out ----
subscribe "$T/haven" "$PREFIX/subscribers/the-haven-hostel/alerts/+"
status=$(post "$PH" "$report")
NEW_ALERTS=$((NEW_ALERTS + 1))
cp "$T/body" "$T/first.json"
id=$(json_get "$T/first.json" .id)
check "portsmouth-ph's report is accepted with 201" test "$status" = 201
check "the answer is JSON" has_header 'Content-Type: application/json; charset=utf-8'
check "with an id, status active and outcome new" test "$id" != None -a \
        "$(json_get "$T/first.json" .status)/$(json_get "$T/first.json" .outcome)" = "active/new"
check "it reaches the-haven-hostel's MQTT topic" wait_count "$T/haven" "/alerts/$id " 1
ctl --json show "$id" >"$T/shown.json"
check "dawnctl shows portsmouth-ph as its source" test "$(json_get "$T/shown.json" .sources)" = '["portsmouth-ph"]'

# ---- idempotency ----
before=$(stored)
status=$(post "$PH" "$report")
check "the same source_ref again answers 200" test "$status" = 200
check "with outcome duplicate and the same id" test "$(body .outcome)/$(body .id)" = "duplicate/$id"
check "and stores nothing new" test "$(stored)" = "$before"

# ---- bad input: 4xx, the field named, nothing stored ----
status=$(post "$PH" '{"type":"batch","area":"portsmouth","summary":"x","colour":"blue"}')
check "an unknown field is refused with 400" test "$status" = 400
check "naming the field" test "$(body .field)" = colour
status=$(post "$PH" '{"type":"batch","area":"basingstock","summary":"Typo in the area"}')
check "an unknown area is refused with 400 naming area" test "$status/$(body .field)" = 400/area
status=$(post "$PH" '{"type":"batch","area":"portsmouth",')
check "malformed JSON is refused with 400 naming the body" test "$status/$(body .field)" = 400/body
status=$(post "$PH" '{"type":"batch","area":"portsmouth","summary":"x","sold_as":[[[[[[[[[["x"]]]]]]]]]]}')
check "deep nesting is refused with 400" test "$status" = 400
check "and the answer says so" grep -q 'nests deeper than' "$T/body"
status=$(post "$PH" '[]')
check "an empty batch is refused with 400 naming the body" test "$status/$(body .field)" = 400/body
status=$(req POST /v1/alerts "$PH" -H 'Content-Type: text/plain' --data-binary "$report")
check "a body that is not application/json is refused with 415" test "$status" = 415
{ printf '{"type":"batch","area":"portsmouth","summary":"'; head -c 70000 /dev/zero | tr '\0' 'x'; printf '"}'; } >"$T/big.json"
status=$(req POST /v1/alerts "$PH" -H 'Content-Type: application/json' --data-binary @"$T/big.json")
check "a report over 64 KiB is refused with 413" test "$status" = 413
check "naming the body" test "$(body .field)" = body
{ printf '['; head -c 4300000 /dev/zero | tr '\0' ' '; printf ']'; } >"$T/huge.json"
status=$(req POST /v1/alerts "$PH" -H 'Content-Type: application/json' --data-binary @"$T/huge.json")
check "a batch over 4 MiB is refused with 413 before it is read" test "$status" = 413
check "none of the bad requests stored anything" test "$(stored)" = "$before"

# ---- a batch: each report on its own ----
batch='[{"type":"batch","area":"southampton","summary":"Heroin with xylazine: wounds.","sold_as":["heroin"],"adulterants":["xylazine"]},
        {"type":"batch","area":"nowhere","summary":"Bad area"},
        {"type":"batch","area":"gosport","summary":"Ketamine with fentanyl.","sold_as":["ketamine"],"adulterants":["fentanyl"]}]'
status=$(post "$PH" "$batch")
NEW_ALERTS=$((NEW_ALERTS + 2))
check "a batch of three answers 200" test "$status" = 200
check "with one result per report, in order" test "$(json_get "$T/body" .0.index)$(json_get "$T/body" .1.index)$(json_get "$T/body" .2.index)" = 012
check "the first and third are accepted (201)" \
        test "$(json_get "$T/body" .0.http_status)/$(json_get "$T/body" .2.http_status)" = 201/201
check "the second is refused (400), its field named as alert[1].area" \
        test "$(json_get "$T/body" .1.http_status)/$(json_get "$T/body" .1.field)" = "400/alert[1].area"
batch_id=$(json_get "$T/body" .0.id)
check "the accepted ones are stored" bash -c "\"$DAWNCTL\" --json show '$batch_id' >/dev/null"

# ---- reading alerts back ----
status=$(req GET /v1/alerts "$PH")
check "GET /v1/alerts with a token answers 200" test "$status" = 200
check "listing the open alerts" test "$(ids_in "$T/body" | grep -cxE "$id|$batch_id")" = 2
check "without recipients: no phone numbers or addresses" bash -c "! grep -q -e recipient -e '+44' -e '@' '$T/body'"
status=$(req GET /v1/alerts "")
check "GET /v1/alerts without a token is refused with 401" test "$status" = 401
status=$(req GET "/v1/alerts/$id" "$AMB")
check "GET /v1/alerts/$id answers 200 (an active alert: any source's token)" test "$status" = 200
check "with that alert" test "$(body .id)/$(body .status)" = "$id/active"
status=$(req GET /v1/alerts/A99999 "$PH")
check "an unknown alert id is 404" test "$status" = 404
status=$(req GET /v1/nothing-here "$PH")
check "an unknown path is 404 with a JSON error" test "$status/$(body .error)" = "404/no such resource"
status=$(req DELETE /v1/alerts "$PH")
check "a wrong method is 405" test "$status" = 405
check "with Allow" has_header 'Allow: GET, HEAD, POST'
connects=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' "$API/healthz" "$API/healthz")
check "keep-alive: two requests share one connection" test "$connects" = "1 0 "

# ---- rate limit ----
nx_report() { printf '{"type":"batch","area":"fareham","summary":"Report %s from the needle exchange.","sold_as":["crack"],"adulterants":["xylazine"],"source_ref":"nx-%s"}' "$1" "$1"; }
s1=$(post "$NX" "$(nx_report 1)")
NEW_ALERTS=$((NEW_ALERTS + 1))
s2=$(post "$NX" "$(nx_report 2)")
s3=$(post "$NX" "$(nx_report 3)")
check "needle-exchange (2 a minute): its first request is accepted" test "$s1" = 201
check "its third quick report gets 429" test "$s3" = 429
retry=$(grep -i '^Retry-After:' "$T/headers" | tr -dc '0-9')
check "with Retry-After in whole seconds (at least 1)" test "${retry:-0}" -ge 1
check "and the refused reports are not stored" bash -c "! \"$DAWNCTL\" --json list --all | grep -q 'Report 3 from'"
[ "$s2" = 201 ] && NEW_ALERTS=$((NEW_ALERTS + 1))

# ---- the review queue: a reporter's report waits for an officer ----
status=$(post "$AMB" '{"type":"batch","area":"portsmouth","summary":"Crews report blue tablets sold as diazepam.","sold_as":["diazepam"],"adulterants":["medetomidine"],"source_ref":"amb-7781"}')
pid=$(body .id)
check "ambulance's report answers 201" test "$status" = 201
check "with status pending" test "$(body .status)" = pending
ctl --json pending >"$T/pending.json"
check "dawnctl pending lists it" grep -qw "$pid" <(ids_in "$T/pending.json")
check "as an item of kind alert" /usr/bin/python3 -c 'import json,sys
assert [a["kind"] for a in json.load(open(sys.argv[1])) if a["id"] == sys.argv[2]] == ["alert"]' "$T/pending.json" "$pid"
check "it is not on the-haven-hostel's topic yet" test -z "$(retained "$PREFIX/subscribers/the-haven-hostel/alerts/$pid")"
check "dawnctl reject of an active alert is refused (that is cancel's job)" \
        bash -c "'$DAWNCTL' reject '$id' --reason 'not ours' 2>&1 >/dev/null | grep -q 'dawnctl cancel $id'"
check "and it stays active" test "$(ctl --json show "$id" | json_get /dev/stdin .status)" = active
ctl --json approve "$pid" >"$T/approved.json"
check "dawnctl approve makes it active" test "$(json_get "$T/approved.json" .status)" = active
check "and it reaches the-haven-hostel's topic" wait_count "$T/haven" "/alerts/$pid " 1

# ---- a reload reads the token files again ----
printf 'ph-rotated-9e2b71\n' >"$T/portsmouth-ph.token"
ctl reload >/dev/null
status=$(post "$PH" '{"type":"batch","area":"winchester","summary":"After the rotation.","adulterants":["fentanyl"]}')
UNAUTHORIZED_POSTS=$((UNAUTHORIZED_POSTS + 1))
check "after dawnctl reload the old token is refused" test "$status" = 401
status=$(post ph-rotated-9e2b71 '{"type":"batch","area":"winchester","summary":"After the rotation.","adulterants":["fentanyl"]}')
NEW_ALERTS=$((NEW_ALERTS + 1))
check "and the new one is accepted" test "$status" = 201
PH=ph-rotated-9e2b71

# ---- gateway callbacks that are not configured ----
status=$(req POST /v1/callbacks/notify/status "$PH" -H 'Content-Type: application/json' --data-binary '{}')
check "Notify callbacks without channels.sms are 404" test "$status" = 404

# ---- /metrics and /healthz ----
curl -s "$API/metrics" >"$T/metrics"
metric() { # NAME LABEL=VALUE...: the sample's value, summed over series that match
        /usr/bin/python3 -c 'import sys
from prometheus_client.parser import text_string_to_metric_families
name, want = sys.argv[2], dict(kv.split("=", 1) for kv in sys.argv[3:])
total = 0.0
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in want.items()):
            total += s.value
print(int(total))' "$T/metrics" "$@"
}
check "/metrics parses as Prometheus text" /usr/bin/python3 -c 'import sys
from prometheus_client.parser import text_string_to_metric_families
list(text_string_to_metric_families(open(sys.argv[1]).read()))' "$T/metrics"
check "dawn_intake_rejected_total{way=http,reason=unauthorized} counts the 401s on POST ($UNAUTHORIZED_POSTS)" \
        test "$(metric dawn_intake_rejected_total way=http reason=unauthorized)" = "$UNAUTHORIZED_POSTS"
check "dawn_intake_accepted_total{way=http,outcome=new} counts the new alerts ($NEW_ALERTS)" \
        test "$(metric dawn_intake_accepted_total way=http outcome=new)" = "$NEW_ALERTS"
check "dawn_intake_rejected_total counts the rate-limited request(s)" \
        test "$(metric dawn_intake_rejected_total way=http reason=rate_limited)" -ge 1
check "dawn_http_requests_total counts the 404s" test "$(metric dawn_http_requests_total code=404)" -ge 3
check "dawn_alerts shows the active alerts" test "$(metric dawn_alerts status=active)" -ge 4
check "dawn_up is 1" test "$(metric dawn_up)" = 1
status=$(req GET /healthz "")
check "/healthz answers 200 {\"status\":\"ok\"}" test "$status/$(body .status)" = 200/ok

# ---- a client that hangs up while its answer waits for the commit ----
hangups=()
for i in 1 2 3 4 5 6 7 8; do
        curl -s -m 0.001 -o /dev/null -H "Authorization: Bearer $PH" -H 'Content-Type: application/json' \
                --data-binary "{\"type\":\"nfod\",\"area\":\"havant\",\"source_ref\":\"hangup-$i\"}" "$API/v1/alerts" &
        hangups+=($!)
done
wait "${hangups[@]}"
status=$(req GET /healthz "")
check "clients that hang up mid-request leave dawnd serving" test "$status" = 200

# ---- shutdown ----
kill "$DAWND_PID"
wait "$DAWND_PID"
rc=$?
DAWND_PID=""
check "dawnd stops cleanly (exit 0) with the API on" test "$rc" = 0
finish
