//! patgate's rules, pure: no I/O, no async, no SQL, no HTTP.
//!
//! Everything here is a function of its inputs (and `now` where time matters), so the rules of
//! authorization can be tested exhaustively in microseconds.

pub mod authz;
pub mod catalog;
pub mod governance;
pub mod model;
pub mod policy;
pub mod routes;
pub mod scopes;
pub mod session;
pub mod template;
pub mod text;
pub mod token;
pub mod validate;
