//! The stream runner (`src/bin/stream-runner.rs`): plays, locally, the two AWS services that
//! start the non-HTTP functions.
//!
//! - Lambda's event source mapping for the table's DynamoDB stream: it polls the stream on the
//!   local DynamoDB (dynoxide, over the DynamoDB Streams JSON API), applies the template's filter
//!   (INSERTs whose new image's `sk` begins with `AUDIT#`), invokes the stream function through
//!   `cargo lambda watch`'s Invoke API with the Lambda DynamoDB event, and honours what AWS
//!   honours: `batchItemFailures` (ReportBatchItemFailures), bisection on a function error
//!   (BisectBatchOnFunctionError), MaximumRetryAttempts and an on-failure destination (a JSON
//!   lines file here, each line shaped like Lambda's on-failure record).
//! - The EventBridge schedules: every N seconds a "Scheduled Event" to a function, never two at
//!   once to one function.
//!
//! The decisions (what a batch's outcome means for the checkpoint, the retries and the dead
//! letters), the filter and the event shapes are pure functions here, unit-tested below; [`run`]
//! is the I/O around them. It logs one line per batch or invocation to stderr, naming sequence
//! numbers but never an item's contents (items may hold secrets).
//!
//! `cargo lambda watch` answers an invocation with the function's result (HTTP 200, its JSON) or,
//! when the function returns an error, HTTP 500 with `{"errorType", "errorMessage"}`; an unknown
//! function is HTTP 404 `{"title": "Missing function", "detail"}`; a function that dies before
//! it asks for its first event leaves the invocation unanswered, hence the invoke timeout.
//!
//! It survives the local DynamoDB going away (hanging, stopped): each call has a timeout, a
//! failure is logged and retried after a backoff, and the stream is listed again, so a DynamoDB
//! started anew (a new stream ARN) is read from TRIM_HORIZON. A table without a stream (one
//! created before the table had one) gets it enabled (NEW_IMAGE).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

// ------------------------------------------------------------------ configuration

pub const USAGE: &str = "\
usage: stream-runner --dynamodb URL --table NAME --invoke URL
                     [--stream-function NAME] [--schedule FUNCTION=SECONDS]...
                     [--batch-size 100] [--max-retries 5] [--dead-letter FILE.jsonl]
                     [--checkpoint FILE.json] [--poll-ms 100] [--invoke-timeout SECONDS]
  --dynamodb         the local DynamoDB (dynoxide) endpoint, e.g. http://127.0.0.1:8000
  --table            the table whose stream is read
  --invoke           the Lambda Invoke API's base URL (cargo lambda watch), e.g. http://127.0.0.1:9000
  --stream-function  the function the stream's records go to (none: no stream is read)
  --schedule         FUNCTION=SECONDS: an EventBridge Scheduled Event to FUNCTION every SECONDS (repeatable)
  --batch-size       records per GetRecords and so at most per invocation (1..=1000, default 100)
  --max-retries      retries of a failing record before it is dead-lettered (default 5)
  --dead-letter      where dead-lettered records go, one JSON line each (default: only logged)
  --checkpoint       the last processed sequence number per shard, kept across restarts
                     (default: none, every start reads from TRIM_HORIZON)
  --poll-ms          the pause between polls of an idle stream (default 100)
  --invoke-timeout   seconds an invocation may take before it counts as a function error (default 60)";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub dynamodb: String,
    pub table: String,
    pub invoke: String,
    pub stream_function: Option<String>,
    /// (function, period in seconds)
    pub schedules: Vec<(String, u64)>,
    pub batch_size: usize,
    pub max_retries: u32,
    pub dead_letter: Option<PathBuf>,
    pub checkpoint: Option<PathBuf>,
    pub poll_interval: Duration,
    pub invoke_timeout: Duration,
}

/// The arguments (without the program's name): `--name value` or `--name=value`.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
    let mut args = args.into_iter();
    let (mut dynamodb, mut table, mut invoke, mut stream_function) = (None, None, None, None);
    let (mut dead_letter, mut checkpoint) = (None, None);
    let mut schedules = Vec::new();
    let (mut batch_size, mut max_retries, mut poll_ms, mut invoke_timeout) = (100, 5, 100, 60);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--dynamodb" => dynamodb = Some(url(&name, value()?)?),
            "--table" => table = Some(value()?),
            "--invoke" => invoke = Some(url(&name, value()?)?),
            "--stream-function" => stream_function = Some(value()?),
            "--schedule" => {
                let v = value()?;
                let parsed = v
                    .split_once('=')
                    .filter(|(function, _)| !function.is_empty())
                    .and_then(|(function, secs)| Some((function.to_owned(), secs.parse().ok()?)))
                    .filter(|(_, secs)| *secs > 0);
                schedules.push(parsed.ok_or_else(|| {
                    format!("--schedule {v:?}: expected FUNCTION=SECONDS, SECONDS > 0")
                })?);
            }
            "--batch-size" => batch_size = number(&name, value()?, 1, 1000)?,
            "--max-retries" => max_retries = number(&name, value()?, 0, 10_000)?,
            "--dead-letter" => dead_letter = Some(PathBuf::from(value()?)),
            "--checkpoint" => checkpoint = Some(PathBuf::from(value()?)),
            "--poll-ms" => poll_ms = number(&name, value()?, 1, 60_000)?,
            "--invoke-timeout" => invoke_timeout = number(&name, value()?, 1, 900)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let missing = |what: &str| format!("{what} is required");
    Ok(Config {
        dynamodb: dynamodb.ok_or_else(|| missing("--dynamodb"))?,
        table: table.ok_or_else(|| missing("--table"))?,
        invoke: invoke.ok_or_else(|| missing("--invoke"))?,
        stream_function,
        schedules,
        batch_size,
        max_retries,
        dead_letter,
        checkpoint,
        poll_interval: Duration::from_millis(poll_ms),
        invoke_timeout: Duration::from_secs(invoke_timeout),
    })
}

fn url(name: &str, value: String) -> Result<String, String> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.trim_end_matches('/').to_owned())
    } else {
        Err(format!("{name} {value:?}: expected an http:// URL"))
    }
}

fn number<T: std::str::FromStr + PartialOrd + Display>(
    name: &str,
    value: String,
    min: T,
    max: T,
) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "{name} {value:?}: expected a number from {min} to {max}"
        )),
    }
}

// ------------------------------------------------------------------ the filter and the events

/// The template's FilterCriteria on the dispatcher's event source mapping.
pub const AUDIT_PREFIX: &str = "AUDIT#";

/// Whether the event source mapping's filter passes a stream record: an INSERT whose new image's
/// `sk` begins with `AUDIT#`. The others are dropped, as AWS drops them (never invoked, and the
/// checkpoint moves past them).
pub fn passes_filter(record: &Value) -> bool {
    record["eventName"] == "INSERT"
        && record["dynamodb"]["NewImage"]["sk"]["S"]
            .as_str()
            .is_some_and(|sk| sk.starts_with(AUDIT_PREFIX))
}

/// A stream record's sequence number ("" if it has none).
pub fn sequence_number(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or("")
}

/// One record of the Lambda DynamoDB event: what GetRecords returns, plus `eventSourceARN`.
pub fn event_record(record: &Value, stream_arn: &str) -> Value {
    let mut record = record.clone();
    if let Some(fields) = record.as_object_mut() {
        fields.insert("eventSourceARN".into(), stream_arn.into());
    }
    record
}

/// The event an invocation of the stream function gets: `{"Records": [...]}`.
pub fn stream_event(records: &[Value], stream_arn: &str) -> Value {
    json!({ "Records": records.iter().map(|r| event_record(r, stream_arn)).collect::<Vec<_>>() })
}

