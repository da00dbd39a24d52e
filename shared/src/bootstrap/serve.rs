//! The cold start and the serve loop every function shares: logging, config, the store with
//! its warm-up, the JWT keys where a function needs them, then the Lambda runtime. A `main.rs`
//! names its handler and its cold start (one of `App`'s constructors), and nothing else.

use std::convert::Infallible;
use std::future::Future;
use std::time::{Instant, SystemTime};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use aws_sdk_dynamodb::config::SharedHttpClient;
use lambda_http::{Body, Request, Response};

use crate::bootstrap::coldstart::coldstart_mark;
use crate::bootstrap::config::{jwt_secret_source, AwsEnv, Config, ConfigError, JwtSecretSource};
use crate::bootstrap::logging::{init_logging, write_metric_line};
use crate::bootstrap::sdk::{dynamodb_client, read_secret, sdk_http_client, start_warm_up};
use crate::http::app::App;
use crate::http::auth::{client_ip, parse_ip};
use crate::http::metrics::{metric_line, Decided, Line, LineContext, RequestMetrics};
use crate::services::jwt::JwtKeys;
use crate::storage::dynamo::DynamoStore;

use lambda_http::lambda_runtime;
pub use lambda_http::Error;

/// What a cold start ends in: the app, or the configuration error that stops the function.
pub type ColdStart = Result<App<DynamoStore>, ConfigError>;

impl App<DynamoStore> {
    /// Cold start of a function behind the authorizer whose requests make one DynamoDB call at
    /// a time. It reads no secret, except in local inline-auth mode, where it verifies tokens
    /// itself with `JWT_SECRET` from the environment.
    pub async fn from_env() -> ColdStart {
        Self::from_env_with_connections(1).await
    }

