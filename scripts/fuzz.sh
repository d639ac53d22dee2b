#!/usr/bin/env bash
# Runs each fuzz target (fuzz/, docs/fuzzing.md) for a fixed time and prints, per target, the
# runs executed, the corpus size and any crash. Exits non-zero if a target crashed.
#
#   scripts/fuzz.sh                                  # every target, 60 s each
#   FUZZ_SECONDS=300 FUZZ_TARGETS="token cgi_response" scripts/fuzz.sh
#
# FUZZ_SECONDS    seconds per target (default 60)
# FUZZ_TARGETS    targets to run, separated by spaces or commas (default: all of them)
# FUZZ_SANITIZER  cargo fuzz's --sanitizer: address (default) or none
# FUZZ_JOBS       libFuzzer processes per target (default 1)
#
# Not part of .ci/run: five targets at a minute each, after a build of the whole server, is too
# long for every change. The toolchain is stable; cargo-fuzz's nightly flags are let through with
# RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
jobs="${FUZZ_JOBS:-1}"
all_targets=(token template basic_auth cgi_response json_bodies)
IFS=', ' read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

echo "== building ${targets[*]} (sanitizer: $sanitizer)"
for t in "${targets[@]}"; do
  cargo fuzz build --sanitizer "$sanitizer" "$t"
done

mkdir -p logs
summary=()
crashed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  log="logs/$t.log"
  before=$(find "artifacts/$t" -type f | wc -l)
  echo "== $t: ${seconds}s"
  parallel=()
  # With -jobs, libFuzzer writes each process's output to fuzz-<n>.log instead.
  [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
  status=0
  cargo fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${parallel[@]}" \
    >"$log" 2>&1 || status=$?
  shopt -s nullglob
  runs=$(cat "$log" fuzz-*.log | awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}')
  rm -f fuzz-*.log
  shopt -u nullglob
  files=$(find "corpus/$t" -type f | wc -l)
  bytes=$(find "corpus/$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  after=$(find "artifacts/$t" -type f | wc -l)
  result=ok
  if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
    result="CRASH (exit $status, $((after - before)) new artifact(s) in fuzz/artifacts/$t, log fuzz/$log)"
    crashed+=("$t")
    grep -m1 -E 'panicked at|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" || true
  fi
  line=$(printf '%-13s %6ss %12s runs %6s files %10s bytes  %s' "$t" "$seconds" "$runs" "$files" "$bytes" "$result")
  echo "$line"
  summary+=("$line")
done

echo
echo "== summary ($(date -u +%Y-%m-%d), sanitizer $sanitizer)"
printf '%s\n' "${summary[@]}"
if [ "${#crashed[@]}" -gt 0 ]; then
  echo "crashed: ${crashed[*]}"
  exit 1
fi
