//! Lambda entry point for the web console (`GET /`, `/console.js`, `/console.css`,
//! `/favicon.svg`): wiring only. It reads no configuration and touches no database.

use std::convert::Infallible;

use lambda_http::{run, service_fn, Error};
use yebolink_shared::app::init_logging;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    init_logging();
    run(service_fn(|req| async move {
        Ok::<_, Infallible>(handler::handle(&req))
    }))
    .await
}
