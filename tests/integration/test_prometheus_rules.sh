#!/bin/bash
# The Prometheus and Grafana examples: conf/prometheus/dawn-rules.yml passes
# `promtool check rules`, and `promtool test rules` with a test for every
# rule; every metric the rules and conf/grafana/dawn-dashboard.json's panels
# query is one a running dawnd exports on /metrics (Grafana is not in
# Debian: the dashboard is checked as JSON, panel by panel).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"
RULES="$ROOT/conf/prometheus/dawn-rules.yml"
RULE_TESTS="$ROOT/conf/prometheus/dawn-rules.test.yml"
DASHBOARD="$ROOT/conf/grafana/dawn-dashboard.json"

command -v promtool >/dev/null || { echo "promtool is missing: scripts/deps.sh installs Debian's prometheus"; exit 1; }
check "promtool check rules accepts dawn-rules.yml" bash -c "promtool check rules '$RULES' >'$T/check.out' 2>&1"
check "promtool test rules passes dawn-rules.test.yml" \
        bash -c "cd '$ROOT/conf/prometheus' && promtool test rules dawn-rules.test.yml >'$T/test.out' 2>&1"
grep -q SUCCESS "$T/test.out" || cat "$T/test.out"
rules=$(sed -n 's/^ *- alert: *//p' "$RULES" | sort -u)
tested=$(sed -n 's/^ *alertname: *//p' "$RULE_TESTS" | sort -u)
check "every rule has a unit test" test "$rules" = "$tested"
check "there are rules for: down, paused, failing, backlog, oldest waiting, review, escalations" \
        test "$(echo "$rules" | wc -l)" -ge 7

# a dawnd with every channel, to scrape
start_broker
start_gateway
start_smtp
HTTP_PORT=$(free_port)
HTTP_LISTEN="127.0.0.1:$HTTP_PORT"
write_delivery_config
start_dawnd
curl -sf "http://$HTTP_LISTEN/metrics" >"$T/metrics.txt"
check "dawnd's /metrics answers" test -s "$T/metrics.txt"

# The series names a scrape can have: each family's # TYPE line, with a
# histogram's _bucket, _sum and _count.
/usr/bin/python3 - "$T/metrics.txt" "$RULES" "$DASHBOARD" >"$T/names.out" 2>&1 <<'PY'
import json, re, sys
names = {"up"}  # Prometheus's own, per scrape target
for line in open(sys.argv[1]):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m:
        names.add(m.group(1))
        if m.group(2) == "histogram":
            names.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
metric = re.compile(r"\b(dawn_[a-z0-9_]+|up)\b(?!\s*\()")
bad = []
def check(where, expr):
    for n in metric.findall(re.sub(r'"[^"]*"', '""', expr)):
        if n not in names:
            bad.append("%s: %s" % (where, n))
for line in open(sys.argv[2]):
    m = re.match(r"\s*expr:\s*(.*)", line)
    if m:
        check("dawn-rules.yml", m.group(1))
dash = json.load(open(sys.argv[3]))
assert dash.get("title") and isinstance(dash.get("panels"), list) and dash["panels"], "no panels"
ids = set()
for p in dash["panels"]:
    assert p.get("title") and p.get("type") and p.get("gridPos"), "panel %r lacks title, type or gridPos" % p.get("id")
    assert p["id"] not in ids, "panel id %r twice" % p["id"]
    ids.add(p["id"])
    targets = p.get("targets") or []
    assert targets, "panel %r has no query" % p["title"]
    for t in targets:
        assert t.get("expr") and t.get("refId"), "panel %r: a target without expr or refId" % p["title"]
        assert (t.get("datasource") or p.get("datasource") or {}).get("type") == "prometheus", p["title"]
        check("dashboard panel %r" % p["title"], t["expr"])
print("\n".join(bad) if bad else "OK %d panels" % len(dash["panels"]))
sys.exit(1 if bad else 0)
PY
check "the dashboard is a Grafana JSON model, and it and the rules query only metrics dawnd exports" \
        grep -q '^OK' "$T/names.out"
cat "$T/names.out"
for m in dawn_channel_paused dawn_outbox_oldest_waiting_seconds dawn_channel_pauses_total dawn_escalations_total; do
        check "/metrics has $m" grep -q "^# TYPE $m " "$T/metrics.txt"
done
check "dawn_channel_paused is there for each configured channel" \
        test "$(grep -c '^dawn_channel_paused{channel="\(mqtt\|sms\|email\)"} 0$' "$T/metrics.txt")" -eq 3
finish