/// EventBridge's "Scheduled Event" (a rate or cron rule's target input).
pub fn scheduled_event(id: Uuid, at: OffsetDateTime) -> Value {
    json!({
        "version": "0",
        "id": id.to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": rfc3339_seconds(at),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    })
}

/// `2026-01-02T03:04:05Z`, as EventBridge writes `time`.
pub fn rfc3339_seconds(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

// ------------------------------------------------------------------ invocation outcomes

/// How an invocation went, as the Invoke API answered it.
#[derive(Debug, Clone, PartialEq)]
pub enum Invoked {
    /// HTTP 2xx without an error: the function's result (`null` when it returned nothing).
    Result(Value),
    /// The function ran and failed (its error, a crash, a timeout); the text is safe to log
    /// (the status and the error's type, never its message, which may quote an item).
    FunctionError(String),
    /// Nothing ran: the Invoke API did not answer or knows no such function (yet).
    Unreachable(String),
}

/// Reads the Invoke API's answer. `function_error` is the `X-Amz-Function-Error` header's
/// presence (AWS answers a function error with 200 and that header; cargo lambda watch with 500
/// and `{"errorType", "errorMessage"}`).
pub fn classify_reply(status: u16, function_error: bool, body: &str) -> Invoked {
    let parsed: Option<Value> = if body.trim().is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_str(body).ok()
    };
    let error_type = parsed
        .as_ref()
        .and_then(|v| v.get("errorType"))
        .and_then(Value::as_str)
        .map(|t| t.chars().take(120).collect::<String>());
    let is_error_body = parsed
        .as_ref()
        .is_some_and(|v| v.get("errorType").is_some() && v.get("errorMessage").is_some());
    if status == 404
        && parsed
            .as_ref()
            .is_some_and(|v| v["title"] == "Missing function")
    {
        return Invoked::Unreachable("no such function (HTTP 404, Missing function)".into());
    }
    if !(200..300).contains(&status) || function_error || is_error_body {
        let kind = error_type.unwrap_or_else(|| "no errorType".into());
        return Invoked::FunctionError(format!("HTTP {status}, {kind}"));
    }
    match parsed {
        Some(result) => Invoked::Result(result),
        // A result that is not JSON is no list of failures: the whole batch failed.
        None => Invoked::Result(json!({ "batchItemFailures": "<not JSON>" })),
    }
}

/// What a batch's invocation came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The function returned: `retry_from` is the index of the first record it reported failed
    /// (`None`: all done).
    Returned { retry_from: Option<usize> },
    /// The invocation failed.
    FunctionError,
    /// Nothing ran.
    Unreachable,
}

impl Outcome {
    pub fn of(invoked: &Invoked, batch: &[Value]) -> Self {
        match invoked {
            Invoked::Result(result) => Outcome::Returned {
                retry_from: first_failed(result, batch),
            },
            Invoked::FunctionError(_) => Outcome::FunctionError,
            Invoked::Unreachable(_) => Outcome::Unreachable,
        }
    }
}

/// The index of the lowest-numbered record that a stream function's result reports failed
/// (ReportBatchItemFailures), `None` when all are done. As AWS: a null result, no or a null
/// `batchItemFailures`, or an empty list = all done; a list naming records = the batch from the
/// first of them on is retried; an identifier that is missing, empty, not a string or not in the
/// batch, or a `batchItemFailures` that is no list = the whole batch failed.
pub fn first_failed(result: &Value, batch: &[Value]) -> Option<usize> {
    let failures = match result.get("batchItemFailures") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(failures)) => failures,
        Some(_) => return Some(0),
    };
    let mut first: Option<usize> = None;
    for failure in failures {
        let index = failure["itemIdentifier"]
            .as_str()
            .filter(|id| !id.is_empty())
            .and_then(|id| batch.iter().position(|r| sequence_number(r) == id));
        let Some(index) = index else { return Some(0) };
        first = Some(first.map_or(index, |f| f.min(index)));
    }
    first
}

// ------------------------------------------------------------------ decisions

/// What to do after a batch's invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Every record of the batch is processed.
    Done,
    /// The records before this index are processed; the batch from it on is invoked again.
    RetryFrom(usize),
    /// The batch is split: `[..mid]` is invoked, then `[mid..]` (BisectBatchOnFunctionError;
    /// a split does not count as a retry).
    Bisect(usize),
    /// The record at this index has failed more than `max_retries` times: the records before it
    /// are processed, it goes to the dead letters, and the batch goes on after it.
    DeadLetter(usize),
    /// Nothing ran: the same batch again after a pause, nothing counted.
    Wait,
}

/// How many invocations have failed each record (by sequence number), and what that means.
#[derive(Debug, Clone)]
pub struct Retries {
    max_retries: u32,
    failed: HashMap<String, u32>,
}

impl Retries {
    pub fn new(max_retries: u32) -> Self {
        Self {
            max_retries,
            failed: HashMap::new(),
        }
    }

    /// Failed invocations of the record so far.
    pub fn failures(&self, sequence_number: &str) -> u32 {
        self.failed.get(sequence_number).copied().unwrap_or(0)
    }

    /// The decision for `batch` (non-empty, in stream order) after `outcome`. A retry counts
    /// against the first record retried: the first one reported failed, or the only record of a
    /// batch whose invocation failed (a larger one is bisected first).
    pub fn decide(&mut self, batch: &[Value], outcome: Outcome) -> Next {
        let mut fail = |index: usize| {
            let seq = sequence_number(&batch[index]).to_owned();
            let count = self.failed.entry(seq.clone()).or_insert(0);
            *count += 1;
            if *count > self.max_retries {
                Next::DeadLetter(index)
            } else {
                Next::RetryFrom(index)
            }
        };
        match outcome {
            Outcome::Returned { retry_from: None } => Next::Done,
            Outcome::Returned {
                retry_from: Some(index),
            } => fail(index.min(batch.len() - 1)),
            Outcome::FunctionError if batch.len() > 1 => Next::Bisect(batch.len() / 2),
            Outcome::FunctionError => fail(0),
            Outcome::Unreachable => Next::Wait,
        }
    }
}

/// The pause before an invocation after `streak` failed ones in a row: 200 ms, doubling,
/// at most 2 s.
pub fn backoff(streak: u32) -> Duration {
    let ms = 200u64.saturating_mul(1 << streak.saturating_sub(1).min(10));
    Duration::from_millis(ms.min(2_000))
}

/// What the runner does after a batch's invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub next: Next,
    /// Every record up to and including this sequence number is processed: the checkpoint.
    pub advance_to: Option<String>,
    /// A record that exhausted its retries, and how many invocations failed it.
    pub dead_letter: Option<(Value, u32)>,
    /// The pause before the next invocation.
    pub backoff: Option<Duration>,
}

/// One GetRecords page as batches to invoke, in stream order.
#[derive(Debug, Clone)]
pub struct Batches {
    queue: VecDeque<Vec<Value>>,
    end: Option<String>,
    fetched: usize,
    retries: Retries,
    streak: u32,
}

impl Batches {
    /// The page's records that pass the filter, as one batch (if any).
    pub fn new(page: &[Value], max_retries: u32) -> Self {
        let passing: Vec<Value> = page.iter().filter(|r| passes_filter(r)).cloned().collect();
        Self {
            queue: (!passing.is_empty())
                .then_some(passing)
                .into_iter()
                .collect(),
            end: page.last().map(|r| sequence_number(r).to_owned()),
            fetched: page.len(),
            retries: Retries::new(max_retries),
            streak: 0,
        }
    }

    /// The batch to invoke next; `None` once the page is done.
    pub fn current(&self) -> Option<&[Value]> {
        self.queue.front().map(Vec::as_slice)
    }

    /// The page's last sequence number: the checkpoint once no batch is left.
    pub fn end(&self) -> Option<&str> {
        self.end.as_deref()
    }

    /// Records of the page the filter dropped.
    pub fn skipped(&self) -> usize {
        self.fetched - self.queue.front().map_or(0, Vec::len)
    }

    /// Applies the outcome of invoking [`Batches::current`].
    pub fn apply(&mut self, outcome: Outcome) -> Step {
        let batch = self
            .queue
            .pop_front()
            .expect("apply without a current batch");
        let next = self.retries.decide(&batch, outcome);
        let seq = |i: usize| sequence_number(&batch[i]).to_owned();
        let mut step = Step {
            next,
            advance_to: None,
            dead_letter: None,
            backoff: None,
        };
        match next {
            Next::Done => {
                step.advance_to = Some(seq(batch.len() - 1));
                self.streak = 0;
            }
            Next::DeadLetter(index) => {
                step.advance_to = Some(seq(index));
                step.dead_letter = Some((batch[index].clone(), self.retries.failures(&seq(index))));
                if index + 1 < batch.len() {
                    self.queue.push_front(batch[index + 1..].to_vec());
                }
                self.streak = 0;
            }
            Next::RetryFrom(index) => {
                step.advance_to = index.checked_sub(1).map(seq);
                self.queue.push_front(batch[index..].to_vec());
            }
            Next::Bisect(mid) => {
                self.queue.push_front(batch[mid..].to_vec());
                self.queue.push_front(batch[..mid].to_vec());
            }
            Next::Wait => self.queue.push_front(batch),
        }
        if !matches!(next, Next::Done | Next::DeadLetter(_)) {
            self.streak += 1;
            step.backoff = Some(backoff(self.streak));
        }
        step
    }
}

/// One dead letter's line: Lambda's on-failure destination record for a stream source
/// (requestContext, responseContext, DDBStreamBatchInfo), plus the record itself.
pub struct DeadLetter<'a> {
    pub function: &'a str,
    pub stream_arn: &'a str,
    pub shard_id: &'a str,
    pub record: &'a Value,
    pub invocations: u32,
    /// The last failure, as [`Invoked`] describes it (`None`: the function reported the record).
    pub last_error: Option<&'a str>,
    pub at: OffsetDateTime,
    pub request_id: Uuid,
}

