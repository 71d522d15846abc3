#!/bin/bash
# Intake over the control socket: deduplication across sources, idempotent
# resubmission, bad input refused with the field named and nothing stored,
# and a caller outside the control group refused.
. "$(dirname "$0")/lib.sh"
start_broker
start_dawnd

count_alerts() { store_sql "SELECT (SELECT count(*) FROM alerts) || '/' || (SELECT count(*) FROM outbox) || '/' || (SELECT count(*) FROM audit)"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$DAWNCTL" "$@"; }

# ---- the same batch from two sources: one alert, two sources ----
subscribe "$T/booth" "$PREFIX/subscribers/booth-house/alerts/+"
ctl --json issue --area southampton --sold-as cocaine --adulterant xylazine \
        "Cocaine causing long sedation and wounds." >"$T/first.json"
check "first report makes A1 (warning)" test "$(json_get "$T/first.json" .grade)" = warning
# 'nobody' is in the control group (nogroup) in the test config: a second local source
as_nobody --json issue --area southampton --sold-as " Cocaine " --adulterant XYLAZINE \
        "Same cocaine seen by outreach." >"$T/second.json"
check "a second source's report merges into A1" test "$(json_get "$T/second.json" .id)" = A1
check "the answer says it was merged" test "$(json_get "$T/second.json" .merged_into_existing)" = True
check "A1 now lists both sources" test "$(json_get "$T/second.json" .sources)" = '["local:root", "local:nobody"]'
check "the grade did not rise, so the revision stays 1" test "$(json_get "$T/second.json" .revision)" = 1
check "the corroboration is recorded" \
        bash -c "\"$DAWNCTL\" --json show A1 | grep -q 'Same cocaine seen by outreach'"
# a third report with toxicology raises the grade: recipients hear again, as revision 2
ctl --json issue --area southampton --sold-as cocaine --adulterant xylazine --evidence toxicology \
        "Toxicology confirms xylazine." >"$T/third.json"
check "toxicology raises A1 to critical" test "$(json_get "$T/third.json" .grade)" = critical
check "as revision 2" test "$(json_get "$T/third.json" .revision)" = 2
check "booth-house hears twice in all" wait_count "$T/booth" "/alerts/A1 " 2
first_two=$(messages "$T/booth" | grep -o '"revision":[0-9]*' | head -n 2 | tr '\n' ' ')
check "and the second message it heard is revision 2 (nothing was sent for the non-rising merge)" \
        test "$first_two" = '"revision":1 "revision":2 '

# ---- idempotency by (source, source_ref) ----
ctl --json report-overdose --area gosport --sold-as oxycodone --source-ref amb-20261123-0990 >"$T/nf1.json"
id=$(json_get "$T/nf1.json" .id)
check "a single non-fatal overdose is logged, not sent" test "$(json_get "$T/nf1.json" .grade)" = logged
before=$(count_alerts)
ctl --json report-overdose --area gosport --sold-as oxycodone --casualties 3 --source-ref amb-20261123-0990 >"$T/nf2.json"
check "resubmitting the source_ref returns the first id" test "$(json_get "$T/nf2.json" .id)" = "$id"
check "and says it is a duplicate" test "$(json_get "$T/nf2.json" .duplicate_of_submission)" = True
check "and stores nothing new" test "$(count_alerts)" = "$before"

# ---- bad input: exit 1, the problem named, nothing stored ----
before=$(count_alerts)
refused() { # NAME EXPECTED-TEXT COMMAND...
        name=$1 want=$2
        shift 2
        "$@" >"$T/out" 2>"$T/err"
        rc=$?
        if [ $rc -eq 1 ] && grep -q -- "$want" "$T/err"; then ok "$name"; else
                not_ok "$name" "exit $rc, stderr: $(cat "$T/err")"; fi
}
printf '{"type":"batch","area":"southampton",' >"$T/malformed.json"
refused "malformed JSON is refused" "malformed JSON" ctl issue --file "$T/malformed.json"
printf '{"type":"batch","area":"southampton","summary":"x","colour":"blue"}' >"$T/unknown.json"
refused "an unknown field is refused by name" "unknown field 'colour'" ctl issue --file "$T/unknown.json"
refused "an unknown area is refused by name" "area: unknown area 'basingstock'" \
        ctl issue --area basingstock "Typo in the area"
big=$(head -c 70000 /dev/zero | tr '\0' 'x')
refused "an oversized request is refused" "larger than the limit of 65536 bytes" ctl issue --area southampton "$big"
printf '{"type":"batch","area":"southampton","summary":"x","sold_as":[[[[[[[[[["x"]]]]]]]]]]}' >"$T/deep.json"
refused "deep nesting is refused" "nests deeper than 8 levels" ctl issue --file "$T/deep.json"
refused "a too-long summary names the field" "summary: 1001 characters, at most 1000" \
        ctl issue --area southampton "$(head -c 1001 /dev/zero | tr '\0' 'y')"
refused "a negative count names the field" "casualties" ctl issue --file <(printf '{"type":"batch","area":"southampton","summary":"x","casualties":-1}')
check "none of the bad requests stored anything" test "$(count_alerts)" = "$before"
# the same limits hold for any client of the socket, not only dawnctl
raw=$(printf '{"cmd":"issue","alert":{"type":"batch",\n' | /usr/bin/python3 -c '
import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read()); print(s.makefile().readline().strip())' "$DAWN_SOCKET")
check "a raw malformed request gets a JSON error naming the request" \
        grep -q '"ok":false,"error":"malformed JSON near byte' <<<"$raw"

# ---- a caller outside the control group ----
before=$(count_alerts)
setpriv --reuid=65534 --regid=1 --clear-groups "$DAWNCTL" issue --area southampton "Outsider" >"$T/out" 2>"$T/err"
rc=$?
check "a caller outside the control group gets exit 1" test $rc -eq 1
check "and a clear refusal" grep -q "permission denied: uid 65534 is not root and not in group 'nogroup'" "$T/err"
check "and nothing is stored" test "$(count_alerts)" = "$before"
check "the refusal is logged" grep -q "refused uid 65534" "$T/dawnd.log"

# ---- the daemon cannot be reached ----
DAWN_SOCKET="$T/nowhere.sock" "$DAWNCTL" list >/dev/null 2>"$T/err"
check "an unreachable daemon gives exit 3" test $? -eq 3
finish
