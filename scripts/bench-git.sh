#!/usr/bin/env bash
# Clone time through patgate vs. `git http-backend` reached without patgate (docs/benchmarks.md).
#
# Starts, on 127.0.0.1 only:
#   - `patgate serve --demo` in a temporary directory, and pushes a generated repository
#     (FILES text files, about 10 kB each, four commits) into acme/api with alice's demo
#     fine-grained token;
#   - the example `git_http_baseline` (crates/patgate-server/examples): the same axum, tokio and
#     CGI adapter, no authentication or authorization, on the same bare repository; once as patgate
#     serves (TCP_NODELAY off) and once with TCP_NODELAY on (`baseline-nodelay`);
#   - lighttpd with mod_cgi running `git http-backend` directly (the setup of git-http-backend(1)),
#     when lighttpd is installed or can be (LIGHTTPD=0 skips it).
# Then times one `GET info/refs` with curl (a single request: the per-request cost), `git ls-remote`,
# `git clone --bare` and `git clone` against each, with hyperfine
# (installed with apt-get when missing and run as root; otherwise, or with TIMER=bash, a bash loop
# with date +%s%N), and prints a table.
#
#   ./scripts/bench-git.sh
#   RUNS=20 FILES=4000 ./scripts/bench-git.sh
#   NO_BUILD=1 ./scripts/bench-git.sh        # use the binaries already in $CARGO_TARGET_DIR/release
#   PATGATE_BIN=/path/to/patgate NO_BUILD=1 ./scripts/bench-git.sh   # another patgate build
#
# Bounded: RUNS (default 10, at most 100) timed rounds after WARMUP (default 2) untimed ones; a
# round runs every command once, in a rotating order. The servers run under `timeout MAX_SECS`
# (default 900) so nothing outlives a stuck run; everything started here is stopped on exit, and
# the temporary directory (in /dev/shm when it exists, else $TMPDIR; BENCH_TMP overrides) is
# removed (KEEP=1 keeps it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
FILES=${FILES:-2000}
MAX_SECS=${MAX_SECS:-900}
LIGHTTPD=${LIGHTTPD:-1}
PATGATE_PORT=${PATGATE_PORT:-18080}
BASELINE_PORT=${BASELINE_PORT:-18081}
LIGHTTPD_PORT=${LIGHTTPD_PORT:-18082}
NODELAY_PORT=${NODELAY_PORT:-18083}
[ "$RUNS" -ge 2 ] && [ "$RUNS" -le 100 ] || { echo "RUNS must be 2..100" >&2; exit 2; }
[ "$FILES" -ge 10 ] && [ "$FILES" -le 20000 ] || { echo "FILES must be 10..20000" >&2; exit 2; }

# alice's fine-grained token for acme from demo/seed.toml: contents write on acme/api.
TOKEN=pgf_Eeeby3abP3E2Zs8IQ9Y7aJZqhB6bae2dTjzx

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 ||
    { as_root apt-get update >/dev/null 2>&1 &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; }
}

TIMER=${TIMER:-hyperfine}   # or TIMER=bash: time each run with date +%s%N
if [ "$TIMER" = hyperfine ] && ! command -v hyperfine >/dev/null 2>&1; then
  echo "== installing hyperfine"
  apt_install hyperfine || echo "   (not installed: timing with a bash loop instead)"
fi
LIGHTTPD_BIN=""
if [ "$LIGHTTPD" = 1 ]; then
  if ! command -v lighttpd >/dev/null 2>&1 && [ ! -x /usr/sbin/lighttpd ]; then
    echo "== installing lighttpd (the independent baseline; LIGHTTPD=0 skips it)"
    # Its package starts a service on port 80 where an init system runs; stop that one at once.
    if apt_install lighttpd; then
      as_root service lighttpd stop >/dev/null 2>&1 || true
    else
      echo "   (not installed: no lighttpd baseline)"
    fi
  fi
  LIGHTTPD_BIN=$(command -v lighttpd 2>/dev/null || { [ -x /usr/sbin/lighttpd ] && echo /usr/sbin/lighttpd; } || true)
  if [ -n "$LIGHTTPD_BIN" ] && [ ! -e "$(dirname "$LIGHTTPD_BIN")/../lib/lighttpd/mod_cgi.so" ] &&
    [ ! -e /usr/lib/lighttpd/mod_cgi.so ]; then
    LIGHTTPD_BIN=""   # a build without mod_cgi
  fi
