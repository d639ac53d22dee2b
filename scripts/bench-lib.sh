# What the benchmark scripts share (sourced, not run): a scratch directory and the processes to
# stop when the script ends, a free loopback port, and waiting for a server to answer.
#
#   . "$(dirname "$0")/bench-lib.sh"
#   "$PATGATE" serve ... & PIDS+=($!)
#   bench_cleanup_extra() { ...; }   # optional: more to undo at the end (a database, say)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (up to 10 s) for a 2xx from the URL $1; the script fails when nothing answers.
wait_for() {
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "nothing answers on $1" >&2; exit 1
}
