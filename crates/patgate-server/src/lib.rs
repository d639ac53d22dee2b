//! The `patgate` server: configuration, the REST API, start-up. The binary (`main.rs`) adds the CLI.

pub mod api;
pub mod config;
pub mod config_file;
pub mod git;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod ratelimit;
pub mod service;
pub mod startup;
pub mod state;
pub mod throttle;
pub mod tls;
pub mod web;

pub use config::Settings;
pub use startup::{build_app, connect_store, open_store, router, serve};
