//! Lambda entry point for `GET /api/v1/audit-events`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http, Cold, Error};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_http(Cold::STORE, handler::handle).await
}
