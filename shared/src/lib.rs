//! `yebolink-shared`: everything two or more YeboLink functions need. Domain values that parse
//! (`keys`, `scopes`, `account`, `message`, `ids`, `timestamp`), identity (`auth`, `jwt`,
//! `password`), storage (`store`), the audit trail (`audit`), the HTTP boundary (`request`, `response`, `error`), rate
//! limits (`ratelimit`), the JSON shapes clients see (`views`) and cold-start wiring (`app`, `config`).

pub mod account;
pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
/// Pagination cursors bound to the workspace they were issued to.
pub mod cursor;
pub mod error;
pub mod ids;
pub mod jwt;
pub mod keys;
/// Leaked-key reports from secret scanners (GitHub's partner protocol).
pub mod leaks;
pub mod message;
pub mod password;
pub mod ratelimit;
pub mod request;
pub mod response;
pub mod scopes;
pub mod store;
pub mod timestamp;
pub mod usage;
pub mod views;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use app::App;
pub use error::ApiError;
pub use lambda_http;
