//! Lambda entry point for `GET /api/v1/messages`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http, Cold, Error};
use yebolink_shared::http::gate::ADMIT_ALONGSIDE_CALLS;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_http(Cold::connections(ADMIT_ALONGSIDE_CALLS), handler::handle).await
}
