//! Lambda entry point for `DELETE /api/v1/webhooks/{id}`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http, Error};
use yebolink_shared::http::app::App;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_http(env!("CARGO_PKG_NAME"), App::from_env(), handler::handle).await
}
