//! `make bench`, part 5: the time from a key change (its API answer) to the webhook's arrival at
//! a loopback receiver, through the whole local path: the change's transaction, the table's
//! stream, the stream runner, the dispatcher under `cargo lambda watch` and the signed POST.
//! Needs a running stack with its stream runner (`YEBOLINK_BASE_URL`). Prints p50, p95, max.
//! `WEBHOOK_LATENCY_EVENTS` (default 50): how many changes, one after another.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use yebolink_blackbox::webhook_receiver::Receiver;
use yebolink_blackbox::TestApi;

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("WEBHOOK_LATENCY_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let api = TestApi::from_env();
    let account = api.register_workspace().await;
    let receiver = Receiver::start(Vec::new());
    let created = api
        .send(
            api.request(Method::POST, "/api/v1/webhooks")
                .bearer_auth(&account.token)
                .json(&json!({ "url": receiver.url("/bench"), "events": ["api_key.updated"] })),
        )
        .await
        .data(201);
    receiver.accept_secret(created["secret"].as_str().expect("the secret"));
    let key = api.create_key(&account.token, None).await;
    let key_id = key["id"].as_str().expect("the key id").to_owned();

    let mut latencies = Vec::with_capacity(events);
    for i in 0..events {
        let name = format!("bench-{i}");
        let reply = api
            .update_key(&account.token, &key_id, &json!({ "name": name }))
            .await;
        let changed = Instant::now();
        reply.data(200);
        let arrived = receiver
            .wait_for_event(
                "api_key.updated",
                |body| body["data"]["name"] == name.as_str(),
                Duration::from_secs(15),
            )
            .await;
        latencies.push(arrived.at.saturating_duration_since(changed));
    }
    receiver.assert_no_problems();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!(
        "webhook change -> delivery on loopback, {events} changes one after another: \
         p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        ms(at(0.50)),
        ms(at(0.95)),
        ms(*latencies.last().expect("at least one event")),
    );
}
