//! Lambda entry point for `POST /api/v1/messages/send`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http, Cold, Error};
use yebolink_shared::http::gate::ADMIT_THEN_CALLS;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_http(Cold::connections(ADMIT_THEN_CALLS), handler::handle).await
}
