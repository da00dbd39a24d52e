//! The domain: the values the API is about and the rules they obey. Plain types and pure
//! functions: no I/O, no async, and no import from any other layer.

pub mod account;
pub mod api_key;
pub mod audit;
pub mod ids;
pub mod invalid;
pub mod keys;
pub mod leak;
pub mod limits;
pub mod message;
pub mod policy;
pub mod scopes;
pub mod timestamp;
pub mod usage;
pub mod webhook;
pub mod webhook_target;
pub mod window;
