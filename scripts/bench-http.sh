#!/usr/bin/env bash
# What a whole request costs, beside a bare hyper server in the same run (issue 14), on loopback:
#
#   1. the floor: examples/hyper_baseline.rs, a fixed JSON body of GET /user's size, and a second
#      one with a body of GET /repos/acme/api's size (the floor for that route);
#   2. patgate (release) on SQLite with demo/seed.toml: /healthz, GET /user and
#      GET /repos/acme/api with alice's classic demo token, GET /user with her fine-grained one;
#      each with wrk -t1 -c32 (the maximum), then with examples/load.rs at half of that maximum
#      (open loop: p99 at a fixed rate);
#   3. a realistic mix: 10 000 distinct tokens (half fine-grained, half classic) used round-robin,
#      so that most requests miss the cache, on SQLite and on PostgreSQL; and the process's
#      resident memory before and after, per cached token.
#
#   ./scripts/bench-http.sh                    # everything, 10 s per run
#   SECONDS_PER_RUN=20 ./scripts/bench-http.sh
#   MIX=0 ./scripts/bench-http.sh              # skip the 10 000-token mix
#   TOKENS=100000 ./scripts/bench-http.sh      # a bigger mix (seeding takes a while)
#   SERVER_CPUS=0 CLIENT_CPUS=1 ./scripts/bench-http.sh   # servers and load generators on cores of their own
#
# Figures, with the machine and commit, go to docs/benchmarks.md ("HTTP path").
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${SECONDS_PER_RUN:-10}
CONNECTIONS=${CONNECTIONS:-32}
MIX=${MIX:-1}
TOKENS=${TOKENS:-10000}
PGHOST=${PGHOST:-127.0.0.1}
PGUSER=${PGUSER:-postgres}
export PGHOST PGUSER

command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

echo "== cargo build --release (patgate, the hyper baseline, the load generator)"
cargo build --release --bin patgate --example hyper_baseline --example load -q
TARGET=${CARGO_TARGET_DIR:-$PWD/target}/release
PATGATE=$TARGET/patgate
LOAD=$TARGET/examples/load

. "$(dirname "$0")/bench-lib.sh"
PG_DB=
bench_cleanup_extra() {
  if [ -n "$PG_DB" ]; then psql -q -d postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true; fi
}

cat >"$WORK/result.lua" <<'EOF'
local token = os.getenv("TOKEN")
wrk.method = "GET"
wrk.headers["Accept"] = "application/vnd.github+json"
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d rps=%.0f p50_us=%d p99_us=%d max_us=%d non_2xx=%d errors=%d\n",
    summary.requests, summary.requests / secs, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.status, errors))
end
EOF

