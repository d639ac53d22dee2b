#!/usr/bin/env bash
# User-space instructions per request (issue 14), counted by valgrind's callgrind: the same
# binary, requests and data give the same count whatever else the machine is doing, so two
# builds can be compared on a shared machine where req/s and even CPU per request move by 10 %
# between runs (docs/benchmarks.md). The kernel's part of a request is not counted.
#
# Each binary given (default: the release build) runs `serve --demo` under callgrind; after a
# warm-up, the counters are zeroed, `examples/load.rs` sends requests for SECONDS_PER_RUN (default 8)
# on 8 connections with alice's classic demo token, and the instructions counted are divided
# by the requests answered. Per route in ROUTES (default "/user /repos/acme/api").
#
#   ./scripts/instructions-per-request.sh
#   NO_BUILD=1 ./scripts/instructions-per-request.sh /tmp/patgate-old target/release/patgate
#   TOP=25 ./scripts/instructions-per-request.sh      # and the functions that count most
#
# Under valgrind the CPU has no SHA extensions, so SHA-256 runs in software: a token's hash
# counts about 3 400 instructions here where the real CPU spends a few hundred.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${SECONDS_PER_RUN:-8}
ROUTES=${ROUTES:-"/user /repos/acme/api"}
TOP=${TOP:-0}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -q -p patgate-server --bin patgate --example load
fi
TARGET=${CARGO_TARGET_DIR:-$PWD/target}/release
LOAD=$TARGET/examples/load
BINS=("$@")
[ "${#BINS[@]}" -gt 0 ] || BINS=("$TARGET/patgate")

. "$(dirname "$0")/bench-lib.sh"
CLASSIC=pgp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL

# The total of a callgrind dump's instructions ("summary: N" or "totals: N").
total_of() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

echo "== machine: $(nproc) cores, $(uname -r); $(valgrind --version)"
for i in "${!BINS[@]}"; do
  bin=${BINS[$i]}
  port=$(free_port)
  dir=$WORK/$i
  mkdir -p "$dir"
  PATGATE_RATE_LIMIT_PER_USER=4000000000 PATGATE_LOG=warn valgrind --tool=callgrind \
    --callgrind-out-file="$dir/cg.out" "$bin" serve --demo --bind "127.0.0.1:$port" \
    --data-dir "$dir/data" >"$dir/log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 600); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
  for route in $ROUTES; do
    url="http://127.0.0.1:$port$route"
    # Warm-up: caches filled, the rendered bodies made, every lazy initialisation done.
    "$LOAD" --url "$url" --seconds 2 --connections 8 --token "$CLASSIC" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    out=$("$LOAD" --url "$url" --seconds "$RUN" --connections 8 --token "$CLASSIC" | grep RESULT)
    name=$(tr '/' '_' <<<"$route")
    callgrind_control -d "$name" "$pid" >/dev/null 2>&1
    dump=$(ls -t "$dir"/cg.out.* | head -n1)
    requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
    total=$(total_of "$dump")
    printf '%-46s GET %-18s %8d instructions/request (%d requests)\n' \
      "$bin" "$route" "$((total / requests))" "$requests"
    if [ "$TOP" -gt 0 ]; then
      callgrind_annotate --inclusive=no "$dump" 2>/dev/null | grep -E '^ *[0-9,]+ ' | sed -n "2,$((TOP + 1))p" | cut -c1-160
    fi
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
