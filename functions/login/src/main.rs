//! Lambda entry point for `POST /api/v1/auth/login`: wiring only.

use yebolink_shared::bootstrap::serve::{serve_http, Error};
use yebolink_shared::http::app::App;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = App::from_env_with_jwt_secret();
    serve_http(env!("CARGO_PKG_NAME"), app, handler::handle).await
}
