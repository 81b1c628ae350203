#!/usr/bin/env bash
# Runs every ```sh block of README.md's "Running in production" as written: a SQLite deployment
# moved into PostgreSQL and S3, two nodes, nginx in front, a file uploaded through it and read
# from each node. Every address the README leaves to variables is set here to this machine's
# loopback: the PostgreSQL of TROVE_TEST_POSTGRES_URL (or a throwaway cluster), the S3 server of
# AWS_ENDPOINT_URL (bucket TROVE_TEST_S3_BUCKET, default trove-test), free ports for the nodes and
# nginx (installed from Debian when missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q -p trove --manifest-path "$root/Cargo.toml"
bin="$root/target/debug/trove"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  (apt-get install -y -q nginx-light >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q nginx-light >/dev/null; })
fi
export PATH="$PATH:/usr/sbin"
: "${AWS_ENDPOINT_URL:?the S3-compatible server}" "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}"
work=$(mktemp -d)
pg_dir=
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${group:-}" ] && kill -- "-$group" 2>/dev/null || true
  [ -n "${old:-}" ] && kill "$old" 2>/dev/null || true
  [ -n "$pg_dir" ] && "$root/scripts/throwaway-postgres.sh" stop "$pg_dir"
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
pg=${TROVE_TEST_POSTGRES_URL:-}
bucket=${TROVE_TEST_S3_BUCKET:-trove-test}
# trove refuses TROVE_* variables it does not know.
unset $(compgen -v TROVE_TEST_) 2>/dev/null || true
if [ -z "$pg" ]; then
  pg=$("$root/scripts/throwaway-postgres.sh" 2> pg-dir)
  pg_dir=$(tail -1 pg-dir)
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run=$(python3 -c 'import uuid; print(uuid.uuid4().hex)')

# The embedded default being moved: a SQLite server with one file, stopped.
mkdir old
TROVE_ADDR=127.0.0.1:0 TROVE_DATA_DIR=old TROVE_LOG=warn "$bin" serve > old.out 2> old.err &
old=$!
for _ in $(seq 1 500); do
  grep -q '^Admin key:' old.out 2>/dev/null && break
  kill -0 "$old" 2>/dev/null || { cat old.err; exit 1; }
  read -r -t 0.02 < /dev/zero || true
done
old_url=$(sed -n 's/^Trove listening on //p' old.out)
moved=$(curl -fsS -X POST "$old_url/v1/files?name=moved.txt" -H "X-Trove-Admin-Key: $(cat old/admin-key)" \
  -H 'Content-Type: text/plain' --data-binary 'written before the move')
moved_id=$(echo "$moved" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
kill "$old"; wait "$old" || true; old=

lb=$(port)
export DATABASE_URL="$pg?options[search_path]=production_$run"
export STORAGE_URL="s3://$bucket/production-$run"
export S3_ENDPOINT="$AWS_ENDPOINT_URL" S3_REGION="${AWS_REGION:-us-east-1}"
export S3_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" S3_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export NODE_A="127.0.0.1:$(port)" NODE_B="127.0.0.1:$(port)" LB_LISTEN="127.0.0.1:$lb"
export PUBLIC_URL="http://127.0.0.1:$lb" OLD_DATA_DIR="$work/old"
trove() { "$bin" "$@"; }
export -f trove
export bin
awk '/^## Running in production/{on=1; next} /^## /{on=0} on && /^```sh$/{blk=1; next} blk && /^```$/{blk=0; next} blk' \
  "$root/README.md" > production.sh
# Nothing may fall back to the README's example hosts: every one of them is set above.
for var in DATABASE_URL STORAGE_URL S3_ENDPOINT NODE_A NODE_B LB_LISTEN PUBLIC_URL OLD_DATA_DIR; do
  grep -q "\${$var:-" production.sh || { echo "the README no longer uses \$$var"; exit 1; }
done
echo "running $(grep -c . production.sh) lines of the README's production section"
# In a process group of its own, so that the nodes it starts go with it.
set -m
bash -euo pipefail -x production.sh > production.out 2>&1 &
group=$!
set +m
wait "$group" || { cat production.out; for f in node-a.log node-b.log nginx-error.log; do [ -f "$f" ] && cat "$f"; done; echo "README production section failed"; exit 1; }
# Spot checks: the file written through nginx came back from both nodes; the file moved from
# SQLite is served through nginx with its bytes.
[ "$(grep -c '^stored once, served by any node' production.out)" = 2 ] || { cat production.out; exit 1; }
grep -q 'files: 1 rows, 1 copied, 0 already in place, verified' production.out || { cat production.out; exit 1; }
body=$(curl -fsS "$PUBLIC_URL/v1/files/$moved_id/content" -H "X-Trove-Admin-Key: $(set -a; . ./trove.env; echo "$TROVE_ADMIN_KEY")")
[ "$body" = 'written before the move' ] || { echo "the moved file came back as: $body"; exit 1; }
echo "README production section: ok"
