#!/bin/bash
# The man pages render without warnings and say what the programs do (every
# command and option of dawnctl's table, every dawnd option, every key of
# the example config); the bash completion is valid bash, offers exactly the
# commands and options dawnctl's own help lists, and alert ids from dawnd.
. "$(dirname "$0")/lib.sh"
MAN="$ROOT/packaging/man"
COMPLETION="$ROOT/packaging/bash-completion/dawnctl"

for page in dawnd.8 dawnctl.1 dawn.conf.5; do
        check "$page: groff -man -ww finds nothing to warn about" \
                bash -c "[ -z \"\$(groff -man -ww -z '$MAN/$page' 2>&1)\" ]"
        check "$page: man --warnings renders it without a warning" \
                bash -c "out=\$(MANWIDTH=80 man --warnings -l '$MAN/$page' 2>&1 >'$T/$page.txt') && [ -z \"\$out\" ] && [ -s '$T/$page.txt' ]"
done

# every command and option in dawnctl's help is in dawnctl(1)
"$DAWNCTL" --help >"$T/help.txt"
commands=$(sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\).*/\1/p' "$T/help.txt")
options_of() { "$DAWNCTL" "$1" --help | sed -n '/^Options:/,$s/^  \(-h, \)\{0,1\}\(--[a-z-]*\).*/\2/p'; }
missing=""
for c in $commands; do
        grep -qE "^ +$c( |$)" "$T/dawnctl.1.txt" || missing="$missing $c"
        for o in $(options_of "$c"); do
                grep -q -- "$o" "$T/dawnctl.1.txt" || missing="$missing $c:$o"
        done
done
for o in --socket --json --help --version DAWN_SOCKET; do
        grep -q -- "$o" "$T/dawnctl.1.txt" || missing="$missing $o"
done
check "dawnctl(1) describes all $(echo $commands | wc -w) commands and their options" test -z "$missing" ||
        echo "    missing:$missing"
missing=""
for o in $("$DAWND" --help | sed -n 's/^ *\(-[a-z]\), \(--[a-z]*\).*/\1 \2/p'); do
        grep -q -- "$o" "$T/dawnd.8.txt" || missing="$missing $o"
done
check "dawnd(8) describes every option of dawnd --help" test -z "$missing" || echo "    missing:$missing"
missing=""
# the keys, not the area ids inside areas = { ... };
for k in $(sed -e 's/#.*//' -e '/^areas = {/,/^};/d' "$ROOT/conf/dawn.conf.example" | grep -oE '^ *[a-z_]+ *=' |
        tr -d ' =' | sort -u); do
        grep -q -- "$k" "$T/dawn.conf.5.txt" || missing="$missing $k"
done
check "dawn.conf(5) describes every key of conf/dawn.conf.example" test -z "$missing" || echo "    missing:$missing"

# ---- bash completion ----
check "the completion is valid bash" bash -n "$COMPLETION"
# complete_words WORDS...: what the completion offers for the last word, sorted, on one line
complete_words() {
        bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _dawnctl; printf "%s\n" "${COMPREPLY[@]}" | sort | xargs' \
                _ "$COMPLETION" "$DAWNCTL" "$@"
}
check "'dawnctl <TAB>' offers every command of dawnctl --help" \
        test "$(complete_words '')" = "$(echo $commands | tr ' ' '\n' | sort | xargs)"
check "'dawnctl st<TAB>' completes to status" test "$(complete_words st)" = status
check "'dawnctl --<TAB>' offers the global options" \
        test "$(complete_words --)" = "--help --json --socket --version"
bad=""
for c in $commands; do
        want=$( (options_of "$c"; echo --help) | sort -u | xargs)
        got=$(complete_words "$c" --)
        [ "$got" = "$want" ] || bad="$bad [$c: offers '$got', help lists '$want']"
done
check "'dawnctl COMMAND --<TAB>' offers exactly the options of 'dawnctl COMMAND --help'" test -z "$bad" ||
        echo "    $bad"
check "'dawnctl --json issue --evidence t<TAB>' completes to toxicology" \
        test "$(complete_words --json issue --evidence t)" = toxicology
check "'dawnctl route --grade <TAB>' offers the grades" \
        test "$(complete_words route --grade '')" = "critical info warning"
check "'dawnctl help re<TAB>' offers commands" test "$(complete_words help re)" = "reject reload report-overdose resume"
check "'dawnctl resume <TAB>' offers the channels" test "$(complete_words resume '')" = "email mqtt sms"

start_broker
start_dawnd
ctl issue --area southampton --sold-as heroin --adulterant nitazene "Nitazene in heroin." >/dev/null
ctl issue --area portsmouth --sold-as cocaine --adulterant xylazine "Xylazine in cocaine." >/dev/null
ctl cancel A2 --reason "Not confirmed." >/dev/null
check "'dawnctl show <TAB>' offers every alert id dawnd has" test "$(complete_words show '')" = "A1 A2"
check "'dawnctl cancel <TAB>' offers the active ones" test "$(complete_words cancel '')" = "A1"
check "'dawnctl update --advice x A<TAB>': options and their values are skipped" \
        test "$(complete_words update --advice x A)" = "A1"
check "no second id after the first" test -z "$(complete_words show A1 '')"
check "--socket on the line is used to ask dawnd" \
        test "$(DAWN_SOCKET=/nonexistent complete_words --socket "$DAWN_SOCKET" show '')" = "A1 A2"
stop_dawnd
out=$(DAWN_SOCKET="$T/none" complete_words show '' 2>&1)
check "with dawnd unreachable there is nothing to offer, and no error" test -z "$out"
finish
