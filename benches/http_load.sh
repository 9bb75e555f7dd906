#!/usr/bin/env bash
# Load benchmark of `metamerge serve`: PATCH-metadata throughput and latency percentiles on
# loopback, 32 connections, one membership (the worst case: every write contends for it).
#
#   bash benches/http_load.sh            # 15 s, 32 connections, 2 wrk threads
#   DURATION=20s CONNECTIONS=32 bash benches/http_load.sh
#   DB=:memory: bash benches/http_load.sh   # same, without the disk (no fsync per commit)
#
# Needs `wrk` (Debian: apt-get install -y wrk) and curl. Builds the release binary with the
# `cli` and `http` features, starts it on 127.0.0.1 with a fresh SQLite file in a temporary
# directory, creates an organization and a membership, runs wrk with benches/http_load.lua,
# then stops the server with SIGTERM (graceful shutdown) and prints the final metadata size.
# Request logging is at `warn` (RUST_LOG) so that the figures measure the service, not stderr.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PORT="${PORT:-38417}"
BASE="http://127.0.0.1:${PORT}"
export METAMERGE_SECRET_KEY="${METAMERGE_SECRET_KEY:-sk_test_benchmark_key_0123456789}"

command -v wrk >/dev/null || { echo "wrk not found (apt-get install -y wrk)" >&2; exit 1; }
cargo build --release --features cli,http --bin metamerge
WORKDIR="$(mktemp -d)"
trap 'rm -rf "$WORKDIR"' EXIT

RUST_LOG="${RUST_LOG:-warn}" ./target/release/metamerge serve \
  --addr "127.0.0.1:${PORT}" --db "${DB:-$WORKDIR/bench.db}" 2>"$WORKDIR/server.log" &
SERVER_PID=$!
trap 'kill -TERM "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORKDIR"' EXIT

curl -sf --retry 50 --retry-connrefused --retry-delay 0 "$BASE/healthz" >/dev/null
AUTH=(-H "Authorization: Bearer $METAMERGE_SECRET_KEY" -H "Content-Type: application/json")
ORG=$(curl -sf "${AUTH[@]}" -X POST "$BASE/v1/organizations" -d '{"name":"Bench"}' \
  | grep -o '"id":"org_[A-Za-z0-9]*"' | head -1 | cut -d'"' -f4)
curl -sf "${AUTH[@]}" -X POST "$BASE/v1/organizations/$ORG/memberships" \
  -d '{"user_id":"user_bench","role":"org:member"}' >/dev/null

echo "== PATCH /v1/organizations/$ORG/memberships/user_bench/metadata, $CONNECTIONS connections, $DURATION =="
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/http_load.lua \
  "$BASE/v1/organizations/$ORG/memberships/user_bench/metadata"

FINAL=$(curl -sf "${AUTH[@]}" "$BASE/v1/organizations/$ORG/memberships?user_id=user_bench")
echo "final membership response: ${#FINAL} bytes"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
echo "server stopped cleanly"