impl DeadLetter<'_> {
    pub fn to_json(&self) -> Value {
        let seq = sequence_number(self.record);
        // As Lambda writes them: `2026-01-02T03:04:05.000Z`.
        let arrival = self.record["dynamodb"]["ApproximateCreationDateTime"]
            .as_f64()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128).ok())
            .map(|at| {
                format!(
                    "{}.{:03}Z",
                    rfc3339_seconds(at).trim_end_matches('Z'),
                    at.millisecond()
                )
            });
        json!({
            "requestContext": {
                "requestId": self.request_id.to_string(),
                "functionArn": format!("arn:aws:lambda:us-east-1:000000000000:function:{}", self.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.invocations,
            },
            "responseContext": {
                "executedVersion": "$LATEST",
                "functionError": self.last_error.map_or("ReportedItemFailure", |_| "Unhandled"),
                "lastError": self.last_error,
            },
            "version": "1.0",
            "timestamp": rfc3339_seconds(self.at),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": seq,
                "endSequenceNumber": seq,
                "approximateArrivalOfFirstRecord": arrival,
                "approximateArrivalOfLastRecord": arrival,
                "batchSize": 1,
                "streamArn": self.stream_arn,
            },
            "record": event_record(self.record, self.stream_arn),
        })
    }
}

// ------------------------------------------------------------------ checkpoints and iterators

/// The last processed sequence number of each shard of one stream: `--checkpoint`'s file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    pub stream_arn: Option<String>,
    pub shards: BTreeMap<String, String>,
}

impl Checkpoint {
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let shards = v["shards"]
            .as_object()
            .ok_or("no \"shards\" object")?
            .iter()
            .map(|(shard, seq)| Some((shard.clone(), seq.as_str()?.to_owned())))
            .collect::<Option<_>>()
            .ok_or("a shard's sequence number is not a string")?;
        Ok(Self {
            stream_arn: v["stream_arn"].as_str().map(str::to_owned),
            shards,
        })
    }

    pub fn to_json(&self) -> String {
        json!({ "stream_arn": self.stream_arn, "shards": self.shards }).to_string()
    }

    /// Where a shard of `stream_arn` resumes: after its sequence number if this checkpoint is of
    /// that stream (a DynamoDB started anew has a stream of another ARN: from the start).
    pub fn resume_after(&self, stream_arn: &str, shard_id: &str) -> Option<&str> {
        (self.stream_arn.as_deref() == Some(stream_arn))
            .then(|| self.shards.get(shard_id).map(String::as_str))
            .flatten()
    }

    /// This checkpoint moved to another stream (its shards start from nothing).
    pub fn switch_to(&mut self, stream_arn: &str) {
        if self.stream_arn.as_deref() != Some(stream_arn) {
            self.stream_arn = Some(stream_arn.to_owned());
            self.shards.clear();
        }
    }
}

/// The GetShardIterator request for a shard: TRIM_HORIZON, or after the last processed record.
pub fn shard_iterator_request(stream_arn: &str, shard_id: &str, after: Option<&str>) -> Value {
    match after {
        None => {
            json!({ "StreamArn": stream_arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON" })
        }
        Some(seq) => json!({
            "StreamArn": stream_arn, "ShardId": shard_id,
            "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq,
        }),
    }
}

/// The table's current stream among ListStreams' (the newest label if several).
pub fn latest_stream(list_streams: &Value) -> Option<String> {
    list_streams["Streams"]
        .as_array()?
        .iter()
        .filter(|s| s["StreamArn"].is_string())
        .max_by(|a, b| {
            let label = |s: &Value| s["StreamLabel"].as_str().unwrap_or("").to_owned();
            label(a).cmp(&label(b))
        })
        .map(|s| s["StreamArn"].as_str().unwrap_or_default().to_owned())
}

/// The shard ids of a DescribeStream answer.
pub fn shard_ids(describe_stream: &Value) -> Vec<String> {
    describe_stream["StreamDescription"]["Shards"]
        .as_array()
        .map(|shards| {
            shards
                .iter()
                .filter_map(|s| s["ShardId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

// ------------------------------------------------------------------ I/O: DynamoDB and Lambda

fn log(message: impl Display) {
    let now = OffsetDateTime::now_utc();
    eprintln!(
        "{}.{:03} stream-runner: {message}",
        rfc3339_seconds(now).trim_end_matches('Z'),
        now.millisecond()
    );
}

/// A request that got no answer, with its causes (reqwest's own text is only "error sending
/// request for url (...)").
fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A DynamoDB (Streams) API failure.
#[derive(Debug)]
pub enum DdbError {
    /// No answer (refused, reset, timed out): DynamoDB is down or hanging.
    Transport(String),
    /// An error answer: its `__type` (without the namespace) and message.
    Api { kind: String, message: String },
}

impl DdbError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, DdbError::Api { kind, .. } if kind == "ResourceNotFoundException")
    }
}

impl Display for DdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DdbError::Transport(e) => write!(f, "no answer ({e})"),
            DdbError::Api { kind, message } => write!(f, "{kind}: {message}"),
        }
    }
}

/// The DynamoDB and DynamoDB Streams JSON API of a local endpoint, with the headers
/// `scripts/lib.sh`'s `yl_ddb` sends (an emulator checks no signature, but wants one).
#[derive(Clone)]
pub struct Ddb {
    client: reqwest::Client,
    endpoint: String,
}

impl Ddb {
    pub fn new(endpoint: &str) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        Self {
            client,
            endpoint: endpoint.to_owned(),
        }
    }

    /// `target`: `DynamoDB_20120810.X` or `DynamoDBStreams_20120810.X`.
    pub async fn call(&self, target: &str, body: &Value) -> Result<Value, DdbError> {
        let date = {
            let now = OffsetDateTime::now_utc();
            format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            )
        };
        let reply = self
            .client
            .post(&self.endpoint)
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("X-Amz-Date", date)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| DdbError::Transport(transport_error(&e)))?;
        let status = reply.status();
        let text = reply
            .text()
            .await
            .map_err(|e| DdbError::Transport(transport_error(&e)))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let kind = value["__type"].as_str().unwrap_or("HTTP error");
        Err(DdbError::Api {
            kind: kind.rsplit('#').next().unwrap_or(kind).to_owned(),
            message: value["message"]
                .as_str()
                .map_or_else(|| format!("HTTP {status}"), str::to_owned),
        })
    }

    async fn streams(&self, op: &str, body: Value) -> Result<Value, DdbError> {
        self.call(&format!("DynamoDBStreams_20120810.{op}"), &body)
            .await
    }

    async fn dynamodb(&self, op: &str, body: Value) -> Result<Value, DdbError> {
        self.call(&format!("DynamoDB_20120810.{op}"), &body).await
    }
}

/// The Lambda Invoke API (`POST {base}/2015-03-31/functions/{name}/invocations`).
#[derive(Clone)]
pub struct Invoker {
    client: reqwest::Client,
    base: String,
    timeout: Duration,
}

impl Invoker {
    pub fn new(base: &str, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("an HTTP client");
        Self {
            client,
            base: base.to_owned(),
            timeout,
        }
    }

    pub async fn invoke(&self, function: &str, event: &Value) -> Invoked {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let reply = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .body(event.to_string())
            .send()
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) if e.is_timeout() => {
                return Invoked::FunctionError(format!(
                    "timed out after {}s",
                    self.timeout.as_secs()
                ))
            }
            Err(e) => return Invoked::Unreachable(format!("no answer ({})", transport_error(&e))),
        };
        let status = reply.status().as_u16();
        let function_error = reply.headers().contains_key("x-amz-function-error");
        match reply.text().await {
            Ok(body) => classify_reply(status, function_error, &body),
            Err(e) if e.is_timeout() => {
                Invoked::FunctionError(format!("timed out after {}s", self.timeout.as_secs()))
            }
            Err(e) => Invoked::FunctionError(format!("HTTP {status}, the answer broke off ({e})")),
        }
    }
}

// ------------------------------------------------------------------ the runner

/// Runs until dropped (or forever): the schedules and, with a stream function, the stream.
pub async fn run(config: Config) {
    log(format_args!(
        "table {} on {}, invoking {}: stream -> {} (batch {}, {} retries, dead letters {}, checkpoint {}); schedules: {}",
        config.table,
        config.dynamodb,
        config.invoke,
        config.stream_function.as_deref().unwrap_or("(none)"),
        config.batch_size,
        config.max_retries,
        config.dead_letter.as_deref().map_or("only logged".into(), |p| p.display().to_string()),
        config.checkpoint.as_deref().map_or("none".into(), |p| p.display().to_string()),
        if config.schedules.is_empty() {
            "none".to_owned()
        } else {
            config
                .schedules
                .iter()
                .map(|(f, s)| format!("{f} every {s}s"))
                .collect::<Vec<_>>()
                .join(", ")
        },
    ));
    let invoker = Invoker::new(&config.invoke, config.invoke_timeout);
    // Dropped with this future: the schedules stop with it.
    let mut schedules = tokio::task::JoinSet::new();
    for (function, secs) in config.schedules.clone() {
        schedules.spawn(schedule(
            invoker.clone(),
            function,
            Duration::from_secs(secs),
        ));
    }
    match config.stream_function.clone() {
        Some(function) => Stream::new(config, invoker, function).run().await,
        None => std::future::pending().await,
    }
}

