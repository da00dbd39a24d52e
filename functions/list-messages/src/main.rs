//! Lambda entry point for `GET /api/v1/messages`: wiring only.

use std::convert::Infallible;

use lambda_http::{run, service_fn, Error};
use yebolink_shared::app::{coldstart_mark, init_logging, App};
use yebolink_shared::ratelimit::ADMIT_ALONGSIDE_CALLS;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    coldstart_mark("main");
    init_logging();
    let app = App::from_env_with_connections(ADMIT_ALONGSIDE_CALLS).await?;
    run(service_fn(|req| async {
        Ok::<_, Infallible>(handler::handle(&app, req).await)
    }))
    .await
}
