#!/usr/bin/env bash
# Runs every ```sh block of README.md's "Tour" as written, against a fresh server in a temporary
# directory, and fails on the first command that fails. Keeps the README's examples true.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build -q -p trove --manifest-path "$root/Cargo.toml"
bin="$root/target/debug/trove"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
TROVE_ADDR=127.0.0.1:0 TROVE_LOG=warn "$bin" serve > server.out 2> server.err &
server=$!
for _ in $(seq 1 500); do
  grep -q '^Admin key:' server.out 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat server.err; exit 1; }
  read -r -t 0.02 < /dev/zero || true
done
TROVE=$(sed -n 's/^Trove listening on //p' server.out)
[ -n "$TROVE" ] || { echo "server did not start"; cat server.err; exit 1; }
export TROVE
trove() { "$bin" "$@"; }
export -f trove
export bin
# The tour: from "## Tour" up to the next level-2 heading, sh blocks only.
awk '/^## Tour/{on=1; next} /^## /{on=0} on && /^```sh$/{blk=1; next} blk && /^```$/{blk=0; next} blk' \
  "$root/README.md" > tour.sh
echo "running $(grep -c . tour.sh) lines of the README tour against $TROVE"
bash -euo pipefail -x tour.sh > tour.out 2>&1 || { cat tour.out; echo "README tour failed"; exit 1; }
# Spot checks that the tour did what the README says.
trap 'kill "$server" 2>/dev/null || true; cat tour.out; rm -rf "$work"' ERR
grep -q '"code":"forbidden"' tour.out
grep -q '"code":"precondition_failed"' tour.out
grep -q '"code":"not_found"' tour.out
grep -q '"code":"mime_type_not_allowed"' tour.out
grep -q '^304$' tour.out
grep -q '^200 image/webp$' tour.out
grep -q '^200 image/png$' tour.out
grep -q '"code":"invalid_request".*`w`' tour.out
grep -q '^hello again, world' tour.out
grep -q '"entityReference":"acme-7"' tour.out
grep -q '^the contract of deal 42' tour.out
grep -q '"status":"ready"' tour.out
grep -qi '^upload-offset: 5' tour.out
grep -qi '^trove-file-id: ' tour.out
grep -q '"protocol":"tus"' tour.out
grep -q '"data":{"file":{"id"' tour.out
grep -q '"deleted":\[' tour.out
grep -q '^trove_uploads_total{kind="multipart",stage="completed"} [1-9]' tour.out
grep -q '^trove_http_requests_total{route="/v1/files/{id}",method="GET",status="2xx"} [1-9]' tour.out
[ -n "${TOUR_OUT:-}" ] && cp tour.out "$TOUR_OUT"
echo "README tour: ok"
