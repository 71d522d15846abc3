#!/bin/bash
# CAP 1.2 as a consumer (an aggregator, a council's alerting system) sees it:
# every revision recipients saw is a CAP document that the OASIS schema
# accepts (xmllint) and that keeps the rules the schema cannot express
# (../shared/data/cap/README.md); Alert, then Update, then Cancel, each
# referencing the one before; public alerts to anyone, the others only with
# a source's token; a reporter's pending report never; the Atom feed links
# each active alert's document.
. "$(dirname "$0")/lib.sh"

# The schema, as CI has it: ../shared next to the repository's root. A git
# worktree's root is elsewhere; its main checkout's neighbour is then used.
CAP_XSD=${CAP_XSD:-$ROOT/../shared/data/cap/cap12.xsd}
if [ ! -f "$CAP_XSD" ]; then
        common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)
        [ -n "$common" ] && CAP_XSD="$common/../../shared/data/cap/cap12.xsd"
fi
if [ ! -f "$CAP_XSD" ]; then
        echo "not ok - the CAP 1.2 schema: no ../shared/data/cap/cap12.xsd next to $ROOT (set CAP_XSD)"
        exit 1
fi

HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
printf 'ph-7f3a9c0e5b21\n' >"$T/portsmouth-ph.token"
printf 'amb-51d2e8a40c77\n' >"$T/ambulance.token"
PH=$(head -n 1 "$T/portsmouth-ph.token")
AMB=$(head -n 1 "$T/ambulance.token")
SENDER="dawn@hants-drugs.example.org"
write_config
sed -i -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$T/portsmouth-ph.token\"; rate_per_minute = 0; }#" \
        -e "s#{ id = \"ambulance\"; role = \"reporter\"; }#{ id = \"ambulance\"; role = \"reporter\"; token_file = \"$T/ambulance.token\"; rate_per_minute = 0; }#" \
        "$T/dawn.conf"
cat >>"$T/dawn.conf" <<EOF
area_details = { southampton = { name = "Southampton"; gss = "E06000045"; }; };
cap = { sender = "$SENDER"; };
EOF

# ---- cap.sender is checked ----
for bad in "dawn at example.org" "dawn,example.org" "dawn<x>@example.org" "a&b@example.org" ""; do
        grep -v '^cap = ' "$T/dawn.conf" >"$T/bad.conf"
        printf 'cap = { sender = "%s"; };\n' "$bad" >>"$T/bad.conf"
        if out=$("$DAWND" -n -c "$T/bad.conf" 2>&1); then rc=0; else rc=$?; fi
        check "dawnd -n refuses cap.sender '$bad', naming the key" \
                test "$rc" = 1 -a -n "$(grep 'cap.sender: .* is not a CAP sender' <<<"$out")"
done
check "dawnd -n accepts the configuration with cap.sender and area_details" bash -c "\"$DAWND\" -n -c \"$T/dawn.conf\" >/dev/null"

start_broker
start_dawnd

# req PATH TOKEN: prints the status; the body lands in $T/body, headers in $T/headers
req() {
        auth=()
        [ -n "$2" ] && auth=(-H "Authorization: Bearer $2")
        curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${auth[@]}" "$API$1"
}
# validate FILE: the OASIS schema accepts it
validate() { xmllint --noout --schema "$CAP_XSD" "$1" 2>"$T/xmllint.err"; }
# fetch NAME PATH TOKEN: the CAP document at PATH saved as $T/cap/NAME.xml; fails unless 200 + cap+xml
mkdir -p "$T/cap"
fetch() {
        status=$(req "$2" "$3")
        cp "$T/body" "$T/cap/$1.xml"
        [ "$status" = 200 ] && grep -qi '^Content-Type: application/cap+xml' "$T/headers"
}

