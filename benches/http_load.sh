#!/usr/bin/env bash
# Load benchmark of `metamerge serve`: PATCH-metadata throughput and latency percentiles on
# loopback, 32 connections, one membership (the worst case: every write contends for it).
#
#   bash benches/http_load.sh            # 15 s, 32 connections, 2 wrk threads
#   DURATION=20s CONNECTIONS=32 bash benches/http_load.sh
#   DB=:memory: bash benches/http_load.sh   # same, without the disk (no fsync per commit)
#   DB=postgres://postgres@127.0.0.1:5432/test bash benches/http_load.sh   # PostgreSQL
#   bash benches/http_load.sh all   # SQLite file, SQLite :memory:, PostgreSQL, one after the other
#
# PostgreSQL: the binary is built with the `postgres` feature, the run works in a fresh schema
# `metamerge_bench_<pid>` of that database (created and dropped with psql) and the server uses
# `--db-pool-size ${POOL:-16}`. `all` takes the PostgreSQL URL from POSTGRES_URL, else
# METAMERGE_TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/test. Each run prints
# the load average before and after it (`uptime`): on a shared machine the figures depend on it.
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

if [ "${1:-}" = all ]; then
  PG="${POSTGRES_URL:-${METAMERGE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
  for db in "" ":memory:" "$PG"; do
    echo; echo "######## store: ${db:-SQLite file (fresh, in a temporary directory)}"
    DB="$db" bash "$0"
  done
  exit 0
fi

DB="${DB:-}"
case "$DB" in
  postgres://*|postgresql://*) FEATURES=cli,postgres; IS_PG=1 ;;
  *) FEATURES=cli,http; IS_PG= ;;
esac
cargo build --release --features "$FEATURES" --bin metamerge
WORKDIR="$(mktemp -d)"
SCHEMA=""
cleanup() {
  if [ -n "${SERVER_PID:-}" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$SCHEMA" ]; then psql -q "$DB" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || true; fi
  rm -rf "$WORKDIR"
}
trap cleanup EXIT

SERVE_DB="${DB:-$WORKDIR/bench.db}"
if [ -n "$IS_PG" ]; then
  command -v psql >/dev/null || { echo "psql not found" >&2; exit 1; }
  SCHEMA="metamerge_bench_$$"
  psql -q "$DB" -c "CREATE SCHEMA $SCHEMA"
  case "$DB" in *\?*) SEP='&' ;; *) SEP='?' ;; esac
  SERVE_DB="${DB}${SEP}options=-csearch_path%3D${SCHEMA}"
fi

echo "load before: $(uptime)"
RUST_LOG="${RUST_LOG:-warn}" "${CARGO_TARGET_DIR:-./target}/release/metamerge" serve \
  --addr "127.0.0.1:${PORT}" --db "$SERVE_DB" --db-pool-size "${POOL:-16}" \
  2>"$WORKDIR/server.log" &
SERVER_PID=$!

curl -sf --retry 50 --retry-connrefused --retry-delay 0 "$BASE/healthz" >/dev/null
AUTH=(-H "Authorization: Bearer $METAMERGE_SECRET_KEY" -H "Content-Type: application/json")
ORG=$(curl -sf "${AUTH[@]}" -X POST "$BASE/v1/organizations" -d '{"name":"Bench"}' \
  | grep -o '"id":"org_[A-Za-z0-9]*"' | head -1 | cut -d'"' -f4)
curl -sf "${AUTH[@]}" -X POST "$BASE/v1/organizations/$ORG/memberships" \
  -d '{"user_id":"user_bench","role":"org:member"}' >/dev/null

echo "== PATCH /v1/organizations/$ORG/memberships/user_bench/metadata, $CONNECTIONS connections, $DURATION =="
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/http_load.lua \
  "$BASE/v1/organizations/$ORG/memberships/user_bench/metadata"

echo "load after: $(uptime)"
FINAL=$(curl -sf "${AUTH[@]}" "$BASE/v1/organizations/$ORG/memberships?user_id=user_bench")
echo "final membership response: ${#FINAL} bytes"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
SERVER_PID=
echo "server stopped cleanly"
