//! patgate-server's integration tests: one binary (DESIGN §7). The HTTP tests drive a real server
//! on `127.0.0.1:0` over a SQLite store in a temporary directory (`support::spawn`); the CLI tests
//! run the built `patgate` binary.

// Test helpers outside `#[test]` functions fail loudly, as the tests themselves do (clippy.toml
// allows these inside tests only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_keys;
mod api_repos;
mod api_tokens;
mod api_user;
mod cli;
mod crashes;
mod directory_api;
mod git;
mod git_workflows;
mod leaks;
mod metrics;
mod nginx;
mod notifications;
mod openapi;
mod orgs;
mod pagination;
mod platform;
mod races;
mod rate_limits;
mod replicas;
mod schema;
mod security;
mod smtp_sink;
mod support;
mod web;
mod web_orgs;

/// An HTTP client for the tests (rustls needs its provider installed first, as `main` does).
pub fn http() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

#[allow(clippy::disallowed_methods)]
pub fn http_builder() -> reqwest::ClientBuilder {
    patgate_server::tls::install_default_provider();
    reqwest::Client::builder()
}