# The rules the schema cannot express (CAP 1.2 section 3.2, ../shared/data/cap/README.md),
# and what DAWN promises on top: cap_rules FILE [EXPECT...], EXPECT as key=value
cat >"$T/cap_rules.py" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
NS = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
root = ET.parse(sys.argv[1]).getroot()
def t(path, node=root):
    e = node.find(path, NS)
    return None if e is None else (e.text or "")
errors = []
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
for name in ("c:sent", "c:info/c:expires", "c:info/c:onset", "c:info/c:effective"):
    v = t(name)
    if v is not None and (not TIME.match(v) or v.endswith("-00:00")):
        errors.append("%s %r is not CAP's time (explicit offset, +00:00 for UTC)" % (name, v))
for name in ("c:identifier", "c:sender"):
    v = t(name) or ""
    if not v or re.search(r"[\s,<&]", v):
        errors.append("%s %r holds a space, comma, '<' or '&'" % (name, v))
refs = t("c:references")
msg = t("c:msgType")
if refs is not None:
    for triple in refs.split(" "):
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts) or not TIME.match(parts[2]):
            errors.append("reference %r is not sender,identifier,sent" % triple)
if msg in ("Update", "Cancel") and not refs:
    errors.append("%s without references" % msg)
if t("c:scope") == "Restricted" and not t("c:restriction"):
    errors.append("scope Restricted without restriction")
if t("c:scope") == "Private" and not t("c:addresses"):
    errors.append("scope Private without addresses")
got = {
    "identifier": t("c:identifier"), "sender": t("c:sender"), "sent": t("c:sent"), "msgType": msg,
    "scope": t("c:scope"), "status": t("c:status"), "references": refs or "",
    "category": t("c:info/c:category"), "urgency": t("c:info/c:urgency"), "severity": t("c:info/c:severity"),
    "certainty": t("c:info/c:certainty"), "areaDesc": t("c:info/c:area/c:areaDesc"),
    "geocode": ",".join("%s=%s" % (t("c:valueName", g), t("c:value", g))
                        for g in root.findall("c:info/c:area/c:geocode", NS)),
    "headline": t("c:info/c:headline"), "description": t("c:info/c:description"),
    "instruction": t("c:info/c:instruction"), "expires": t("c:info/c:expires") or "",
}
for p in root.findall("c:info/c:parameter", NS):
    got["param:" + t("c:valueName", p)] = t("c:value", p)
for want in sys.argv[2:]:
    k, v = want.split("=", 1)
    if got.get(k) != v:
        errors.append("%s is %r, expected %r" % (k, got.get(k), v))
if len(sys.argv) == 2:
    for k, v in sorted(got.items()):
        print("%s=%s" % (k, v))
