//! Cold-start harness: `make bench` (scripts/bench.sh) and `make build`'s smoke run. It serves
//! a fake AWS Lambda Runtime API (hyper) to each process and starts each function's bootstrap
//! fresh `--runs` times, in flow order: every run makes the data later ones need (a workspace,
//! keys, messages). Each process gets two API Gateway events and is killed after answering
//! both; every answer is checked (status code, or `Allow`), so no failure path is timed.
//!
//! - init: spawn to the first `GET /runtime/invocation/next`; first invocation: that event
//!   handed over to its response; cold total: both.
//! - `--baseline BIN` (tests/hello-world): a baseline process before each process (A B A B),
//!   and each figure as a ratio to the baseline runs interleaved with that function.
//! - SDK floors (tests/sdk-floor), when `--functions` names them (`floor-authorizer`,
//!   `floor-send-message`, ...): each takes turns with the function it stands for (H F H L),
//!   with its events and checks, and a last table shows what the function adds to its floor.
//! - Breakdown: the functions print the end of each init phase (`shared::app::coldstart_mark`,
//!   enabled by `YEBOLINK_COLDSTART_MARKS`); the second event to the same process shows what
//!   the first invocation costs once warm.
//!
//! Usage: coldstart --dynamodb-endpoint URL --table NAME [--bin-dir target/release |
//! --sam-build .aws-sam/build] [--runner "qemu-aarch64 -L ..."] [--baseline BIN] [--runs 20]
//! [--functions a,b] [--log-dir DIR] [--label TEXT]

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, fs};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::mpsc, task::JoinSet, time::timeout};
use uuid::Uuid;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Reply = Response<Full<Bytes>>;

/// Flow order, with each function's route and success status (the authorizer: `Allow`).
const FLOW: [(&str, &str, &str, u64); 9] = [
    ("register", "POST", "/api/v1/auth/register", 201),
    ("login", "POST", "/api/v1/auth/login", 200),
    ("create-api-key", "POST", "/api/v1/api-keys", 201),
    ("list-api-keys", "GET", "/api/v1/api-keys", 200),
    ("authorizer", "GET", "/api/v1/messages", 0),
    ("send-message", "POST", "/api/v1/messages/send", 201),
    ("list-messages", "GET", "/api/v1/messages", 200),
    ("get-message", "GET", "/api/v1/messages/{id}", 200),
    ("deactivate-api-key", "DELETE", "/api/v1/api-keys/{id}", 200),
];
/// Whose runs make the data every other function needs (a workspace, keys, messages).
const PREREQUISITES: [&str; 3] = ["register", "create-api-key", "send-message"];
const BASELINE: &str = "hello-world";
/// The function a floor (`floor-<function>`, tests/sdk-floor) stands for; a function stands
/// for itself.
fn stands_for(function: &str) -> &str {
    function.strip_prefix("floor-").unwrap_or(function)
}
/// Lambda's environment and the template's, plus the local endpoint, the JWT secret, and limits
/// that let `--runs` registrations (one source address), their keys (two a process, in one
/// workspace) and their keys' requests through.
const ENV: &str = "AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=local \
    AWS_SECRET_ACCESS_KEY=local AWS_SESSION_TOKEN=local AWS_LAMBDA_FUNCTION_VERSION=$LATEST \
    AWS_LAMBDA_INITIALIZATION_TYPE=on-demand _HANDLER=bootstrap TZ=:UTC LANG=en_US.UTF-8 \
    PATH=/usr/local/bin:/usr/bin:/bin DYNAMODB_TIMEOUT_MS=2000 JWT_ISSUER=yebolink \
    JWT_AUDIENCE=yebolink-api JWT_SECRET=coldstart-harness-secret-coldstart-harness \
    RATE_LIMIT_PER_MINUTE=1000 REGISTER_LIMIT_PER_IP_PER_HOUR=1000 \
    LOGIN_LIMIT_PER_IP_PER_15_MIN=1000 WORKSPACE_KEY_LIMIT=1000 RUST_LOG=info \
    YEBOLINK_COLDSTART_MARKS=1";
/// The init phases the functions mark, in order, and their labels in the breakdown. The
/// runtime's start follows the last; the warm-up read (`WARM_UP`), started after the SDK
/// client, runs beside the rest.
const PHASES: [(&str, &str); 5] = [
    ("main", "exec + loading"),
    ("logging", "logging"),
    ("config", "config + credentials"),
    ("clients", "SDK client"),
    ("secret", "JWT secret"),
];
/// Marked when the warm-up read, started after the SDK client, has its answer.
const WARM_UP: &str = "warm-up";

