#!/bin/bash
# Runs each unit-test binary given, shows its cmocka report, and ends with
# one summary line over all of them. UNIT_JOBS binaries run at once (default
# 2, the machine's cores); each report is printed whole, in the order given.
jobs_max=${UNIT_JOBS:-2}
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT
bins=("$@")
for i in "${!bins[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
                wait -n
        done
        ("${bins[$i]}" >"$out_dir/$i.out" 2>&1; echo $? >"$out_dir/$i.rc") &
done
wait
passed=0
failed=0
for i in "${!bins[@]}"; do
        t=${bins[$i]}
        out=$(cat "$out_dir/$i.out")
        rc=$(cat "$out_dir/$i.rc" 2>/dev/null || echo 1)
        printf '%s\n' "$out"
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ "$rc" -ne 0 ] && [ -z "$f" ]; then
                echo "$t: exited $rc without a cmocka report"
                failed=$((failed + 1))
        fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
