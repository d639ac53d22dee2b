#!/usr/bin/env bash
# The governance lists of a large organization through the HTTP API (issue 9), on SQLite and on
# PostgreSQL: `patgate serve` (release build) over the data of
# `crates/patgate-server/examples/gen_large_org.rs` (bigorg: 100 000 fine-grained tokens of 5 000
# members, 10 000 of them pending review, 1 000 repositories).
#
# For each backend: one page (per_page=100) of pending requests and of grants, each unfiltered
# and filtered by owner (owner[]=), by repository (repository=) and by permission
# (permission=), N requests each, one after the other on one keep-alive connection (curl's
# time_total per request: p50, p99, mean); then REVIEWS bulk reviews of 100 requests each
# (POST .../personal-access-token-requests, approve), one request each.
#
#   ./scripts/bench-lists.sh                    # both backends, N=200, REVIEWS=10
#   RUNS=3 ./scripts/bench-lists.sh             # three runs, each on a fresh copy of the data
#   BACKENDS=sqlite ./scripts/bench-lists.sh    # only SQLite (or BACKENDS=postgres)
#   NO_BUILD=1 PATGATE_BIN=... GEN_BIN=... ./scripts/bench-lists.sh
#
# The generated data is kept between invocations (GEN_DIR, default target/bench-lists, and the
# PostgreSQL database $PG_GEN_DB, default patgate_bench_gen); REGEN=1 builds them again. Each run
# serves a fresh copy (a file copy; CREATE DATABASE ... TEMPLATE), since the reviews change it.
# The authentication is an installation token of an app of bigorg registered by its owner
# (docs/governance.md), minted with the CLI; it stays in a shell variable and reaches curl on
# its standard input, never on a command line or in a file.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200}
WARMUP=${WARMUP:-20}
REVIEWS=${REVIEWS:-10}
RUNS=${RUNS:-1}
BACKENDS=${BACKENDS:-"sqlite postgres"}
GEN_DIR=${GEN_DIR:-$PWD/target/bench-lists}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
PG_GEN_DB=${PG_GEN_DB:-patgate_bench_gen}
PG_RUN_DB=${PG_RUN_DB:-patgate_bench}
export PGHOST PGPORT PGUSER
ORG=bigorg

if [ -z "${NO_BUILD:-}" ]; then
  echo "== cargo build --release --bin patgate --example gen_large_org"
  cargo build --release -p patgate-server --bin patgate --example gen_large_org
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
PATGATE=${PATGATE_BIN:-$TARGET/release/patgate}
GEN=${GEN_BIN:-$TARGET/release/examples/gen_large_org}

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  psql -q -d postgres -c "DROP DATABASE IF EXISTS $PG_RUN_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

pg_up() { psql -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; }

# ---- the data, generated once --------------------------------------------------------------
mkdir -p "$GEN_DIR/git"
if [[ " $BACKENDS " == *" sqlite "* ]]; then
  if [ -n "${REGEN:-}" ] || [ ! -f "$GEN_DIR/sqlite/patgate.db" ]; then
    rm -rf "$GEN_DIR/sqlite" && mkdir -p "$GEN_DIR/sqlite"
    echo "== generating bigorg on SQLite"
    "$GEN" "sqlite://$GEN_DIR/sqlite/patgate.db"
    sqlite3 "$GEN_DIR/sqlite/patgate.db" 'ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  fi
