//! Lambda entry point for `POST /api/v1/api-keys/{id}/rotate`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http, Cold, Error};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_http(Cold::STORE, handler::handle).await
}
