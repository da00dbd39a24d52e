//! Lambda entry point for the table's change stream (webhook deliveries of key events): wiring only.

use yebolink_shared::bootstrap::config::webhooks_from_env;
use yebolink_shared::bootstrap::serve::{serve_events, Error};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_events(env!("CARGO_PKG_NAME"), webhooks_from_env, handler::handle).await
}
