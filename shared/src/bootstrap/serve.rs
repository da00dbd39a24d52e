//! The cold start and the serve loop every function shares: logging, config, the store with
//! its warm-up, the JWT keys where a function needs them, then the Lambda runtime. A `main.rs`
//! names its handler and what it needs (`Cold`), and nothing else.

use std::convert::Infallible;
use std::future::Future;

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use aws_sdk_dynamodb::config::SharedHttpClient;
use lambda_http::{Body, Request, Response};

use crate::bootstrap::coldstart::coldstart_mark;
use crate::bootstrap::config::{jwt_secret_source, AwsEnv, Config, ConfigError, JwtSecretSource};
use crate::bootstrap::logging::init_logging;
use crate::bootstrap::sdk::{dynamodb_client, read_secret, sdk_http_client, start_warm_up};
use crate::http::app::App;
use crate::services::jwt::JwtKeys;
use crate::storage::dynamo::DynamoStore;

use lambda_http::lambda_runtime;
pub use lambda_http::Error;

/// What a function's cold start builds beyond the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cold {
    /// DynamoDB calls a request makes at once: the warm-up opens as many connections
    /// (`http::gate::ADMIT_THEN_CALLS`, `ADMIT_ALONGSIDE_CALLS`).
    pub connections: usize,
    /// Whether the function signs or verifies tokens in AWS too (register, login, the
    /// authorizer), so it reads the JWT secret at cold start. A separate flag, so the Secrets
    /// Manager call is made only by these functions.
    pub jwt_secret: bool,
}

impl Cold {
    /// A function behind the authorizer whose requests make one DynamoDB call at a time.
    pub const STORE: Cold = Cold {
        connections: 1,
        jwt_secret: false,
    };
    /// A function that signs or verifies tokens itself.
    pub const WITH_JWT_SECRET: Cold = Cold {
        connections: 1,
        jwt_secret: true,
    };

    /// A function whose requests make up to `connections` DynamoDB calls at once.
    pub const fn connections(connections: usize) -> Cold {
        Cold {
            connections,
            jwt_secret: false,
        }
    }
}

impl App<DynamoStore> {
    /// The cold start: config, the store (its warm-up started), and the JWT keys. Without
    /// `cold.jwt_secret` it reads no secret, except in local inline-auth mode, where it
    /// verifies tokens itself with `JWT_SECRET` from the environment.
    pub async fn from_env(cold: Cold) -> Result<Self, ConfigError> {
        coldstart_mark("logging");
        let (config, aws) = (Config::from_env()?, AwsEnv::from_env()?);
        coldstart_mark("config");
        // One HTTP client (one TLS setup) for DynamoDB and Secrets Manager.
        let http = sdk_http_client();
        let store = start_store(&config, &aws, http.clone(), cold.connections);
        let env = |name: &str| std::env::var(name).ok();
        let jwt = if cold.jwt_secret {
            // Read while the store's warm-up reads run.
            let secret = match jwt_secret_source(env)? {
                JwtSecretSource::Env(secret) => secret,
                JwtSecretSource::SecretsManager(arn) => {
                    read_secret(&config, &aws, http, &arn).await?
                }
            };
            coldstart_mark("secret");
            Some(JwtKeys::new(secret.as_bytes(), &config.tokens))
        } else if config.local_inline_auth {
            match jwt_secret_source(env)? {
                JwtSecretSource::Env(secret) => {
                    Some(JwtKeys::new(secret.as_bytes(), &config.tokens))
                }
                JwtSecretSource::SecretsManager(_) => {
                    return Err(ConfigError::Invalid(
                        "JWT_SECRET_ARN",
                        "inline auth is local only",
                    ));
                }
            }
        } else {
            None
        };
        Ok(Self {
            store,
            limits: config.limits,
            jwt,
            local_inline_auth: config.local_inline_auth,
        })
    }
}

/// The store, with its warm-up reads (one per connection) started. They run whenever the rest
/// of the init waits (for Secrets Manager in AWS, for the Lambda runtime's first poll), so
/// their round trip (in AWS also DNS, TCP and TLS) overlaps that work. Measured: giving them
/// the first turn instead (a `yield_now` here) made no cold start shorter (docs/performance.md).
fn start_store(
    config: &Config,
    aws: &AwsEnv,
    http: SharedHttpClient,
    connections: usize,
) -> DynamoStore {
    let store = DynamoStore::new(
        dynamodb_client(config, aws, http),
        config.table_name.clone(),
    );
    coldstart_mark("clients");
    start_warm_up(&store, connections);
    store
}