/// One function's schedule: an event every `period`, each awaited, so never two at once (one
/// that takes longer than the period is followed by the next as it ends).
async fn schedule(invoker: Invoker, function: String, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unreachable = 0u32;
    loop {
        ticks.tick().await;
        let started = Instant::now();
        let event = scheduled_event(Uuid::new_v4(), OffsetDateTime::now_utc());
        let outcome = match invoker.invoke(&function, &event).await {
            Invoked::Result(_) => {
                unreachable = 0;
                "ok".to_owned()
            }
            Invoked::FunctionError(e) => {
                unreachable = 0;
                format!("function error ({e})")
            }
            Invoked::Unreachable(e) => {
                unreachable += 1;
                // A function not built yet would otherwise log every period.
                if unreachable > 1 && !unreachable.is_multiple_of(60) {
                    continue;
                }
                format!("not invoked: {e}")
            }
        };
        log(format_args!(
            "{function}: scheduled event -> {outcome} in {} ms",
            started.elapsed().as_millis()
        ));
    }
}

#[derive(Default)]
struct Shard {
    /// The last processed sequence number (`None`: nothing yet, TRIM_HORIZON).
    after: Option<String>,
    iterator: Option<String>,
    /// GetRecords gave no next iterator: the shard is closed and read to its end.
    closed: bool,
}

struct Stream {
    config: Config,
    ddb: Ddb,
    invoker: Invoker,
    function: String,
    arn: Option<String>,
    shards: BTreeMap<String, Shard>,
    checkpoint: Checkpoint,
    listed: Option<Instant>,
    described: Option<Instant>,
    /// Failed DynamoDB calls in a row.
    failures: u32,
    /// What was last logged of a missing table or stream (logged again only when it changes).
    waiting_for: Option<String>,
}

/// How often the stream is listed again (a DynamoDB started anew has a new stream) and its
/// shards described again (new shards).
const RELIST: Duration = Duration::from_secs(2);
const REDESCRIBE: Duration = Duration::from_secs(10);

impl Stream {
    fn new(config: Config, invoker: Invoker, function: String) -> Self {
        let checkpoint = match config.checkpoint.as_deref().map(std::fs::read_to_string) {
            None => Checkpoint::default(),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
            Some(read) => match read
                .map_err(|e| e.to_string())
                .and_then(|t| Checkpoint::parse(&t))
            {
                Ok(checkpoint) => checkpoint,
                Err(e) => {
                    log(format_args!(
                        "the checkpoint file is unusable ({e}): reading from TRIM_HORIZON"
                    ));
                    Checkpoint::default()
                }
            },
        };
        Self {
            ddb: Ddb::new(&config.dynamodb),
            config,
            invoker,
            function,
            arn: None,
            shards: BTreeMap::new(),
            checkpoint,
            listed: None,
            described: None,
            failures: 0,
            waiting_for: None,
        }
    }

