//! `yebolink-shared`: everything two or more YeboLink functions need, in layers whose imports
//! run one way only (checked by `shared/tests/layers.rs`; docs/development.md):
//!
//! - `domain`: ids, timestamps, keys, scopes, accounts, messages, audit events, usage and window
//!   arithmetic, limits. Plain types and pure functions.
//! - `storage`: the `Store` traits, one per thing stored, with DynamoDB and in-memory
//!   implementations. Imports the domain only.
//! - `services`: the authorizer decision, JWTs, passwords, rate limits, the usage roll-up and
//!   leak processing, over the storage traits.
//! - `http`: `ApiError` and the envelope, request parsing, identity, the rate-limit gate and the
//!   views clients see.
//! - `bootstrap`: config, the AWS clients, logging, cold-start marks and the serve helpers
//!   every `main.rs` calls.

pub mod bootstrap;
pub mod domain;
pub mod http;
pub mod services;
pub mod storage;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use lambda_http;
