//! `stream-runner`: plays Lambda's DynamoDB stream event source mapping and the EventBridge
//! schedules against a local stack (the local DynamoDB and `cargo lambda watch`). See
//! `yebolink_blackbox::stream_runner`; `scripts/lib.sh`'s `yl_start_stream_runner` starts it
//! for `make dev` and `make test`.
//!
//! ```text
//! stream-runner --dynamodb http://127.0.0.1:8000 --table yebolink-local \
//!   --invoke http://127.0.0.1:9000 --stream-function webhook-dispatcher \
//!   --schedule webhook-scheduler=1 [--checkpoint FILE] [--dead-letter FILE]
//! ```

use std::io::Write;
use std::process::ExitCode;

use yebolink_blackbox::stream_runner::{parse_args, run, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        let _ = writeln!(std::io::stdout(), "{USAGE}"); // `| head` is no error
        return ExitCode::SUCCESS;
    }
    match parse_args(args) {
        Ok(config) => {
            run(config).await;
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("stream-runner: {err}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
