#!/usr/bin/env bash
# Load run against `patgate serve` (release build) on loopback, once on SQLite and once on
# PostgreSQL, with `wrk`: alice's demo classic token on `GET /repos/acme/api`, bounded in time.
# Prints requests/s and latency percentiles for each backend (figures in docs/benchmarks.md).
#
#   ./scripts/bench-load.sh                 # both backends, caches on (the default TTL) and off
#   DURATION=30s CONNECTIONS=64 ./scripts/bench-load.sh
#   BACKENDS=sqlite ./scripts/bench-load.sh # only SQLite (or BACKENDS=postgres)
#   COLD=0 ./scripts/bench-load.sh          # skip the runs with caches off
#
# PostgreSQL: a throwaway database is created on the server `psql -h $PGHOST -U $PGUSER` reaches
# (default 127.0.0.1 and postgres, no password: set PGPASSWORD otherwise) and dropped at the end.
# When that server does not answer, the PostgreSQL runs are skipped with a notice.
# wrk is installed with apt-get when missing (needs root); everything listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
BACKENDS=${BACKENDS:-"sqlite postgres"}
COLD=${COLD:-1}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER

# alice's classic token from demo/seed.toml (scopes repo, workflow, write:public_key); alice owns
# acme, so the request is allowed: 200.
TOKEN=pgp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL
REQUEST_PATH=/repos/acme/api

if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else
    sudo apt-get install -y wrk >/dev/null
  fi
fi

echo "== cargo build --release --bin patgate"
cargo build --release --bin patgate
PATGATE=${CARGO_TARGET_DIR:-$PWD/target}/release/patgate

WORK=$(mktemp -d)
SERVER_PID=
PG_DB=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$PG_DB" ]; then
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/auth.lua" <<EOF
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Accept"] = "application/vnd.github+json"

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  -- errors.status counts answers with a status of 400 or more.
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.0f http_errors=%d socket_errors=%d\n",
    summary.requests, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, summary.errors.status, errors))
end
EOF

# Starts `patgate serve` with the given settings; sets SERVER_PID and BASE.
start_server() {
  local log=$WORK/serve.log
  : >"$log"
  PATGATE_RATE_LIMIT_PER_USER=4000000000 "$PATGATE" serve --bind 127.0.0.1:0 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    BASE=$(sed -n 's/^patgate listening on \(http:[^ ]*\).*/\1/p' "$log" | head -n1)
    [ -n "$BASE" ] && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$log" >&2
      echo "patgate serve exited" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "patgate serve did not listen within 30 s" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

SUMMARY=()

# load LABEL: checks the request answers 200, warms up, then runs wrk.
load() {
  local label=$1 status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$REQUEST_PATH")
  if [ "$status" != 200 ]; then
    echo "$label: GET $REQUEST_PATH answered $status, not 200" >&2
    exit 1
  fi
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$WORK/auth.lua" "$BASE$REQUEST_PATH" >/dev/null
  echo "== $label: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency GET $REQUEST_PATH"
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/auth.lua" "$BASE$REQUEST_PATH")
  echo "$out" | grep -v '^RESULT'
  SUMMARY+=("$label $(echo "$out" | sed -n 's/^RESULT //p')")
}

# run_backend LABEL SETTINGS...: caches on (default TTL), then off (--cache-ttl-secs 0).
run_backend() {
  local label=$1
  shift
  start_server "$@"
  load "$label, caches on"
  stop_server
  if [ "$COLD" = 1 ]; then
    start_server "$@" --cache-ttl-secs 0
    load "$label, caches off"
    stop_server
  fi
}

for backend in $BACKENDS; do
  case $backend in
    sqlite)
      data=$WORK/sqlite
      "$PATGATE" --data-dir "$data" seed demo/seed.toml >/dev/null
      run_backend sqlite --data-dir "$data"
      ;;
    postgres)
      if ! psql -q -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; then
        echo "SKIPPED: PostgreSQL not reachable as $PGUSER@$PGHOST:$PGPORT" >&2
        continue
      fi
      PG_DB=patgate_bench_$$
      psql -q -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null
      url="postgres://$PGUSER@$PGHOST:$PGPORT/$PG_DB"
      "$PATGATE" migrate --database-url "$url" >/dev/null
      "$PATGATE" --data-dir "$WORK/pg" --database-url "$url" seed demo/seed.toml >/dev/null
      run_backend postgres --data-dir "$WORK/pg" --database-url "$url"
      psql -q -d postgres -c "DROP DATABASE $PG_DB WITH (FORCE)" >/dev/null
      PG_DB=
      ;;
    *)
      echo "unknown backend $backend (sqlite, postgres)" >&2
      exit 2
      ;;
  esac
done

echo
echo "== summary (latencies in µs; $(nproc) cores, wrk and patgate on the same machine)"
printf '%-28s %10s %8s %8s %8s %8s %8s %8s\n' backend requests/s p50 p90 p99 p99.9 max errors
for line in "${SUMMARY[@]}"; do
  label=${line%% requests=*}
  get() { echo "$line" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
  printf '%-28s %10s %8s %8s %8s %8s %8s %8s\n' "$label" "$(get rps)" "$(get p50_us)" \
    "$(get p90_us)" "$(get p99_us)" "$(get p999_us)" "$(get max_us)" \
    "$(( $(get http_errors) + $(get socket_errors) ))"
done
