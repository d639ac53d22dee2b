#!/usr/bin/env bash
# The end-to-end test in e2e/: GitHub's own JavaScript client (@octokit/rest) against the patgate
# binary (issue 4). Needs node (>= 20) and npm; installs e2e/node_modules from e2e/package-lock.json
# when it is missing or older than the lock file, builds the binary, runs node's test runner.
# PATGATE_BIN overrides the binary (its build is then skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "e2e: $tool is required (Node.js >= 20 with npm)" >&2
    exit 1
  fi
done

if [ ! -d e2e/node_modules ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
  echo "== npm ci (e2e)"
  (cd e2e && npm ci --no-audit --no-fund)
fi

if [ -z "${PATGATE_BIN:-}" ]; then
  echo "== cargo build --bin patgate"
  cargo build --bin patgate
  target_dir="${CARGO_TARGET_DIR:-target}"
  case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
  export PATGATE_BIN="$target_dir/debug/patgate"
fi

echo "== node --test e2e/"
# The files, not the directory: node >= 21 reads its arguments as glob patterns.
exec node --test --test-reporter=spec e2e/*.test.mjs
