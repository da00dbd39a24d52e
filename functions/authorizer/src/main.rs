//! Lambda entry point for the REST API REQUEST authorizer: wiring only.

use yebolink_shared::bootstrap::serve::{serve_authorizer, Error};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    serve_authorizer(env!("CARGO_PKG_NAME"), handler::handle).await
}
