//! Cold-start harness (`make bench` runs it through `scripts/bench.sh`; docs/performance.md).
//!
//! Serves a minimal AWS Lambda Runtime API on 127.0.0.1 (a listener per process) and, for each
//! function, starts its release `bootstrap` as a fresh process again and again (`--runs`,
//! default 20). Each process gets two realistic events, one after the other, and is killed once
//! it has answered both. Per process it measures:
//!
//! - init: from just before `spawn` to the moment its first `GET /runtime/invocation/next`
//!   arrives (everything `main` does before it polls: exec, SDK config, secrets, warm-up read);
//! - first invocation: from handing the first event to that poll to the arrival of the
//!   function's `POST /runtime/invocation/{id}/response`; warm invocation: the same for the
//!   second event.
//!
//! The functions reach the local DynamoDB (`--dynamodb-endpoint`) through a relay in this
//! process that records each call, so the table also shows which DynamoDB operations each
//! invocation of the real binary made, and how long the emulator took to answer them.
//!
//! The events are what API Gateway sends: REST API proxy events carrying the authorizer context
//! the function needs, and a REST API REQUEST authorizer event with a real key for the
//! authorizer. The data they need is made by the measured runs themselves, in order: register
//! (a workspace), login, create-api-key (keys), list-api-keys, authorizer, send-message
//! (messages), list-messages, get-message, deactivate-api-key. Every answer is checked (status
//! code or Allow), so a failing path is never timed.
//!
//! The binaries are cargo's (`--bin-dir target/release`: `<dir>/<function>`) or `sam build`'s
//! (`--sam-build .aws-sam/build`: `<dir>/<LogicalId>/bootstrap`). `--runner "qemu-aarch64 -L
//! /usr/aarch64-linux-gnu"` starts each through that command: `make build` uses it to run the
//! arm64 bootstraps on an x86_64 machine (their timings are then the emulator's, not Lambda's).
//!
//! Usage: coldstart --dynamodb-endpoint http://127.0.0.1:8000 --table NAME
//!        [--bin-dir target/release | --sam-build .aws-sam/build] [--runner "CMD ARGS"]
//!        [--runs 20] [--zip-dir DIR] [--log-dir DIR] [--json FILE]
//!        [--functions a,b,...] [--label TEXT]

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use uuid::Uuid;

const FUNCTIONS: [&str; 9] = [
    "register",
    "login",
    "create-api-key",
    "list-api-keys",
    "authorizer",
    "send-message",
    "list-messages",
    "get-message",
    "deactivate-api-key",
];
const PASSWORD: &str = "correct horse battery staple";
const JWT_SECRET: &str = "coldstart-harness-secret-coldstart-harness";
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const API_ID: &str = "abcdef1234";
const ACCOUNT: &str = "123456789012";

type Error = Box<dyn std::error::Error + Send + Sync>;

fn fail<T>(message: impl Into<String>) -> Result<T, Error> {
    Err(message.into().into())
}

// ------------------------------------------------------------------ the Runtime API server

/// What the function posted back.
#[derive(Debug, Clone)]
enum Answer {
    Response(Value),
    Error(String),
}

/// One process's Runtime API: each process gets a listener and state of its own, so nothing a
/// killed process still had in flight can reach the next one.
#[derive(Default)]
struct RunState {
    /// Set once the process was killed: held polls give up.
    finished: bool,
    /// The events this process gets, one per `/next`, with their request ids.
    events: Vec<(String, Vec<u8>)>,
    function_arn: String,
    first_next_at: Option<Instant>,
    /// When each event was handed to the function (just before it was written).
    served_at: Vec<Instant>,
    /// Each answer and when it arrived, in order.
    answers: Vec<(Instant, Answer)>,
    init_error: Option<String>,
}

#[derive(Default)]
struct Runtime {
    state: Mutex<RunState>,
    changed: Condvar,
}

