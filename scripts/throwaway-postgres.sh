#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests and prints its URL on stdout: Debian's
# `postgresql` package (installed when missing), `initdb` into a fresh directory as the unprivileged
# `postgres` user, a free loopback port, trust authentication on loopback only. Stop it with
# `scripts/throwaway-postgres.sh stop DIR`, where DIR is printed on stderr; `pause DIR` stops the
# server (dropping every connection) and `resume DIR` starts it again on the same port, for tests
# of an outage.
set -euo pipefail
case "${1:-}" in
  stop|pause|resume)
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    if [ "$1" = resume ]; then
      runuser -u postgres -- "$bin/pg_ctl" -D "$2/data" -l "$2/log" -w -o "$(cat "$2/opts")" start >/dev/null
    else
      runuser -u postgres -- "$bin/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [ "$1" = stop ] && rm -rf "$2"
    exit 0
    ;;
esac
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing postgresql" >&2
  (apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; })
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/trove-pg.XXXXXX)
chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U trove --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Durability as in production (fsync on); a connection limit above the suites' pools.
echo "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400" > "$dir/opts"
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "$(cat "$dir/opts")" start >/dev/null
"$bin/createdb" -h 127.0.0.1 -p "$port" -U trove trove
echo "$dir" >&2
echo "postgres://trove@127.0.0.1:$port/trove"
