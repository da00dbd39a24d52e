//! Cold-start marks for `make bench`'s breakdown of where a cold start goes.

use std::time::{SystemTime, UNIX_EPOCH};

/// The end of a cold-start phase, for `make bench`'s breakdown (tests/src/bin/coldstart.rs):
/// with `YEBOLINK_COLDSTART_MARKS` set, one `coldstart-mark PHASE UNIX-MICROS` line on stderr.
/// Never set in AWS, where it costs one environment lookup per phase.
pub fn coldstart_mark(phase: &str) {
    if std::env::var_os("YEBOLINK_COLDSTART_MARKS").is_some() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!("coldstart-mark {phase} {}", now.as_micros());
    }
}
