#!/usr/bin/env bash
# Times one authorization update (POST /api/client/authorization/update/{clientId}) of a client +
# subject pair holding 10,000 tokens, audit row included, end to end over HTTP.
#
# It seeds a private embedded cluster with one user holding 10,000 tokens of one client
# (`tokendesk seed --users 1 --clients 1 --apps-per-user 1 --tokens-per-app 10000`), starts the
# server, and sends RUNS updates that alternate between ["read", "write"] and ["read"], so that
# every call rewrites all 10,000 rows (and their refresh token scopes). It prints each time and
# the median, and checks every answer says "Updated 10000 access token(s)".
#
# Usage: scripts/bench_pair_update.sh [RUNS]         (default 21)
# Environment: TOKENDESK  the binary (default: $CARGO_TARGET_DIR/release/tokendesk or target/release/tokendesk; build it with
#                         `cargo build --release`)
#              PORT       where the server listens (default 18090)
#              TOKENS     tokens in the pair (default 10000)
set -euo pipefail

BIN=${TOKENDESK:-${CARGO_TARGET_DIR:-target}/release/tokendesk}
RUNS=${1:-21}
PORT=${PORT:-18090}
TOKENS=${TOKENS:-10000}
WORK=$(mktemp -d)
# The embedded cluster may run as another user (postgres, when started by root).
chmod 755 "$WORK"
export TOKENDESK_DATA_DIR="$WORK/data"
SERVER_PID=

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" seed --users 1 --clients 1 --apps-per-user 1 --tokens-per-app "$TOKENS" --expired-ratio 0.1
CREDS=$("$BIN" api-key create --name bench --json)
KEY=$(printf '%s' "$CREDS" | sed 's/.*"apiKey":"\([^"]*\)".*/\1/')
SECRET=$(printf '%s' "$CREDS" | sed 's/.*"apiSecret":"\([^"]*\)".*/\1/')

"$BIN" serve --bind "127.0.0.1:$PORT" --no-demo >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done

# The seeded user and its one client (see src/seed.rs).
URL="http://127.0.0.1:$PORT/api/client/authorization/update/100001"
times=()
for i in $(seq 1 "$RUNS"); do
    if [ $((i % 2)) -eq 1 ]; then scopes='["read", "write"]'; else scopes='["read"]'; fi
    out=$(curl -s -u "$KEY:$SECRET" -H 'Content-Type: application/json' \
        -d "{\"subject\": \"bench-user-0000001\", \"scopes\": $scopes}" \
        -w '\n%{time_total}' "$URL")
    body=$(printf '%s' "$out" | head -n 1)
    t=$(printf '%s' "$out" | tail -n 1)
    case "$body" in
        *"Updated $TOKENS access token(s)"*) ;;
        *) echo "unexpected answer: $body" >&2; exit 1 ;;
    esac
    ms=$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')
    times+=("$ms")
    echo "run $i ($scopes): $ms ms"
done

printf '%s\n' "${times[@]}" | sort -n | awk -v n="$RUNS" -v tokens="$TOKENS" '
    { v[NR] = $1 }
    END {
        printf "pair of %d tokens, %d runs: median %.1f ms, min %.1f ms, max %.1f ms\n",
            tokens, n, v[int((n + 1) / 2)], v[1], v[n]
    }'