# wrk at the maximum: prints the RESULT line, remembers rps in MAX.
maximum() { # name url [token]
  local out
  out=$(TOKEN="${3:-}" "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"${RUN}s" -s "$WORK/result.lua" "$2" | grep RESULT)
  MAX=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$out")
  printf '%-34s max     %s\n' "$1" "${out#RESULT }"
}

# The load generator at half of MAX.
half() { # name url [token]
  local rate=$((MAX / 2)) args=()
  [ -n "${3:-}" ] && args=(--token "$3")
  local out
  out=$("${CLIENT_PIN[@]}" "$LOAD" --url "$2" --rate "$rate" --seconds "$RUN" --connections "$CONNECTIONS" "${args[@]}" | grep RESULT) || true
  printf '%-34s @%-6s %s\n' "$1" "$rate" "${out#RESULT }"
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

echo "== machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD); $(pin_note)"

BASE_PORT=$(free_port)
"${SERVER_PIN[@]}" "$TARGET/examples/hyper_baseline" "127.0.0.1:$BASE_PORT" >/dev/null &
PIDS+=($!)
wait_for "http://127.0.0.1:$BASE_PORT/"
maximum "bare hyper (the floor)" "http://127.0.0.1:$BASE_PORT/user"
half "bare hyper (the floor)" "http://127.0.0.1:$BASE_PORT/user"

CLASSIC=pgp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL
FINE=pgf_Eeeby3abP3E2Zs8IQ9Y7aJZqhB6bae2dTjzx
PORT=$(free_port)
mkdir -p "$WORK/sqlite"
PATGATE_RATE_LIMIT_PER_USER=4000000000 PATGATE_LOG=warn "${SERVER_PIN[@]}" "$PATGATE" serve --demo --bind "127.0.0.1:$PORT" --data-dir "$WORK/sqlite" >/dev/null &
SERVER=$!
PIDS+=($SERVER)
B=http://127.0.0.1:$PORT
wait_for "$B/healthz"
for run in "healthz||/healthz" "GET /user classic|$CLASSIC|/user" "GET /user fine-grained|$FINE|/user" "GET /repos/acme/api classic|$CLASSIC|/repos/acme/api"; do
  IFS='|' read -r name token path <<<"$run"
  maximum "patgate $name" "$B$path" "$token"
  half "patgate $name" "$B$path" "$token"
done
echo "patgate resident memory after the runs: $(rss_kb "$SERVER") kB"
REPO_BYTES=$(curl -fsS -H "Authorization: Bearer $CLASSIC" "$B/repos/acme/api" | wc -c)
REPO_BASE_PORT=$(free_port)
"${SERVER_PIN[@]}" "$TARGET/examples/hyper_baseline" "127.0.0.1:$REPO_BASE_PORT" "$REPO_BYTES" >/dev/null &
PIDS+=($!)
wait_for "http://127.0.0.1:$REPO_BASE_PORT/"
maximum "bare hyper, $REPO_BYTES-byte body" "http://127.0.0.1:$REPO_BASE_PORT/repos/acme/api"
half "bare hyper, $REPO_BYTES-byte body" "http://127.0.0.1:$REPO_BASE_PORT/repos/acme/api"

if [ "$MIX" = 1 ]; then
  echo "== the mix: $TOKENS tokens, round-robin"
  ./scripts/mix-seed.py mix "$TOKENS" >"$WORK/mix.toml"
  mix_on() { # backend database-url
    local dir=$WORK/mix-$1 port
    mkdir -p "$dir"
    local db=()
    [ -n "$2" ] && db=(--database-url "$2")
    echo "-- seeding $TOKENS tokens on $1"
    "$PATGATE" seed "$WORK/mix.toml" --json --data-dir "$dir" "${db[@]}" \
      | python3 -c 'import json,sys; [print(t["secret"]) for t in json.load(sys.stdin)["new_tokens"]]' >"$dir/tokens.txt"
    port=$(free_port)
    # --deliver false: the seed queued a "token created" email per token, and delivering them
    # (an fsynced file each) during the runs would be measured with them.
    PATGATE_RATE_LIMIT_PER_USER=4000000000 PATGATE_LOG=warn "${SERVER_PIN[@]}" "$PATGATE" serve --deliver false --bind "127.0.0.1:$port" --data-dir "$dir" "${db[@]}" >/dev/null &
    local pid=$!
    PIDS+=($pid)
    wait_for "http://127.0.0.1:$port/healthz"
    local before
    before=$(rss_kb "$pid")
    local out
    out=$("${CLIENT_PIN[@]}" "$LOAD" --url "http://127.0.0.1:$port/repos/mixorg/app" --seconds "$RUN" --connections "$CONNECTIONS" --tokens "$dir/tokens.txt" | grep RESULT) || true
    printf '%-34s max     %s\n' "mix $1 (cold, round-robin)" "${out#RESULT }"
    out=$("${CLIENT_PIN[@]}" "$LOAD" --url "http://127.0.0.1:$port/repos/mixorg/app" --seconds "$RUN" --connections "$CONNECTIONS" --tokens "$dir/tokens.txt" | grep RESULT) || true
    printf '%-34s max     %s\n' "mix $1 (warm, round-robin)" "${out#RESULT }"
    local after
    after=$(rss_kb "$pid")
    echo "$1: resident memory $before kB before, $after kB after $(wc -l <"$dir/tokens.txt") tokens cached: $(( (after - before) * 1024 / $(wc -l <"$dir/tokens.txt") )) bytes per token"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  }
  mix_on sqlite ""
  if psql -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
    PG_DB=patgate_bench_$$
    psql -q -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null
    mix_on postgres "postgres://$PGUSER@$PGHOST/$PG_DB"
  else
    echo "-- PostgreSQL does not answer on $PGHOST: the PostgreSQL mix is skipped"
  fi
fi
