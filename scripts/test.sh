#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's tests (unit, conformance, HTTP, CLI).
# Tests that need PostgreSQL run when it answers on 127.0.0.1:5432 (PATGATE_TEST_PG_URL overrides);
# PATGATE_REQUIRE_PG=1 (set by .ci/run) turns "PostgreSQL absent" into a failure.
# Then the end-to-end tests (scripts/e2e.sh: GitHub's octokit client, and the web UI in Chromium
# driven by Playwright) when node is installed, last, so that node's test summary closes the
# output; PATGATE_REQUIRE_NODE=1 (set by .ci/run) turns "node absent" into a failure, and
# PATGATE_REQUIRE_BROWSER=1 (also set by .ci/run) turns "Chromium absent" into a failure instead of
# skipping the browser tests. The platform demo (scripts/platform-demo.sh) runs when nginx and
# python3 are installed; PATGATE_REQUIRE_NGINX=1 (set by .ci/run) makes their absence a failure,
# here and in the forward-auth tests.
set -euo pipefail
cd "$(dirname "$0")/.."

e2e=1
if ! command -v node >/dev/null 2>&1; then
  if [ "${PATGATE_REQUIRE_NODE:-}" = "1" ]; then
    echo "node is not installed and PATGATE_REQUIRE_NODE=1: the octokit end-to-end test cannot run" >&2
    exit 1
  fi
  echo "== node is not installed: the octokit end-to-end test (scripts/e2e.sh) will be skipped"
  e2e=0
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests; run them first so that nextest's summary closes the output.
  cargo test --workspace --doc --all-features --quiet
  cargo nextest run --workspace --all-features --no-fail-fast
else
  cargo test --workspace --all-features --no-fail-fast
fi

# The platform demo (docs/platform.md): patgate, nginx and a tiny upstream as plain processes.
if { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } && command -v python3 >/dev/null 2>&1; then
  echo "== the platform demo: patgate, nginx and an upstream (scripts/platform-demo.sh)"
  target_dir="${CARGO_TARGET_DIR:-target}"
  PATGATE_BIN="$target_dir/debug/patgate" ./scripts/platform-demo.sh
elif [ "${PATGATE_REQUIRE_NGINX:-}" = "1" ]; then
  echo "nginx or python3 is not installed and PATGATE_REQUIRE_NGINX=1: the platform demo cannot run" >&2
  exit 1
else
  echo "== nginx or python3 is not installed: the platform demo (scripts/platform-demo.sh) is skipped"
fi

if [ "$e2e" = 1 ]; then
  echo "== end-to-end: @octokit/rest and the web UI (Chromium) against patgate"
  # The tests above built the binary with the workspace's features; use it rather than rebuild.
  target_dir="${CARGO_TARGET_DIR:-target}"
  if [ -z "${PATGATE_BIN:-}" ] && [ -x "$target_dir/debug/patgate" ]; then
    case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
    export PATGATE_BIN="$target_dir/debug/patgate"
  fi
  ./scripts/e2e.sh
fi