for e in errors:
    print("    " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
rules() { /usr/bin/python3 "$T/cap_rules.py" "$@"; }
field() { rules "$1" | sed -n "s/^$2=//p"; }

# ---- a public alert: Alert, Update, Cancel ----
ctl issue --area southampton --scope public --sold-as MDMA --sold-as ecstasy --adulterant nitazene \
        --appearance "Pink pills stamped with a crown" --evidence toxicology --grade critical \
        --advice "Do not take alone; carry naloxone." \
        "Pink pills sold as MDMA contain a nitazene: two people collapsed." >/dev/null
check "a public alert is issued (A1)" fetch a1r1 /v1/cap/alerts/A1/1 ""
check "revision 1 validates against the CAP 1.2 schema" validate "$T/cap/a1r1.xml"
check "revision 1 keeps the rules the schema cannot express, and says what DAWN said" rules "$T/cap/a1r1.xml" \
        msgType=Alert status=Actual scope=Public category=Health identifier="$SENDER.A1.r1" sender="$SENDER" \
        urgency=Immediate severity=Extreme certainty=Observed areaDesc=Southampton geocode=GSS=E06000045 \
        "param:sold-as=MDMA, ecstasy" param:adulterants=nitazene "param:appearance=Pink pills stamped with a crown" \
        param:evidence=toxicology "instruction=Do not take alone; carry naloxone." references=
check "revision 1 has no <references>" bash -c "! grep -q references '$T/cap/a1r1.xml'"
check "its expires is 14 days after sent (the batch default)" /usr/bin/python3 -c '
import sys, datetime as d
f = lambda s: d.datetime.fromisoformat(s)
sys.exit(0 if f(sys.argv[2]) - f(sys.argv[1]) == d.timedelta(days=14) else 1)' \
        "$(field "$T/cap/a1r1.xml" sent)" "$(field "$T/cap/a1r1.xml" expires)"

ctl update A1 --advice "Carry two naloxone kits: more than one dose may be needed." --evidence clinical >/dev/null
check "the update is revision 2" fetch a1r2 /v1/cap/alerts/A1/2 ""
check "revision 2 validates" validate "$T/cap/a1r2.xml"
r1ref="$SENDER,$SENDER.A1.r1,$(field "$T/cap/a1r1.xml" sent)"
check "revision 2 is an Update referencing revision 1 as sender,identifier,sent" rules "$T/cap/a1r2.xml" \
        msgType=Update identifier="$SENDER.A1.r2" references="$r1ref" certainty=Likely \
        "instruction=Carry two naloxone kits: more than one dose may be needed."
check "GET /v1/cap/alerts/A1 is the latest revision (2)" fetch a1 /v1/cap/alerts/A1 ""
check "  the same document as /A1/2" cmp -s "$T/cap/a1.xml" "$T/cap/a1r2.xml"

# ---- a restricted alert, and hostile text ----
ctl issue --area portsmouth --sold-as 'diazepam <b>"blues"</b>' --adulterant bromazolam --evidence clinical \
        --appearance "Tom & Jerry's <script>alert(1)</script>" --grade warning \
        --advice $'Line one <&>\x22\x27\nLine two ]]> end' \
        'Blues "sold as" diazepam <contain> bromazolam & more; it'"'"'s ]]> strong' >/dev/null
status=$(req /v1/cap/alerts/A2/1 "")
check "a restricted alert without a token: 401, with a Bearer challenge and a JSON error" \
        bash -c "[ '$status' = 401 ] && grep -qi '^WWW-Authenticate: Bearer' '$T/headers' && grep -q '\"error\"' '$T/body'"
check "  the same answer as for an alert that does not exist" \
        bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$API/v1/cap/alerts/A99')\" = 401 ] &&
                 curl -s '$API/v1/cap/alerts/A99' | sed 's/A99/A2/' | cmp -s - '$T/body'"
check "with portsmouth-ph's token: 200" fetch a2r1 /v1/cap/alerts/A2/1 "$PH"
check "with the ambulance's (another source) too: the alert is active" fetch a2r1b /v1/cap/alerts/A2/1 "$AMB"
check "a wrong token: 401" test "$(req /v1/cap/alerts/A2/1 "x$PH")" = 401
check "revision 1 of A2 validates (hostile text escaped)" validate "$T/cap/a2r1.xml"
check "it is Restricted with a restriction, mapped from warning and clinical" rules "$T/cap/a2r1.xml" \
        msgType=Alert scope=Restricted urgency=Expected severity=Severe certainty=Likely areaDesc=Portsmouth geocode= \
        "description=Blues \"sold as\" diazepam <contain> bromazolam & more; it's ]]> strong" \
        "param:appearance=Tom & Jerry's <script>alert(1)</script>" \
        "param:sold-as=diazepam <b>\"blues\"</b>"
check "the advice keeps its line break and its <&>\"' characters" /usr/bin/python3 -c '
import sys, xml.etree.ElementTree as ET
e = ET.parse(sys.argv[1]).getroot().find("{urn:oasis:names:tc:emergency:cap:1.2}info/{urn:oasis:names:tc:emergency:cap:1.2}instruction")
sys.exit(0 if e.text == "Line one <&>\"\x27\nLine two ]]> end" else 1)' "$T/cap/a2r1.xml"
check "no raw markup from the alert reaches the document" bash -c "! grep -q '<script>\|<b>\|<contain>' '$T/cap/a2r1.xml'"

# ---- a reporter's pending report is never CAP ----
pending=$(curl -s -H "Authorization: Bearer $AMB" -H 'Content-Type: application/json' --data-binary \
        '{"type":"batch","area":"southampton","summary":"Green pills sold as oxycodone made people drowsy.","sold_as":["oxycodone"],"scope":"professional"}' \
        "$API/v1/alerts" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["id"], d["status"])')
pid=${pending% *}
check "the ambulance's report waits for review ($pending)" test "${pending#* }" = pending
check "its CAP document is 404 to its own source, with a JSON error" \
        bash -c "[ \"\$(curl -s -o '$T/p.json' -w '%{http_code}' -H 'Authorization: Bearer $AMB' '$API/v1/cap/alerts/$pid')\" = 404 ] && grep -q '\"error\"' '$T/p.json'"
check "and to portsmouth-ph" test "$(req "/v1/cap/alerts/$pid/1" "$PH")" = 404
check "and 401 to anyone without a token" test "$(req "/v1/cap/alerts/$pid" "")" = 401

# ---- ids that are not ids ----
long=$(printf 'A%.0s' $(seq 1 40))
check "an over-long id: 401 without a token, 404 with one" \
        test "$(req "/v1/cap/alerts/$long" "")/$(req "/v1/cap/alerts/$long/1" "$PH")" = 401/404
check "an id with markup and quotes: 404 with a JSON error" \
        test "$(req '/v1/cap/alerts/%3Cx%3E%22' "$PH")" = 404
check "  which is JSON, not XML" /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/body"
check "a revision 0 or with a sign: 404" test "$(req /v1/cap/alerts/A1/0 "")/$(req /v1/cap/alerts/A1/-1 "")/$(req /v1/cap/alerts/A1/+1 "")" = 404/404/404

# ---- the Atom feed ----
check "the feed without a token: 200, Atom" bash -c "[ \"\$(curl -s -o '$T/feed.xml' -D '$T/fh' -w '%{http_code}' '$API/v1/cap/feed.atom')\" = 200 ] && grep -qi '^Content-Type: application/atom+xml' '$T/fh'"
check "  it parses (xmllint)" xmllint --noout "$T/feed.xml"
links() { /usr/bin/python3 -c '
import sys, xml.etree.ElementTree as ET
A = "{http://www.w3.org/2005/Atom}"
r = ET.parse(sys.argv[1]).getroot()
assert r.tag == A + "feed" and r.find(A + "id") is not None and r.find(A + "updated") is not None
for e in r.findall(A + "entry"):
    assert e.find(A + "id") is not None and e.find(A + "title") is not None and e.find(A + "updated") is not None
    for l in e.findall(A + "link"):
        if l.get("type") == "application/cap+xml":
            print(l.get("href"))' "$1"; }
check "  it links the public alert's latest revision only" test "$(links "$T/feed.xml" | tr '\n' ' ')" = "/v1/cap/alerts/A1/2 "
curl -s -H "Authorization: Bearer $AMB" -o "$T/feed-src.xml" "$API/v1/cap/feed.atom"
check "with a source's token it parses" xmllint --noout "$T/feed-src.xml"
check "  and links the restricted alert too, not the pending report" \
        test "$(links "$T/feed-src.xml" | sort | tr '\n' ' ')" = "/v1/cap/alerts/A1/2 /v1/cap/alerts/A2/1 "
n=0
for href in $(links "$T/feed-src.xml"); do
        n=$((n + 1))
        fetch "feed$n" "$href" "$AMB" && validate "$T/cap/feed$n.xml" && rules "$T/cap/feed$n.xml" >/dev/null ||
                not_ok "the feed's link $href is a valid CAP document" "$(cat "$T/xmllint.err")"
done
check "every link of the feed is a CAP document that validates ($n)" test "$n" = 2

# ---- once an officer approves it, its first published revision is the Alert ----
ctl approve "$pid" >/dev/null
check "approved, $pid's latest CAP document is revision 2" fetch p2 "/v1/cap/alerts/$pid" "$PH"
check "  an Alert with no references (nobody saw revision 1), and it validates" \
        bash -c "validate() { xmllint --noout --schema '$CAP_XSD' \"\$1\" 2>/dev/null; }; validate '$T/cap/p2.xml' &&
                 /usr/bin/python3 '$T/cap_rules.py' '$T/cap/p2.xml' msgType=Alert identifier='$SENDER.$pid.r2' references= scope=Restricted"
check "  revision 1 (the pending report) is still 404" test "$(req "/v1/cap/alerts/$pid/1" "$PH")" = 404

# ---- cancel: Cancel references the update ----
ctl cancel A1 --reason "Toxicology found no nitazene after all." >/dev/null
check "the cancellation is revision 3" fetch a1r3 /v1/cap/alerts/A1/3 ""
check "revision 3 validates" validate "$T/cap/a1r3.xml"
r2ref="$SENDER,$SENDER.A1.r2,$(field "$T/cap/a1r2.xml" sent)"
check "revision 3 is a Cancel referencing revision 2, urgency Past" rules "$T/cap/a1r3.xml" \
        msgType=Cancel identifier="$SENDER.A1.r3" references="$r2ref" urgency=Past
check "  its note carries the reason" grep -q "Toxicology found no nitazene after all." "$T/cap/a1r3.xml"
check "GET /v1/cap/alerts/A1 is now the Cancel" bash -c "curl -s '$API/v1/cap/alerts/A1' | cmp -s - '$T/cap/a1r3.xml'"
check "revisions 1 and 2 are still served, unchanged" bash -c "curl -s '$API/v1/cap/alerts/A1/1' | cmp -s - '$T/cap/a1r1.xml'"
check "a revision that does not exist: 404" test "$(req /v1/cap/alerts/A1/4 "")" = 404
check "a revision that is not a number: 404" test "$(req /v1/cap/alerts/A1/x2 "")" = 404
check "a path with more segments: 404" test "$(req /v1/cap/alerts/A1/1/2 "")" = 404
curl -s -o "$T/feed2.xml" "$API/v1/cap/feed.atom"
check "the feed no longer lists the cancelled alert, and still parses" \
        bash -c "xmllint --noout '$T/feed2.xml' && ! grep -q 'A1/' '$T/feed2.xml'"

# ---- expiry: an Update whose urgency is Past ----
ctl issue --area southampton --scope public --sold-as ketamine --expires 2s "Ketamine cut with something that burns." >/dev/null
eid=$(ctl --json list | /usr/bin/python3 -c 'import json,sys; print(max((a["id"] for a in json.load(sys.stdin)), key=lambda i: int(i[1:])))')
check "an alert that runs out ($eid) expires" wait_for "ctl show $eid | grep -qi expired" 10
check "  its latest CAP document is revision 2" fetch exp "/v1/cap/alerts/$eid" ""
check "  an Update, urgency Past, referencing revision 1, with a note" rules "$T/cap/exp.xml" \
        msgType=Update urgency=Past identifier="$SENDER.$eid.r2"
check "  whose note says it expired" grep -q '<note>Expired' "$T/cap/exp.xml"

# ---- every document fetched, once more against the schema ----
bad=""
for f in "$T"/cap/*.xml; do
        validate "$f" && rules "$f" >/dev/null || bad="$bad $(basename "$f")"
done
check "every CAP document fetched ($(ls "$T"/cap/*.xml | wc -l)) validates and keeps the rules" test -z "$bad"
check "dawnd still answers" ctl status
finish