impl Runtime {
    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct HttpRequest {
    /// When the request's head (line + headers) had fully arrived.
    arrived: Instant,
    method: String,
    path: String,
    /// As sent (names in their original case), for the DynamoDB relay.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// One keep-alive connection from a function's runtime client.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Connection {
    fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Self {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// The next request, or `None` when the peer closed the connection.
    fn read_request(&mut self) -> io::Result<Option<HttpRequest>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        let mut raw_headers = Vec::new();
        loop {
            let mut header = String::new();
            if self.reader.read_line(&mut header)? == 0 {
                return Ok(None);
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
                raw_headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let arrived = Instant::now();
        let body = if headers
            .get("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            self.read_chunked()?
        } else {
            let length: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
            body
        };
        Ok(Some(HttpRequest {
            arrived,
            method,
            path,
            headers: raw_headers,
            body,
        }))
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            self.reader.read_line(&mut size_line)?;
            let size_hex = size_line.trim().split(';').next().unwrap_or("0");
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if size == 0 {
                // Trailers until the empty line.
                loop {
                    let mut trailer = String::new();
                    if self.reader.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..])?;
            let mut crlf = [0; 2];
            self.reader.read_exact(&mut crlf)?;
        }
    }

    fn respond(&mut self, status: &str, headers: &[(&str, String)], body: &[u8]) -> io::Result<()> {
        let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        self.writer.write_all(&bytes)?;
        self.writer.flush()
    }
}

fn serve(runtime: Arc<Runtime>, listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        if runtime.lock().finished {
            return;
        }
        let runtime = runtime.clone();
        thread::spawn(move || {
            if let Ok(connection) = Connection::new(stream) {
                // A broken connection is the killed process going away: nothing to report.
                let _ = handle_connection(&runtime, connection);
            }
        });
    }
}

fn handle_connection(runtime: &Runtime, mut connection: Connection) -> io::Result<()> {
    while let Some(request) = connection.read_request()? {
        let route = request.path.trim_start_matches("/2018-06-01/runtime/");
        match (request.method.as_str(), route) {
            ("GET", "invocation/next") => {
                let mut state = runtime.lock();
                let served = state.served_at.len();
                if served == state.events.len() || state.answers.len() < served {
                    // Nothing (yet) for this process: hold the poll until it is killed, as
                    // Lambda freezes it.
                    while !state.finished {
                        state = runtime
                            .changed
                            .wait(state)
                            .unwrap_or_else(|e| e.into_inner());
                    }
                    return Ok(());
                }
                if served == 0 {
                    state.first_next_at = Some(request.arrived);
                }
                let (request_id, event) = state.events[served].clone();
                let deadline = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
                    + 10_000;
                let headers = [
                    ("content-type", "application/json".to_owned()),
                    ("lambda-runtime-aws-request-id", request_id),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        state.function_arn.clone(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        format!(
                            "Root=1-{:08x}-{};Parent={};Sampled=0",
                            deadline / 1000 % 0xffff_ffff,
                            &Uuid::new_v4().simple().to_string()[..24],
                            &Uuid::new_v4().simple().to_string()[..16]
                        ),
                    ),
                ];
                // Taken before the write: the function may answer, and call DynamoDB, before
                // this thread runs again.
                state.served_at.push(Instant::now());
                connection.respond("200 OK", &headers, &event)?;
                runtime.changed.notify_all();
            }
            ("POST", path) if path.starts_with("invocation/") || path == "init/error" => {
                let text = String::from_utf8_lossy(&request.body).into_owned();
                {
                    let mut state = runtime.lock();
                    if path == "init/error" {
                        state.init_error = Some(text);
                    } else {
                        let answer = if path.ends_with("/response") {
                            serde_json::from_str(&text)
                                .map(Answer::Response)
                                .unwrap_or(Answer::Error(format!("response is not JSON: {text}")))
                        } else {
                            Answer::Error(text)
                        };
                        state.answers.push((request.arrived, answer));
                    }
                    runtime.changed.notify_all();
                }
                connection.respond(
                    "202 Accepted",
                    &[("content-type", "application/json".to_owned())],
                    br#"{"status":"OK"}"#,
                )?;
            }
            _ => connection.respond("404 Not Found", &[], b"")?,
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ the DynamoDB relay

/// One DynamoDB call a function made, as the relay saw it.
#[derive(Debug, Clone)]
struct DynamoCall {
    /// The request had fully arrived from the function.
    start: Instant,
    /// The local DynamoDB's answer had fully arrived.
    end: Instant,
    /// `X-Amz-Target` without the API version: `GetItem`, `TransactWriteItems`, ...
    operation: String,
}

/// Sits between the functions and the local DynamoDB and records every call: which operations
/// each invocation made (the real binaries, not a model of them) and how long the emulator took.
#[derive(Default)]
struct Relay {
    calls: Mutex<Vec<DynamoCall>>,
}

impl Relay {
    fn take(&self) -> Vec<DynamoCall> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn serve_relay(relay: Arc<Relay>, listener: TcpListener, upstream: String) {
    for stream in listener.incoming().flatten() {
        let (relay, upstream) = (relay.clone(), upstream.clone());
        thread::spawn(move || {
            if let Ok(connection) = Connection::new(stream) {
                let _ = relay_connection(&relay, connection, &upstream);
            }
        });
    }
}

fn relay_connection(relay: &Relay, mut client: Connection, upstream: &str) -> io::Result<()> {
    while let Some(request) = client.read_request()? {
        let start = Instant::now();
        let operation = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-amz-target"))
            .map(|(_, value)| value.rsplit('.').next().unwrap_or(value).to_owned())
            .unwrap_or_else(|| "?".to_owned());
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
        for (name, value) in &request.headers {
            if !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("transfer-encoding")
            {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", request.body.len()));
        let mut upstream_stream = TcpStream::connect(upstream)?;
        upstream_stream.set_nodelay(true)?;
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&request.body);
        upstream_stream.write_all(&bytes)?;
        let (response, close) = read_response(&mut BufReader::new(upstream_stream))?;
        let end = Instant::now();
        relay
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(DynamoCall {
                start,
                end,
                operation,
            });
        client.writer.write_all(&response)?;
        client.writer.flush()?;
        if close {
            return Ok(());
        }
    }
    Ok(())
}

/// A whole HTTP response (status line, headers, Content-Length body) as bytes, and whether it
/// closes the connection.
fn read_response(reader: &mut BufReader<TcpStream>) -> Result<(Vec<u8>, bool), io::Error> {
    let mut raw = Vec::new();
    let mut length = 0;
    let mut close = false;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "response cut short",
            ));
        }
        raw.extend_from_slice(line.as_bytes());
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if first {
            first = false;
            continue;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.trim().eq_ignore_ascii_case("close");
            }
        }
    }
    let start = raw.len();
    raw.resize(start + length, 0);
    reader.read_exact(&mut raw[start..])?;
    Ok((raw, close))
}

/// The calls that started within `[from, to]`: their operations joined by `+`, and their time.
fn calls_between(calls: &[DynamoCall], from: Instant, to: Instant) -> (String, Duration) {
    let inside: Vec<&DynamoCall> = calls
        .iter()
        .filter(|c| c.start >= from && c.start <= to)
        .collect();
    let names: Vec<&str> = inside.iter().map(|c| c.operation.as_str()).collect();
    let time = inside.iter().map(|c| c.end.duration_since(c.start)).sum();
    let names = if names.is_empty() {
        "none".to_owned()
    } else {
        names.join("+")
    };
    (names, time)
}

// ------------------------------------------------------------------ one cold start

/// Where each function's binary is, and what starts it.
struct Binaries {
    dir: PathBuf,
    /// `sam build`'s layout (`<dir>/<LogicalId>/bootstrap`) instead of cargo's.
    sam_layout: bool,
    /// A command (and its arguments) that runs the binary, e.g. an emulator; empty: run it.
    runner: Vec<String>,
}

impl Binaries {
    fn path(&self, function: &str) -> PathBuf {
        if self.sam_layout {
            self.dir.join(sam_logical_id(function)).join("bootstrap")
        } else {
            self.dir.join(function)
        }
    }

