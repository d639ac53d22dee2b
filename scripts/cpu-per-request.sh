#!/usr/bin/env bash
# Server CPU per request (issue 14): utime + stime of the server process, from /proc/<pid>/stat,
# across one `wrk -t1 -c32` run, divided by the requests it served. Scheduling noise from other
# tenants moves req/s a lot on a shared machine (docs/benchmarks.md) and CPU per request much
# less, so this is the figure to compare two builds by.
#
# Runs bare hyper (examples/hyper_baseline, once with GET /user's body size and once with
# GET /repos/acme/api's) and each patgate binary given (default: the release build) side by side on `serve --demo`, on GET /user and GET /repos/acme/api with
# alice's classic demo token, ROUNDS times (default 2), each run SECONDS_PER_RUN long (6).
#
#   ./scripts/cpu-per-request.sh                              # the release build
#   ./scripts/cpu-per-request.sh /tmp/patgate-old target/release/patgate   # before / after
#   NO_BUILD=1 ./scripts/cpu-per-request.sh
#   SERVER_CPUS=0 CLIENT_CPUS=1 ./scripts/cpu-per-request.sh   # servers and wrk on cores of their own
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${SECONDS_PER_RUN:-6}
ROUNDS=${ROUNDS:-2}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -q -p patgate-server --bin patgate --example hyper_baseline
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}/release
BINS=("$@")
[ "${#BINS[@]}" -gt 0 ] || BINS=("$TARGET/patgate")

. "$(dirname "$0")/bench-lib.sh"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # name pid url [token]
  local before after out requests rps
  local args=(-t1 -c32 "-d${RUN}s" -H "Accept: application/vnd.github+json")
  [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $4")
  before=$(cpu_ticks "$2")
  out=$("${CLIENT_PIN[@]}" wrk "${args[@]}" "$3")
  after=$(cpu_ticks "$2")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out"; then echo "$1: answers that are not 2xx" >&2; exit 1; fi
  python3 -c "import sys; n, b, a, t, r, q = sys.argv[1:]; print('%-46s %6.1f us/req %9.0f req/s' % (n, (float(a) - float(b)) / float(t) * 1e6 / int(q), float(r)))" \
    "$1" "$before" "$after" "$(getconf CLK_TCK)" "$rps" "$requests"
}

CLASSIC=pgp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL
echo "== machine: $(nproc) cores, $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg); $(pin_note)"
HYPER_PORT=$(free_port)
"${SERVER_PIN[@]}" "$TARGET/examples/hyper_baseline" "127.0.0.1:$HYPER_PORT" >/dev/null &
HYPER=$!
PIDS+=("$HYPER")
wait_for "http://127.0.0.1:$HYPER_PORT/"

SERVERS=()
PORTS=()
for i in "${!BINS[@]}"; do
  port=$(free_port)
  mkdir -p "$WORK/$i"
  PATGATE_RATE_LIMIT_PER_USER=4000000000 PATGATE_LOG=warn "${SERVER_PIN[@]}" "${BINS[$i]}" serve --demo \
    --bind "127.0.0.1:$port" --data-dir "$WORK/$i" >/dev/null 2>&1 &
  SERVERS+=($!)
  PIDS+=($!)
  PORTS+=("$port")
  wait_for "http://127.0.0.1:$port/healthz"
done

REPO_BYTES=$(curl -fsS -H "Authorization: Bearer $CLASSIC" "http://127.0.0.1:${PORTS[0]}/repos/acme/api" | wc -c)
REPO_HYPER_PORT=$(free_port)
"${SERVER_PIN[@]}" "$TARGET/examples/hyper_baseline" "127.0.0.1:$REPO_HYPER_PORT" "$REPO_BYTES" >/dev/null &
REPO_HYPER=$!
PIDS+=("$REPO_HYPER")
wait_for "http://127.0.0.1:$REPO_HYPER_PORT/"

for round in $(seq 1 "$ROUNDS"); do
  echo "-- round $round"
  measure "bare hyper" "$HYPER" "http://127.0.0.1:$HYPER_PORT/user"
  measure "bare hyper, $REPO_BYTES-byte body" "$REPO_HYPER" "http://127.0.0.1:$REPO_HYPER_PORT/repos"
  for path in /user /repos/acme/api; do
    for i in "${!BINS[@]}"; do
      measure "${BINS[$i]} GET $path" "${SERVERS[$i]}" "http://127.0.0.1:${PORTS[$i]}$path" "$CLASSIC"
    done
  done
done
