//! Lambda entry point for `POST /api/v1/messages/send`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http, Error};
use yebolink_shared::http::app::App;
use yebolink_shared::http::gate::ADMIT_THEN_CALLS;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = App::from_env_with_connections(ADMIT_THEN_CALLS);
    serve_http(env!("CARGO_PKG_NAME"), app, handler::handle).await
}
