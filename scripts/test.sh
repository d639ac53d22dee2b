#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's tests (unit, conformance, HTTP, CLI).
# Tests that need PostgreSQL run when it answers on 127.0.0.1:5432 (PATGATE_TEST_PG_URL overrides);
# PATGATE_REQUIRE_PG=1 (set by .ci/run) turns "PostgreSQL absent" into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

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
