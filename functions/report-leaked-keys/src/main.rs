//! Lambda entry point for `POST /api/v1/api-keys/leaks`: wiring only.

use std::convert::Infallible;

use lambda_http::{run, service_fn, Error};
use yebolink_shared::app::{coldstart_mark, init_logging, App};

mod github;
mod handler;
mod key_source;
mod signature;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    coldstart_mark("main");
    init_logging();
    let app = App::from_env().await?;
    let keys = github::key_source_from_env()?;
    run(service_fn(|req| async {
        Ok::<_, Infallible>(handler::handle(&app, &keys, req).await)
    }))
    .await
}
