//! The messaging functions' SDK floor (`sdk_floor::messaging_calls`): their init without
//! logging, and per request their DynamoDB calls.

use lambda_http::{run, service_fn, Error};
use yebolink_shared::bootstrap::coldstart::coldstart_mark;
use yebolink_shared::http::app::App;
use yebolink_shared::lambda_http;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    coldstart_mark("main");
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let app = App::from_env_with_connections(sdk_floor::warm_connections(&function)).await?;
    run(service_fn(|req| {
        sdk_floor::messaging_calls(&app.store, req)
    }))
    .await
}
