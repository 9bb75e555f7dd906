#!/usr/bin/env bash
# Runs schemathesis (pinned, from PyPI, in a venv under target/) against a `metamerge serve`
# built with all features (the build `cargo test --all-features` already made), using the
# server's own /v1/openapi.json: every check, the bearer key, a bounded number of examples per
# operation. Fails on any failure, on a server that died, or on an ERROR line in the server
# log. Settings and their reasons: .ci/schemathesis.toml.
# Usage: .ci/schemathesis.sh [MAX_EXAMPLES]   (default 50; SCHEMATHESIS_SEED to fix the seed)
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
examples="${1:-50}"
target="${CARGO_TARGET_DIR:-target}"
venv=$target/schemathesis-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$version"
fi
cargo build --quiet --all-features --bin metamerge
key=sk_test_schemathesis_0123456789abcdef
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$target/schemathesis-server.log
METAMERGE_SECRET_KEY="$key" RUST_LOG=warn "$target/debug/metamerge" serve \
    --addr "127.0.0.1:$port" --db :memory: >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    python3 -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { echo "the server exited:"; cat "$log"; exit 1; }
    sleep 0.1
done
# `ensure_resource_availability` is left out: a user ID created with a `%` in it (`%C3%8E`) is
# put into the next request's path by schemathesis's link as it is, not percent-encoded, so the
# server decodes it to another ID and answers 404, although the membership is there under its
# real ID (reachable as `%25C3%258E`). A setting in schemathesis.toml cannot turn it off, as
# `--checks all` overrides it.
seed_args=()
[ -n "${SCHEMATHESIS_SEED:-}" ] && seed_args=(--seed "$SCHEMATHESIS_SEED")
run_schemathesis() {
    "$venv/bin/schemathesis" --config-file .ci/schemathesis.toml run "http://127.0.0.1:$port/v1/openapi.json" \
        --url "http://127.0.0.1:$port" \
        --header "Authorization: Bearer $key" \
        --checks all --exclude-checks ensure_resource_availability --max-examples "$examples" --workers 2 --max-time 120 \
        --request-timeout 10 --no-color "${seed_args[@]}" 2>&1 | tee "$target/schemathesis-run.log"
}
# One known crash of the tool itself gets one more run: hypothesis, describing a filter's
# lambda, parses schemathesis's own source with Python's `ast`, and CPython 3.11's AST
# construction can fail with "AST constructor recursion depth mismatch" (its recursion counter
# goes out of step; compare python/cpython#106905). Seen once in the coverage phase, with the
# server untouched; the rerun passed. Any other failure, including a failed check against the
# server, fails at once.
if ! run_schemathesis; then
    grep -q 'AST constructor recursion depth mismatch' "$target/schemathesis-run.log" || exit 1
    echo "schemathesis crashed in Python's ast module (a CPython 3.11 threading bug), not on the server; running it once more"
    run_schemathesis
fi
kill -0 "$server" 2>/dev/null || { echo "the server died during the run:"; cat "$log"; exit 1; }
if grep -q ' ERROR ' "$log"; then echo "the server logged errors:"; grep ' ERROR ' "$log"; exit 1; fi
echo "schemathesis: no failure; server log: $log"
