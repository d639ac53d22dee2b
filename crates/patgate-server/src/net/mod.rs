//! The network edge: who the client is, and the HTTP server's connection handling.

pub mod client;
pub mod edge;
pub mod redact;
pub mod serve;
