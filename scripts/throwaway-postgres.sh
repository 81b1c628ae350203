#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests and prints its URL on stdout: Debian's
# `postgresql` package (installed when missing), `initdb` into a fresh directory as the unprivileged
# `postgres` user, a free loopback port, trust authentication on loopback only. Stop it with
# `scripts/throwaway-postgres.sh stop DIR`, where DIR is printed on stderr.
set -euo pipefail
if [ "${1:-}" = stop ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  runuser -u postgres -- "$bin/pg_ctl" -D "$2/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$2"
  exit 0
fi
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
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
  "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400" \
  start >/dev/null
"$bin/createdb" -h 127.0.0.1 -p "$port" -U trove trove
echo "$dir" >&2
echo "postgres://trove@127.0.0.1:$port/trove"
