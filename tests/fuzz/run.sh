#!/bin/bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each one
# for a while on a copy of its corpus.
#
#   BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_*.c
#
# Environment:
#   BUILD          where objects, harnesses, logs and crash files go (build-fuzz)
#   FUZZ_SECONDS   how long each harness runs (20)
#   FUZZ_CC        the compiler (clang; it must have libFuzzer: libclang-rt-*-dev)
#   FUZZ_ARGS      more libFuzzer options, e.g. "-jobs=2 -workers=2"
#   FUZZ_KEEP_CORPUS=1  also keep the grown corpus in $BUILD/fuzz/<name>.corpus
#
# The daemon's objects (daemon/**/*.c but main.c) are compiled once into
# $BUILD/daemon with -fsanitize=fuzzer-no-link and rebuilt when a source or
# a header is newer. Each harness runs on a copy of tests/fuzz/corpus/<name>,
# so a run never adds files to the repository. Crash inputs are kept as
# $BUILD/fuzz/artifacts/<name>-crash-*, with the log in $BUILD/fuzz/<name>.log.
#
# Prints executions, coverage and PASS/FAIL per harness, and finally
# "N passed, N failed". Exits non-zero if any harness failed to build or
# found a crash, a leak or undefined behaviour.
set -u

cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
CC=${FUZZ_CC:-clang}
# the libraries dawnd builds with: the Makefile passes its own list (PKGS), so the two never differ
PKGS=${PKGS:-$(sed -n 's/^PKGS = //p' Makefile)}

