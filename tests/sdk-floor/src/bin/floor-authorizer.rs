//! The authorizer's SDK floor (`sdk_floor::key_hash_read`): its init without logging or JWT
//! keys, and per event its one DynamoDB call.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;
use yebolink_shared::bootstrap::coldstart::coldstart_mark;
use yebolink_shared::http::app::App;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    coldstart_mark("main");
    let app = App::from_env().await?;
    run(service_fn(|event: LambdaEvent<Value>| {
        sdk_floor::key_hash_read(&app.store, event.payload)
    }))
    .await
}
