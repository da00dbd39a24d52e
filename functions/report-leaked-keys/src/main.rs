//! Lambda entry point for `POST /api/v1/api-keys/leaks`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http_with, Error};

mod github;
mod handler;
mod key_source;
mod signature;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = github::key_source_from_env;
    serve_http_with(env!("CARGO_PKG_NAME"), deps, handler::handle).await
}