    fn command(&self, function: &str) -> Command {
        match self.runner.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(self.path(function));
                command
            }
            None => Command::new(self.path(function)),
        }
    }
}

/// The template's resource name of a function: `create-api-key` -> `CreateApiKeyFunction`.
fn sam_logical_id(function: &str) -> String {
    let mut id: String = function
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    id.push_str("Function");
    id
}

struct Harness {
    relay: Arc<Relay>,
    binaries: Binaries,
    log_dir: PathBuf,
    /// The relay in front of the local DynamoDB: what the functions are pointed at.
    relay_endpoint: String,
    table: String,
}

#[derive(Debug, Clone)]
struct Sample {
    init: Duration,
    /// The first event's invocation: connections to DynamoDB are opened here unless init did.
    first_invocation: Duration,
    /// A second event to the same process: the warm per-request time.
    warm_invocation: Duration,
    /// DynamoDB calls during init, the first and the warm invocation (operations, time).
    init_calls: (String, Duration),
    first_calls: (String, Duration),
    warm_calls: (String, Duration),
}

impl Harness {
    fn environment(&self, function: &str, runtime_api: &str) -> Vec<(&'static str, String)> {
        let task_root = self.task_root(function);
        let memory = match function {
            "register" | "login" => "1024",
            "authorizer" => "512",
            _ => "256",
        };
        vec![
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", format!("yebolink-{function}")),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/yebolink-{function}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("2025/01/01/[$LATEST]{}", Uuid::new_v4().simple()),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "local".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
            ("AWS_SESSION_TOKEN", "local".to_owned()),
            ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
            ("_HANDLER", "bootstrap".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
            // The function's own configuration, as the SAM template sets it, plus the two
            // local-only values (the endpoint, and the secret that Secrets Manager holds in AWS).
            ("TABLE_NAME", self.table.clone()),
            ("DYNAMODB_ENDPOINT", self.relay_endpoint.clone()),
            ("DYNAMODB_TIMEOUT_MS", "2000".to_owned()),
            ("JWT_SECRET", JWT_SECRET.to_owned()),
            ("JWT_ISSUER", "yebolink".to_owned()),
            ("JWT_AUDIENCE", "yebolink-api".to_owned()),
            // Every run of three messaging functions uses one key within a minute.
            ("RATE_LIMIT_PER_MINUTE", "1000".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
    }

    /// The folder the binary is in: Lambda's task root, and the process's working directory.
    fn task_root(&self, function: &str) -> PathBuf {
        let binary = self.binaries.path(function);
        binary.parent().map(Path::to_path_buf).unwrap_or(binary)
    }

    /// Starts `function` fresh, hands it the two events one after the other, returns the
    /// timings and its two answers.
    fn cold_start(
        &self,
        function: &str,
        events: [&Value; 2],
    ) -> Result<(Sample, Vec<Value>), Error> {
        let binary = self.binaries.path(function);
        let runtime = Arc::new(Runtime::default());
        {
            let mut state = runtime.lock();
            state.events = events
                .iter()
                .map(|e| Ok((Uuid::new_v4().to_string(), serde_json::to_vec(e)?)))
                .collect::<Result<_, Error>>()?;
            state.function_arn =
                format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:yebolink-{function}");
        }
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let runtime_api = listener.local_addr()?.to_string();
        {
            let runtime = runtime.clone();
            thread::spawn(move || serve(runtime, listener));
        }
        self.relay.take();
        let log_path = self.log_dir.join(format!("{function}.log"));
        let log = File::options().create(true).append(true).open(&log_path)?;
        let mut command = self.binaries.command(function);
        command
            .env_clear()
            .envs(self.environment(function, &runtime_api))
            .current_dir(self.task_root(function))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);

        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let outcome = wait_for_answer(&runtime, &mut child);
        let _ = child.kill();
        let _ = child.wait();
        runtime.lock().finished = true;
        runtime.changed.notify_all();
        // Unblock the accept loop so it sees `finished` and drops the listener.
        let _ = TcpStream::connect(&runtime_api);
        let failure = |what: String| -> Error {
            format!(
                "{function}: {what}\n---- last lines of {} ----\n{}",
                log_path.display(),
                tail(&log_path, 15)
            )
            .into()
        };
        let (first_next_at, served_at, answers) = outcome.map_err(|e| failure(e.to_string()))?;
        let calls = self.relay.take();
        let mut responses = Vec::new();
        let mut durations = Vec::new();
        let mut call_sets = Vec::new();
        for (served, (answered, answer)) in served_at.iter().zip(answers) {
            match answer {
                Answer::Response(value) => responses.push(value),
                Answer::Error(text) => return Err(failure(format!("reported an error: {text}"))),
            }
            durations.push(answered.duration_since(*served));
            call_sets.push(calls_between(&calls, *served, answered));
        }
        Ok((
            Sample {
                init: first_next_at.duration_since(spawned_at),
                first_invocation: durations[0],
                warm_invocation: durations[1],
                init_calls: calls_between(&calls, spawned_at, first_next_at),
                first_calls: call_sets[0].clone(),
                warm_calls: call_sets[1].clone(),
            },
            responses,
        ))
    }
}

/// Waits until every event was answered: (first poll, when each event was served, answers).
fn wait_for_answer(runtime: &Runtime, child: &mut Child) -> Result<Answers, Error> {
    let started = Instant::now();
    let mut state = runtime.lock();
    loop {
        if let Some(text) = &state.init_error {
            return fail(format!("init error: {text}"));
        }
        if let Some(next) = state.first_next_at {
            if state.answers.len() == state.events.len()
                && state.served_at.len() == state.events.len()
            {
                return Ok((next, state.served_at.clone(), state.answers.clone()));
            }
        }
        if let Some(status) = child.try_wait()? {
            return fail(format!("exited ({status}) before answering"));
        }
        if started.elapsed() > RUN_TIMEOUT {
            return fail(format!(
                "no answer within {RUN_TIMEOUT:?} (first poll: {}, events served: {}, answers: {})",
                state.first_next_at.is_some(),
                state.served_at.len(),
                state.answers.len()
            ));
        }
        state = runtime
            .changed
            .wait_timeout(state, Duration::from_millis(5))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

type Answers = (Instant, Vec<Instant>, Vec<(Instant, Answer)>);

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ------------------------------------------------------------------ events

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// What a request carries besides method and path.
#[derive(Default)]
struct Call {
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    query: Vec<(&'static str, String)>,
    path_id: Option<String>,
    /// The authorizer's context, as API Gateway passes it on.
    authorizer: Option<Value>,
}

/// An API Gateway REST API (v1) proxy event for `method resource`.
fn proxy_event(method: &str, resource: &str, call: Call) -> Value {
    let path = match &call.path_id {
        Some(id) => resource.replace("{id}", id),
        None => resource.to_owned(),
    };
    let mut headers: Vec<(&str, String)> = vec![
        ("Accept", "application/json".into()),
        (
            "Host",
            format!("{API_ID}.execute-api.us-east-1.amazonaws.com"),
        ),
        ("User-Agent", "curl/8.5.0".into()),
        (
            "X-Amzn-Trace-Id",
            format!(
                "Root=1-00000000-{}",
                &Uuid::new_v4().simple().to_string()[..24]
            ),
        ),
        ("X-Forwarded-For", "203.0.113.7".into()),
        ("X-Forwarded-Port", "443".into()),
        ("X-Forwarded-Proto", "https".into()),
    ];
    if call.body.is_some() {
        headers.push(("Content-Type", "application/json".into()));
    }
    headers.extend(call.headers.iter().cloned());
    let single: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!([v])))
        .collect();
    let (query, multi_query) = if call.query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (
            call.query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            call.query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!([v])))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        )
    };
    let mut context = json!({
        "resourceId": "a1b2c3",
        "resourcePath": resource,
        "httpMethod": method,
        "extendedRequestId": Uuid::new_v4().simple().to_string()[..16],
        "requestTime": "01/Jan/2025:12:00:00 +0000",
        "path": format!("/v1{path}"),
        "accountId": ACCOUNT,
        "protocol": "HTTP/1.1",
        "stage": "v1",
        "domainPrefix": API_ID,
        "requestTimeEpoch": now_millis(),
        "requestId": Uuid::new_v4().to_string(),
        "identity": {
            "sourceIp": "203.0.113.7",
            "userAgent": "curl/8.5.0",
            "accountId": null, "caller": null, "user": null, "userArn": null,
            "cognitoIdentityPoolId": null, "cognitoIdentityId": null,
            "cognitoAuthenticationType": null, "cognitoAuthenticationProvider": null,
            "accessKey": null, "apiKey": null, "apiKeyId": null
        },
        "domainName": format!("{API_ID}.execute-api.us-east-1.amazonaws.com"),
        "apiId": API_ID,
    });
    if let Some(authorizer) = call.authorizer {
        context["authorizer"] = authorizer;
    }
    json!({
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": call.path_id.map(|id| json!({ "id": id })),
        "stageVariables": null,
        "requestContext": context,
        "body": call.body.map(|b| b.to_string()),
        "isBase64Encoded": false,
    })
}

