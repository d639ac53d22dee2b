//! The store's one integration-test binary: the conformance suite on each engine, plus what is
//! specific to each.
//!
//! * SQLite: against a fresh temporary database file per test (never `:memory:`).
//! * PostgreSQL: each test in a database of its own (`patgate_t_<random>`, dropped afterwards)
//!   on `PATGATE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`; the
//!   database it names is only used to create and drop the test databases). When it cannot be
//!   reached every test prints `SKIPPED: PostgreSQL not reachable at ...` and passes, unless
//!   `PATGATE_REQUIRE_PG=1` (CI), which makes it fail.
// Fixtures outside `#[test]` functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod postgres;
mod sqlite;