/// An HTTP handler as every function has one: `async fn handle(app, req) -> Response`.
pub trait HttpHandler<'a>: Copy + Send + Sync {
    type Answer: Future<Output = Response<Body>> + Send + 'a;
    fn call(self, app: &'a App<DynamoStore>, req: Request) -> Self::Answer;
}

impl<'a, F, A> HttpHandler<'a> for F
where
    F: Copy + Send + Sync + Fn(&'a App<DynamoStore>, Request) -> A,
    A: Future<Output = Response<Body>> + Send + 'a,
{
    type Answer = A;
    fn call(self, app: &'a App<DynamoStore>, req: Request) -> A {
        self(app, req)
    }
}

/// A function behind API Gateway: the cold start `cold` asks for, then `handler` for every
/// request. A handler answers every request itself (errors are responses), so the runtime
/// never sees an error from it.
pub async fn serve_http<H>(cold: Cold, handler: H) -> Result<(), Error>
where
    H: for<'a> HttpHandler<'a>,
{
    coldstart_mark("main");
    init_logging();
    let app = App::from_env(cold).await?;
    lambda_http::run(lambda_http::service_fn(|req| async {
        Ok::<_, Infallible>(handler.call(&app, req).await)
    }))
    .await
}

/// An HTTP handler that needs something else built at cold start (`deps`) beside the app.
pub trait HttpHandlerWith<'a, D: 'a>: Copy + Send + Sync {
    type Answer: Future<Output = Response<Body>> + Send + 'a;
    fn call(self, app: &'a App<DynamoStore>, deps: &'a D, req: Request) -> Self::Answer;
}

impl<'a, D: 'a, F, A> HttpHandlerWith<'a, D> for F
where
    F: Copy + Send + Sync + Fn(&'a App<DynamoStore>, &'a D, Request) -> A,
    A: Future<Output = Response<Body>> + Send + 'a,
{
    type Answer = A;
    fn call(self, app: &'a App<DynamoStore>, deps: &'a D, req: Request) -> A {
        self(app, deps, req)
    }
}

/// `serve_http` for a handler that also takes `deps`, built by `build` after the app.
pub async fn serve_http_with<D, E, H>(
    cold: Cold,
    build: impl FnOnce() -> Result<D, E>,
    handler: H,
) -> Result<(), Error>
where
    D: Sync,
    E: Into<Error>,
    H: for<'a> HttpHandlerWith<'a, D>,
{
    coldstart_mark("main");
    init_logging();
    let app = App::from_env(cold).await?;
    let deps = build().map_err(Into::into)?;
    lambda_http::run(lambda_http::service_fn(|req| async {
        Ok::<_, Infallible>(handler.call(&app, &deps, req).await)
    }))
    .await
}

/// The authorizer's handler: a REST API REQUEST event in, its answer or an error out (an error
/// is never an Allow: the gateway answers it with a 503).
pub trait AuthorizerHandler<'a>: Copy + Send + Sync {
    type Answer: Future<Output = Result<Self::Response, Self::Failure>> + Send + 'a;
    type Response: serde::Serialize;
    type Failure: Into<Error>;
    fn call(
        self,
        app: &'a App<DynamoStore>,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> Self::Answer;
}

impl<'a, F, A, R, E> AuthorizerHandler<'a> for F
where
    F: Copy
        + Send
        + Sync
        + Fn(&'a App<DynamoStore>, ApiGatewayCustomAuthorizerRequestTypeRequest) -> A,
    A: Future<Output = Result<R, E>> + Send + 'a,
    R: serde::Serialize,
    E: Into<Error>,
{
    type Answer = A;
    type Response = R;
    type Failure = E;
    fn call(
        self,
        app: &'a App<DynamoStore>,
        event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    ) -> A {
        self(app, event)
    }
}

/// The custom authorizer: the raw REST API event, not an HTTP request. It reads the JWT secret
/// at cold start; its decision makes one call at a time.
pub async fn serve_authorizer<H>(handler: H) -> Result<(), Error>
where
    H: for<'a> AuthorizerHandler<'a>,
{
    coldstart_mark("main");
    init_logging();
    let app = App::from_env(Cold::WITH_JWT_SECRET).await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async {
            handler.call(&app, event.payload).await.map_err(Into::into)
        },
    ))
    .await
}

/// A function that needs no app at all (the web console's static pages): logging, then
/// `handler` for every request.
pub async fn serve_pages(handler: fn(&Request) -> Response<Body>) -> Result<(), Error> {
    init_logging();
    lambda_http::run(lambda_http::service_fn(|req: Request| async move {
        Ok::<_, Infallible>(handler(&req))
    }))
    .await
}
