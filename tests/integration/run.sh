#!/bin/bash
# Runs every tests/integration/test_*.sh (each starts its own broker and
# dawnd on free ports) and ends with one summary line over all checks.
# INTEGRATION_JOBS scripts run at once (default 2): most of a script's time
# is spent waiting for its peers, so two share the machine's cores well.
# Each script's output is printed whole, in the order of the scripts.
cd "$(dirname "$0")/../.." || exit 1
jobs_max=${INTEGRATION_JOBS:-2}
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT
scripts=()
# INTEGRATION_SKIP: script names (test_x) the run leaves out, space-separated (the sanitizer
# pass in .ci/run leaves out those that never start dawnd's code paths anew)
# The slowest first (as measured in CI, see the "slowest" lines at the end), so that the run does
# not end with one long script on one core while the other idles; then the rest in name order.
# Output is still printed in name order.
slow_first="test_nodes test_hostile_relay test_dashboard test_hostile_review test_hostile_loop
            test_hostile_http test_hostile_merge"
ordered=()
for n in $slow_first; do
        [ -f "tests/integration/$n.sh" ] && ordered+=("tests/integration/$n.sh")
done
for s in tests/integration/test_*.sh; do
        case " $(echo $slow_first) " in *" $(basename "$s" .sh) "*) continue ;; esac
        ordered+=("$s")
done
for s in "${ordered[@]}"; do
        case " ${INTEGRATION_SKIP:-} " in
        *" $(basename "$s" .sh) "*) echo "# $s: skipped (INTEGRATION_SKIP)" ;;
        *) scripts+=("$s") ;;
        esac
done
# DAWN_TEST_STORE=postgresql: one throwaway cluster for the run, a database per script (lib.sh)
if [ "${DAWN_TEST_STORE:-sqlite}" = postgresql ] && [ -z "${DAWN_TEST_PG:-}" ]; then
        chmod 755 "$out_dir" # the cluster runs as postgres, which must reach its folder
        pg_dir="$out_dir/pg"
        DAWN_TEST_PG=$(tests/pg/throwaway.sh start "$pg_dir" | sed 's/ dbname=[^ ]*//') || exit 1
        export DAWN_TEST_PG
        trap 'tests/pg/throwaway.sh stop "$pg_dir"; rm -rf "$out_dir"' EXIT
fi
for i in "${!scripts[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
                wait -n
        done
        (start=$SECONDS; bash "${scripts[$i]}" >"$out_dir/$i.out" 2>&1; echo $? >"$out_dir/$i.rc"
         echo $((SECONDS - start)) >"$out_dir/$i.secs") &
done
wait
passed=0
failed=0
# printed in name order, whatever order they ran in
mapfile -t by_name < <(for i in "${!scripts[@]}"; do echo "${scripts[$i]} $i"; done | sort | awk '{ print $2 }')
for i in "${by_name[@]}"; do
        t=${scripts[$i]}
        echo "# $t"
        out=$(cat "$out_dir/$i.out")
        rc=$(cat "$out_dir/$i.rc" 2>/dev/null || echo 1)
        printf '%s\n' "$out"
        p=$(grep -c '^ok - ' <<<"$out")
        f=$(grep -c '^not ok - ' <<<"$out")
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
                echo "not ok - $t exited $rc"
                f=1
        fi
        passed=$((passed + p))
        failed=$((failed + f))
done
# where the time goes (CI has 15 minutes): the five slowest scripts
for i in "${!scripts[@]}"; do
        echo "$(cat "$out_dir/$i.secs" 2>/dev/null || echo 0) $(basename "${scripts[$i]}" .sh)"
done | sort -rn | head -5 | awk '{ printf "# slowest: %s (%s s)\n", $2, $1 }'
echo "integration (${DAWN_TEST_STORE:-sqlite}): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