// ------------------------------------------------------------------ hyper servers

/// Serves one process's Runtime API until the task is aborted, which drops every connection.
async fn serve(listener: TcpListener, api: Arc<RuntimeApi>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let service = service_fn(move |req| runtime_api(api.clone(), req));
        connections.spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
    }
}

fn reply<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, String)>,
    body: Bytes,
) -> Reply {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(name, value);
    }
    response.body(Full::new(body)).unwrap_or_default()
}

async fn read_body(body: Incoming) -> Bytes {
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// What one process did on its Runtime API, in order.
enum Report {
    Next(Instant),
    Served(Instant),
    Answer(Instant, Result<Value, String>),
}

struct RuntimeApi {
    events: tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>,
    reports: mpsc::UnboundedSender<Report>,
    arn: String,
}

async fn runtime_api(api: Arc<RuntimeApi>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let arrived = Instant::now();
    let path = req
        .uri()
        .path()
        .trim_start_matches("/2018-06-01/runtime/")
        .to_owned();
    if path == "invocation/next" {
        let _ = api.reports.send(Report::Next(arrived));
        // Once the events are used up the poll waits, as Lambda freezes the process.
        let Some(event) = api.events.lock().await.recv().await else {
            return Ok(reply(410, [], Bytes::new()));
        };
        let deadline = unix_micros() / 1000 + 10_000;
        let trace = Uuid::new_v4().simple().to_string();
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", Uuid::new_v4().to_string()),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", api.arn.clone()),
            (
                "lambda-runtime-trace-id",
                format!("Root=1-{:08x}-{}", deadline / 1000, &trace[..24]),
            ),
        ];
        let _ = api.reports.send(Report::Served(Instant::now()));
        return Ok(reply(200, headers, event.into()));
    }
    let (response, error) = (path.ends_with("/response"), path.ends_with("error"));
    let text = String::from_utf8_lossy(&read_body(req.into_body()).await).into_owned();
    let answer = match serde_json::from_str(&text) {
        Ok(value) if response => Ok(value),
        _ if response || error => Err(format!("{path}: {text}")),
        _ => return Ok(reply(404, [], Bytes::new())),
    };
    let _ = api.reports.send(Report::Answer(arrived, answer));
    let accepted = r#"{"status":"OK"}"#.into();
    Ok(reply(
        202,
        [("content-type", "application/json".into())],
        accepted,
    ))
}

// ------------------------------------------------------------------ one cold start

struct Sample {
    init: f64,
    invocation: f64,
    /// Init phases from the process's own marks: (phase, ms since spawn).
    marks: Vec<(String, f64)>,
    /// The second event to the same process: what the first one costs once warm.
    second: f64,
}

impl Options {
    fn binary(&self, function: &str) -> PathBuf {
        let sam_build = self.get("sam-build");
        match (function, sam_build.is_empty()) {
            (BASELINE, _) => self.get("baseline").into(),
            ("floor-authorizer", _) => PathBuf::from(self.get("bin-dir")).join(function),
            (floor, _) if floor.starts_with("floor-") => {
                PathBuf::from(self.get("bin-dir")).join("floor-messaging")
            }
            (_, true) => PathBuf::from(self.get("bin-dir")).join(function),
            // `create-api-key` -> `CreateApiKeyFunction/bootstrap`, as the template names it.
            (_, false) => {
                let words = function.split('-').map(|w| w[..1].to_uppercase() + &w[1..]);
                let id: String = words.collect();
                PathBuf::from(sam_build).join(format!("{id}Function/bootstrap"))
            }
        }
    }

    fn command(&self, function: &str, runtime_api: &str) -> Command {
        let binary = self.binary(function);
        // `--runner "qemu-aarch64 -L DIR"` runs the binary through that command.
        let mut argv: Vec<PathBuf> = self
            .get("runner")
            .split_whitespace()
            .map(PathBuf::from)
            .collect();
        argv.push(binary.clone());
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        let memory = match stands_for(function) {
            "register" | "login" => "1024",
            "authorizer" => "512",
            _ => "256",
        };
        let root = binary.parent().map(PathBuf::from).unwrap_or_default();
        let name = format!("yebolink-{function}");
        let stream = format!("2026/01/01/[$LATEST]{}", Uuid::new_v4().simple());
        command.env_clear().current_dir(&root);
        command.envs(
            ENV.split_whitespace()
                .filter_map(|pair| pair.split_once('=')),
        );
        command.envs([
            ("AWS_LAMBDA_RUNTIME_API", runtime_api),
            ("AWS_LAMBDA_FUNCTION_NAME", &name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory),
            ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", &stream),
            ("LAMBDA_TASK_ROOT", &root.display().to_string()),
            ("TABLE_NAME", self.get("table")),
            ("DYNAMODB_ENDPOINT", self.get("dynamodb-endpoint")),
        ]);
        command
    }

