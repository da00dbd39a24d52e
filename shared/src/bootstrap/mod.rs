//! Bootstrap: what a function does once, at cold start. Config from the environment
//! (`config`), the AWS clients and the store's warm-up (`sdk`), logging, the cold-start marks,
//! and the serve helpers a `main.rs` calls (`serve`).

pub mod coldstart;
pub mod config;
pub mod logging;
pub mod sdk;
pub mod serve;
