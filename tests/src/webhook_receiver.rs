//! A loopback webhook receiver for the black-box suite (issue 27): an HTTP/1.1 server on
//! `127.0.0.1:0` that records every request it gets and answers from a script, and that
//! verifies every request's Standard Webhooks signature itself, with its own HMAC code,
//! independently of the server's.
//!
//! - [`Receiver::start`]`(vec![500, 500])` answers 500 twice, then 200 forever;
//!   [`Receiver::always`]`(410)` answers 410 to everything; [`Receiver::set_script`] changes it.
//! - [`Receiver::accept_secret`] adds a secret the receiver accepts (the endpoint's, known only
//!   once it is created; the new one after a rotation). Each [`Received`] records which of the
//!   known secrets verified it ([`Received::verified_by`]).
//! - A request that no known secret verifies, whose `webhook-timestamp` is more than
//!   [`TIMESTAMP_TOLERANCE_SECONDS`] from the receiver's clock, that lacks a Standard Webhooks
//!   header, or that is not well-formed HTTP is a *problem*: every accessor and every wait
//!   panics as soon as one is recorded, and so does dropping the receiver, so a test cannot
//!   pass over a badly signed delivery.
//!
//! The receiver runs on a thread of its own (its own single-threaded Tokio runtime), so it
//! answers whatever the test's runtime is doing; it stops when the [`Receiver`] is dropped.
//! Every connection is answered with `Connection: close`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

/// How far `webhook-timestamp` may be from the receiver's clock (the Standard Webhooks
/// libraries' default tolerance).
pub const TIMESTAMP_TOLERANCE_SECONDS: i64 = 300;
/// The status answered once the script's first statuses are used up, unless told otherwise.
pub const DEFAULT_STATUS: u16 = 200;
/// How often the waits look at the log.
const POLL: Duration = Duration::from_millis(100);
/// The longest request head accepted (request line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The longest body accepted.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

// ---- signatures -----------------------------------------------------------------------------

/// The HMAC key of a Standard Webhooks secret: the base64 after `whsec_`.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| format!("the secret is not whsec_ + base64 ({e})"))?;
    if key.is_empty() {
        return Err("the secret's key is empty".to_owned());
    }
    Ok(key)
}

/// The signed content: `{webhook-id}.{webhook-timestamp}.{body}`.
fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// `v1,` + base64(HMAC-SHA256(key of `secret`, `{id}.{timestamp}.{body}`)): one signature as a
/// sender writes it (panics on a malformed secret).
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = secret_key(secret).unwrap_or_else(|e| panic!("{e}"));
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let tag = hmac::sign(&key, &signed_content(id, timestamp, body));
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// The entries of a `webhook-signature` header (space-separated).
pub fn signature_entries(header: &str) -> Vec<String> {
    header
        .split(' ')
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether one of the `v1,<base64>` entries of `signature_header` is the HMAC of `secret` over
/// the request. Entries of other versions, empty signatures and ones that are not base64 never
/// verify; the comparison is aws-lc's constant-time one.
pub fn verifies(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &[u8],
    signature_header: &str,
) -> bool {
    let Ok(key) = secret_key(secret) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let content = signed_content(id, timestamp, body);
    signature_entries(signature_header).iter().any(|entry| {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            return false;
        };
        match STANDARD.decode(encoded) {
            Ok(tag) if !tag.is_empty() => hmac::verify(&key, &content, &tag).is_ok(),
            _ => false,
        }
    })
}

// ---- what the receiver records --------------------------------------------------------------

/// One request, as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// Names lowercased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// Unix seconds of the arrival (the receiver's clock).
    pub unix: i64,
    /// The status the receiver answered with.
    pub answered: u16,
    /// The entries of `webhook-signature`.
    pub signatures: Vec<String>,
    /// The known secrets (as given to [`Receiver::accept_secret`]) that verified this request.
    pub verified_by: Vec<String>,
}

impl Received {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id").unwrap_or_default()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "a webhook body is not JSON ({e}): {:?} ({} {})",
                self.body_text(),
                self.method,
                self.path
            )
        })
    }

    /// The payload's `type`, if the body is a JSON object with a string `type`.
    pub fn event_type(&self) -> Option<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()?
            .get("type")?
            .as_str()
            .map(str::to_owned)
    }

    /// One line for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "{} {} webhook-id={} type={} answered {} verified by {} secret(s), {} signature(s)",
            self.method,
            self.path,
            self.webhook_id(),
            self.event_type().unwrap_or_else(|| "?".to_owned()),
            self.answered,
            self.verified_by.len(),
            self.signatures.len()
        )
    }
}

