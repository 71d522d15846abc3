#!/bin/bash
# Hostile text through every way in (issue 10, item 12):
#  - a NUL inside a JSON string ("portsmouth\u0000evil") used to be read as
#    "portsmouth", and two source_refs that differ only after it collided:
#    now refused over the control socket, HTTP (one alert and a batch) and
#    MQTT ingest, naming the field, with nothing stored; dawnctl --file and
#    the config file refuse it too; "\\u0000" (a backslash, then u0000) is
#    ordinary text and still accepted;
#  - a bidirectional control (U+202E) in a report's text used to reach the
#    officer's terminal as-is and reorder what they read: dawnctl show and
#    list now print it as <U+202E>, and --json as a \u escape (still valid
#    JSON); in an identifier (area, source_ref) it is refused at intake.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
HTTP_LISTEN="127.0.0.1:$(free_port)"
API="http://$HTTP_LISTEN"
printf 'ph-5e1f0a9b7c33\n' >"$T/portsmouth-ph.token"
PH=$(head -n 1 "$T/portsmouth-ph.token")
write_config
sed -i -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$T/portsmouth-ph.token\"; rate_per_minute = 0; }#" \
        "$T/dawn.conf"
start_broker
start_dawnd

echo "# dawnd before: RSS ${RSS0:=$(rss)} kB, ${FDS0:=$(fds)} fds"

