//! Lambda entry point for `GET /api/v1/messages`: wiring only.

use std::convert::Infallible;

use lambda_http::{run, service_fn, Error};
use yebolink_shared::app::{coldstart_mark, init_logging, App, Connections};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    coldstart_mark("main");
    init_logging();
    // The handler reads beside the rate-limit counters: two requests in flight at once.
    let app = App::from_env_with(Connections::Two).await?;
    run(service_fn(|req| async {
        Ok::<_, Infallible>(handler::handle(&app, req).await)
    }))
    .await
}