fi
if [[ " $BACKENDS " == *" postgres "* ]]; then
  if ! pg_up; then
    echo "SKIPPED: PostgreSQL does not answer at $PGHOST:$PGPORT" >&2
    BACKENDS=${BACKENDS//postgres/}
  elif [ -n "${REGEN:-}" ] || [ -z "$(psql -qtA -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$PG_GEN_DB'")" ]; then
    psql -q -d postgres -c "DROP DATABASE IF EXISTS $PG_GEN_DB WITH (FORCE)" >/dev/null
    psql -q -d postgres -c "CREATE DATABASE $PG_GEN_DB" >/dev/null
    echo "== generating bigorg on PostgreSQL"
    "$GEN" "postgres://$PGUSER@$PGHOST:$PGPORT/$PG_GEN_DB"
    psql -q -d "$PG_GEN_DB" -c 'VACUUM ANALYZE' >/dev/null
  fi
fi

# ---- one run -----------------------------------------------------------------------------
start_server() {
  local log=$WORK/serve.log
  : >"$log"
  "$PATGATE" serve --bind 127.0.0.1:0 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 1200); do
    BASE=$(sed -n 's/^patgate listening on \(http:[^ ]*\).*/\1/p' "$log" | head -n1)
    [ -n "$BASE" ] && return 0
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$log" >&2
      echo "patgate serve exited" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "patgate serve did not listen within 120 s" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# curl's configuration on its standard input: the token, then the given lines.
curl_config() {
  printf 'header = "Authorization: Bearer %s"\n' "$TOKEN"
  printf 'header = "Accept: application/vnd.github+json"\n'
  printf 'globoff\nsilent\n'
  cat
}

# p50, p99 and mean (ms) of the seconds on standard input, one a line.
stats() {
  sort -n | awk '{ v[NR] = $1; s += $1 }
    END { p50 = v[int((NR + 1) * 0.50)]; i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR;
          printf "n=%d p50_ms=%.2f p99_ms=%.2f mean_ms=%.2f", NR, p50 * 1000, v[i99] * 1000, s / NR * 1000 }'
}

SUMMARY=()

# list LABEL PATH: checks the answer (200, its length), warms up, then times N requests.
list() {
  local label=$1 path=$2 first count
  first=$(curl_config <<<"url = \"$BASE$path\"" | curl -K - -w '\n%{http_code}')
  if [ "$(tail -n1 <<<"$first")" != 200 ]; then
    echo "$label: GET $path answered $(tail -n1 <<<"$first")" >&2
    head -c 500 <<<"$first" >&2
    exit 1
  fi
  count=$(sed '$d' <<<"$first" | jq length)
  for _ in $(seq 1 "$WARMUP"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$BASE$path"; done \
    | curl_config | curl -K - -w '' >/dev/null
  local times
  times=$(for _ in $(seq 1 "$N"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$BASE$path"; done \
    | curl_config | curl -K - -w '%{http_code} %{time_total}\n')
  if grep -qv '^200 ' <<<"$times"; then
    echo "$label: some answers were not 200" >&2
    exit 1
  fi
  local line
  line="$label items=$count $(awk '{print $2}' <<<"$times" | stats)"
  echo "$line"
  SUMMARY+=("$line")
}

# reviews LABEL: REVIEWS bulk approvals of 100 pending requests each (ids 1-100, 101-200, ...).
reviews() {
  local label=$1 times="" r ids out
  for r in $(seq 0 $((REVIEWS - 1))); do
    ids=$(seq -s, $((r * 100 + 1)) $((r * 100 + 100)))
    out=$(curl_config <<<"url = \"$BASE/orgs/$ORG/personal-access-token-requests\"
request = \"POST\"
header = \"Content-Type: application/json\"
data = \"{\\\"pat_request_ids\\\":[$ids],\\\"action\\\":\\\"approve\\\"}\"
output = \"/dev/null\"" | curl -K - -w '%{http_code} %{time_total}')
    if [ "${out%% *}" != 202 ]; then
      echo "$label: review answered ${out%% *}" >&2
      exit 1
    fi
    times+="${out#* }"$'\n'
  done
  local line
  line="$label $(sed '/^$/d' <<<"$times" | stats)"
  echo "$line"
  SUMMARY+=("$line")
}

measure() {
  local backend=$1
  local q="per_page=100"
  list "$backend requests" "/orgs/$ORG/personal-access-token-requests?$q"
  list "$backend requests owner" "/orgs/$ORG/personal-access-token-requests?$q&owner[]=u00042"
  list "$backend requests repository" "/orgs/$ORG/personal-access-token-requests?$q&repository=repo0042"
  list "$backend requests permission" "/orgs/$ORG/personal-access-token-requests?$q&permission=issues_write"
  list "$backend grants" "/orgs/$ORG/personal-access-tokens?$q"
  list "$backend grants owner" "/orgs/$ORG/personal-access-tokens?$q&owner[]=u00042"
  list "$backend grants repository" "/orgs/$ORG/personal-access-tokens?$q&repository=repo0042"
  list "$backend grants permission" "/orgs/$ORG/personal-access-tokens?$q&permission=issues_write"
  reviews "$backend review-100"
}

# mint: registers an app of bigorg as its owner and mints an installation token into TOKEN.
mint() {
  local app_id
  app_id=$("$PATGATE" "$@" app create "$ORG" --as owner --name "bench-$RANDOM" \
    --permission organization_personal_access_token_requests=write \
    --permission organization_personal_access_tokens=write --json | jq -r .id)
  TOKEN=$("$PATGATE" "$@" app token "$ORG" "$app_id" --as owner --json | jq -r .token)
}

for run in $(seq 1 "$RUNS"); do
  echo "== run $run of $RUNS ($(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg))"
  for backend in $BACKENDS; do
    data=$WORK/$backend
    rm -rf "$data" && mkdir -p "$data"
    case $backend in
      sqlite)
        cp "$GEN_DIR/sqlite/patgate.db" "$data/patgate.db"
        settings=(--data-dir "$data" --git-root "$GEN_DIR/git")
        ;;
      postgres)
        psql -q -d postgres -c "DROP DATABASE IF EXISTS $PG_RUN_DB WITH (FORCE)" >/dev/null
        psql -q -d postgres -c "CREATE DATABASE $PG_RUN_DB TEMPLATE $PG_GEN_DB" >/dev/null
        settings=(--data-dir "$data" --git-root "$GEN_DIR/git"
          --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$PG_RUN_DB")
        ;;
    esac
    mint "${settings[@]}"
    start_server "${settings[@]}" --deliver false
    echo "-- $backend: $BASE (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    measure "$backend"
    stop_server
    TOKEN=
  done
done

echo
echo "== summary (per request, ms)"
printf '%s\n' "${SUMMARY[@]}"