    async fn run(mut self) {
        loop {
            match self.poll().await {
                Ok(busy) => {
                    if self.failures > 0 {
                        log(format_args!(
                            "dynamodb answers again after {} failed calls",
                            self.failures
                        ));
                        self.failures = 0;
                    }
                    if !busy {
                        tokio::time::sleep(self.config.poll_interval).await;
                    }
                }
                Err(e) => {
                    self.failures += 1;
                    // Start over from the checkpoint: list, describe, new iterators.
                    self.listed = None;
                    self.described = None;
                    self.shards.values_mut().for_each(|s| s.iterator = None);
                    let pause = backoff(self.failures);
                    if self.failures <= 3 || self.failures.is_multiple_of(30) {
                        log(format_args!(
                            "dynamodb: {e}; retrying in {} ms (failure {})",
                            pause.as_millis(),
                            self.failures
                        ));
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    fn waiting(&mut self, what: String) {
        if self.waiting_for.as_ref() != Some(&what) {
            log(&what);
            self.waiting_for = Some(what);
        }
    }

    /// One round over the shards; `Ok(true)` if records came (poll again at once).
    async fn poll(&mut self) -> Result<bool, DdbError> {
        if self.arn.is_none() || self.listed.is_none_or(|at| at.elapsed() >= RELIST) {
            let listed = self
                .ddb
                .streams("ListStreams", json!({ "TableName": self.config.table }))
                .await?;
            self.listed = Some(Instant::now());
            match latest_stream(&listed) {
                Some(arn) if self.arn.as_ref() != Some(&arn) => self.start_stream(arn),
                Some(_) => {}
                None => {
                    self.arn = None;
                    self.shards.clear();
                    self.enable_stream().await?;
                    return Ok(false);
                }
            }
        }
        let arn = self.arn.clone().expect("a stream");
        if self.described.is_none_or(|at| at.elapsed() >= REDESCRIBE) {
            let described = self
                .ddb
                .streams("DescribeStream", json!({ "StreamArn": arn }))
                .await?;
            self.described = Some(Instant::now());
            for shard_id in shard_ids(&described) {
                if !self.shards.contains_key(&shard_id) {
                    let after = self
                        .checkpoint
                        .resume_after(&arn, &shard_id)
                        .map(str::to_owned);
                    log(format_args!(
                        "shard {shard_id}: reading {}",
                        after
                            .as_deref()
                            .map_or("from TRIM_HORIZON".into(), |s| format!(
                                "after {s} (checkpoint)"
                            ))
                    ));
                    self.shards.insert(
                        shard_id,
                        Shard {
                            after,
                            ..Shard::default()
                        },
                    );
                }
            }
        }
        let mut busy = false;
        let shard_ids: Vec<String> = self.shards.keys().cloned().collect();
        for shard_id in shard_ids {
            let shard = &self.shards[&shard_id];
            if shard.closed {
                continue;
            }
            let iterator = match shard.iterator.clone() {
                Some(iterator) => iterator,
                None => {
                    let request = shard_iterator_request(&arn, &shard_id, shard.after.as_deref());
                    let got = self.ddb.streams("GetShardIterator", request).await?;
                    got["ShardIterator"].as_str().unwrap_or_default().to_owned()
                }
            };
            let page = self
                .ddb
                .streams(
                    "GetRecords",
                    json!({ "ShardIterator": iterator, "Limit": self.config.batch_size }),
                )
                .await?;
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            let shard = self.shards.get_mut(&shard_id).expect("the shard");
            shard.iterator = page["NextShardIterator"].as_str().map(str::to_owned);
            shard.closed = shard.iterator.is_none();
            if shard.closed {
                log(format_args!("shard {shard_id}: closed, read to its end"));
            }
            if !records.is_empty() {
                busy = true;
                self.process(&arn, &shard_id, &records).await;
            }
        }
        Ok(busy)
    }

    fn start_stream(&mut self, arn: String) {
        log(format_args!("stream {arn}"));
        self.waiting_for = None;
        self.arn = Some(arn.clone());
        self.shards.clear();
        self.described = None;
        // A checkpoint of another stream (a DynamoDB started anew) is forgotten: TRIM_HORIZON.
        if self.checkpoint.stream_arn.as_deref() != Some(&arn) {
            self.checkpoint.switch_to(&arn);
            self.save_checkpoint();
        }
    }

    /// ListStreams found none: a table created before the table had a stream gets one; a table
    /// not there (yet) is waited for.
    async fn enable_stream(&mut self) -> Result<(), DdbError> {
        let table = self.config.table.clone();
        let described = match self
            .ddb
            .dynamodb("DescribeTable", json!({ "TableName": table }))
            .await
        {
            Ok(described) => described,
            Err(e) if e.is_not_found() => {
                self.waiting(format!(
                    "table {table} does not exist (yet): waiting for it"
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if described["Table"]["StreamSpecification"]["StreamEnabled"] == true {
            // Listed a moment ago as having none: the next round lists it.
            return Ok(());
        }
        log(format_args!(
            "table {table} has no stream: enabling one (NEW_IMAGE)"
        ));
        self.ddb
            .dynamodb(
                "UpdateTable",
                json!({
                    "TableName": table,
                    "StreamSpecification": { "StreamEnabled": true, "StreamViewType": "NEW_IMAGE" },
                }),
            )
            .await?;
        Ok(())
    }

    /// A page of records through the function, until each is processed or dead-lettered.
    async fn process(&mut self, arn: &str, shard_id: &str, records: &[Value]) {
        let mut batches = Batches::new(records, self.config.max_retries);
        let mut unreachable = 0u32;
        let mut skipped = batches.skipped();
        while let Some(batch) = batches.current() {
            let batch = batch.to_vec();
            let (first, last) = (
                sequence_number(&batch[0]),
                sequence_number(&batch[batch.len() - 1]),
            );
            let records = match batch.len() {
                1 => format!("1 record {first}"),
                n => format!("{n} records {first}..{last}"),
            };
            let started = Instant::now();
            let invoked = self
                .invoker
                .invoke(&self.function, &stream_event(&batch, arn))
                .await;
            let took = started.elapsed().as_millis();
            let step = batches.apply(Outcome::of(&invoked, &batch));
            let result = match &invoked {
                Invoked::Result(_) if step.next == Next::Done => format!("ok in {took} ms"),
                Invoked::Result(_) => format!("item failures reported in {took} ms"),
                Invoked::FunctionError(e) => format!("function error ({e}) in {took} ms"),
                Invoked::Unreachable(e) => {
                    unreachable += 1;
                    format!("not invoked: {e}")
                }
            };
            let pause = step
                .backoff
                .map_or(String::new(), |p| format!(" in {} ms", p.as_millis()));
            let next = match step.next {
                Next::Done => String::new(),
                Next::RetryFrom(i) => {
                    format!(" -> retrying from {}{pause}", sequence_number(&batch[i]))
                }
                Next::Bisect(mid) => {
                    format!(" -> bisected into {mid} + {}{pause}", batch.len() - mid)
                }
                Next::DeadLetter(i) => format!(
                    " -> {} dead-lettered after {} failed invocations",
                    sequence_number(&batch[i]),
                    step.dead_letter.as_ref().map_or(0, |(_, n)| *n)
                ),
                Next::Wait => format!(" -> again{pause}"),
            };
            // An unreachable function is retried for as long as it takes: logged now and then.
            if !matches!(invoked, Invoked::Unreachable(_))
                || unreachable <= 1
                || unreachable.is_multiple_of(30)
            {
                // The page's filtered records, with its first batch.
                let skipped = match std::mem::take(&mut skipped) {
                    0 => String::new(),
                    n => format!(" ({n} others dropped by the filter)"),
                };
                log(format_args!(
                    "{}: shard {shard_id}, {records}{skipped}: {result}{next}",
                    self.function
                ));
            }
            if let Some((record, invocations)) = &step.dead_letter {
                let last_error = match &invoked {
                    Invoked::FunctionError(e) => Some(e.as_str()),
                    _ => None,
                };
                self.dead_letter(&DeadLetter {
                    function: &self.function,
                    stream_arn: arn,
                    shard_id,
                    record,
                    invocations: *invocations,
                    last_error,
                    at: OffsetDateTime::now_utc(),
                    request_id: Uuid::new_v4(),
                });
            }
            if let Some(seq) = step.advance_to {
                self.advance(shard_id, seq);
            }
            if let Some(pause) = step.backoff {
                tokio::time::sleep(pause).await;
            }
        }
        if let Some(end) = batches.end() {
            self.advance(shard_id, end.to_owned());
        }
    }

    fn dead_letter(&self, letter: &DeadLetter<'_>) {
        let Some(path) = self.config.dead_letter.as_deref() else {
            return;
        };
        let line = format!("{}\n", letter.to_json());
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, line.as_bytes()));
        if let Err(e) = written {
            log(format_args!(
                "could not write the dead letter of {} to {}: {e}",
                sequence_number(letter.record),
                path.display()
            ));
        }
    }

    fn advance(&mut self, shard_id: &str, seq: String) {
        let Some(shard) = self.shards.get_mut(shard_id) else {
            return;
        };
        if shard.after.as_ref() == Some(&seq) {
            return;
        }
        shard.after = Some(seq.clone());
        self.checkpoint.shards.insert(shard_id.to_owned(), seq);
        self.save_checkpoint();
    }

    fn save_checkpoint(&self) {
        let Some(path) = self.config.checkpoint.as_deref() else {
            return;
        };
        if let Err(e) = write_atomically(path, &self.checkpoint.to_json()) {
            log(format_args!(
                "could not write the checkpoint {}: {e}",
                path.display()
            ));
        }
    }
}

/// Writes `path` whole or not at all (a file beside it, renamed over it).
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

// ------------------------------------------------------------------ tests

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    /// A GetRecords record as dynoxide returns it.
    fn record(seq: u64, event_name: &str, sk: &str) -> Value {
        let seq = format!("{}", 100_000_000_000_000_000_000u128 + u128::from(seq));
        json!({
            "eventID": format!("id{seq}"),
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "dynoxide",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_767_225_600.0,
                "Keys": { "pk": { "S": "WS#1" }, "sk": { "S": sk } },
                "NewImage": { "pk": { "S": "WS#1" }, "sk": { "S": sk }, "secret": { "S": "s3cret" } },
                "SequenceNumber": seq,
                "SizeBytes": 60,
                "StreamViewType": "NEW_IMAGE",
            },
        })
    }

    fn audit(seqs: std::ops::RangeInclusive<u64>) -> Vec<Value> {
        seqs.map(|s| record(s, "INSERT", &format!("AUDIT#{s}")))
            .collect()
    }

    fn seq(n: u64) -> String {
        sequence_number(&record(n, "INSERT", "AUDIT#")).to_owned()
    }

    fn seqs(batch: Option<&[Value]>) -> Vec<String> {
        batch
            .unwrap_or_default()
            .iter()
            .map(|r| sequence_number(r).to_owned())
            .collect()
    }

    fn failures(seqs: &[&str]) -> Invoked {
        let failures: Vec<Value> = seqs
            .iter()
            .map(|s| json!({ "itemIdentifier": s }))
            .collect();
        Invoked::Result(json!({ "batchItemFailures": failures }))
    }

    fn returned(retry_from: Option<usize>) -> Outcome {
        Outcome::Returned { retry_from }
    }

    // ---- arguments

    #[test]
    fn the_arguments_of_make_test_parse_with_their_defaults() {
        let config = parse_args(args(
            "--dynamodb http://127.0.0.1:8000/ --table yebolink-local --invoke http://127.0.0.1:9000 \
             --stream-function webhook-dispatcher --schedule webhook-scheduler=1 --schedule other=60",
        ))
        .unwrap();
        assert_eq!(config.dynamodb, "http://127.0.0.1:8000");
        assert_eq!(config.table, "yebolink-local");
        assert_eq!(
            config.stream_function.as_deref(),
            Some("webhook-dispatcher")
        );
        assert_eq!(
            config.schedules,
            [
                ("webhook-scheduler".to_owned(), 1),
                ("other".to_owned(), 60)
            ]
        );
        assert_eq!((config.batch_size, config.max_retries), (100, 5));
        assert_eq!((config.dead_letter, config.checkpoint), (None, None));
        assert_eq!(config.poll_interval, Duration::from_millis(100));
    }

    #[test]
    fn arguments_may_be_written_with_an_equals_sign() {
        let config = parse_args(args(
            "--dynamodb=http://d --table=t --invoke=http://i --batch-size=10 --max-retries=0 \
             --dead-letter=/tmp/dl.jsonl --checkpoint=/tmp/cp.json --schedule=f=5",
        ))
        .unwrap();
        assert_eq!((config.batch_size, config.max_retries), (10, 0));
        assert_eq!(config.dead_letter, Some(PathBuf::from("/tmp/dl.jsonl")));
        assert_eq!(config.checkpoint, Some(PathBuf::from("/tmp/cp.json")));
        assert_eq!(config.schedules, [("f".to_owned(), 5)]);
    }

    #[test]
    fn bad_or_missing_arguments_are_refused_with_the_argument_named() {
        let base = "--dynamodb http://d --table t --invoke http://i";
        for (extra, named) in [
            ("--batch-size 0", "--batch-size"),
            ("--batch-size 1001", "--batch-size"),
            ("--schedule f", "--schedule"),
            ("--schedule f=0", "--schedule"),
            ("--schedule =3", "--schedule"),
            ("--frobnicate 1", "--frobnicate"),
            ("--checkpoint", "--checkpoint"),
        ] {
            let err = parse_args(args(&format!("{base} {extra}"))).unwrap_err();
            assert!(err.contains(named), "{extra}: {err}");
        }
        assert!(parse_args(args("--table t --invoke http://i"))
            .unwrap_err()
            .contains("--dynamodb"));
        assert!(parse_args(args(
            "--dynamodb localhost:8000 --table t --invoke http://i"
        ))
        .unwrap_err()
        .contains("--dynamodb"));
    }

    // ---- filter and events

    #[test]
    fn the_filter_passes_only_inserts_of_audit_events() {
        assert!(passes_filter(&record(1, "INSERT", "AUDIT#2026-01-01#x")));
        assert!(!passes_filter(&record(2, "MODIFY", "AUDIT#2026-01-01#x")));
        assert!(!passes_filter(&record(3, "REMOVE", "AUDIT#2026-01-01#x")));
        assert!(!passes_filter(&record(4, "INSERT", "KEY#x")));
        assert!(!passes_filter(&record(5, "INSERT", "audit#x")));
        let mut without_image = record(6, "INSERT", "AUDIT#x");
        without_image["dynamodb"]
            .as_object_mut()
            .unwrap()
            .remove("NewImage");
        assert!(!passes_filter(&without_image));
    }

    #[test]
    fn the_stream_event_is_what_get_records_returns_plus_the_event_source_arn() {
        let records = audit(1..=2);
        let event = stream_event(&records, "arn:stream");
        let sent = event["Records"].as_array().unwrap();
        assert_eq!(sent.len(), 2);
        for (sent, got) in sent.iter().zip(&records) {
            assert_eq!(sent["eventSourceARN"], "arn:stream");
            let mut without_arn = sent.clone();
            without_arn
                .as_object_mut()
                .unwrap()
                .remove("eventSourceARN");
            assert_eq!(&without_arn, got);
            for field in [
                "eventID",
                "eventName",
                "eventVersion",
                "eventSource",
                "awsRegion",
            ] {
                assert!(sent[field].is_string(), "{field}");
            }
            for field in [
                "ApproximateCreationDateTime",
                "Keys",
                "NewImage",
                "SequenceNumber",
                "SizeBytes",
                "StreamViewType",
            ] {
                assert!(!sent["dynamodb"][field].is_null(), "dynamodb.{field}");
            }
        }
        assert_eq!(event.as_object().unwrap().len(), 1);
    }

    #[test]
    fn the_scheduled_event_is_eventbridges_shape() {
        let id = Uuid::new_v4();
        let at = time::macros::datetime!(2026-01-02 03:04:05.678 UTC);
        assert_eq!(
            scheduled_event(id, at),
            json!({
                "version": "0", "id": id.to_string(), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "000000000000", "time": "2026-01-02T03:04:05Z",
                "region": "us-east-1", "resources": [], "detail": {},
            })
        );
    }

    // ---- the Invoke API's answers

    #[test]
    fn a_watch_error_answer_is_a_function_error_naming_only_the_error_type() {
        let body = r#"{"errorType":"&lambda_runtime::deserializer::DeserializeError","errorMessage":"failed near {\"secret\": \"s3cret\"}"}"#;
        let Invoked::FunctionError(what) = classify_reply(500, false, body) else {
            panic!("not a function error")
        };
        assert!(
            what.contains("HTTP 500") && what.contains("DeserializeError"),
            "{what}"
        );
        assert!(!what.contains("s3cret"), "{what}");
    }

    #[test]
    fn an_error_body_or_header_on_a_200_is_a_function_error() {
        let body = r#"{"errorType":"Panic","errorMessage":"boom"}"#;
        assert!(matches!(
            classify_reply(200, false, body),
            Invoked::FunctionError(_)
        ));
        assert!(matches!(
            classify_reply(200, true, "{}"),
            Invoked::FunctionError(_)
        ));
        assert!(matches!(
            classify_reply(502, false, "bad gateway"),
            Invoked::FunctionError(_)
        ));
    }

    #[test]
    fn a_missing_function_is_unreachable_not_a_failure() {
        let body = r#"{"detail":"that function doesn't exist as a binary in your project","title":"Missing function"}"#;
        assert!(matches!(
            classify_reply(404, false, body),
            Invoked::Unreachable(_)
        ));
    }

    #[test]
    fn a_200_is_the_functions_result() {
        assert_eq!(
            classify_reply(200, false, r#"{"batchItemFailures":[]}"#),
            Invoked::Result(json!({ "batchItemFailures": [] }))
        );
        assert_eq!(classify_reply(200, false, ""), Invoked::Result(Value::Null));
        assert_eq!(
            classify_reply(200, false, "null"),
            Invoked::Result(Value::Null)
        );
    }

    #[test]
    fn an_empty_or_null_failure_list_means_the_whole_batch_is_done() {
        let batch = audit(1..=3);
        for result in [
            json!(null),
            json!({}),
            json!({ "batchItemFailures": null }),
            json!({ "batchItemFailures": [] }),
        ] {
            assert_eq!(first_failed(&result, &batch), None, "{result}");
        }
    }

    #[test]
    fn the_lowest_reported_failure_is_where_the_retry_starts() {
        let batch = audit(1..=5);
        let Invoked::Result(result) = failures(&[&seq(4), &seq(2), &seq(5)]) else {
            unreachable!()
        };
        assert_eq!(first_failed(&result, &batch), Some(1));
    }

    #[test]
    fn an_invalid_item_identifier_fails_the_whole_batch() {
        let batch = audit(1..=3);
        for result in [
            json!({ "batchItemFailures": [{ "itemIdentifier": seq(3) }, { "itemIdentifier": "" }] }),
            json!({ "batchItemFailures": [{ "itemIdentifier": null }] }),
            json!({ "batchItemFailures": [{ "itemidentifier": seq(2) }] }),
            json!({ "batchItemFailures": [{ "itemIdentifier": seq(9) }] }),
            json!({ "batchItemFailures": "all" }),
        ] {
            assert_eq!(first_failed(&result, &batch), Some(0), "{result}");
        }
        let Invoked::Result(not_json) = classify_reply(200, false, "ok") else {
            unreachable!()
        };
        assert_eq!(first_failed(&not_json, &batch), Some(0));
    }

    // ---- decisions

    #[test]
    fn a_successful_batch_advances_the_checkpoint_past_the_whole_page() {
        let mut page = audit(1..=2);
        page.push(record(3, "MODIFY", "AUDIT#1"));
        let mut batches = Batches::new(&page, 5);
        assert_eq!(seqs(batches.current()), [seq(1), seq(2)]);
        assert_eq!(batches.skipped(), 1);
        let step = batches.apply(returned(None));
        assert_eq!(
            (step.next, step.advance_to, step.backoff),
            (Next::Done, Some(seq(2)), None)
        );
        assert!(batches.current().is_none());
        assert_eq!(batches.end(), Some(seq(3).as_str()));
    }

    #[test]
    fn a_page_the_filter_drops_entirely_invokes_nothing_and_moves_past_it() {
        let page = vec![record(1, "INSERT", "KEY#a"), record(2, "MODIFY", "AUDIT#a")];
        let batches = Batches::new(&page, 5);
        assert!(batches.current().is_none());
        assert_eq!(batches.end(), Some(seq(2).as_str()));
    }

    #[test]
    fn filtered_records_are_not_in_the_batch() {
        let page = vec![
            record(1, "INSERT", "AUDIT#a"),
            record(2, "INSERT", "USAGE#a"),
            record(3, "INSERT", "AUDIT#b"),
        ];
        assert_eq!(seqs(Batches::new(&page, 5).current()), [seq(1), seq(3)]);
    }

    #[test]
    fn a_reported_failure_retries_from_the_first_failed_record() {
        let mut batches = Batches::new(&audit(1..=5), 5);
        let batch = batches.current().unwrap().to_vec();
        let step = batches.apply(Outcome::of(&failures(&[&seq(5), &seq(3)]), &batch));
        assert_eq!(step.next, Next::RetryFrom(2));
        // The checkpoint moves to just before the first failed record.
        assert_eq!(step.advance_to, Some(seq(2)));
        assert_eq!(step.backoff, Some(Duration::from_millis(200)));
        assert_eq!(seqs(batches.current()), [seq(3), seq(4), seq(5)]);
        let step = batches.apply(returned(None));
        assert_eq!((step.next, step.advance_to), (Next::Done, Some(seq(5))));
        assert!(batches.current().is_none());
    }

    #[test]
    fn a_failure_of_the_first_record_retries_the_whole_batch_without_advancing() {
        let mut batches = Batches::new(&audit(1..=3), 5);
        let step = batches.apply(returned(Some(0)));
        assert_eq!((step.next, step.advance_to), (Next::RetryFrom(0), None));
        assert_eq!(seqs(batches.current()), [seq(1), seq(2), seq(3)]);
    }

    #[test]
    fn a_function_error_bisects_the_batch_and_retries_the_first_half_first() {
        let mut batches = Batches::new(&audit(1..=5), 5);
        let step = batches.apply(Outcome::FunctionError);
        assert_eq!((step.next, step.advance_to), (Next::Bisect(2), None));
        assert!(step.backoff.is_some());
        assert_eq!(seqs(batches.current()), [seq(1), seq(2)]);
        let step = batches.apply(returned(None));
        assert_eq!(step.advance_to, Some(seq(2)));
        assert_eq!(seqs(batches.current()), [seq(3), seq(4), seq(5)]);
        let step = batches.apply(returned(None));
        assert_eq!(step.advance_to, Some(seq(5)));
        assert!(batches.current().is_none());
    }

    #[test]
    fn bisecting_does_not_count_as_a_retry() {
        let mut retries = Retries::new(0);
        let batch = audit(1..=4);
        assert_eq!(
            retries.decide(&batch, Outcome::FunctionError),
            Next::Bisect(2)
        );
        assert_eq!(
            retries.decide(&batch[..2], Outcome::FunctionError),
            Next::Bisect(1)
        );
        assert_eq!(retries.failures(&seq(1)), 0);
        // With no retries allowed, the one record that fails is dead-lettered at once.
        assert_eq!(
            retries.decide(&batch[..1], Outcome::FunctionError),
            Next::DeadLetter(0)
        );
    }

    #[test]
    fn a_record_that_keeps_failing_alone_is_dead_lettered_after_max_retries() {
        let mut batches = Batches::new(&audit(1..=1), 2);
        for _ in 0..2 {
            let step = batches.apply(Outcome::FunctionError);
            assert_eq!((step.next, step.dead_letter), (Next::RetryFrom(0), None));
        }
        let step = batches.apply(Outcome::FunctionError);
        assert_eq!(step.next, Next::DeadLetter(0));
        let (letter, invocations) = step.dead_letter.unwrap();
        assert_eq!(
            (sequence_number(&letter), invocations),
            (seq(1).as_str(), 3)
        );
        // It is moved past: the checkpoint includes it, nothing is left.
        assert_eq!(step.advance_to, Some(seq(1)));
        assert_eq!(step.backoff, None);
        assert!(batches.current().is_none());
    }

    #[test]
    fn a_reported_failure_past_max_retries_dead_letters_that_record_and_goes_on_after_it() {
        let mut batches = Batches::new(&audit(1..=4), 1);
        let step = batches.apply(returned(Some(1)));
        assert_eq!(
            (step.next, step.advance_to),
            (Next::RetryFrom(1), Some(seq(1)))
        );
        let step = batches.apply(returned(Some(0)));
        assert_eq!(step.next, Next::DeadLetter(0));
        assert_eq!(sequence_number(&step.dead_letter.unwrap().0), seq(2));
        assert_eq!(step.advance_to, Some(seq(2)));
        // The rest of the batch goes on, counted afresh.
        assert_eq!(seqs(batches.current()), [seq(3), seq(4)]);
        let step = batches.apply(returned(None));
        assert_eq!(step.advance_to, Some(seq(4)));
    }

    #[test]
    fn one_poisonous_record_in_a_batch_is_isolated_by_bisection_and_dead_lettered_alone() {
        let page = audit(1..=8);
        let poison = seq(6);
        let mut batches = Batches::new(&page, 2);
        let (mut dead, mut invocations) = (Vec::new(), 0);
        while let Some(batch) = batches.current() {
            invocations += 1;
            assert!(invocations < 50, "no end");
            let fails = batch.iter().any(|r| sequence_number(r) == poison);
            let step = batches.apply(if fails {
                Outcome::FunctionError
            } else {
                returned(None)
            });
            if let Some((letter, _)) = step.dead_letter {
                dead.push(sequence_number(&letter).to_owned());
            }
        }
        assert_eq!(dead, [poison]);
        // 8 -> 4 -> 2 -> 1: three bisections, then the record alone three times (1 + 2
        // retries), and the good halves once each.
        assert_eq!(invocations, 3 + 3 + 3);
    }

    #[test]
    fn an_unreachable_function_waits_and_retries_the_same_batch_without_counting() {
        let mut batches = Batches::new(&audit(1..=3), 0);
        for _ in 0..10 {
            let step = batches.apply(Outcome::Unreachable);
            assert_eq!((step.next, step.advance_to), (Next::Wait, None));
            assert!(step.backoff.unwrap() <= Duration::from_secs(2));
        }
        assert_eq!(seqs(batches.current()), [seq(1), seq(2), seq(3)]);
        assert_eq!(batches.apply(returned(None)).next, Next::Done);
    }

    #[test]
    fn the_backoff_starts_at_200_ms_doubles_and_stops_at_2_s() {
        let ms: Vec<u128> = (1..=7).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn a_dead_letter_is_lambdas_on_failure_record_with_the_record() {
        let record = record(7, "INSERT", "AUDIT#x");
        let id = Uuid::new_v4();
        let line = DeadLetter {
            function: "webhook-dispatcher",
            stream_arn: "arn:stream",
            shard_id: "shardId-1",
            record: &record,
            invocations: 6,
            last_error: Some("HTTP 500, Panic"),
            at: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            request_id: id,
        }
        .to_json();
        assert_eq!(
            line["requestContext"]["condition"],
            "RetryAttemptsExhausted"
        );
        assert_eq!(line["requestContext"]["approximateInvokeCount"], 6);
        assert_eq!(
            line["requestContext"]["functionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:webhook-dispatcher"
        );
        assert_eq!(line["responseContext"]["lastError"], "HTTP 500, Panic");
        let info = &line["DDBStreamBatchInfo"];
        assert_eq!(info["shardId"], "shardId-1");
        assert_eq!(info["streamArn"], "arn:stream");
        assert_eq!(info["startSequenceNumber"], seq(7));
        assert_eq!(info["endSequenceNumber"], seq(7));
        assert_eq!(info["batchSize"], 1);
        assert_eq!(line["record"], event_record(&record, "arn:stream"));
        assert_eq!(line["timestamp"], "2026-01-02T03:04:05Z");
        // The record's ApproximateCreationDateTime, 2026-01-01T00:00:00Z.
        assert_eq!(
            info["approximateArrivalOfFirstRecord"],
            "2026-01-01T00:00:00.000Z"
        );
        assert_eq!(
            info["approximateArrivalOfLastRecord"],
            "2026-01-01T00:00:00.000Z"
        );
        assert!(!line.to_string().contains('\n'));
    }

    // ---- checkpoints and the stream

    #[test]
    fn a_checkpoint_resumes_only_the_stream_it_was_written_for() {
        let mut checkpoint = Checkpoint::default();
        checkpoint.switch_to("arn:a");
        checkpoint.shards.insert("shard-1".into(), seq(5));
        let read = Checkpoint::parse(&checkpoint.to_json()).unwrap();
        assert_eq!(read, checkpoint);
        assert_eq!(read.resume_after("arn:a", "shard-1"), Some(seq(5).as_str()));
        assert_eq!(read.resume_after("arn:a", "shard-2"), None);
        // A DynamoDB started anew: another stream, read from TRIM_HORIZON.
        assert_eq!(read.resume_after("arn:b", "shard-1"), None);
        let mut moved = read.clone();
        moved.switch_to("arn:b");
        assert!(moved.shards.is_empty());
        assert!(Checkpoint::parse("{}").is_err());
        assert!(Checkpoint::parse("not json").is_err());
    }

    #[test]
    fn without_a_checkpoint_a_shard_is_read_from_trim_horizon_else_after_it() {
        assert_eq!(
            shard_iterator_request("arn:a", "s", None),
            json!({ "StreamArn": "arn:a", "ShardId": "s", "ShardIteratorType": "TRIM_HORIZON" })
        );
        assert_eq!(
            shard_iterator_request("arn:a", "s", Some(&seq(3))),
            json!({
                "StreamArn": "arn:a", "ShardId": "s",
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq(3),
            })
        );
    }

    #[test]
    fn the_newest_listed_stream_is_read() {
        let listed = json!({ "Streams": [
            { "StreamArn": "arn:old", "StreamLabel": "1700000000.000000001", "TableName": "t" },
            { "StreamArn": "arn:new", "StreamLabel": "1800000000.000000001", "TableName": "t" },
        ] });
        assert_eq!(latest_stream(&listed).as_deref(), Some("arn:new"));
        assert_eq!(latest_stream(&json!({ "Streams": [] })), None);
        let described = json!({ "StreamDescription": { "Shards": [{ "ShardId": "s1" }, { "ShardId": "s2" }] } });
        assert_eq!(shard_ids(&described), ["s1", "s2"]);
    }

    // ---- against a real local DynamoDB

    /// A fake Lambda Invoke API: records every invocation; `dispatcher` fails any batch holding
    /// a record whose new image has `poison` (function error) and reports the record with `sk`
    /// `AUDIT#2` failed the first time it sees it; `scheduler` takes 1.5 s.
    #[derive(Default)]
    struct FakeLambda {
        invocations: Vec<(String, Value)>,
        in_flight: HashMap<String, usize>,
        most_in_flight: HashMap<String, usize>,
        reported_audit_2: bool,
    }

    type Shared = std::sync::Arc<std::sync::Mutex<FakeLambda>>;

    async fn fake_lambda() -> (String, Shared) {
        use http_body_util::{BodyExt, Full};
        use hyper::body::Bytes;
        use hyper_util::rt::TokioIo;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Shared::default();
        let state = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            let function = req
                                .uri()
                                .path()
                                .trim_start_matches("/2015-03-31/functions/")
                                .trim_end_matches("/invocations")
                                .to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let (status, reply) = {
                                let mut fake = state.lock().unwrap();
                                fake.invocations.push((function.clone(), event.clone()));
                                let n = fake.in_flight.entry(function.clone()).or_insert(0);
                                *n += 1;
                                let n = *n;
                                let most = fake.most_in_flight.entry(function.clone()).or_insert(0);
                                *most = (*most).max(n);
                                let records =
                                    event["Records"].as_array().cloned().unwrap_or_default();
                                let sk = |r: &Value| {
                                    r["dynamodb"]["NewImage"]["sk"]["S"]
                                        .as_str()
                                        .unwrap_or("")
                                        .to_owned()
                                };
                                if function != "dispatcher" {
                                    (200, json!(null))
                                } else if records
                                    .iter()
                                    .any(|r| !r["dynamodb"]["NewImage"]["poison"].is_null())
                                {
                                    (
                                        500,
                                        json!({ "errorType": "Poison", "errorMessage": "poisoned" }),
                                    )
                                } else if let Some(r) = records
                                    .iter()
                                    .find(|r| sk(r) == "AUDIT#2")
                                    .filter(|_| !fake.reported_audit_2)
                                {
                                    fake.reported_audit_2 = true;
                                    (
                                        200,
                                        json!({ "batchItemFailures": [{ "itemIdentifier": sequence_number(r) }] }),
                                    )
                                } else {
                                    (200, json!({ "batchItemFailures": [] }))
                                }
                            };
                            if function == "scheduler" {
                                tokio::time::sleep(Duration::from_millis(1500)).await;
                            }
                            *state.lock().unwrap().in_flight.get_mut(&function).unwrap() -= 1;
                            let response = hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(reply.to_string())))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (base, shared)
    }

    fn put(sk: &str, poison: bool) -> Value {
        let mut item = json!({ "pk": { "S": "WS#test" }, "sk": { "S": sk } });
        if poison {
            item["poison"] = json!({ "BOOL": true });
        }
        json!({ "PutRequest": { "Item": item } })
    }

    fn sks(event: &Value) -> Vec<String> {
        event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["dynamodb"]["NewImage"]["sk"]["S"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    async fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Against the stack's local DynamoDB (`YEBOLINK_DYNAMODB_ENDPOINT`, which `make test` sets),
    /// on a table of its own, with a fake Invoke API.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn against_dynoxide_records_reach_the_function_filtered_retried_dead_lettered_and_resumed(
    ) {
        let endpoint = std::env::var("YEBOLINK_DYNAMODB_ENDPOINT")
            .expect("YEBOLINK_DYNAMODB_ENDPOINT names the local DynamoDB (make test sets it)");
        let ddb = Ddb::new(&endpoint);
        let table = format!("stream-runner-test-{}", Uuid::new_v4().simple());
        let attribute = |name: &str| json!({ "AttributeName": name, "AttributeType": "S" });
        // Without a stream, as a table made before the table had one: the runner enables it.
        ddb.dynamodb(
            "CreateTable",
            json!({
                "TableName": table, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [attribute("pk"), attribute("sk")],
                "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }, { "AttributeName": "sk", "KeyType": "RANGE" }],
            }),
        )
        .await
        .unwrap();
        let (invoke, fake) = fake_lambda().await;
        let dir =
            std::env::temp_dir().join(format!("stream-runner-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (checkpoint, dead_letters) =
            (dir.join("checkpoint.json"), dir.join("dead-letter.jsonl"));
        let config = Config {
            dynamodb: endpoint.clone(),
            table: table.clone(),
            invoke,
            stream_function: Some("dispatcher".into()),
            schedules: vec![("scheduler".into(), 1)],
            batch_size: 10,
            max_retries: 1,
            dead_letter: Some(dead_letters.clone()),
            checkpoint: Some(checkpoint.clone()),
            poll_interval: Duration::from_millis(50),
            invoke_timeout: Duration::from_secs(10),
        };
        let runner = tokio::spawn(run(config.clone()));

        let mut arn = None;
        let deadline = Instant::now() + Duration::from_secs(15);
        while arn.is_none() {
            assert!(Instant::now() < deadline, "the runner enabled no stream");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let listed = ddb
                .streams("ListStreams", json!({ "TableName": table }))
                .await
                .unwrap();
            arn = latest_stream(&listed);
        }
        let arn = arn.unwrap();
        // Let the runner see the stream before writing (a write before its first listing would
        // be read from TRIM_HORIZON anyway).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let items = vec![
            put("AUDIT#1", false),
            put("USAGE#1", false),
            put("AUDIT#2", false),
            put("AUDIT#3", false),
            put("AUDIT#4", true),
        ];
        ddb.dynamodb(
            "BatchWriteItem",
            json!({ "RequestItems": { table.clone(): items } }),
        )
        .await
        .unwrap();
        // A MODIFY: filtered out, but the checkpoint moves past it.
        ddb.dynamodb("PutItem", json!({ "TableName": table, "Item": { "pk": { "S": "WS#test" }, "sk": { "S": "AUDIT#1" }, "v": { "N": "2" } } }))
            .await
            .unwrap();
        let last = {
            let described = ddb
                .streams("DescribeStream", json!({ "StreamArn": arn }))
                .await
                .unwrap();
            let shard = shard_ids(&described).remove(0);
            let iterator = ddb
                .streams(
                    "GetShardIterator",
                    shard_iterator_request(&arn, &shard, None),
                )
                .await
                .unwrap();
            let page = ddb
                .streams(
                    "GetRecords",
                    json!({ "ShardIterator": iterator["ShardIterator"], "Limit": 100 }),
                )
                .await
                .unwrap();
            let records = page["Records"].as_array().unwrap().clone();
            assert_eq!(records.len(), 6, "the writes' stream records");
            (shard, sequence_number(&records[5]).to_owned())
        };
        let at_end = || {
            std::fs::read_to_string(&checkpoint)
                .ok()
                .and_then(|t| Checkpoint::parse(&t).ok())
                .is_some_and(|c| c.resume_after(&arn, &last.0) == Some(last.1.as_str()))
        };
        wait_for(
            "the checkpoint to reach the stream's last record",
            30,
            at_end,
        )
        .await;

        let dispatched: Vec<Value> = {
            let fake = fake.lock().unwrap();
            fake.invocations
                .iter()
                .filter(|(f, _)| f == "dispatcher")
                .map(|(_, e)| e.clone())
                .collect()
        };
        for event in &dispatched {
            for record in event["Records"].as_array().unwrap() {
                assert_eq!(record["eventSourceARN"], arn.as_str());
                assert_eq!(record["eventName"], "INSERT");
                assert_eq!(record["eventSource"], "aws:dynamodb");
            }
            assert!(
                !sks(event).contains(&"USAGE#1".to_owned()),
                "a filtered record was sent"
            );
        }
        // AUDIT#2 was reported failed once: the next batch holding it starts with it.
        let holding_2: Vec<Vec<String>> = dispatched
            .iter()
            .map(sks)
            .filter(|s| s.contains(&"AUDIT#2".to_owned()) && !s.contains(&"AUDIT#4".to_owned()))
            .collect();
        assert!(holding_2.len() >= 2, "{holding_2:?}");
        assert_eq!(holding_2[1][0], "AUDIT#2", "{holding_2:?}");
        // The poisoned record: alone twice (1 + max_retries 1), then dead-lettered, and only it.
        let alone_4 = dispatched.iter().filter(|e| sks(e) == ["AUDIT#4"]).count();
        assert_eq!(alone_4, 2);
        let letters = std::fs::read_to_string(&dead_letters).unwrap();
        let letters: Vec<Value> = letters
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(letters.len(), 1, "{letters:?}");
        assert_eq!(
            letters[0]["record"]["dynamodb"]["NewImage"]["sk"]["S"],
            "AUDIT#4"
        );
        assert_eq!(letters[0]["requestContext"]["approximateInvokeCount"], 2);
        assert_eq!(letters[0]["DDBStreamBatchInfo"]["streamArn"], arn.as_str());
        // Every record that passes the filter was done at least once without being reported.
        for sk in ["AUDIT#1", "AUDIT#2", "AUDIT#3"] {
            assert!(
                dispatched.iter().any(|e| sks(e).contains(&sk.to_owned())),
                "{sk}"
            );
        }
        let scheduled = || {
            fake.lock()
                .unwrap()
                .invocations
                .iter()
                .filter(|(f, _)| f == "scheduler")
                .count()
        };
        // Each takes 1.5 s, the period is 1 s: a second one would overlap if started on time.
        wait_for("three scheduled events", 15, || scheduled() >= 3).await;
        {
            let fake = fake.lock().unwrap();
            let scheduled: Vec<&Value> = fake
                .invocations
                .iter()
                .filter(|(f, _)| f == "scheduler")
                .map(|(_, e)| e)
                .collect();
            assert!(!scheduled.is_empty());
            assert!(scheduled
                .iter()
                .all(|e| e["detail-type"] == "Scheduled Event" && e["source"] == "aws.events"));
            assert_eq!(
                fake.most_in_flight.get("scheduler"),
                Some(&1),
                "two scheduled invocations at once"
            );
        }

        // Stopped and started again with its checkpoint: only what came after is sent.
        runner.abort();
        let _ = runner.await;
        let before = fake
            .lock()
            .unwrap()
            .invocations
            .iter()
            .filter(|(f, _)| f == "dispatcher")
            .count();
        ddb.dynamodb("PutItem", json!({ "TableName": table, "Item": { "pk": { "S": "WS#test" }, "sk": { "S": "AUDIT#5" } } }))
            .await
            .unwrap();
        let runner = tokio::spawn(run(config));
        let count = || {
            fake.lock()
                .unwrap()
                .invocations
                .iter()
                .filter(|(f, _)| f == "dispatcher")
                .count()
        };
        wait_for("the dispatcher's invocation after the restart", 30, || {
            count() > before
        })
        .await;
        let resumed = {
            let fake = fake.lock().unwrap();
            fake.invocations
                .iter()
                .filter(|(f, _)| f == "dispatcher")
                .nth(before)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(sks(&resumed), ["AUDIT#5"]);
        runner.abort();
        let _ = runner.await;
        let _ = ddb
            .dynamodb("DeleteTable", json!({ "TableName": table }))
            .await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
