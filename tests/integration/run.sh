#!/bin/bash
# Runs every tests/integration/test_*.sh (each starts its own broker and
# dawnd on free ports) and ends with one summary line over all checks.
cd "$(dirname "$0")/../.." || exit 1
passed=0
failed=0
for t in tests/integration/test_*.sh; do
        echo "# $t"
        out=$(bash "$t" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        p=$(grep -c '^ok - ' <<<"$out")
        f=$(grep -c '^not ok - ' <<<"$out")
        if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
                echo "not ok - $t exited $rc"
                f=1
        fi
        passed=$((passed + p))
        failed=$((failed + f))
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