fi

BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
if [ "${NO_BUILD:-0}" != 1 ]; then
  echo "== cargo build --release --bin patgate --example git_http_baseline"
  cargo build --release --bin patgate --example git_http_baseline
fi
PATGATE=${PATGATE_BIN:-$BIN_DIR/patgate}
BASELINE=${BASELINE_BIN:-$BIN_DIR/examples/git_http_baseline}
[ -x "$PATGATE" ] && [ -x "$BASELINE" ] || { echo "missing $PATGATE or $BASELINE" >&2; exit 1; }

for port in "$PATGATE_PORT" "$BASELINE_PORT" "$LIGHTTPD_PORT" "$NODELAY_PORT"; do
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
    echo "port $port is already in use on 127.0.0.1 (set PATGATE_PORT, BASELINE_PORT, NODELAY_PORT, LIGHTTPD_PORT)" >&2
    exit 1
  fi
done

# In memory (tmpfs) when there is one: the clones' writes are the client's cost, not the server's.
BENCH_TMP=${BENCH_TMP:-$(if [ -d /dev/shm ] && [ -w /dev/shm ]; then echo /dev/shm; else echo "${TMPDIR:-/tmp}"; fi)}
WORK=$(mktemp -d "$BENCH_TMP/patgate-bench-git.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The client: no user or system configuration (no credential helper keeps the token), no prompt.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

wait_http() { # URL PID NAME
  local i
  for i in $(seq 1 100); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" != 000 ]; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "$3 exited; its log:" >&2; cat "$WORK/$3.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$3 did not answer on $1" >&2
  exit 1
}

echo "== patgate serve --demo on 127.0.0.1:$PATGATE_PORT (in $WORK)"
mkdir -p "$WORK/patgate"
ln -s "$ROOT/demo" "$WORK/patgate/demo"
(cd "$WORK/patgate" && exec timeout "$MAX_SECS" "$PATGATE" --data-dir "$WORK/patgate/data" \
  serve --demo --bind "127.0.0.1:$PATGATE_PORT") >"$WORK/patgate.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PATGATE_PORT/healthz" "${PIDS[-1]}" patgate
PATGATE_URL="http://x:$TOKEN@127.0.0.1:$PATGATE_PORT/acme/api.git"

echo "== generating $FILES files in four commits and pushing them to acme/api"
SRC=$WORK/src
git init -q --initial-branch=main "$SRC"
# Deterministic text that compresses like source code (about 4:1), FILES files of about 10 kB.
gen() { # FIRST LAST SEED
  awk -v first="$1" -v last="$2" -v seed="$3" -v dir="$SRC" '
    BEGIN {
      srand(seed)
      n = split("request response token repository owner permission level handle parse verify " \
        "cache store value index buffer stream error result config policy user organization " \
        "enterprise approve deny grant scope expire refresh session header body status count " \
        "offset limit batch commit branch tree blob object pack delta fetch push clone", w, " ")
      for (f = first; f <= last; f++) {
        path = sprintf("%s/src/mod_%02d/file_%05d.rs", dir, f % 40, f)
        out = ""
        while (length(out) < 10000) {
          a = w[int(rand() * n) + 1]; b = w[int(rand() * n) + 1]; c = w[int(rand() * n) + 1]
          r = int(rand() * 6)
          if (r == 0) line = sprintf("pub fn %s_%s_%d(%s: &%s) -> Result<%s, Error> {", a, b, int(rand() * 1000), c, toupper(substr(a, 1, 1)) substr(a, 2), toupper(substr(b, 1, 1)) substr(b, 2))
          else if (r == 1) line = sprintf("    let %s_%d = %s.%s(%d)?;", a, int(rand() * 100), b, c, int(rand() * 100000))
          else if (r == 2) line = sprintf("    // The %s of the %s, before the %s is checked.", a, b, c)
          else if (r == 3) line = sprintf("    if %s.%s > %d { return Err(Error::%s); }", a, b, int(rand() * 10000), toupper(substr(c, 1, 1)) substr(c, 2))
          else if (r == 4) line = sprintf("    %s.push(%s_%d);", a, b, int(rand() * 100))
          else line = "}"
          out = out line "\n"
        }
        printf "%s", out > path
        close(path)
      }
    }'
}
for d in $(seq 0 39); do mkdir -p "$SRC/src/$(printf 'mod_%02d' "$d")"; done
third=$((FILES / 3))
gen 1 "$((2 * third))" 1
git -C "$SRC" add -A && git -C "$SRC" commit -q -m "First two thirds"
gen "$((2 * third + 1))" "$FILES" 2
git -C "$SRC" add -A && git -C "$SRC" commit -q -m "The rest"
gen 1 "$((FILES / 10))" 3
git -C "$SRC" add -A && git -C "$SRC" commit -q -m "Rewrite a tenth"
gen "$((FILES / 2))" "$((FILES / 2 + FILES / 20))" 4
git -C "$SRC" add -A && git -C "$SRC" commit -q -m "Rewrite a twentieth"
HEAD_SHA=$(git -C "$SRC" rev-parse HEAD)
push_start=$(date +%s%N)
git -C "$SRC" push -q "$PATGATE_URL" main
push_ms=$((($(date +%s%N) - push_start) / 1000000))

# patgate keeps acme/api at <data-dir>/git/<repository id>.git: find the one that got the push.
GIT_ROOT=$WORK/patgate/data/git
BARE=""
for d in "$GIT_ROOT"/*.git; do
  if [ "$(git -C "$d" rev-parse -q --verify refs/heads/main 2>/dev/null || true)" = "$HEAD_SHA" ]; then
    BARE=$d
  fi
done
[ -n "$BARE" ] || { echo "the push did not reach a bare repository under $GIT_ROOT" >&2; exit 1; }
REPO=$(basename "$BARE" .git)
tree_kb=$(du -sk --exclude=.git "$SRC" | cut -f1)
files=$(git -C "$SRC" ls-files | wc -l)
pack_kb=$(du -sk "$BARE/objects" | cut -f1)
objects=$(git -C "$BARE" count-objects -v | awk '/^(count|in-pack):/ { s += $2 } END { print s }')
echo "   $files files, $((tree_kb / 1024)) MiB work tree, 4 commits, $objects objects," \
  "$((pack_kb / 1024)) MiB in $BARE ($((push_ms)) ms to push through patgate)"

echo "== git_http_baseline on 127.0.0.1:$BASELINE_PORT and, with --nodelay, :$NODELAY_PORT, serving $GIT_ROOT"
timeout "$MAX_SECS" "$BASELINE" "$GIT_ROOT" "127.0.0.1:$BASELINE_PORT" >"$WORK/baseline.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$BASELINE_PORT/" "${PIDS[-1]}" baseline
BASELINE_URL="http://127.0.0.1:$BASELINE_PORT/$REPO.git"
timeout "$MAX_SECS" "$BASELINE" "$GIT_ROOT" "127.0.0.1:$NODELAY_PORT" --nodelay >"$WORK/nodelay.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$NODELAY_PORT/" "${PIDS[-1]}" nodelay
NODELAY_URL="http://127.0.0.1:$NODELAY_PORT/$REPO.git"

LIGHTTPD_URL=""
if [ -n "$LIGHTTPD_BIN" ]; then
  echo "== lighttpd + mod_cgi + git http-backend on 127.0.0.1:$LIGHTTPD_PORT"
  mkdir -p "$WORK/www"
  # The environment patgate's CGI adapter gives git http-backend, so that both do the same work.
  cat >"$WORK/lighttpd.conf" <<EOF
server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = $LIGHTTPD_PORT
server.document-root = "$WORK/www"
server.errorlog = "$WORK/lighttpd.err"
alias.url = ("/git" => "$(git --exec-path)/git-http-backend")
\$HTTP["url"] =~ "^/git/" {
  cgi.assign = ("" => "")
  setenv.set-environment = (
    "GIT_PROJECT_ROOT" => "$GIT_ROOT",
    "GIT_HTTP_EXPORT_ALL" => "1",
    "GIT_CONFIG_NOSYSTEM" => "1",
    "HOME" => "$GIT_ROOT",
    "PATH" => "$PATH"
  )
}
EOF
  timeout "$MAX_SECS" "$LIGHTTPD_BIN" -D -f "$WORK/lighttpd.conf" >"$WORK/lighttpd.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$LIGHTTPD_PORT/" "${PIDS[-1]}" lighttpd
  LIGHTTPD_URL="http://127.0.0.1:$LIGHTTPD_PORT/git/$REPO.git"
fi

# Every server must serve the pushed commit before anything is timed.
for url in "$PATGATE_URL" "$BASELINE_URL" "$NODELAY_URL" ${LIGHTTPD_URL:+"$LIGHTTPD_URL"}; do
  got=$(git ls-remote "$url" refs/heads/main | cut -f1)
  [ "$got" = "$HEAD_SHA" ] || { echo "${url/$TOKEN/***}: main is '$got', not $HEAD_SHA" >&2; exit 1; }
done

DEST=$WORK/clone
TIMES=$WORK/times.tsv   # one line per timed run: LABEL<TAB>milliseconds
: >"$TIMES"
HYPERFINE=0
if [ "$TIMER" = hyperfine ] && command -v hyperfine >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
  HYPERFINE=1
fi
# time_once COMMAND: removes $DEST (not timed), runs COMMAND once, prints its wall time in ms.
time_once() {
  if [ "$HYPERFINE" = 1 ]; then
    hyperfine -N --style none --runs 1 --prepare "rm -rf $DEST" --export-json "$WORK/h.json" \
      "$1" >"$WORK/h.out" 2>&1 || { cat "$WORK/h.out" >&2; return 1; }
    jq -r '.results[0].times[0] * 1000' "$WORK/h.json"
  else
    rm -rf "$DEST"
    local t0
    t0=$(date +%s%N)
    eval "$1" >/dev/null 2>&1 || return 1
    awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.3f\n", ns / 1e6 }'
  fi
}

# NAME|URL|git options. patgate-proactive: the client sends the token with its first request
# (`http.proactiveAuth`, git 2.46 and later) instead of waiting for the 401.
servers=("patgate|$PATGATE_URL|")
if printf '%s\n' 2.46 "$(git version | awk '{ print $3 }')" | sort -V -C; then
  servers+=("patgate-proactive|$PATGATE_URL|-c http.proactiveAuth=basic")
fi
servers+=("baseline|$BASELINE_URL|" "baseline-nodelay|$NODELAY_URL|")
[ -n "$LIGHTTPD_URL" ] && servers+=("lighttpd|$LIGHTTPD_URL|")
labels=() cmds=()
for op in info-refs ls-remote clone-bare clone; do
  for s in "${servers[@]}"; do
    IFS='|' read -r name url opts <<<"$s"
    # curl sends the credentials of the URL with its first request: one request, no 401.
    [ "$op" = info-refs ] && [ "$name" = patgate-proactive ] && continue
    labels+=("$op $name")
    case $op in
      info-refs) cmds+=("curl -sf -o /dev/null '$url/info/refs?service=git-upload-pack'") ;;
      ls-remote) cmds+=("git $opts ls-remote '$url'") ;;
      clone-bare) cmds+=("git $opts clone -q --bare '$url' '$DEST'") ;;
      clone) cmds+=("git $opts clone -q '$url' '$DEST'") ;;
    esac
  done
done

# Rounds: each runs every command once, in an order that rotates from round to round, so that a
# change of the machine's load over the run falls on all servers alike.
rounds=$((WARMUP + RUNS)) n=${#cmds[@]}
echo "== timing: $WARMUP warm-up and $RUNS timed rounds of $n commands, interleaved" \
  "($([ "$HYPERFINE" = 1 ] && hyperfine --version || echo 'bash loop, date +%s%N'))"
for round in $(seq 1 "$rounds"); do
  printf '   round %d/%d%s\n' "$round" "$rounds" "$([ "$round" -le "$WARMUP" ] && echo ' (warm-up)')"
  for ((j = 0; j < n; j++)); do
    k=$(((j + round) % n))
    ms=$(time_once "${cmds[k]}") || { echo "failed: ${labels[k]}: ${cmds[k]/$TOKEN/***}" >&2; exit 1; }
    if [ "$round" -gt "$WARMUP" ]; then printf '%s\t%s\n' "${labels[k]}" "$ms" >>"$TIMES"; fi
  done
done
rm -rf "$DEST"

# Per command: mean, standard deviation, median, min (ms), in the order of $labels.
RESULTS=$WORK/results.tsv
sort -t "$(printf '\t')" -k1,1 -k2,2g "$TIMES" | awk -F'\t' '
  { t[$1, ++c[$1]] = $2; s[$1] += $2; q[$1] += $2 * $2 }
  END {
    for (l in c) {
      n = c[l]; m = s[l] / n; v = (q[l] - n * m * m) / (n - 1); if (v < 0) v = 0
      med = (n % 2) ? t[l, (n + 1) / 2] : (t[l, n / 2] + t[l, n / 2 + 1]) / 2
      printf "%s\t%.1f\t%.1f\t%.1f\t%.1f\n", l, m, sqrt(v), med, t[l, 1]
    }
  }' >"$WORK/stats.tsv"
: >"$RESULTS"
for l in "${labels[@]}"; do grep -F "$l$(printf '\t')" "$WORK/stats.tsv" >>"$RESULTS"; done
echo
awk -F'\t' '{ printf "   %-30s %8.1f ms ± %6.1f   median %8.1f   min %8.1f\n", $1, $2, $3, $4, $5 }' "$RESULTS"

echo
echo "== results ($files files, $((tree_kb / 1024)) MiB, $RUNS runs each; overhead = patgate - baseline)"
awk -F'\t' '
  { split($1, k, " "); mean[k[1], k[2]] = $2; sd[k[1], k[2]] = $3
    if (!(k[1] in seen)) { seen[k[1]] = 1; ops[++n] = k[1] } }
  function cell(o, s) { return ((o, s) in mean) ? sprintf("%.1f ± %.1f", mean[o, s], sd[o, s]) : "-" }
  END {
    printf "| %-10s | %-15s | %-15s | %-20s | %-17s | %-16s | %-15s |\n", "operation", "patgate",
      "baseline", "patgate - baseline", "patgate-proactive", "baseline-nodelay", "lighttpd"
    printf "|------------|-----------------|-----------------|----------------------|-------------------|------------------|-----------------|\n"
    for (i = 1; i <= n; i++) {
      o = ops[i]; p = mean[o, "patgate"]; b = mean[o, "baseline"]
      printf "| %-10s | %-15s | %-15s | %-20s | %-17s | %-16s | %-15s |\n", o, cell(o, "patgate"),
        cell(o, "baseline"), sprintf("%+.1f ms (%+.1f %%)", p - b, 100 * (p - b) / b),
        cell(o, "patgate-proactive"), cell(o, "baseline-nodelay"), cell(o, "lighttpd")
    }
    print "(milliseconds, mean ± standard deviation)"
  }' "$RESULTS"