/// The REST API REQUEST authorizer event for `GET /api/v1/messages` presenting `key`.
fn authorizer_event(key: &str) -> Value {
    let resource = "/api/v1/messages";
    let headers = json!({
        "Accept": "application/json",
        "Host": format!("{API_ID}.execute-api.us-east-1.amazonaws.com"),
        "User-Agent": "curl/8.5.0",
        "X-API-Key": key,
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
    });
    let multi: serde_json::Map<String, Value> = headers
        .as_object()
        .map(|h| h.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
        .unwrap_or_default();
    json!({
        "type": "REQUEST",
        "methodArn": format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:{API_ID}/v1/GET{resource}"),
        "resource": resource,
        "path": resource,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": { "limit": "20" },
        "multiValueQueryStringParameters": { "limit": ["20"] },
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": format!("/v1{resource}"),
            "accountId": ACCOUNT,
            "resourceId": "a1b2c3",
            "stage": "v1",
            "requestId": Uuid::new_v4().to_string(),
            "identity": { "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0" },
            "resourcePath": resource,
            "httpMethod": "GET",
            "apiId": API_ID,
        },
    })
}

/// API Gateway's view of an allowed user (flat context plus principalId).
fn user_context(user_id: &str, workspace_id: &str) -> Value {
    json!({
        "principalId": user_id,
        "integrationLatency": 3,
        "principal_type": "user",
        "user_id": user_id,
        "workspace_id": workspace_id,
        "scopes": "",
    })
}

