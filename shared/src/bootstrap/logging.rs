//! Logging: JSON lines on stdout (CloudWatch), one level for our crates and at most `debug`
//! for every other, so no dependency's trace line (a raw event with its credentials) is written.

/// JSON logs (CloudWatch-friendly). `RUST_LOG` is a single level (`error` .. `trace`, default
/// `info`): a level filter instead of per-module directives keeps the regex engine out of
/// every binary. Other crates are capped at `debug` whatever the level: at `trace`,
/// `lambda_runtime` logs each raw event, with its `X-API-Key`, bearer token or password.
/// Release builds have no `trace` lines at all (`release_max_level_debug`, Cargo.toml).
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|raw| {
            raw.trim()
                .parse::<tracing::level_filters::LevelFilter>()
                .ok()
        })
        .unwrap_or(tracing::level_filters::LevelFilter::INFO);
    tracing::subscriber::set_global_default(subscriber(level, std::io::stdout))
        .expect("logging is set up once");
}

/// Writes one metric line (`http::metrics`) to stdout, where CloudWatch Logs ingests it beside
/// the log lines. A failed write loses a metric, never the response.
pub fn write_metric_line(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// Crates whose events are logged at the configured level; every other crate at most `debug`.
const OWN_CRATES: [&str; 27] = [
    "yebolink_shared",
    "authorizer",
    "authorizer_handler",
    "create_api_key",
    "create_webhook",
    "deactivate_api_key",
    "delete_webhook",
    "get_message",
    "key_usage",
    "list_api_keys",
    "list_audit_events",
    "list_messages",
    "list_webhook_deliveries",
    "list_webhooks",
    "login",
    "register",
    "report_leaked_keys",
    "retry_webhook_delivery",
    "rotate_api_key",
    "rotate_webhook_secret",
    "send_message",
    "test_webhook",
    "update_api_key",
    "update_webhook",
    "webhook_dispatcher",
    "webhook_scheduler",
    "workspace_usage",
];

fn subscriber<W>(
    level: tracing::level_filters::LevelFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    let third_party = level.min(tracing::level_filters::LevelFilter::DEBUG);
    let filter = tracing_subscriber::filter::filter_fn(move |meta| {
        let own = OWN_CRATES
            .iter()
            .any(|name| meta.target() == *name || meta.target().starts_with(&format!("{name}::")));
        *meta.level() <= if own { level } else { third_party }
    });
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_writer(writer)
        .finish()
        .with(filter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Finding 5: with `RUST_LOG=trace`, the raw event `lambda_runtime` logs at TRACE (here
    /// with its exact target and message) is not written; our own trace lines are.
    #[test]
    fn at_trace_level_no_raw_event_with_secrets_reaches_the_log() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = subscriber(tracing::level_filters::LevelFilter::TRACE, move || {
            writer.clone()
        });
        let key = "ybk_1234567890abcdef1234567890abcdef12345678deadbeef"; // a test fixture, not a key
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = format!(r#"{{"headers":{{"x-api-key":"{key}","authorization":"Bearer eyJhbGciOi.x.y"}},"body":"{{\"password\":\"hunter2hunter2\"}}"}}"#),
                "raw JSON event received from Lambda"
            );
            tracing::debug!(target: "lambda_runtime", "a debug line from a dependency");
            tracing::trace!(target: "yebolink_shared::auth", "our own trace line");
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for secret in [key, "eyJhbGciOi", "hunter2hunter2", "raw JSON event"] {
            assert!(!log.contains(secret), "{secret} reached the log: {log}");
        }
        assert!(log.contains("a debug line from a dependency"), "{log}");
        assert!(log.contains("our own trace line"), "{log}");
    }
}
