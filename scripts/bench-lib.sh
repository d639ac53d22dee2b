# What the benchmark scripts share (sourced, not run): a scratch directory and the processes to
# stop when the script ends, a free loopback port, waiting for a server to answer, and the
# cores the servers and the load generators run on.
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

# SERVER_CPUS and CLIENT_CPUS (taskset lists, e.g. 0 and 1) give the servers and the load
# generator cores of their own, so that a measurement is not of their contention for the same
# ones (docs/benchmarks.md). Unset, both run wherever the kernel puts them.
SERVER_PIN=()
CLIENT_PIN=()
if [ -n "${SERVER_CPUS:-}" ]; then SERVER_PIN=(taskset -c "$SERVER_CPUS"); fi
if [ -n "${CLIENT_CPUS:-}" ]; then CLIENT_PIN=(taskset -c "$CLIENT_CPUS"); fi
pin_note() { echo "server cores ${SERVER_CPUS:-all}, client cores ${CLIENT_CPUS:-all}"; }
