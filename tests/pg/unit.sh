#!/bin/bash
# The store's unit tests on PostgreSQL (make unit-postgresql, issue 15): the
# test binaries that use the store fixture (dawn_test_store.h) run with
# DAWN_TEST_PG set to a throwaway cluster, each test on a schema of its own.
# Those about SQLite itself say so and are skipped there.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
dir=$(mktemp -d /tmp/dawn-pg-unit.XXXXXX)
chmod 755 "$dir" # the cluster runs as postgres, which must reach its folder
trap 'tests/pg/throwaway.sh stop "$dir/pg"; rm -rf "$dir"' EXIT
DAWN_TEST_PG=$(tests/pg/throwaway.sh start "$dir/pg" | sed 's/ dbname=[^ ]*//') || exit 1
export DAWN_TEST_PG
bins=()
for src in $(grep -l '#include "dawn_test_store.h"' tests/unit/test_*.c); do
        bins+=("$BUILD/tests/$(basename "$src" .c)")
done
tests/run-unit.sh "${bins[@]}" | sed 's/^unit: /unit (postgresql): /'
exit "${PIPESTATUS[0]}"
