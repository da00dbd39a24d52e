//! The smallest useful `lambda_runtime` function, built with the workspace's release profile:
//! `make bench` times every function's cold start against this one (docs/performance.md).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({ "message": "hello world" }))
    }))
    .await
}
