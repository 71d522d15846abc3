#!/bin/bash
# Overdose-cluster detection: three single overdose reports from three
# partner sources in one part of the area tree, within the window, raise one
# cluster alert that names them and reaches the area's subscribers; a fourth
# joins it; reports elsewhere in the tree do not.
. "$(dirname "$0")/lib.sh"
start_broker
HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
write_config
for s in ambulance uhs-ed scas portsmouth-ph; do printf '%s-token-%s\n' "$s" "$RANDOM$RANDOM" >"$T/$s.token"; done
# partner sources with tokens, all issuers: overdose reports are logged, not sent, whoever reports them
/usr/bin/python3 - "$T/dawn.conf" "$T" <<'PY'
import re, sys
path, t = sys.argv[1], sys.argv[2]
text = open(path).read()
sources = "sources = (\n" + ",\n".join(
    '        { id = "%s"; role = "issuer"; token_file = "%s/%s.token"; }' % (s, t, s)
    for s in ("ambulance", "uhs-ed", "scas", "portsmouth-ph")) + "\n);"
text = re.sub(r"sources = \(.*?\n\);", sources, text, flags=re.S)
open(path, "w").write(text)
PY
start_dawnd
subscribe "$T/booth.log" "$PREFIX/subscribers/booth-house/alerts/#"

report() { # SOURCE AREA REF [extra JSON fields]
        curl -s -H "Authorization: Bearer $(cat "$T/$1.token")" -H 'Content-Type: application/json' \
                -d "{\"type\":\"nfod\",\"area\":\"$2\",\"sold_as\":[\"heroin\"],\"source_ref\":\"$3\"${4:-}}" "$API/v1/alerts"
}
clusters() {
        ctl --json list | /usr/bin/python3 -c 'import json,sys
print(" ".join(a["id"] for a in json.load(sys.stdin) if a["type"]=="cluster"))'
}

report ambulance southampton amb-1 >"$T/r1.json"
report uhs-ed southampton ed-1 ',"adulterants":["nitazene"]' >"$T/r2.json"
check "two reports are only logged" test "$(clusters)" = ""
check "each report is its own alert, graded logged" \
        test "$(json_get "$T/r1.json" .grade) $(json_get "$T/r2.json" .grade)" = "logged logged"
report portsmouth-ph portsmouth pph-1 >/dev/null
check "a report in a sibling area does not count towards Southampton's" test "$(clusters)" = ""
report scas southampton scas-1 >"$T/r3.json"
cl=$(clusters)
check "the third report in Southampton raises one cluster alert" test -n "$cl" -a "$(wc -w <<<"$cl")" -eq 1
ctl --json show "$cl" >"$T/cluster.json"
check "the cluster is for Southampton" test "$(json_get "$T/cluster.json" .area)" = southampton
check "it counts three overdoses" test "$(json_get "$T/cluster.json" .casualties)" = 3
check "it is critical: a nitazene, three casualties, three sources" test "$(json_get "$T/cluster.json" .grade)" = critical
reasons=$(json_get "$T/cluster.json" .grade_reasons)
for r in r1 r2 r3; do
        id=$(json_get "$T/$r.json" .id)
        check "its reasons name report $id" grep -q "$id (" <<<"$reasons"
done
check "its sources are the three partners" \
        test "$(json_get "$T/cluster.json" .sources)" = '["ambulance", "uhs-ed", "scas"]'
check "it reaches booth-house's dashboard topic" wait_count "$T/booth.log" "alerts/$cl \{" 1

report ambulance southampton amb-2 >/dev/null
check "a fourth report joins the cluster instead of raising another" test "$(clusters)" = "$cl"
ctl --json show "$cl" >"$T/cluster2.json"
check "the cluster now counts four" test "$(json_get "$T/cluster2.json" .casualties)" = 4
check "and lists four reports" /usr/bin/python3 -c 'import json,sys
assert len(json.load(open(sys.argv[1]))["corroborations"]) == 4' "$T/cluster2.json"
check "/metrics counts one cluster raised" bash -c "curl -s '$API/metrics' | grep -q '^dawn_clusters_raised_total 1'"

# an officer's alert through dawnctl is intake too, counted under way="control"
ctl issue --area southampton --sold-as cocaine --adulterant xylazine "Cocaine with xylazine." >/dev/null
check "/metrics counts the officer's alert under way=control" \
        bash -c "curl -s '$API/metrics' | grep -q '^dawn_intake_accepted_total{way=\"control\",outcome=\"new\"} 1\$'"
# every delivery the broker acknowledged has its accept-to-delivered time in the histogram
check "the latency histogram has one observation per delivered MQTT message" wait_for '/usr/bin/python3 - "$API" <<"PY"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1] + "/metrics").read().decode()
v = {}
for fam in text_string_to_metric_families(text):
    for s in fam.samples:
        v[(s.name, tuple(sorted(s.labels.items())))] = s.value
count = v[("dawn_delivery_latency_seconds_count", (("channel", "mqtt"),))]
delivered = v[("dawn_delivery_attempts_total", (("channel", "mqtt"), ("result", "delivered")))]
inf = v[("dawn_delivery_latency_seconds_bucket", (("channel", "mqtt"), ("le", "+Inf")))]
assert count == delivered == inf and count > 0, (count, delivered, inf)
PY' 10
finish
