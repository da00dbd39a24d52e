//! Services: what the API does, written over the storage traits and the domain, with no HTTP in
//! them. The authorizer's decision (`auth`), session tokens (`jwt`), passwords, rate limits,
//! the usage roll-up, leak processing and webhook delivery.

pub mod auth;
pub mod jwt;
pub mod leaks;
pub mod password;
pub mod ratelimit;
pub mod usage;
pub mod webhooks;
