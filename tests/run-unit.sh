#!/bin/sh
# Runs each unit-test binary given, shows its cmocka report, and ends with
# one summary line over all of them.
passed=0
failed=0
for t in "$@"; do
        out=$("$t" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ $rc -ne 0 ] && [ -z "$f" ]; then
                echo "$t: exited $rc without a cmocka report"
                failed=$((failed + 1))
        fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
