//! Lambda entry point for the web console (`GET /`, `/console.js`, `/console.css`,
//! `/favicon.svg`): wiring only. It reads no configuration and touches no database.

use yebolink_shared::bootstrap::serve::{serve_pages, Error};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_pages(env!("CARGO_PKG_NAME"), handler::handle).await
}