fn key_context(key_id: &str, workspace_id: &str) -> Value {
    json!({
        "principalId": key_id,
        "integrationLatency": 3,
        "principal_type": "api_key",
        "key_id": key_id,
        "workspace_id": workspace_id,
        "scopes": "send_messages read_messages",
    })
}

/// The JSON body of a proxy response, after checking its status.
fn proxy_body(function: &str, response: &Value, status: u64) -> Result<Value, Error> {
    if response["statusCode"].as_u64() != Some(status) {
        return fail(format!(
            "{function} answered {} (expected {status}): {}",
            response["statusCode"], response["body"]
        ));
    }
    let body = response["body"].as_str().unwrap_or("null");
    Ok(serde_json::from_str(body)?)
}

fn text(value: &Value, what: &str) -> Result<String, Error> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} missing in {value}").into())
}

// ------------------------------------------------------------------ the measurement

#[derive(Default)]
struct Fixtures {
    email: String,
    user_id: String,
    workspace_id: String,
    keys: Vec<(String, String)>,
    messages: Vec<String>,
}

/// Event and expected answer for run `i` of `function`; records what later runs need.
fn next_event(function: &str, i: usize, fx: &Fixtures) -> Result<Value, Error> {
    let user = || Some(user_context(&fx.user_id, &fx.workspace_id));
    let key = |n: usize| -> Result<&(String, String), Error> {
        fx.keys
            .get(n)
            .ok_or_else(|| "create-api-key must run first (and as many times)".into())
    };
    let keyed = || -> Result<Option<Value>, Error> {
        let (id, _) = key(0)?;
        Ok(Some(key_context(id, &fx.workspace_id)))
    };
    let api_key_header = || -> Result<Vec<(&'static str, String)>, Error> {
        Ok(vec![("X-API-Key", key(0)?.1.clone())])
    };
    Ok(match function {
        "register" => proxy_event(
            "POST",
            "/api/v1/auth/register",
            Call {
                body: Some(json!({
                    "workspace_name": format!("Coldstart {i}"),
                    "email": if i == 0 { fx.email.clone() } else { format!("cold-{}@example.com", Uuid::new_v4()) },
                    "password": PASSWORD,
                })),
                ..Call::default()
            },
        ),
        "login" => proxy_event(
            "POST",
            "/api/v1/auth/login",
            Call {
                body: Some(json!({ "email": fx.email, "password": PASSWORD })),
                ..Call::default()
            },
        ),
        "create-api-key" => proxy_event(
            "POST",
            "/api/v1/api-keys",
            Call {
                body: Some(json!({ "name": format!("Coldstart key {i}") })),
                headers: vec![("Authorization", "Bearer <user token>".into())],
                authorizer: user(),
                ..Call::default()
            },
        ),
        "list-api-keys" => proxy_event(
            "GET",
            "/api/v1/api-keys",
            Call {
                authorizer: user(),
                ..Call::default()
            },
        ),
        "deactivate-api-key" => proxy_event(
            "DELETE",
            "/api/v1/api-keys/{id}",
            Call {
                path_id: Some(key(i)?.0.clone()),
                authorizer: user(),
                ..Call::default()
            },
        ),
        "authorizer" => authorizer_event(&key(0)?.1),
        "send-message" => proxy_event(
            "POST",
            "/api/v1/messages/send",
            Call {
                body: Some(json!({
                    "to": "+26876123456",
                    "channel": "sms",
                    "content": { "text": format!("Your verification code is {:06}", i * 7919 % 1_000_000) },
                })),
                headers: api_key_header()?,
                authorizer: keyed()?,
                ..Call::default()
            },
        ),
        "list-messages" => proxy_event(
            "GET",
            "/api/v1/messages",
            Call {
                query: vec![("limit", "20".into())],
                headers: api_key_header()?,
                authorizer: keyed()?,
                ..Call::default()
            },
        ),
        "get-message" => proxy_event(
            "GET",
            "/api/v1/messages/{id}",
            Call {
                path_id: Some(
                    fx.messages
                        .get(i % fx.messages.len().max(1))
                        .cloned()
                        .ok_or("send-message must run first")?,
                ),
                headers: api_key_header()?,
                authorizer: keyed()?,
                ..Call::default()
            },
        ),
        other => return fail(format!("unknown function {other}")),
    })
}

