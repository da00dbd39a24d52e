//! Prints the microseconds of this process's first and second 32 random bytes from aws-lc
//! (`aws_lc_rs::rand`), as one line: `first_us second_us`. The first call seeds aws-lc's
//! DRBG, which includes CPU jitter entropy unless aws-lc-sys was built with
//! `AWS_LC_SYS_NO_JITTER_ENTROPY=1`.

use std::time::Instant;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

fn main() {
    let rng = SystemRandom::new();
    let mut bytes = [0u8; 32];
    let start = Instant::now();
    rng.fill(&mut bytes).expect("random bytes");
    let first = start.elapsed();
    let start = Instant::now();
    rng.fill(&mut bytes).expect("random bytes");
    let second = start.elapsed();
    println!("{} {}", first.as_micros(), second.as_micros());
}