/// Everything the receiver saw.
#[derive(Debug, Default)]
pub struct Log {
    pub requests: Vec<Received>,
    /// What went wrong: an unverifiable signature, a stale timestamp, a malformed request.
    pub problems: Vec<String>,
}

/// What the receiver answers: `first`, one per request, then `then` forever.
#[derive(Debug, Clone)]
struct Script {
    first: VecDeque<u16>,
    then: u16,
}

impl Script {
    fn next(&mut self) -> u16 {
        self.first.pop_front().unwrap_or(self.then)
    }
}

#[derive(Debug)]
struct Shared {
    log: Arc<Mutex<Log>>,
    secrets: Mutex<Vec<String>>,
    script: Mutex<Script>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep reading it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---- the receiver ---------------------------------------------------------------------------

/// A running receiver; stops when dropped (and panics then if any problem was recorded).
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Receiver {
    /// Answers the statuses of `first` in turn, then 200 forever.
    pub fn start(first: Vec<u16>) -> Self {
        Self::answering(first, DEFAULT_STATUS)
    }

    /// Answers `status` to every request.
    pub fn always(status: u16) -> Self {
        Self::answering(Vec::new(), status)
    }

    /// Answers the statuses of `first` in turn, then `then` forever.
    pub fn answering(first: Vec<u16>, then: u16) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("webhook receiver: bind 127.0.0.1:0: {e}"));
        listener
            .set_nonblocking(true)
            .expect("webhook receiver: set_nonblocking");
        let addr = listener.local_addr().expect("webhook receiver: local_addr");
        let shared = Arc::new(Shared {
            log: Arc::new(Mutex::new(Log::default())),
            secrets: Mutex::new(Vec::new()),
            script: Mutex::new(Script {
                first: first.into(),
                then,
            }),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("webhook-receiver-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("webhook receiver: a Tokio runtime");
                runtime.block_on(serve(listener, serving, stopped));
            })
            .expect("webhook receiver: spawn its thread");
        Self {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    /// The shared log itself (requests and problems).
    pub fn log(&self) -> Arc<Mutex<Log>> {
        Arc::clone(&self.shared.log)
    }

    /// Adds a secret (`whsec_...`) that verifies requests from now on; panics if it is not
    /// `whsec_` + base64.
    pub fn accept_secret(&self, secret: &str) {
        secret_key(secret).unwrap_or_else(|e| panic!("webhook receiver: {e}: {secret:?}"));
        let mut secrets = lock(&self.shared.secrets);
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_owned());
        }
    }

    /// From the next request on: answer `first` in turn, then `then` forever.
    pub fn set_script(&self, first: Vec<u16>, then: u16) {
        *lock(&self.shared.script) = Script {
            first: first.into(),
            then,
        };
    }

    /// The problems recorded so far (does not panic).
    pub fn problems(&self) -> Vec<String> {
        lock(&self.shared.log).problems.clone()
    }