/// Checks run `i`'s answer and keeps what later functions need.
fn check_answer(function: &str, i: usize, answer: &Value, fx: &mut Fixtures) -> Result<(), Error> {
    match function {
        "register" => {
            let data = &proxy_body(function, answer, 201)?["data"];
            if i == 0 {
                fx.user_id = text(&data["user"]["id"], "user.id")?;
                fx.workspace_id = text(&data["workspace"]["id"], "workspace.id")?;
            }
        }
        "login" => {
            proxy_body(function, answer, 200)?;
        }
        "create-api-key" => {
            let data = &proxy_body(function, answer, 201)?["data"];
            fx.keys
                .push((text(&data["id"], "id")?, text(&data["key"], "key")?));
        }
        "list-api-keys" | "list-messages" | "get-message" | "deactivate-api-key" => {
            proxy_body(function, answer, 200)?;
        }
        "send-message" => {
            let data = &proxy_body(function, answer, 201)?["data"];
            fx.messages.push(text(&data["id"], "id")?);
        }
        "authorizer" => {
            let effect = &answer["policyDocument"]["Statement"][0]["Effect"];
            if effect != "Allow" {
                return fail(format!("authorizer did not allow: {answer}"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Nearest-rank percentile of sorted durations, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn median(sorted: &[Duration]) -> f64 {
    let n = sorted.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if n % 2 == 1 {
        ms(sorted[n / 2])
    } else {
        (ms(sorted[n / 2 - 1]) + ms(sorted[n / 2])) / 2.0
    }
}

struct Options {
    bin_dir: PathBuf,
    sam_layout: bool,
    runner: Vec<String>,
    dynamodb_endpoint: String,
    table: String,
    runs: usize,
    zip_dir: Option<PathBuf>,
    log_dir: PathBuf,
    json: Option<PathBuf>,
    functions: Vec<String>,
    label: String,
}

fn options() -> Result<Options, Error> {
    let mut args = std::env::args().skip(1);
    let mut opts = Options {
        bin_dir: PathBuf::from("target/release"),
        sam_layout: false,
        runner: Vec::new(),
        dynamodb_endpoint: String::new(),
        table: String::new(),
        runs: 20,
        zip_dir: None,
        log_dir: std::env::temp_dir().join("yebolink-coldstart"),
        json: None,
        functions: FUNCTIONS.iter().map(|f| (*f).to_owned()).collect(),
        label: String::new(),
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--bin-dir" => opts.bin_dir = value()?.into(),
            "--sam-build" => {
                opts.bin_dir = value()?.into();
                opts.sam_layout = true;
            }
            "--runner" => opts.runner = value()?.split_whitespace().map(str::to_owned).collect(),
            "--dynamodb-endpoint" => opts.dynamodb_endpoint = value()?,
            "--table" => opts.table = value()?,
            "--runs" => opts.runs = value()?.parse()?,
            "--zip-dir" => opts.zip_dir = Some(value()?.into()),
            "--log-dir" => opts.log_dir = value()?.into(),
            "--json" => opts.json = Some(value()?.into()),
            "--functions" => opts.functions = value()?.split(',').map(str::to_owned).collect(),
            "--label" => opts.label = value()?,
            "-h" | "--help" => {
                println!("{}", USAGE);
                std::process::exit(0);
            }
            other => return fail(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if opts.dynamodb_endpoint.is_empty() || opts.table.is_empty() {
        return fail(format!(
            "--dynamodb-endpoint and --table are required\n{USAGE}"
        ));
    }
    if opts.runs == 0 {
        return fail("--runs must be at least 1");
    }
    Ok(opts)
}

const USAGE: &str =
    "usage: coldstart --dynamodb-endpoint URL --table NAME \
[--bin-dir target/release | --sam-build .aws-sam/build] [--runner \"CMD ARGS\"] [--runs 20] [--zip-dir DIR] [--log-dir DIR] [--json FILE] [--functions a,b,...] [--label TEXT]";

fn main() {
    if let Err(err) = run() {
        eprintln!("coldstart: {err}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let opts = options()?;
    fs::create_dir_all(&opts.log_dir)?;
    let binaries = Binaries {
        dir: fs::canonicalize(&opts.bin_dir)
            .map_err(|e| format!("{}: {e}", opts.bin_dir.display()))?,
        sam_layout: opts.sam_layout,
        runner: opts.runner.clone(),
    };
    let relay = Arc::new(Relay::default());
    let relay_listener = TcpListener::bind("127.0.0.1:0")?;
    let relay_endpoint = format!("http://{}", relay_listener.local_addr()?);
    {
        let relay = relay.clone();
        let upstream = opts
            .dynamodb_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        thread::spawn(move || serve_relay(relay, relay_listener, upstream));
    }
    let harness = Harness {
        relay,
        relay_endpoint,
        binaries,
        log_dir: opts.log_dir.clone(),
        table: opts.table.clone(),
    };
    let mut fixtures = Fixtures {
        email: format!("coldstart-{}@example.com", Uuid::new_v4()),
        ..Fixtures::default()
    };

    // In dependency order, whatever order they were named in, with the functions whose runs
    // make the data the named ones need.
    let mut wanted: Vec<&str> = opts.functions.iter().map(String::as_str).collect();
    for (function, needs) in [
        ("get-message", "send-message"),
        ("send-message", "create-api-key"),
        ("list-messages", "create-api-key"),
        ("authorizer", "create-api-key"),
        ("deactivate-api-key", "create-api-key"),
        ("create-api-key", "register"),
        ("list-api-keys", "register"),
        ("login", "register"),
    ] {
        if wanted.contains(&function) && !wanted.contains(&needs) {
            wanted.push(needs);
        }
    }
    let selected: Vec<&str> = FUNCTIONS
        .iter()
        .copied()
        .filter(|f| wanted.contains(f))
        .collect();
    let mut rows = Vec::new();
    for function in &selected {
        let mut samples = Vec::with_capacity(opts.runs);
        for run in 0..opts.runs {
            // Two events per process: the cold one, then a warm one.
            let (cold, warm) = (2 * run, 2 * run + 1);
            let cold_event = next_event(function, cold, &fixtures)?;
            let warm_event = next_event(function, warm, &fixtures)?;
            let (sample, answers) = harness.cold_start(function, [&cold_event, &warm_event])?;
            check_answer(function, cold, &answers[0], &mut fixtures)?;
            check_answer(function, warm, &answers[1], &mut fixtures)?;
            samples.push(sample);
        }
        let row = Row::new(
            function,
            &samples,
            &harness.binaries.path(function),
            opts.zip_dir.as_deref(),
        );
        eprintln!(
            "  {function}: init p50 {:.1} ms, first invocation p50 {:.1} ms, warm p50 {:.1} ms ({} runs)",
            row.init_p50, row.invoke_p50, row.warm_p50, row.runs
        );
        rows.push(row);
    }
    let floor = dynamodb_floor(&opts.dynamodb_endpoint, &opts.table, 50)?;
    print_table(&opts, &rows);
    println!(
        "Local DynamoDB floor: one GetItem round trip (new connection) p50 {:.2} ms, p90 {:.2} ms \
         ({} calls); every init above includes one (the connection warm-up read).",
        median(&floor),
        percentile(&floor, 90.0),
        floor.len()
    );
    println!();
    if let Some(path) = &opts.json {
        let value = json!({
            "label": opts.label,
            "runs": opts.runs,
            "dynamodb_getitem_ms": { "p50": round(median(&floor)), "p90": round(percentile(&floor, 90.0)) },
            "functions": rows.iter().map(Row::json).collect::<Vec<_>>(),
        });
        fs::write(path, serde_json::to_string_pretty(&value)? + "\n")?;
    }
    Ok(())
}

/// Round trips of one GetItem (of an item that does not exist) to the local DynamoDB, each on
/// a new connection as the functions get them (moto's server answers `Connection: close`): the
/// emulator's share of every call the functions make. Sorted.
fn dynamodb_floor(endpoint: &str, table: &str, calls: usize) -> Result<Vec<Duration>, Error> {
    let address = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let body = json!({
        "TableName": table,
        "Key": { "pk": { "S": "FLOOR" }, "sk": { "S": "FLOOR" } },
        "ConsistentRead": true,
    })
    .to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amz-target: DynamoDB_20120810.GetItem\r\n\
         authorization: AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=host, Signature=0\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        let mut stream = TcpStream::connect(&address)?;
        stream.set_nodelay(true)?;
        stream.write_all(request.as_bytes())?;
        // Read up to the end of the body (as an HTTP client does), not to the close.
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status)?;
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                break;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                }
            }
        }
        let mut response = vec![0; length];
        reader.read_exact(&mut response)?;
        samples.push(start.elapsed());
        if !status.contains(" 200 ") {
            return fail(format!(
                "local DynamoDB answered {status}: {}",
                String::from_utf8_lossy(&response)
            ));
        }
    }
    samples.sort();
    Ok(samples)
}

struct Row {
    function: String,
    runs: usize,
    init_p50: f64,
    init_p90: f64,
    invoke_p50: f64,
    invoke_p90: f64,
    invoke_first: f64,
    warm_p50: f64,
    warm_p90: f64,
    /// First / warm invocation less the time the local DynamoDB took to answer its calls.
    own_first_p50: f64,
    own_warm_p50: f64,
    init_calls: String,
    first_calls: String,
    warm_calls: String,
    bootstrap_bytes: Option<u64>,
    zip_bytes: Option<u64>,
}

impl Row {
    fn new(function: &str, samples: &[Sample], binary: &Path, zip_dir: Option<&Path>) -> Self {
        let mut init: Vec<Duration> = samples.iter().map(|s| s.init).collect();
        let mut invoke: Vec<Duration> = samples.iter().map(|s| s.first_invocation).collect();
        let mut warm: Vec<Duration> = samples.iter().map(|s| s.warm_invocation).collect();
        let mut own_first: Vec<Duration> = samples
            .iter()
            .map(|s| s.first_invocation.saturating_sub(s.first_calls.1))
            .collect();
        let mut own_warm: Vec<Duration> = samples
            .iter()
            .map(|s| s.warm_invocation.saturating_sub(s.warm_calls.1))
            .collect();
        own_first.sort();
        own_warm.sort();
        let invoke_first = invoke[0].as_secs_f64() * 1000.0;
        init.sort();
        invoke.sort();
        warm.sort();
        let size = |path: &Path| fs::metadata(path).ok().map(|m| m.len());
        Self {
            function: function.to_owned(),
            runs: samples.len(),
            init_p50: median(&init),
            init_p90: percentile(&init, 90.0),
            invoke_p50: median(&invoke),
            invoke_p90: percentile(&invoke, 90.0),
            invoke_first,
            warm_p50: median(&warm),
            warm_p90: percentile(&warm, 90.0),
            own_first_p50: median(&own_first),
            own_warm_p50: median(&own_warm),
            init_calls: tally(samples.iter().map(|s| s.init_calls.0.as_str())),
            first_calls: tally(samples.iter().map(|s| s.first_calls.0.as_str())),
            warm_calls: tally(samples.iter().map(|s| s.warm_calls.0.as_str())),
            bootstrap_bytes: size(binary),
            zip_bytes: zip_dir.and_then(|dir| size(&dir.join(format!("{function}.zip")))),
        }
    }

    fn json(&self) -> Value {
        json!({
            "function": self.function,
            "runs": self.runs,
            "init_ms": { "p50": round(self.init_p50), "p90": round(self.init_p90) },
            "first_invocation_ms": {
                "p50": round(self.invoke_p50),
                "p90": round(self.invoke_p90),
                "very_first_run": round(self.invoke_first),
            },
            "warm_invocation_ms": { "p50": round(self.warm_p50), "p90": round(self.warm_p90) },
            "without_dynamodb_ms": {
                "first_invocation_p50": round(self.own_first_p50),
                "warm_invocation_p50": round(self.own_warm_p50),
            },
            "dynamodb_calls": {
                "init": self.init_calls,
                "first_invocation": self.first_calls,
                "warm_invocation": self.warm_calls,
            },
            "bootstrap_bytes": self.bootstrap_bytes,
            "zip_bytes": self.zip_bytes,
        })
    }
}

/// Distinct call sequences with how many runs made each: `GetItem (19), GetItem+TransactWriteItems (1)`.
fn tally<'a>(sequences: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for sequence in sequences {
        match counts.iter_mut().find(|(s, _)| *s == sequence) {
            Some((_, n)) => *n += 1,
            None => counts.push((sequence, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
        .iter()
        .map(|(s, n)| format!("{s} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.2}", b as f64 / 1_048_576.0))
}

fn print_table(opts: &Options, rows: &[Row]) {
    println!();
    if !opts.label.is_empty() {
        println!("{}", opts.label);
    }
    println!(
        "Cold starts: {} fresh processes per function; local DynamoDB at {}",
        opts.runs, opts.dynamodb_endpoint
    );
    println!();
    println!("| function | init p50 ms | init p90 ms | 1st invocation p50 ms | 1st invocation p90 ms | warm invocation p50 ms | bootstrap MiB | zip MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            row.function,
            row.init_p50,
            row.init_p90,
            row.invoke_p50,
            row.invoke_p90,
            row.warm_p50,
            mb(row.bootstrap_bytes),
            mb(row.zip_bytes)
        );
    }
    println!();
    println!("DynamoDB calls each process made, counted by the relay in front of the local DynamoDB \
              (runs per sequence in parentheses), and each invocation less the emulator's answer time:");
    println!();
    println!("| function | in init | 1st invocation | warm invocation | 1st invocation without DynamoDB p50 ms | warm without DynamoDB p50 ms |");
    println!("|---|---|---|---|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} |",
            row.function,
            row.init_calls,
            row.first_calls,
            row.warm_calls,
            row.own_first_p50,
            row.own_warm_p50
        );
    }
    println!();
}