if [ $# -eq 0 ]; then
        set -- tests/fuzz/fuzz_*.c
fi
if ! command -v "$CC" >/dev/null 2>&1; then
        echo "run.sh: $CC not found: libFuzzer needs clang (apt-get install clang libclang-rt-dev)" >&2
        exit 2
fi
if ! PKG_CFLAGS=$(pkg-config --cflags $PKGS) || ! PKG_LIBS=$(pkg-config --libs $PKGS); then
        echo "run.sh: pkg-config cannot find $PKGS (make deps)" >&2
        exit 2
fi

# leaks in libraries DAWN cannot fix, each with its reference (see the file)
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS_ALL="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wno-unused-parameter $PKG_CFLAGS -Iinclude -Idaemon -Idaemon/base -Idaemon/store -Idaemon/intake -Idaemon/delivery -Idaemon/ways"
mkdir -p "$BUILD/daemon"/{base,store,intake,delivery,ways} "$BUILD/fuzz/artifacts" || exit 2

# ---- the daemon's objects, once ----
newest_header=$(ls -t daemon/*.h daemon/*/*.h include/dawn/*.h 2>/dev/null | head -n 1)
objs=()
build_failed=0
pids=()
jobs_max=$(nproc 2>/dev/null || echo 2)
for src in daemon/*.c daemon/*/*.c; do
        [ "$src" = daemon/main.c ] && continue
        obj="$BUILD/${src%.c}.o"
        objs+=("$obj")
        if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && { [ -z "$newest_header" ] || [ "$obj" -nt "$newest_header" ]; }; then
                continue
        fi
        printf '  CC      %s\n' "$obj"
        # shellcheck disable=SC2086
        $CC $CFLAGS_ALL -fsanitize=fuzzer-no-link $SAN -c -o "$obj.tmp" "$src" && mv "$obj.tmp" "$obj" &
        pids+=($!)
        if [ ${#pids[@]} -ge "$jobs_max" ]; then
                wait "${pids[0]}" || build_failed=1
                pids=("${pids[@]:1}")
        fi
done
for p in "${pids[@]}"; do
        wait "$p" || build_failed=1
done
if [ $build_failed -ne 0 ]; then
        echo "run.sh: the daemon's objects did not compile" >&2
        echo "0 passed, $# failed"
        exit 1
fi

passed=0
failed=0
results=()
# corpus copies and fuzz_control's store; on a tmpfs when there is one (the
# store commits with synchronous=FULL), and removed even after a crash
tmp_base=${TMPDIR:-/tmp}
[ -w /dev/shm ] && tmp_base=/dev/shm
work=$(mktemp -d "$tmp_base/dawn-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
export DAWN_FUZZ_TMPDIR="$work"

for harness in "$@"; do
        name=$(basename "$harness" .c)
        bin="$BUILD/fuzz/$name"
        log="$BUILD/fuzz/$name.log"

        # ---- build ----
        printf '  LINK    %s\n' "$bin"
        # shellcheck disable=SC2086
        if ! $CC $CFLAGS_ALL -fsanitize=fuzzer $SAN -o "$bin" "$harness" "${objs[@]}" $PKG_LIBS -lm; then
                results+=("$(printf '%-14s %12s %8s  FAIL (does not build)' "$name" - -)")
                failed=$((failed + 1))
                continue
        fi

        # ---- run on a copy of the corpus ----
        corpus="$work/$name"
        mkdir -p "$corpus"
        if [ -d "tests/fuzz/corpus/$name" ]; then
                cp -R "tests/fuzz/corpus/$name/." "$corpus/"
        fi
        dict=()
        if [ -f "tests/fuzz/$name.dict" ]; then
                dict=("-dict=tests/fuzz/$name.dict")
        fi
        per_harness=()
        session_max=$FUZZ_SECONDS
        case $name in
        fuzz_config)
                # libconfig leaks on most syntax errors (lsan.supp), and each
                # leaking input makes libFuzzer stop the world for a leak scan:
                # 350 inputs/s instead of 14,000. Leaks are then looked for
                # once, at exit, still with the suppressions: a leak in DAWN's
                # code fails the run there, without the input that caused it.
                # What libconfig leaks adds up (about 4 MB/s), so long runs go
                # in sessions of at most 150 s on the same corpus, each well
                # under -rss_limit_mb.
                per_harness=(-detect_leaks=0)
                session_max=150
                ;;
        esac
        echo "  FUZZ    $name for ${FUZZ_SECONDS}s (log: $log)"
        : >"$log"
        left=$FUZZ_SECONDS
        execs=0
        rc=0
        while [ "$left" -gt 0 ] && [ $rc -eq 0 ]; do
                t=$((left < session_max ? left : session_max))
                left=$((left - t))
                # shellcheck disable=SC2086
                "$bin" "${dict[@]}" "${per_harness[@]}" -max_total_time="$t" -timeout=10 -rss_limit_mb=2048 \
                        -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/artifacts/$name-" ${FUZZ_ARGS:-} \
                        "$corpus" >"$log.session" 2>&1
                rc=$?
                cat "$log.session" >>"$log"
                n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log.session" | tail -n 1)
                if [ -z "$n" ]; then
                        # no final stats (the run stopped on a crash): the last status line has the count
                        n=$(grep -E '^#[0-9]+' "$log.session" | tail -n 1 | sed 's/^#\([0-9]*\).*/\1/')
                fi
                execs=$((execs + ${n:-0}))
        done
        rm -f "$log.session"
        # the last session loaded the whole corpus: its coverage is the run's
        cov=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$log" | tail -n 1 | sed 's/.*cov: \([0-9]*\).*/\1/')
        verdict=PASS
        detail=
        if [ $rc -ne 0 ] || grep -aqE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: (Address|Leak|Undefined)' "$log"; then
                verdict=FAIL
                artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
                # what went wrong: the harness's own check, or the sanitizer's summary
                # (-a: a crash input quoted in the log may not be text)
                summary=$(grep -a -m 1 -E "^$name: |runtime error:" "$log" | cut -c 1-200)
                [ -z "$summary" ] && summary=$(grep -a -m 1 -E '^SUMMARY:' "$log")
                detail=" (exit $rc${summary:+: $summary}${artifact:+; input: $artifact})"
        fi
        if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
                rm -rf "$BUILD/fuzz/$name.corpus"
                cp -R "$corpus" "$BUILD/fuzz/$name.corpus"
        fi
        results+=("$(printf '%-14s %12s %8s  %s%s' "$name" "${execs:-?}" "${cov:-?}" "$verdict" "$detail")")
        if [ $verdict = PASS ]; then
                passed=$((passed + 1))
        else
                failed=$((failed + 1))
        fi
done

echo
printf '%-14s %12s %8s  %s\n' harness executions cov result
for r in "${results[@]}"; do
        echo "$r"
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
