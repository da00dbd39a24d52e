//! Lambda entry point for the REST API REQUEST authorizer: wiring only.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use yebolink_shared::app::{coldstart_mark, init_logging, App};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    coldstart_mark("main");
    init_logging();
    let app = App::from_env_with_jwt_secret().await?;
    run(service_fn(
        |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async {
            handler::handle(&app, event.payload)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
