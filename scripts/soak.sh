#!/usr/bin/env bash
# A soak run (issue 14): patgate (release, SQLite, a fresh data directory) under a steady load of
# 80 % of its measured maximum for 10 minutes, with a mix of tokens used round-robin (so the
# caches fill, expire and refill all along), sampling the process's resident memory every
# 10 seconds. Fails when a request errs or answers other than 200, or when memory grows after
# the first minute by more than SOAK_GROWTH_PCT (default 10) percent.
#
#   ./scripts/soak.sh                          # 10 minutes at 80 %, 2 000 tokens
#   SOAK_SECONDS=120 ./scripts/soak.sh         # shorter
#   SOAK_RATE=3000 ./scripts/soak.sh           # a fixed rate instead of 80 % of the maximum
#   NO_BUILD=1 ./scripts/soak.sh
#   SERVER_CPUS=0 CLIENT_CPUS=1 ./scripts/soak.sh   # server and load generator each on its own cores
#
# The load generator (examples/load.rs, open loop) runs on the same machine: on two cores the
# maximum is the share of them patgate gets beside it, unless SERVER_CPUS and CLIENT_CPUS
# (taskset lists) give each its own. The samples are printed and kept in
# $SOAK_OUT (default target/soak.tsv). Not part of .ci/run: it takes ten minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_TOKENS=${SOAK_TOKENS:-2000}
SOAK_GROWTH_PCT=${SOAK_GROWTH_PCT:-10}
CONNECTIONS=${CONNECTIONS:-32}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}/release
SOAK_OUT=${SOAK_OUT:-${CARGO_TARGET_DIR:-$PWD/target}/soak.tsv}

if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release --bin patgate --example load -q
fi
PATGATE=$TARGET/patgate
LOAD=$TARGET/examples/load

. "$(dirname "$0")/bench-lib.sh"
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# The tokens: half fine-grained for an organization's repository, half classic, 50 per user.
./scripts/mix-seed.py soak "$SOAK_TOKENS" >"$WORK/soak.toml"
mkdir -p "$WORK/data"
"$PATGATE" seed "$WORK/soak.toml" --json --data-dir "$WORK/data" \
  | python3 -c 'import json,sys; [print(t["secret"]) for t in json.load(sys.stdin)["new_tokens"]]' >"$WORK/tokens.txt"

PORT=$(free_port)
# --deliver false: the seed queued a "token created" email per token; their delivery is not
# what the soak measures.
PATGATE_RATE_LIMIT_PER_USER=4000000000 PATGATE_LOG=warn \
  "${SERVER_PIN[@]}" "$PATGATE" serve --deliver false --bind "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/serve.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
URL="http://127.0.0.1:$PORT/repos/soakorg/app"
for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; sleep 0.05; done

echo "== machine: $(nproc) cores, $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(pin_note)"
if [ -n "${SOAK_RATE:-}" ]; then
  RATE=$SOAK_RATE
else
  max=$("${CLIENT_PIN[@]}" "$LOAD" --url "$URL" --seconds 10 --connections "$CONNECTIONS" --tokens "$WORK/tokens.txt" | grep RESULT)
  echo "maximum (closed loop, 10 s): ${max#RESULT }"
  rps=$(sed -E 's/.* rps=([0-9]+).*/\1/' <<<"$max")
  RATE=$(( rps * 8 / 10 ))
fi
echo "== soak: $SOAK_SECONDS s at $RATE requests/s, $SOAK_TOKENS tokens round-robin, $CONNECTIONS connections"

"${CLIENT_PIN[@]}" "$LOAD" --url "$URL" --rate "$RATE" --seconds "$SOAK_SECONDS" --connections "$CONNECTIONS" \
  --tokens "$WORK/tokens.txt" >"$WORK/load.out" 2>&1 &
LOADER=$!
PIDS+=("$LOADER")
printf 'seconds\trss_kb\n' >"$SOAK_OUT"
start=$(date +%s)
while kill -0 "$LOADER" 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  rss=$(rss_kb "$SERVER")
  printf '%s\t%s\n' "$now" "$rss" >>"$SOAK_OUT"
  printf 't=%4ss rss=%s kB\n' "$now" "$rss"
  sleep 10
done
wait "$LOADER" || true
result=$(grep RESULT "$WORK/load.out" || true)
echo "load: ${result#RESULT }"
grep -v RESULT "$WORK/load.out" | head -n 20 || true

status=0
non_2xx=$(sed -nE 's/.*non_2xx=([0-9]+).*/\1/p' <<<"$result")
errors=$(sed -nE 's/.*errors=([0-9]+).*/\1/p' <<<"$result")
if [ -z "$result" ] || [ "${non_2xx:-1}" != 0 ] || [ "${errors:-1}" != 0 ]; then
  echo "FAIL: requests failed (non_2xx=${non_2xx:-?}, errors=${errors:-?})" >&2
  status=1
fi
# Memory: the first sample after a minute against the highest after it.
read -r base peak < <(awk -F'\t' 'NR > 1 && $1 >= 60 { if (!b) b = $2; if ($2 > p) p = $2 } END { print b + 0, p + 0 }' "$SOAK_OUT")
if [ "$base" -gt 0 ]; then
  growth=$(( (peak - base) * 100 / base ))
  echo "memory after the first minute: $base kB, highest $peak kB (+$growth %)"
  if [ "$growth" -gt "$SOAK_GROWTH_PCT" ]; then
    echo "FAIL: memory grew by more than $SOAK_GROWTH_PCT %" >&2
    status=1
  fi
fi
if grep -q 'ERROR\|panicked' "$WORK/serve.log"; then
  echo "FAIL: the server logged errors:" >&2
  grep 'ERROR\|panicked' "$WORK/serve.log" | head -n 20 >&2
  status=1
fi
exit $status