    /// `from_env` for a function whose requests make up to `connections` DynamoDB calls at once
    /// (the messaging gate: `http::gate::ADMIT_THEN_CALLS`, `ADMIT_ALONGSIDE_CALLS`): the cold
    /// start's warm-up opens that many connections.
    pub async fn from_env_with_connections(connections: usize) -> ColdStart {
        coldstart_mark("logging");
        let (config, aws) = (Config::from_env()?, AwsEnv::from_env()?);
        coldstart_mark("config");
        let store = start_store(&config, &aws, sdk_http_client(), connections);
        let jwt = if config.local_inline_auth {
            match jwt_secret_source(|name| std::env::var(name).ok())? {
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
        Ok(Self::from_parts(store, config, jwt))
    }

    /// Cold start of a function that signs or verifies tokens in AWS too (register, login, the
    /// authorizer): the secret is read once, here, while the store's warm-up read runs. A
    /// separate constructor, so the Secrets Manager client is linked only into these binaries.
    pub async fn from_env_with_jwt_secret() -> ColdStart {
        coldstart_mark("logging");
        let (config, aws) = (Config::from_env()?, AwsEnv::from_env()?);
        coldstart_mark("config");
        // One HTTP client (one TLS setup) for DynamoDB and Secrets Manager.
        let http = sdk_http_client();
        // The authorizer's decision makes one call at a time.
        let store = start_store(&config, &aws, http.clone(), 1);
        let secret = match jwt_secret_source(|name| std::env::var(name).ok())? {
            JwtSecretSource::Env(secret) => secret,
            JwtSecretSource::SecretsManager(arn) => read_secret(&config, &aws, http, &arn).await?,
        };
        let jwt = JwtKeys::new(secret.as_bytes(), &config.tokens);
        coldstart_mark("secret");
        Ok(Self::from_parts(store, config, Some(jwt)))
    }

    fn from_parts(store: DynamoStore, config: Config, jwt: Option<JwtKeys>) -> Self {
        Self {
            store,
            limits: config.limits,
            jwt,
            local_inline_auth: config.local_inline_auth,
        }
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

/// An HTTP handler as every function has one: `async fn handle(app, req) -> Response`. A trait
/// of its own because its future borrows the app, for any lifetime: a bare `Fn(&App) -> F`
/// bound cannot name that future's type.
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

/// A function behind API Gateway: logging, then the cold start `app` (one of `App`'s
/// constructors, not awaited yet), then `handler` for every request, and the request's metric
/// line once it has answered. `function` is the function's name in the metrics (its crate's
/// name). A handler answers every request itself (errors are responses), so the runtime never
/// sees an error from it.
pub async fn serve_http<H>(
    function: &'static str,
    app: impl Future<Output = ColdStart>,
    handler: H,
) -> Result<(), Error>
where
    H: for<'a> HttpHandler<'a>,
{
    coldstart_mark("main");
    init_logging();
    let app = app.await?;
    lambda_http::run(lambda_http::service_fn(|mut req| async {
        let source_ip = client_ip(&app, &req);
        let metrics = RequestMetrics::begin(function, &mut req, source_ip);
        let response = handler.call(&app, req).await;
        write_metric_line(&metrics.finish(&response));
        Ok::<_, Infallible>(response)
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

/// `serve_http` for a handler that also takes `deps`, built by `build` after the app of
/// `App::from_env` (report-leaked-keys: the source of GitHub's public keys).
pub async fn serve_http_with<D, E, H>(
    function: &'static str,
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
    let app = App::from_env().await?;
    let deps = build().map_err(Into::into)?;
    lambda_http::run(lambda_http::service_fn(|mut req| async {
        let source_ip = client_ip(&app, &req);
        let metrics = RequestMetrics::begin(function, &mut req, source_ip);
        let response = handler.call(&app, &deps, req).await;
        write_metric_line(&metrics.finish(&response));
        Ok::<_, Infallible>(response)
    }))
    .await
}

/// The authorizer's handler: a REST API REQUEST event in, its answer or an error out (an error
/// is never an Allow: the gateway answers it with a 503), with what it decided, for metrics.
pub trait AuthorizerHandler<'a>: Copy + Send + Sync {
    type Answer: Future<Output = Decided<Self::Response, Self::Failure>> + Send + 'a;
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
    A: Future<Output = Decided<R, E>> + Send + 'a,
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
/// at cold start; its decision makes one call at a time. Each decision writes its metric line
/// (`AuthorizerDecision`, `Latency` of `function`).
pub async fn serve_authorizer<H>(function: &'static str, handler: H) -> Result<(), Error>
where
    H: for<'a> AuthorizerHandler<'a>,
{
    coldstart_mark("main");
    init_logging();
    let app = &App::from_env_with_jwt_secret().await?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
            let started = Instant::now();
            let context = LineContext {
                request_id: event.payload.request_context.request_id.clone(),
                lambda_request_id: Some(event.context.request_id.clone()),
                source_ip: event
                    .payload
                    .request_context
                    .identity
                    .as_ref()
                    .and_then(|identity| identity.source_ip.as_deref().and_then(parse_ip)),
            };
            let Decided { answer, observed } = handler.call(app, event.payload).await;
            let line = Line {
                function,
                status: None,
                latency: started.elapsed(),
                limited: None,
                observed,
                context,
            };
            write_metric_line(&metric_line(&line, SystemTime::now()));
            answer.map_err(Into::into)
        },
    ))
    .await
}

/// A function that needs no app at all (the web console's static pages): logging, then
/// `handler` for every request, and its metric line.
pub async fn serve_pages(
    function: &'static str,
    handler: fn(&Request) -> Response<Body>,
) -> Result<(), Error> {
    init_logging();
    lambda_http::run(lambda_http::service_fn(|mut req: Request| async move {
        let metrics = RequestMetrics::begin(function, &mut req, None);
        let response = handler(&req);
        write_metric_line(&metrics.finish(&response));
        Ok::<_, Infallible>(response)
    }))
    .await
}

/// An event handler (a stream batch, a schedule's tick): the raw event in, the answer the
/// event source reads (batch item failures) or an error out.
pub trait EventHandlerWith<'a, D: 'a>: Copy + Send + Sync {
    type Answer: Future<Output = Result<serde_json::Value, Error>> + Send + 'a;
    fn call(self, app: &'a App<DynamoStore>, deps: &'a D, event: serde_json::Value)
        -> Self::Answer;
}

impl<'a, D: 'a, F, A> EventHandlerWith<'a, D> for F
where
    F: Copy + Send + Sync + Fn(&'a App<DynamoStore>, &'a D, serde_json::Value) -> A,
    A: Future<Output = Result<serde_json::Value, Error>> + Send + 'a,
{
    type Answer = A;
    fn call(self, app: &'a App<DynamoStore>, deps: &'a D, event: serde_json::Value) -> A {
        self(app, deps, event)
    }
}

/// Connections an event handler's cold start opens: its attempts to a workspace's endpoints
/// run side by side, each recording its own writes.
const EVENT_HANDLER_CONNECTIONS: usize = 4;

/// A function fed by an event source, not API Gateway (the webhook dispatcher and scheduler):
/// the app, `deps` from `build`, then `handler` for every event.
pub async fn serve_events<D, E, H>(
    function: &'static str,
    build: impl FnOnce() -> Result<D, E>,
    handler: H,
) -> Result<(), Error>
where
    D: Sync,
    E: Into<Error>,
    H: for<'a> EventHandlerWith<'a, D>,
{
    coldstart_mark("main");
    init_logging();
    let app = &App::from_env_with_connections(EVENT_HANDLER_CONNECTIONS).await?;
    let deps = &build().map_err(Into::into)?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let started = Instant::now();
            let answer = handler.call(app, deps, event.payload).await;
            // Debug: the scheduler's tick comes every minute (every second locally); what an
            // event did is the handler's to log.
            tracing::debug!(
                function,
                lambda_request_id = %event.context.request_id,
                latency_ms = started.elapsed().as_millis() as u64,
                ok = answer.is_ok(),
                "event handled"
            );
            answer
        },
    ))
    .await
}
