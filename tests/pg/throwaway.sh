#!/bin/bash
# A throwaway PostgreSQL cluster for the tests (issue 15): Debian's postgresql
# package, a cluster made by initdb in a temporary folder, on a free port of
# 127.0.0.1 and its own Unix socket folder, run as an unprivileged user (the
# package's postgres, or the caller if not root), stopped and removed after.
#
#   tests/pg/throwaway.sh start DIR   prints the conninfo of database "dawn"
#   tests/pg/throwaway.sh restart DIR (-m fast: sessions are ended)
#   tests/pg/throwaway.sh stop DIR
#
# fsync stays on: the tests ask what a commit keeps, and a cluster that lies
# about durability would let them pass for the wrong reason.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || { echo "throwaway.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 2; }
cmd=${1:?start or stop}
dir=${2:?a folder}

as_owner() {
        if [ "$(id -u)" = 0 ]; then
                runuser -u postgres -- "$@"
        else
                "$@"
        fi
}

free_port() {
        /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case $cmd in
start)
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres: "$dir"
        as_owner "$bindir/initdb" -D "$dir/data" -U dawn --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
                { cat "$dir/initdb.log" >&2; exit 1; }
        port=$(free_port)
        echo "$port" >"$dir/port"
        # the tests open a few connections each; the limits are the cluster's, not the host's
        as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
                -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c shared_buffers=32MB" \
                start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
        as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U dawn dawn
        echo "host=127.0.0.1 port=$port dbname=dawn user=dawn"
        ;;
restart)
        # fast: the server ends its sessions, as a failover or an operator's restart does
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 restart >/dev/null ||
                { cat "$dir/server.log" >&2; exit 1; }
        ;;
stop)
        [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
        rm -rf "$dir"
        ;;
*)
        echo "usage: $0 start|restart|stop DIR" >&2
        exit 2
        ;;
esac
