//! Lambda entry point for `POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry`: wiring only.

use yebolink_shared::bootstrap::config::webhooks_from_env;
use yebolink_shared::bootstrap::serve::{serve_http_with, Error};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_http_with(env!("CARGO_PKG_NAME"), webhooks_from_env, handler::handle).await
}