    /// Takes the recorded problems away (for a test that provokes them on purpose).
    pub fn take_problems(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.shared.log).problems)
    }

    /// Panics if any problem was recorded.
    pub fn assert_no_problems(&self) {
        let log = lock(&self.shared.log);
        if !log.problems.is_empty() {
            let problems = log.problems.join("\n  - ");
            let seen = summaries(&log.requests);
            drop(log);
            panic!(
                "webhook receiver {}: a request failed verification:\n  - {problems}\nrequests:{seen}",
                self.addr
            );
        }
    }

    /// Every request so far, oldest first (panics if any problem was recorded).
    pub fn requests(&self) -> Vec<Received> {
        self.assert_no_problems();
        lock(&self.shared.log).requests.clone()
    }

    /// The number of requests so far (panics if any problem was recorded).
    pub fn count(&self) -> usize {
        self.assert_no_problems();
        lock(&self.shared.log).requests.len()
    }

    /// Waits until at least `n` requests have arrived (polling every 100 ms, at most
    /// `timeout`); returns all of them. Panics on timeout or on a problem.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_until_described(&format!("{n} request(s)"), |r| r.len() >= n, timeout)
            .await
    }

    /// Waits until `done` holds for the requests so far (polling every 100 ms, at most
    /// `timeout`); returns them. Panics on timeout or on a problem.
    pub async fn wait_until(
        &self,
        done: impl Fn(&[Received]) -> bool,
        timeout: Duration,
    ) -> Vec<Received> {
        self.wait_until_described("the awaited requests", done, timeout)
            .await
    }

    /// Waits for the first request whose payload `type` is `event_type` and for which `matches`
    /// holds on its JSON body; returns it.
    pub async fn wait_for_event(
        &self,
        event_type: &str,
        matches: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Received {
        let is_it = |r: &Received| {
            r.event_type().as_deref() == Some(event_type)
                && serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| matches(&v))
        };
        let requests = self
            .wait_until_described(
                &format!("a matching {event_type} delivery"),
                |rs| rs.iter().any(is_it),
                timeout,
            )
            .await;
        requests
            .into_iter()
            .find(is_it)
            .expect("the wait found one")
    }

    /// Waits `period`, then asserts that exactly `n` requests have arrived in all (nothing
    /// more came). Returns them.
    pub async fn stays_at(&self, n: usize, period: Duration) -> Vec<Received> {
        let deadline = Instant::now() + period;
        while Instant::now() < deadline {
            self.assert_no_problems();
            tokio::time::sleep(POLL.min(deadline - Instant::now())).await;
        }
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            n,
            "webhook receiver {}: expected exactly {n} request(s) after waiting {period:?}, got \
             {}:{}",
            self.addr,
            requests.len(),
            summaries(&requests)
        );
        requests
    }

    async fn wait_until_described(
        &self,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
        timeout: Duration,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            if Instant::now() >= deadline {
                panic!(
                    "webhook receiver {}: waited {timeout:?} for {what}; got {} request(s):{}",
                    self.addr,
                    requests.len(),
                    summaries(&requests)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if !std::thread::panicking() {
            self.assert_no_problems();
        }
    }
}

fn summaries(requests: &[Received]) -> String {
    if requests.is_empty() {
        return " none".to_owned();
    }
    requests
        .iter()
        .map(|r| format!("\n  - {}", r.summary()))
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---- serving --------------------------------------------------------------------------------

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("webhook receiver: a Tokio listener");
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, Arc::clone(&shared)));
                }
                Err(e) => {
                    lock(&shared.log).problems.push(format!("accept failed: {e}"));
                    tokio::time::sleep(POLL).await;
                }
            },
        }
    }
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let at = Instant::now();
    let unix = unix_now();
    let request = match tokio::time::timeout(READ_TIMEOUT, read_request(&stream)).await {
        Ok(Ok(Some(request))) => request,
        // Closed before sending anything (a connection check): nothing to record.
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            lock(&shared.log)
                .problems
                .push(format!("a malformed request: {e}"));
            let _ = write_all(&stream, &response(400)).await;
            return;
        }
        Err(_) => {
            lock(&shared.log)
                .problems
                .push(format!("a request not sent within {READ_TIMEOUT:?}"));
            return;
        }
    };

    let secrets = lock(&shared.secrets).clone();
    let (signatures, verified_by, problems) = check(&request, &secrets, unix);
    let answered = lock(&shared.script).next();
    {
        let mut log = lock(&shared.log);
        let what = format!(
            "{} {} (webhook-id {:?})",
            request.method,
            request.path,
            header(&request.headers, "webhook-id").unwrap_or("<none>")
        );
        log.problems
            .extend(problems.into_iter().map(|p| format!("{what}: {p}")));
        log.requests.push(Received {
            method: request.method,
            path: request.path,
            headers: request.headers,
            body: request.body,
            at,
            unix,
            answered,
            signatures,
            verified_by,
        });
    }
    // Recorded before answering: once the sender has the answer, the log holds the request.
    let _ = write_all(&stream, &response(answered)).await;
    if let Ok(stream) = stream.into_std() {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The signature entries, the secrets that verify, and what is wrong with the request.
fn check(
    request: &Request,
    secrets: &[String],
    now: i64,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let id = header(&request.headers, "webhook-id");
    let timestamp = header(&request.headers, "webhook-timestamp");
    let signature = header(&request.headers, "webhook-signature");
    let signatures = signature.map(signature_entries).unwrap_or_default();
    for (name, value) in [
        ("webhook-id", id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signature),
    ] {
        if value.is_none_or(str::is_empty) {
            problems.push(format!("no {name} header"));
        }
    }
    let (Some(id), Some(timestamp), Some(signature)) = (id, timestamp, signature) else {
        return (signatures, Vec::new(), problems);
    };
    match timestamp.parse::<i64>() {
        Ok(sent) if (sent - now).abs() <= TIMESTAMP_TOLERANCE_SECONDS => {}
        Ok(sent) => problems.push(format!(
            "webhook-timestamp {sent} is {}s from the receiver's clock ({now}), more than {}s",
            sent - now,
            TIMESTAMP_TOLERANCE_SECONDS
        )),
        Err(_) => problems.push(format!(
            "webhook-timestamp {timestamp:?} is not whole Unix seconds"
        )),
    }
    let verified_by: Vec<String> = secrets
        .iter()
        .filter(|secret| verifies(secret, id, timestamp, &request.body, signature))
        .cloned()
        .collect();
    if secrets.is_empty() {
        problems.push("arrived before the receiver knew any secret".to_owned());
    } else if verified_by.is_empty() {
        problems.push(format!(
            "no known secret ({} of them) verifies webhook-signature {signature:?}",
            secrets.len()
        ));
    }
    (signatures, verified_by, problems)
}

fn response(status: u16) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let body: &str = if status == 204 || status == 304 || (100..200).contains(&status) {
        ""
    } else {
        reason
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---- a minimal HTTP/1.1 request parser (readiness + try_read: no io-util needed) ------------

async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bytes read from a connection, consumed from the front.
struct Input<'s> {
    stream: &'s TcpStream,
    buf: Vec<u8>,
}

impl Input<'_> {
    /// Reads more; false at end of stream.
    async fn fill(&mut self) -> Result<bool, String> {
        let mut chunk = [0u8; 16 * 1024];
        let n = read_some(self.stream, &mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Everything up to the first `delimiter`, which is consumed too.
    async fn until(&mut self, delimiter: &[u8], limit: usize) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(at) = self
                .buf
                .windows(delimiter.len())
                .position(|w| w == delimiter)
            {
                let taken: Vec<u8> = self.buf.drain(..at + delimiter.len()).collect();
                return Ok(Some(taken[..at].to_vec()));
            }
            if self.buf.len() > limit {
                return Err(format!("no {delimiter:?} within {limit} bytes"));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    async fn exactly(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(format!(
                    "the body ended after {} of {n} bytes",
                    self.buf.len()
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }
}

async fn read_request(stream: &TcpStream) -> Result<Option<Request>, String> {
    let mut input = Input {
        stream,
        buf: Vec::new(),
    };
    let Some(head) = input.until(b"\r\n\r\n", MAX_HEAD).await? else {
        if input.buf.is_empty() {
            return Ok(None);
        }
        return Err("the connection closed inside the request head".to_owned());
    };
    let head = String::from_utf8(head).map_err(|_| "the request head is not UTF-8".to_owned())?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("a malformed request line {request_line:?}"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not HTTP/1.x: {request_line:?}"));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("a malformed header line {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }

    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        write_all(stream, b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|e| format!("write 100 Continue: {e}"))?;
    }

    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            let size_line = input
                .until(b"\r\n", 1024)
                .await?
                .ok_or("the connection closed inside a chunked body")?;
            let size_line = String::from_utf8_lossy(&size_line).into_owned();
            let size_hex = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| format!("a malformed chunk size {size_line:?}"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while let Some(line) = input.until(b"\r\n", MAX_HEAD).await? {
                    if line.is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(format!("a body over {MAX_BODY} bytes"));
            }
            body.extend(input.exactly(size).await?);
            input.exactly(2).await?;
        }
        body
    } else {
        let length = match header(&headers, "content-length") {
            Some(raw) => raw
                .parse::<usize>()
                .map_err(|_| format!("a malformed content-length {raw:?}"))?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err(format!("a body over {MAX_BODY} bytes"));
        }
        input.exactly(length).await?
    };
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's published test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_published_test_vector_signs_and_verifies() {
        assert_eq!(sign(SECRET, ID, TIMESTAMP, BODY), SIGNATURE);
        assert!(verifies(SECRET, ID, TIMESTAMP, BODY, SIGNATURE));
    }

    #[test]
    fn an_empty_v1_signature_is_refused() {
        for header in ["v1,", "v1, ", "v1,=", " v1, ", ""] {
            assert!(
                !verifies(SECRET, ID, TIMESTAMP, BODY, header),
                "{header:?} must not verify"
            );
        }
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let other_secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        let wrong = [
            // One character changed.
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=".to_owned(),
            // Another secret's.
            sign(&other_secret, ID, TIMESTAMP, BODY),
            // The right signature under another version.
            SIGNATURE.replacen("v1,", "v2,", 1),
            SIGNATURE.replacen("v1,", "", 1),
            // Not base64.
            "v1,not base64!".to_owned(),
        ];
        for header in &wrong {
            assert!(
                !verifies(SECRET, ID, TIMESTAMP, BODY, header),
                "{header:?} must not verify"
            );
        }
        // Another body, id or timestamp under the right signature.
        assert!(!verifies(
            SECRET,
            ID,
            TIMESTAMP,
            br#"{"test": 2432232315}"#,
            SIGNATURE
        ));
        assert!(!verifies(SECRET, "msg_other", TIMESTAMP, BODY, SIGNATURE));
        assert!(!verifies(SECRET, ID, "1614265331", BODY, SIGNATURE));
        // A secret that is not base64 verifies nothing.
        assert!(!verifies("whsec_%%%", ID, TIMESTAMP, BODY, SIGNATURE));
    }

    #[test]
    fn any_one_of_several_signatures_verifies() {
        let other_secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        let other = sign(&other_secret, ID, TIMESTAMP, BODY);
        let both = format!("{other} {SIGNATURE}");
        assert!(verifies(SECRET, ID, TIMESTAMP, BODY, &both));
        assert!(verifies(&other_secret, ID, TIMESTAMP, BODY, &both));
        assert_eq!(signature_entries(&both), [other, SIGNATURE.to_owned()]);
    }

    async fn post(receiver: &Receiver, secret: &str, id: &str, timestamp: i64) -> u16 {
        let body = br#"{"type":"webhook.test"}"#.to_vec();
        let timestamp = timestamp.to_string();
        let signature = sign(secret, id, &timestamp, &body);
        reqwest::Client::new()
            .post(receiver.url("/hook?x=1"))
            .header("content-type", "application/json")
            .header("Webhook-Id", id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .expect("post to the receiver")
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn the_receiver_answers_its_script_and_records_verified_requests() {
        let receiver = Receiver::start(vec![500, 410]);
        receiver.accept_secret(SECRET);
        let now = unix_now();
        let statuses = [
            post(&receiver, SECRET, "msg_1", now).await,
            post(&receiver, SECRET, "msg_1", now).await,
            post(&receiver, SECRET, "msg_2", now).await,
            post(&receiver, SECRET, "msg_3", now).await,
        ];
        assert_eq!(statuses, [500, 410, 200, 200]);
        let requests = receiver.wait_for(4, Duration::from_secs(5)).await;
        let first = &requests[0];
        assert_eq!(first.method, "POST");
        assert_eq!(first.path, "/hook?x=1");
        assert_eq!(first.header("WEBHOOK-ID"), Some("msg_1"));
        assert_eq!(first.event_type().as_deref(), Some("webhook.test"));
        assert_eq!(first.verified_by, [SECRET]);
        assert_eq!(first.signatures.len(), 1);
        assert_eq!(
            requests.iter().map(|r| r.answered).collect::<Vec<_>>(),
            [500, 410, 200, 200]
        );
        receiver.set_script(vec![], 503);
        assert_eq!(post(&receiver, SECRET, "msg_4", now).await, 503);
        receiver.stays_at(5, Duration::from_millis(200)).await;
    }

    #[tokio::test]
    async fn the_receiver_records_a_problem_for_a_bad_signature_or_a_stale_timestamp() {
        let receiver = Receiver::start(vec![]);
        receiver.accept_secret(SECRET);
        let other_secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        post(&receiver, &other_secret, "msg_forged", unix_now()).await;
        let problems = receiver.take_problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("no known secret"), "{problems:?}");

        post(&receiver, SECRET, "msg_stale", unix_now() - 301).await;
        let problems = receiver.take_problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("webhook-timestamp"), "{problems:?}");

        post(&receiver, SECRET, "msg_fine", unix_now() + 299).await;
        assert_eq!(receiver.problems(), Vec::<String>::new());
        assert_eq!(receiver.count(), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "failed verification")]
    async fn a_request_before_any_secret_is_known_fails_the_test() {
        let receiver = Receiver::start(vec![]);
        post(&receiver, SECRET, "msg_early", unix_now()).await;
        receiver.wait_for(1, Duration::from_secs(5)).await;
    }
}