    /// Run `run` of `function`: a fresh process, its two events (`2 * run`, `2 * run + 1`) in
    /// turn, their answers checked.
    async fn cold_start(
        &self,
        function: &str,
        run: usize,
        fx: &mut Fixtures,
    ) -> Result<Sample, Error> {
        let (event_tx, event_rx) = mpsc::channel(2);
        for i in [2 * run, 2 * run + 1] {
            event_tx
                .send(serde_json::to_vec(&event(function, i, fx)?)?)
                .await?;
        }
        let (reports_tx, mut reports) = mpsc::unbounded_channel();
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:yebolink-{function}");
        let events = tokio::sync::Mutex::new(event_rx);
        let api = Arc::new(RuntimeApi {
            events,
            reports: reports_tx,
            arn,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let server = tokio::spawn(serve(listener, api));
        let log_path = PathBuf::from(self.get("log-dir")).join(format!("{function}.log"));
        let log = fs::File::options()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let log_start = log.metadata()?.len() as usize;
        let mut command = self.command(function, &address);
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);

        let (spawned, spawned_unix) = (Instant::now(), unix_micros());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {function}: {e}"))?;
        let (mut next, mut served, mut answers, mut failure) = (None, vec![], vec![], None);
        while answers.len() < 2 && failure.is_none() {
            match timeout(Duration::from_millis(20), reports.recv()).await {
                Ok(Some(Report::Next(at))) => _ = next.get_or_insert(at),
                Ok(Some(Report::Served(at))) => served.push(at),
                Ok(Some(Report::Answer(at, Ok(value)))) => answers.push((at, value)),
                Ok(Some(Report::Answer(_, Err(text)))) => failure = Some(format!("error {text}")),
                _ => match child.try_wait()? {
                    Some(status) => failure = Some(format!("exited ({status}) before answering")),
                    None if spawned.elapsed().as_secs() > 60 => {
                        failure = Some("no answer in 60 s".into())
                    }
                    None => {}
                },
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        server.abort();
        let output = fs::read_to_string(&log_path).unwrap_or_default();
        let output = output.get(log_start..).unwrap_or_default();
        if let Some(what) = failure {
            let lines: Vec<&str> = output.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            let log = log_path.display();
            return Err(format!("{function}: {what}\n---- its output ({log}) ----\n{tail}").into());
        }
        let (next, answered) = (next.ok_or("no poll")?, [answers[0].0, answers[1].0]);
        let marks = output.lines().filter_map(|line| {
            let (phase, at) = line.strip_prefix("coldstart-mark ")?.split_once(' ')?;
            let since_spawn = at.parse::<u128>().ok()?.saturating_sub(spawned_unix);
            Some((phase.to_owned(), since_spawn as f64 / 1000.0))
        });
        let sample = Sample {
            init: ms(next - spawned),
            invocation: ms(answered[0] - served[0]),
            marks: marks.collect(),
            second: ms(answered[1] - served[1]),
        };
        for (i, (_, answer)) in answers.iter().enumerate() {
            check(function, 2 * run + i, answer, fx)?;
        }
        Ok(sample)
    }
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ------------------------------------------------------------------ events and answers

#[derive(Default)]
struct Fixtures {
    email: String,
    user_id: String,
    workspace_id: String,
    keys: Vec<(String, String)>,
    messages: Vec<String>,
}

/// The event of run `i` of `function`: an API Gateway REST API proxy event (stage `v1`) with
/// the authorizer's context, or the REQUEST authorizer event; data from earlier runs.
fn event(function: &str, i: usize, fx: &Fixtures) -> Result<Value, Error> {
    let Some(&(_, method, resource, _)) = FLOW.iter().find(|f| f.0 == stands_for(function)) else {
        return Ok(json!({ "run": i }));
    };
    let key = |n: usize| {
        fx.keys
            .get(n)
            .ok_or("create-api-key must run first (and as often)")
    };
    let (key_id, secret) = key(0).cloned().unwrap_or_default();
    let (id, body) = match stands_for(function) {
        "register" => {
            let fresh = format!("cold-{}@example.com", Uuid::new_v4());
            let email = if i == 0 { &fx.email } else { &fresh };
            let body =
                json!({ "workspace_name": "Coldstart", "email": email, "password": PASSWORD });
            (None, Some(body))
        }
        "login" => (
            None,
            Some(json!({ "email": fx.email, "password": PASSWORD })),
        ),
        "create-api-key" => (None, Some(json!({ "name": format!("Coldstart key {i}") }))),
        "deactivate-api-key" => (Some(key(i)?.0.clone()), None),
        "get-message" => (fx.messages.get(i % fx.messages.len().max(1)).cloned(), None),
        "send-message" => {
            let text = format!("Your verification code is {:06}", i * 7919 % 1_000_000);
            let body =
                json!({ "to": "+26876123456", "channel": "sms", "content": { "text": text } });
            (None, Some(body))
        }
        _ => (None, None),
    };
    let (user, keyed) = (resource.contains("api-keys"), resource.contains("messages"));
    let mut headers = json!({ "Accept": "application/json", "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https" });
    if body.is_some() {
        headers["Content-Type"] = json!("application/json");
    }
    let authorizer = if user {
        headers["Authorization"] = json!("Bearer <the user's token>");
        json!({ "principalId": fx.user_id, "principal_type": "user", "user_id": fx.user_id,
            "workspace_id": fx.workspace_id, "scopes": "" })
    } else if keyed {
        headers["X-API-Key"] = json!(secret);
        json!({ "principalId": key_id, "principal_type": "api_key", "key_id": key_id,
            "workspace_id": fx.workspace_id, "scopes": "send_messages read_messages" })
    } else {
        Value::Null
    };
    let multi: serde_json::Map<String, Value> = headers
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let path = resource.replace("{id}", id.as_deref().unwrap_or_default());
    let query = (method == "GET" && id.is_none()).then(|| json!({ "limit": "20" }));
    let mut event = json!({
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": multi, "queryStringParameters": query,
        "multiValueQueryStringParameters": query.as_ref().map(|_| json!({ "limit": ["20"] })),
        "pathParameters": id.map(|id| json!({ "id": id })), "stageVariables": null,
        "requestContext": { "resourceId": "a1b2c3", "resourcePath": resource, "httpMethod": method,
            "path": format!("/v1{path}"), "accountId": "123456789012", "stage": "v1",
            "requestId": Uuid::new_v4().to_string(), "requestTimeEpoch": unix_micros() / 1000,
            "identity": { "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0" },
            "apiId": "abcdef1234", "authorizer": authorizer, "protocol": "HTTP/1.1" },
        "body": body.map(|b| b.to_string()), "isBase64Encoded": false,
    });
    if stands_for(function) == "authorizer" {
        event["type"] = json!("REQUEST");
        event["methodArn"] = json!(format!(
            "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/{method}{resource}"
        ));
    }
    Ok(event)
}

const PASSWORD: &str = "correct horse battery staple";

/// Checks an answer as a client would see it, and keeps the data later functions need (a
/// floor's answer only by its status: it makes no data).
fn check(function: &str, i: usize, answer: &Value, fx: &mut Fixtures) -> Result<(), Error> {
    let failed = || format!("{function} answered {answer}").into();
    let Some(&(_, _, _, status)) = FLOW.iter().find(|f| f.0 == stands_for(function)) else {
        return (answer["message"] == "hello world")
            .then_some(())
            .ok_or_else(failed);
    };
    if stands_for(function) == "authorizer" {
        let effect = &answer["policyDocument"]["Statement"][0]["Effect"];
        return (effect == "Allow").then_some(()).ok_or_else(failed);
    }
    if answer["statusCode"] != status {
        return Err(format!(
            "{function} answered {} (expected {status}): {}",
            answer["statusCode"], answer["body"]
        )
        .into());
    }
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap_or("null"))?;
    let data = &body["data"];
    let text = |v: &Value| v.as_str().map(str::to_owned).ok_or_else(failed);
    match function {
        "register" if i == 0 => {
            fx.user_id = text(&data["user"]["id"])?;
            fx.workspace_id = text(&data["workspace"]["id"])?;
        }
        "create-api-key" => fx.keys.push((text(&data["id"])?, text(&data["key"])?)),
        "send-message" => fx.messages.push(text(&data["id"])?),
        _ => {}
    }
    Ok(())
}

// ------------------------------------------------------------------ tables

/// Median, or nearest-rank percentile `p`, of `values`.
fn pct(values: impl IntoIterator<Item = f64>, p: usize) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if p == 50 && n % 2 == 0 => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        n => v[(p * n).div_ceil(100).clamp(1, n) - 1],
    }
}

type Results<'a> = [(&'a str, Vec<Sample>, Vec<Sample>)];

