//! The HTTP boundary: `ApiError` and the one envelope (`error`, `response`), reading requests
//! (`request`, `cursor`, `audit`), the caller's identity (`auth`), the rate-limit gate
//! (`gate`), the views clients see (`views`), each request's metric line (`metrics`) and what a
//! handler is handed (`app`).

pub mod app;
pub mod audit;
pub mod auth;
pub mod cursor;
pub mod error;
pub mod gate;
pub mod key_settings;
pub mod metrics;
pub mod request;
pub mod response;
pub mod views;
pub mod webhooks;
