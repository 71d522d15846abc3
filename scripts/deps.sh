#!/bin/sh
# Installs the Debian packages DAWN needs to build and test, when run as
# root; otherwise prints the exact apt-get line and fails. Used by
# `make test` and `make demo`, so both work on a fresh Debian 12.
# `scripts/deps.sh deb` (used by `make deb`) installs the packaging tools
# instead, which nothing else needs; `scripts/deps.sh bench` (`make
# bench-deps`) what bench/peer.sh compares against, which no test needs.
set -eu

# build: compiler, pkg-config and the libraries dawnd links
BUILD_PKGS="gcc make pkg-config libsystemd-dev libmosquitto-dev libcjson-dev libconfig-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libxml2-dev"
# tests: cmocka, a real broker and its clients, clang + its runtime for the
# sanitizers and libFuzzer, Debian's python3 (free ports in tests), setpriv
# (util-linux) to run dawnctl as another user, sqlite3 to look inside a store,
# python3-aiosmtpd for a real SMTP server, curl for the gateway's self-test, tzdata
# for quiet hours in local time (without it glibc silently uses UTC)
TEST_PKGS="libcmocka-dev mosquitto mosquitto-clients clang libclang-rt-14-dev python3 util-linux sqlite3 procps python3-aiosmtpd curl tzdata"
# tests of the service (test_service_*.sh): systemd for systemd-analyze and
# systemd-socket-activate (a package, not PID 1), strace to hold dawnd's
# system calls against the unit's filter, man-db (with groff) to render the
# man pages, e2fsprogs and mount for a small ext4 store that turns read-only
TEST_PKGS="$TEST_PKGS systemd strace man-db e2fsprogs mount"
# partner intake tests (test_partner_*.sh): Prometheus's own text-format parser reads /metrics
TEST_PKGS="$TEST_PKGS python3-prometheus-client"
# running behind a TLS proxy (test_nginx.sh): Debian's nginx runs conf/nginx/dawn.conf
TEST_PKGS="$TEST_PKGS nginx"
# CAP 1.2 (test_cap.sh): xmllint validates every document against the OASIS schema
TEST_PKGS="$TEST_PKGS libxml2-utils"
# the Prometheus example (test_prometheus_rules.sh): promtool checks and unit-tests
# conf/prometheus/dawn-rules.yml (the prometheus package brings it; its server is not run)
TEST_PKGS="$TEST_PKGS prometheus"
# the pharmacy dashboard (`make dashboard`, test_dashboard.sh): npm fetches MQTT.js and
# playwright-core (pinned in dashboard/package-lock.json), which drives Debian's chromium.
# Debian's nodejs (18) and npm will do; a node already on PATH (NodeSource's, which bundles
# npm) is kept rather than replaced.
TEST_PKGS="$TEST_PKGS chromium"
if ! command -v node >/dev/null 2>&1; then
        TEST_PKGS="$TEST_PKGS nodejs npm"
elif ! command -v npm >/dev/null 2>&1; then
        TEST_PKGS="$TEST_PKGS npm"
fi
# packaging (make deb only): debhelper (with dpkg-dev) builds the .deb,
# lintian checks it
DEB_PKGS="debhelper dpkg-dev lintian"
# the PostgreSQL store (issue 15): the store's unit tests on it and the two-node test
# (test_nodes.sh) start a throwaway cluster of Debian's server (tests/pg/throwaway.sh);
# psql and pg_dump look inside it as sqlite3 does a file; amcheck (postgresql-contrib)
# checks its indexes
PG_PKGS="postgresql postgresql-client postgresql-contrib"
TEST_PKGS="$TEST_PKGS $PG_PKGS"
# side-by-side benchmark (bench/peer.sh only): Prometheus Alertmanager as the peer,
# wrk as the HTTP client for both; mosquitto(-clients) and curl as in the tests
BENCH_PKGS="prometheus-alertmanager wrk mosquitto mosquitto-clients curl python3 coreutils"

case "${1:-}" in
deb) WANT="$DEB_PKGS" ;;
bench) WANT="$BENCH_PKGS" ;;
postgresql) WANT="$PG_PKGS" ;;
"") WANT="$BUILD_PKGS $TEST_PKGS" ;;
*)
        echo "usage: $0 [deb|bench|postgresql]" >&2
        exit 2
        ;;
esac

missing=""
for p in $WANT; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
                missing="$missing $p"
        fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
        echo "DAWN needs these Debian packages:$missing" >&2
        echo "Install them with:" >&2
        echo "  sudo apt-get install -y$missing" >&2
        exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