fn print_tables(opts: &Options, results: &Results) {
    type Figure = fn(&Sample) -> f64;
    let total: Figure = |s| s.init + s.invocation;
    let figures: [(Figure, usize); 5] = [
        (|s| s.init, 50),
        (|s| s.init, 90),
        (|s| s.invocation, 50),
        (|s| s.invocation, 90),
        (total, 50),
    ];
    let baseline = if opts.0.contains_key("baseline") {
        ", each after a hello-world one (A B A B); ms, and the ratio to the hello-world runs interleaved with it"
    } else {
        "; ms"
    };
    println!(
        "\n{}\n\nCold starts: {} fresh processes per function{baseline}.\n",
        opts.get("label"),
        opts.get("runs")
    );
    println!("| function | init p50 | init p90 | 1st invocation p50 | 1st invocation p90 | cold total p50 | bootstrap MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut rows: Vec<(&str, Vec<&Sample>, Vec<&Sample>)> = vec![];
    if opts.0.contains_key("baseline") {
        rows.push((
            BASELINE,
            results.iter().flat_map(|r| &r.2).collect(),
            vec![],
        ));
    }
    rows.extend(
        results
            .iter()
            .map(|(f, samples, base)| (*f, samples.iter().collect(), base.iter().collect())),
    );
    for (function, samples, base) in &rows {
        let cells = figures.iter().map(|(figure, p)| {
            let own = pct(samples.iter().map(|s| figure(s)), *p);
            let ratio = own / pct(base.iter().map(|s| figure(s)), *p);
            if base.is_empty() {
                format!("{own:.1}")
            } else {
                format!("{own:.1} ({ratio:.2}x)")
            }
        });
        let size = fs::metadata(opts.binary(function)).map(|m| m.len() as f64 / 1048576.0);
        let size = size.map_or("-".into(), |mib| format!("{mib:.2}"));
        println!(
            "| {function} | {} | {size} |",
            cells.collect::<Vec<_>>().join(" | ")
        );
    }
    println!(
        "\nWhere each cold total goes, p50 ms: each init phase ends at the process's own mark.\n"
    );
    let labels: Vec<&str> = PHASES.iter().map(|p| p.1).collect();
    let header = "runtime to 1st poll | warm-up read (from SDK client) | warm-up past 1st poll \
        | 1st invocation | cold total | 2nd invocation";
    println!("| function | {} | {header} |", labels.join(" | "));
    println!("|---|{}", "---:|".repeat(PHASES.len() + 6));
    for (function, samples, _) in results {
        let p50 = |figure: &dyn Fn(&Sample) -> Option<f64>| {
            let p50 = pct(samples.iter().filter_map(figure), 50);
            if p50.is_nan() {
                "-".to_owned()
            } else {
                format!("{p50:.2}")
            }
        };
        // Each phase from the previous mark (spawn for the first) to its own.
        let phases = PHASES.iter().map(|(phase, _)| {
            p50(&|s| {
                let at = s.marks.iter().position(|m| m.0 == *phase)?;
                Some(s.marks[at].1 - at.checked_sub(1).map_or(0.0, |p| s.marks[p].1))
            })
        });
        let mark = |s: &Sample, phase: &str| s.marks.iter().find(|m| m.0 == phase).map(|m| m.1);
        let init_done = |s: &Sample| PHASES.iter().filter_map(|p| mark(s, p.0)).reduce(f64::max);
        let cells: Vec<String> = phases
            .chain([
                p50(&|s| Some(s.init - init_done(s).unwrap_or(0.0))),
                p50(&|s| Some(mark(s, WARM_UP)? - mark(s, "clients")?)),
                p50(&|s| Some((mark(s, WARM_UP)? - s.init).max(0.0))),
                p50(&|s| Some(s.invocation)),
                p50(&|s| Some(total(s))),
                p50(&|s| Some(s.second)),
            ])
            .collect();
        println!("| {function} | {} |", cells.join(" | "));
    }
    print_floor_table(results);
}

/// What each function adds to its SDK floor, in hello-world cold starts: each one's p50 as a
/// ratio to the hello-world runs interleaved with it, so a slower minute of the machine moves
/// neither, and their difference (the function's own share).
fn print_floor_table(results: &Results) {
    let figures: [fn(&Sample) -> f64; 3] =
        [|s| s.init, |s| s.invocation, |s| s.init + s.invocation];
    let ratio = |(_, samples, base): &(&str, Vec<Sample>, Vec<Sample>),
                 figure: fn(&Sample) -> f64| {
        pct(samples.iter().map(figure), 50) / pct(base.iter().map(figure), 50)
    };
    let mut rows = String::new();
    for floor in results.iter().filter(|r| r.0.starts_with("floor-")) {
        let Some(own) = results.iter().find(|r| r.0 == stands_for(floor.0)) else {
            continue;
        };
        let cells = figures.map(|figure| {
            let (own, floor) = (ratio(own, figure), ratio(floor, figure));
            format!("{own:.2}x - {floor:.2}x = {:+.2}x", own - floor)
        });
        rows += &format!("| {} | {} |\n", own.0, cells.join(" | "));
    }
    if !rows.is_empty() {
        println!("\nEach function against its SDK floor (tests/sdk-floor: the same init and DynamoDB calls, nothing else): p50s as ratios to the hello-world runs interleaved with each; function - floor = the function's own share.\n");
        println!("| function | init | 1st invocation | cold total |\n|---|---:|---:|---:|");
        print!("{rows}");
    }
    println!();
}

// ------------------------------------------------------------------ main

/// `--flag value` pairs (usage at the top); paths made absolute, defaults filled in.
struct Options(HashMap<String, String>);

impl Options {
    fn get(&self, flag: &str) -> &str {
        self.0.get(flag).map_or("", String::as_str)
    }
}

fn options() -> Result<Options, Error> {
    let args: Vec<String> = env::args().skip(1).collect();
    let log_dir = env::temp_dir().join("yebolink-coldstart");
    let mut flags = HashMap::from([
        ("bin-dir".to_owned(), "target/release".to_owned()),
        ("runs".to_owned(), "20".to_owned()),
        ("log-dir".to_owned(), log_dir.display().to_string()),
    ]);
    for pair in args.chunks(2) {
        match pair {
            [flag, value] if flag.starts_with("--") => flags.insert(flag[2..].into(), value.into()),
            _ => return Err(format!("{pair:?}: see tests/src/bin/coldstart.rs for usage").into()),
        };
    }
    for flag in ["bin-dir", "sam-build", "baseline"] {
        if let Some(path) = flags.get_mut(flag) {
            let absolute = fs::canonicalize(&*path).map_err(|e| format!("{path}: {e}"))?;
            *path = absolute.display().to_string();
        }
    }
    let opts = Options(flags);
    if opts.get("dynamodb-endpoint").is_empty() || opts.get("table").is_empty() {
        return Err("--dynamodb-endpoint and --table are required".into());
    }
    Ok(opts)
}

#[tokio::main]
async fn main() {
    if let Err(err) = run().await {
        eprintln!("coldstart: {err}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let opts = options()?;
    fs::create_dir_all(opts.get("log-dir"))?;
    let runs: usize = opts.get("runs").parse()?;
    let named: Vec<&str> = opts.get("functions").split(',').collect();
    let wanted = |f: &str| named == [""] || named.contains(&f);
    // Each function with its floor, if named: they take turns, so both share the same minutes.
    let selected = FLOW.iter().map(|f| {
        let function = Some(f.0).filter(|f| wanted(f) || PREREQUISITES.contains(f));
        let floor = named
            .iter()
            .copied()
            .find(|n| *n != f.0 && stands_for(n) == f.0);
        function.into_iter().chain(floor).collect::<Vec<_>>()
    });
    let email = format!("coldstart-{}@example.com", Uuid::new_v4());
    let mut fx = Fixtures {
        email,
        ..Fixtures::default()
    };
    let mut results = Vec::new();
    for group in selected {
        let mut rows: Vec<_> = group.into_iter().map(|f| (f, vec![], vec![])).collect();
        for run in 0..runs {
            for (function, samples, base) in &mut rows {
                if opts.0.contains_key("baseline") {
                    base.push(opts.cold_start(BASELINE, run, &mut fx).await?);
                }
                samples.push(opts.cold_start(function, run, &mut fx).await?);
            }
        }
        for (function, samples, base) in rows {
            eprintln!(
                "  {function}: {} cold starts answered as expected",
                samples.len()
            );
            results.push((function, samples, base));
        }
    }
    print_tables(&opts, &results);
    Ok(())
}