count_all() { ctl --json list --all | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# every stored area and source_ref, to see that no cut-short text got in
stored_text() { ctl --json list --all | $PY -c 'import json,sys
for a in json.load(sys.stdin): print(a.get("area"), a.get("source_ref"))'; }
# ctl_raw LINE: one request line to the control socket as bytes, the answer line printed
ctl_raw() {
        $PY - "$DAWN_SOCKET" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
                break
        buf += chunk
print(buf.decode().strip())
EOF
}
field_of() { $PY -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
post() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $PH" -H 'Content-Type: application/json' \
        --data-binary "$1" "$API/v1/alerts"; }
body() { json_get "$T/body" "$1"; }

N0=$(count_all)

# ---- the control socket ----
ans=$(ctl_raw '{"cmd":"issue","alert":{"type":"batch","area":"portsmouth\u0000evil","summary":"NUL in the area."}}')
check "control: a NUL in alert.area is refused" test "$(field_of "$ans" ok)" = False
check "naming the field alert.area" test "$(field_of "$ans" field)" = alert.area
check "and saying why" bash -c "grep -q 'NUL character' <<<'$(field_of "$ans" error)'"
ans=$(ctl_raw '{"cmd":"issue","alert":{"type":"batch","area":"portsmouth","summary":"NUL in the ref.","source_ref":"ctl-1\u0000a"}}')
check "control: a NUL in alert.source_ref is refused naming it" test "$(field_of "$ans" field)" = alert.source_ref
ans=$(ctl_raw '{"cmd":"issue","alert":{"type":"batch","area":"portsmouth","summary":"A raw NUL byte\u0000."}}')
check "control: a NUL in a free-text field too" test "$(field_of "$ans" field)" = alert.summary
ans=$(ctl_raw '{"cmd":"issue","alert":{"type":"batch","area":"portsmouth","summary":"Escaped: C:\\u0000 is text","source_ref":"ctl-2"}}')
check "control: \\\\u0000 (an escaped backslash, then u0000) is ordinary text and accepted" \
        test "$(field_of "$ans" ok)" = True
ESC_ID=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["alert"]["id"])' "$ans" 2>/dev/null)
check "and stored as sent" test "$(ctl --json show "$ESC_ID" | $PY -c 'import json,sys; print(json.load(sys.stdin)["summary"])')" = 'Escaped: C:\u0000 is text'

# ---- dawnctl issue --file ----
printf '{"type":"batch","area":"portsmouth\\u0000evil","summary":"From a file."}\n' >"$T/nul.json"
out=$(ctl issue --file "$T/nul.json" 2>&1)
rc=$?
check "dawnctl --file with a NUL is refused before sending (exit $rc)" test "$rc" -ne 0
check "naming area and saying nothing was sent" bash -c "grep -q ': area: holds the NUL' <<<'$out' && grep -q 'nothing was sent' <<<'$out'"

# ---- HTTP ----
status=$(post '{"type":"batch","area":"portsmouth\u0000evil","summary":"NUL over HTTP.","source_ref":"http-0"}')
check "HTTP: a NUL in area is refused with 400" test "$status" = 400
check "naming the field area" test "$(body .field)" = area
status=$(post '{"type":"batch","area":"portsmouth","summary":"First of two refs.","source_ref":"ph-7\u0000a"}')
check "HTTP: a NUL in source_ref is refused with 400 naming it" test "$status/$(body .field)" = 400/source_ref
status=$(post '[{"type":"batch","area":"fareham","summary":"A clean one.","source_ref":"batch-ok"},
 {"type":"batch","area":"gosport","summary":"A bad one.","source_ref":"batch\u0000bad"}]')
check "HTTP: a batch with a NUL in one alert is refused whole, naming alert[1].source_ref" \
        test "$status/$(body .field)" = "400/alert[1].source_ref"
# what the old code did with two refs that differ only after the NUL: the second was a duplicate of the first
status=$(post '{"type":"batch","area":"isle-of-wight","summary":"First report.","source_ref":"ph-8"}')
check "HTTP: a clean report is still accepted" test "$status" = 201 -o "$status" = 200
first=$(body .id)
status=$(post '{"type":"batch","area":"havant","summary":"A different report.","source_ref":"ph-8\u0000b"}')
check "HTTP: a report whose source_ref differs from it after a NUL is refused, not taken as that report" \
        test "$status/$(body .field)" = 400/source_ref
check "and the first report is unchanged" test "$(ctl --json show "$first" | $PY -c 'import json,sys; a=json.load(sys.stdin); print(a["area"], a["revision"])')" = "isle-of-wight 1"

# ---- MQTT ingest ----
subscribe "$T/result" "$PREFIX/ingest/portsmouth-ph/result"
mosquitto_pub -p "$MQTT_PORT" -q 1 -t "$PREFIX/ingest/portsmouth-ph" \
        -m '{"type":"batch","area":"southampton","summary":"NUL over MQTT.","sold_as":["pills\u0000x"],"source_ref":"mq-1"}'
check "MQTT: the report is answered on the result topic" wait_count "$T/result" result 1
res=$(messages "$T/result" | head -n 1 | cut -d' ' -f2-)
check "MQTT: a NUL in sold_as[0] is refused naming it" test "$(field_of "$res" field)" = "sold_as[0]"

check "nothing with a NUL was stored over any way in (2 clean alerts added)" test "$(count_all)" = $((N0 + 2))
no_cut_short() { ! stored_text | grep -qE ' (ctl-1|ph-7|http-0|batch-ok|batch|mq-1)$'; }
check "no stored source_ref is a cut-short one" no_cut_short

# ---- the config file ----
cp "$T/dawn.conf" "$T/nul.conf"
sed -i 's#{ id = "ambulance"; role = "reporter"; }#{ id = "ambu\\x00lance"; role = "reporter"; }#' "$T/nul.conf"
out=$("$DAWND" -n -c "$T/nul.conf" 2>&1)
rc=$?
check "config: \\x00 in a string is refused (dawnd -n exits $rc)" test "$rc" -ne 0
check "naming the line" bash -c "grep -q 'nul.conf:[0-9]*: .x00 in a string' <<<'$out'"

# ---- bidi controls: shown, not obeyed ----
RLO=$(printf '\342\200\256') # U+202E RIGHT-TO-LEFT OVERRIDE
ctl --json issue --type batch --area southampton --summary "Sold as ${RLO}gnp.exe, looks harmless." >"$T/bidi.json"
BIDI=$(json_get "$T/bidi.json" .id)
check "a report with U+202E in its summary is accepted (free text may carry bidi marks)" test -n "$BIDI"
ctl show "$BIDI" >"$T/show.txt"
check "dawnctl show prints it as <U+202E>" grep -q 'Sold as <U+202E>gnp.exe' "$T/show.txt"
check "and never as the raw character" bash -c "! grep -q '$RLO' '$T/show.txt'"
ctl list >"$T/list.txt"
check "dawnctl list too" bash -c "grep -q '<U+202E>' '$T/list.txt' && ! grep -q '$RLO' '$T/list.txt'"
ctl --json show "$BIDI" >"$T/show.json"
check "dawnctl show --json is valid JSON" $PY -c 'import json,sys; json.load(sys.stdin)' <"$T/show.json"
check "with the control as a \\u escape, not raw" bash -c "grep -qi 'u202e' '$T/show.json' && ! grep -q '$RLO' '$T/show.json'"
check "meaning the same text" test "$(json_get "$T/show.json" .summary)" = "Sold as ${RLO}gnp.exe, looks harmless."
C1=$(printf '\302\233') # U+009B, an 8-bit CSI: a terminal escape on some terminals
status=$(post "{\"type\":\"batch\",\"area\":\"portsmouth\",\"summary\":\"C1 ${C1}31m control.\",\"source_ref\":\"c1\"}")
check "HTTP: a C1 control in free text is refused like any other control" test "$status/$(body .field)" = 400/summary
status=$(post "{\"type\":\"batch\",\"area\":\"portsmouth\",\"summary\":\"Bidi in the ref.\",\"source_ref\":\"ph-${RLO}9\"}")
check "HTTP: a bidi control in source_ref (an identifier) is refused naming it" test "$status/$(body .field)" = 400/source_ref
check "with the character named" bash -c "grep -q 'U+202E' '$T/body'"

answers() { ctl status >/dev/null; }
check "dawnd still answers" answers
check "pragma integrity_check is ok" test "$(store_intact)" = ok
echo "# dawnd after: RSS $(rss) kB (before $RSS0), $(fds) fds (before $FDS0)"
finish
