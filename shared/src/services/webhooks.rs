//! Webhook delivery: checking an endpoint's URL (DNS included), sending one signed attempt to
//! the address that was checked, recording it with what it means for the endpoint (a failing
//! streak, a 410, five days of failures), fanning an event out to a workspace's endpoints,
//! the scheduler's retries and the keys' expiry reminders. Over `WebhookStore` and `KeyStore`,
//! and an outbound HTTP client of its own (`Sender`): no part of the inbound API.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request};
use http_body_util::Full;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::domain::audit::{Actor, AuditEvent, AuditEventType, RequestOrigin, Target};
use crate::domain::ids::{AuditEventId, DeliveryId, WorkspaceId};
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{
    endpoint_after_attempt, endpoint_view, next_expiry_reminder, payload, reminder_days,
    signature_header, Attempt, Delivery, DisabledReason, RetrySchedule, WebhookEndpoint,
    WebhookEventType,
};
use crate::domain::webhook_target::{
    allowed, parse_endpoint_url, EndpointUrl, TargetHost, UrlPolicy,
};
use crate::storage::error::StoreError;
use crate::storage::keys::KeyStore;
use crate::storage::webhooks::WebhookStore;

/// How webhooks are delivered here: read once at cold start (`bootstrap::config`).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    pub url_policy: UrlPolicy,
    pub retries: RetrySchedule,
    /// A failing streak this long disables the endpoint.
    pub disable_after_seconds: i64,
    /// One attempt's whole time: connecting, sending, the answer's head.
    pub timeout: Duration,
    /// How long a claim holds a delivery: longer than an attempt can take.
    pub lease_seconds: i64,
    pub audit_retention_days: u64,
}

impl WebhookSettings {
    pub fn deployed(audit_retention_days: u64) -> Self {
        Self {
            url_policy: UrlPolicy::Public,
            retries: RetrySchedule::deployed(),
            disable_after_seconds: 5 * 86_400,
            timeout: Duration::from_secs(10),
            lease_seconds: 60,
            audit_retention_days,
        }
    }
}

/// What the webhook functions are handed beside the app, built once at cold start.
pub struct Webhooks {
    pub settings: WebhookSettings,
    pub sender: Sender,
}

/// Due items one scheduler run takes on at most (the next run takes the rest).
const MAX_DUE_PER_RUN: usize = 100;
const USER_AGENT: &str = "YeboLink-Webhooks/1";
/// Longest error text kept per attempt.
const MAX_ERROR_CHARS: usize = 200;

/// The URL as an endpoint may be set to: the rules, then (a name) every address it resolves to.
pub async fn check_endpoint_url(raw: &str, policy: UrlPolicy) -> Result<EndpointUrl, &'static str> {
    let url = parse_endpoint_url(raw, policy)?;
    resolve(&url, policy).await?;
    Ok(url)
}

/// The addresses to connect to: all of them allowed, or none.
async fn resolve(url: &EndpointUrl, policy: UrlPolicy) -> Result<Vec<SocketAddr>, &'static str> {
    let addresses: Vec<std::net::IpAddr> = match &url.host {
        TargetHost::Addresses(addresses) => addresses.clone(),
        TargetHost::Name(name) => tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::lookup_host((name.as_str(), url.port)),
        )
        .await
        .map_err(|_| "names a host that does not resolve")?
        .map_err(|_| "names a host that does not resolve")?
        .map(|address| address.ip())
        .collect(),
    };
    allowed(policy, &addresses)?;
    Ok(addresses
        .into_iter()
        .map(|ip| SocketAddr::new(ip, url.port))
        .collect())
}

/// A resolver that answers with the addresses already checked: the connection goes where the
/// check looked, whatever the name resolves to a moment later (DNS rebinding).
#[derive(Clone)]
struct Pinned(Arc<Vec<SocketAddr>>);

impl tower_service::Service<Name> for Pinned {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(Vec::clone(&self.0).into_iter()))
    }
}

/// Sends attempts: plain HTTP (local loopback only) or HTTPS with the system's trust store,
/// never following a redirect. Built once per container.
#[derive(Default)]
pub struct Sender {
    tls: OnceLock<Option<rustls::ClientConfig>>,
}

impl Sender {
    fn tls(&self) -> Option<rustls::ClientConfig> {
        self.tls
            .get_or_init(|| {
                use hyper_rustls::ConfigBuilderExt;
                let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .ok()?
                .with_native_roots()
                .map_err(|err| tracing::error!(error = %err, "no TLS trust store for webhooks"))
                .ok()?
                .with_no_client_auth();
                Some(config)
            })
            .clone()
    }

    /// One POST of `body` to `url` at `addresses`: the status code, or why there was none.
    async fn post(
        &self,
        url: &EndpointUrl,
        addresses: Vec<SocketAddr>,
        headers: [(&'static str, String); 3],
        body: String,
        timeout: Duration,
    ) -> Result<u16, String> {
        let mut http = HttpConnector::new_with_resolver(Pinned(Arc::new(addresses)));
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let tls = self.tls().ok_or("no TLS trust store")?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let mut request = Request::post(url.url.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, USER_AGENT);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| "the URL cannot be requested".to_owned())?;
        match tokio::time::timeout(timeout, client.request(request)).await {
            Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
            Ok(Err(err)) => Err(describe(&err)),
            Ok(Ok(response)) => Ok(response.status().as_u16()),
        }
    }
}

/// The error's innermost cause, short: what a receiver's owner can act on.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = format!("connection failed: {cause}");
    text.chars().take(MAX_ERROR_CHARS).collect()
}

fn jitter() -> f64 {
    let mut byte = [0u8; 1];
    match getrandom::fill(&mut byte) {
        Ok(()) => f64::from(byte[0]) / 127.5 - 1.0,
        Err(_) => 0.0,
    }
}

/// One signed POST of `delivery` to `endpoint`, to the addresses checked just now.
async fn send_attempt(
    sender: &Sender,
    settings: &WebhookSettings,
    endpoint: &WebhookEndpoint,
    delivery: &Delivery,
) -> Attempt {
    let started = Instant::now();
    let at = Timestamp::now();
    let outcome = match parse_endpoint_url(&endpoint.url, settings.url_policy) {
        Err(problem) => Err(format!("URL refused: {problem}")),
        Ok(url) => match resolve(&url, settings.url_policy).await {
            Err(problem) => Err(format!("URL refused: {problem}")),
            Ok(addresses) => {
                let id = delivery.id.to_string();
                let timestamp = at.unix();
                let signature = signature_header(
                    &endpoint.signing_secrets(at),
                    &id,
                    timestamp,
                    delivery.body.as_bytes(),
                );
                let headers = [
                    ("webhook-id", id),
                    ("webhook-timestamp", timestamp.to_string()),
                    ("webhook-signature", signature),
                ];
                sender
                    .post(
                        &url,
                        addresses,
                        headers,
                        delivery.body.clone(),
                        settings.timeout,
                    )
                    .await
            }
        },
    };
    Attempt {
        at,
        status_code: outcome.as_ref().ok().copied(),
        error: outcome.err(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// One attempt of `delivery` (claimed by the caller) to `endpoint`, recorded with what it means
/// for the endpoint. Returns the delivery as recorded.
pub async fn attempt<S: WebhookStore>(
    store: &S,
    sender: &Sender,
    settings: &WebhookSettings,
    endpoint: &WebhookEndpoint,
    delivery: &Delivery,
) -> Result<Delivery, StoreError> {
    let attempt = send_attempt(sender, settings, endpoint, delivery).await;
    let changed = endpoint_after_attempt(endpoint, &attempt, settings.disable_after_seconds);
    let disabled_now = changed
        .as_ref()
        .and_then(|e| e.disabled)
        .filter(|_| endpoint.is_enabled());
    let recorded =
        delivery.after_attempt(attempt, &settings.retries, disabled_now.is_some(), jitter());
    if !store
        .record_attempt(&recorded, delivery.attempts.len())
        .await?
    {
        tracing::warn!(delivery_id = %delivery.id, "another attempt was recorded first");
        return Ok(recorded);
    }
    tracing::info!(
        delivery_id = %recorded.id,
        endpoint_id = %endpoint.id,
        event_type = recorded.event_type.as_str(),
        status = recorded.status.as_str(),
        attempts = recorded.attempts.len(),
        "webhook attempt"
    );
    if let Some(mut changed) = changed {
        changed.version = endpoint.version + 1;
        let event = disabled_now.map(|reason| disabled_event(settings, &changed, reason));
        // A lost race means someone else changed the endpoint: its streak starts again later.
        if store.save_webhook(&changed, event.as_ref()).await?
            && disabled_now == Some(DisabledReason::Failing)
        {
            notify_disabled(store, sender, settings, &changed).await?;
        }
    }
    Ok(recorded)
}

fn disabled_event(
    settings: &WebhookSettings,
    endpoint: &WebhookEndpoint,
    reason: DisabledReason,
) -> AuditEvent {
    AuditEvent::new(
        AuditEventType::WebhookDisabled,
        Actor::System,
        Target::Webhook { id: endpoint.id },
        &RequestOrigin::default(),
        json!({ "reason": reason.as_str(), "url": endpoint.url }),
        Timestamp::now(),
        settings.audit_retention_days,
    )
}

/// `webhook.disabled`, once, to the endpoint just disabled for failing: in its deliveries
/// list whether or not it arrives, and never retried.
async fn notify_disabled<S: WebhookStore>(
    store: &S,
    sender: &Sender,
    settings: &WebhookSettings,
    endpoint: &WebhookEndpoint,
) -> Result<(), StoreError> {
    let now = Timestamp::now();
    let body = payload(
        WebhookEventType::WebhookDisabled,
        now,
        endpoint_view(endpoint),
    );
    let delivery = Delivery::new(
        DeliveryId::new(),
        endpoint,
        WebhookEventType::WebhookDisabled,
        body,
        now,
    );
    if store
        .create_delivery(&delivery, now.plus_seconds(settings.lease_seconds))
        .await?
    {
        // The endpoint is disabled already: this attempt changes nothing about it.
        let attempt = send_attempt(sender, settings, endpoint, &delivery).await;
        let once = RetrySchedule { delays: Vec::new() };
        store
            .record_attempt(&delivery.after_attempt(attempt, &once, true, 0.0), 0)
            .await?;
    }
    Ok(())
}

/// The event `source` (an audit event's id) to every enabled endpoint of the workspace that
/// subscribes to its type, each once however often this runs for it, attempted side by side.
/// The deliveries made, as their first attempts recorded them.
pub async fn fan_out<S: WebhookStore>(
    store: &S,
    sender: &Sender,
    settings: &WebhookSettings,
    workspace_id: WorkspaceId,
    event_type: WebhookEventType,
    source: AuditEventId,
    body: &str,
) -> Result<Vec<Delivery>, StoreError> {
    let endpoints: Vec<WebhookEndpoint> = store
        .list_webhooks(workspace_id)
        .await?
        .into_iter()
        .filter(|e| e.wants(event_type))
        .collect();
    let now = Timestamp::now();
    let mut created = Vec::new();
    for endpoint in &endpoints {
        let id = DeliveryId::for_event(source, endpoint.id);
        let delivery = Delivery::new(id, endpoint, event_type, body.to_owned(), now);
        // Already there: an earlier run made it, and it is the scheduler's if that run died.
        if store
            .create_delivery(&delivery, now.plus_seconds(settings.lease_seconds))
            .await?
        {
            created.push((endpoint, delivery));
        }
    }
    let attempts = created
        .iter()
        .map(|(endpoint, delivery)| attempt(store, sender, settings, endpoint, delivery));
    futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .collect()
}

/// One attempt now, outside the schedule (`POST .../test`, `.../retry`): the delivery as
/// recorded, or `None` when someone else holds it at this moment.
pub async fn send_now<S: WebhookStore>(
    store: &S,
    sender: &Sender,
    settings: &WebhookSettings,
    endpoint: &WebhookEndpoint,
    delivery: &Delivery,
) -> Result<Option<Delivery>, StoreError> {
    let now = Timestamp::now();
    let lease = now.plus_seconds(settings.lease_seconds);
    let claimed = if delivery.attempts.is_empty() && store.create_delivery(delivery, lease).await? {
        Some(delivery.clone())
    } else {
        store
            .claim_delivery(endpoint.id, delivery.id, now, lease, true)
            .await?
    };
    match claimed {
        Some(claimed) => Ok(Some(
            attempt(store, sender, settings, endpoint, &claimed).await?,
        )),
        None => Ok(None),
    }
}

/// The scheduler's run: every due delivery (a retry, or a claim whose holder died) attempted
/// once, side by side. The deliveries attempted, as recorded.
pub async fn run_due_deliveries<S: WebhookStore>(
    store: &S,
    sender: &Sender,
    settings: &WebhookSettings,
) -> Result<Vec<Delivery>, StoreError> {
    let now = Timestamp::now();
    let lease = now.plus_seconds(settings.lease_seconds);
    let mut claimed = Vec::new();
    for (endpoint_id, id) in store.due_deliveries(now, MAX_DUE_PER_RUN).await? {
        let Some(delivery) = store
            .claim_delivery(endpoint_id, id, now, lease, false)
            .await?
        else {
            continue;
        };
        let endpoint = store
            .get_webhook(delivery.workspace_id, endpoint_id)
            .await?;
        claimed.push((endpoint, delivery));
    }
    let runs = claimed.iter().map(|(endpoint, delivery)| async move {
        match endpoint {
            Some(endpoint) if endpoint.is_enabled() => {
                attempt(store, sender, settings, endpoint, delivery)
                    .await
                    .map(Some)
            }
            // Deleted or disabled since: the delivery ends here, without an attempt.
            _ => {
                let mut ended = delivery.clone();
                ended.status = crate::domain::webhook::DeliveryStatus::Failed;
                ended.next_attempt_at = None;
                store
                    .record_attempt(&ended, delivery.attempts.len())
                    .await
                    .map(|_| None)
            }
        }
    });
    let mut attempted = Vec::new();
    for result in futures_util::future::join_all(runs).await {
        attempted.extend(result?);
    }
    Ok(attempted)
}

/// The scheduler's reminders: `api_key.expiring` 7 days and 1 day before each key expires,
/// each written once (an audit event, which the change stream turns into deliveries). A key
/// deactivated, rotated or expired meanwhile gets none. Returns how many were written.
pub async fn send_expiry_reminders<S: WebhookStore + KeyStore>(
    store: &S,
    audit_retention_days: u64,
) -> Result<usize, StoreError> {
    let now = Timestamp::now();
    let mut sent = 0;
    for reminder in store.due_key_reminders(now, MAX_DUE_PER_RUN).await? {
        let key = store
            .get_api_key(reminder.workspace_id, reminder.key_id)
            .await?;
        let live = key.filter(|k| k.is_active && k.replaced_by.is_none());
        let Some((key, expires_at)) =
            live.and_then(|k| k.expires_at.filter(|e| *e > now).map(|e| (k, e)))
        else {
            store.advance_key_reminder(&reminder, None, None).await?;
            continue;
        };
        let event = AuditEvent::new(
            AuditEventType::ApiKeyExpiring,
            Actor::System,
            Target::api_key(&key),
            &RequestOrigin::default(),
            json!({ "expires_at": expires_at, "days": reminder_days(expires_at, reminder.due_at) }),
            now,
            audit_retention_days,
        );
        let next = next_expiry_reminder(expires_at, reminder.due_at.max(now));
        if store
            .advance_key_reminder(&reminder, next, Some(&event))
            .await?
        {
            sent += 1;
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditEventType;
    use crate::domain::webhook::DeliveryStatus;
    use crate::storage::audit::AuditStore;
    use crate::storage::memory::MemoryStore;
    use crate::testing::{answering_receiver, event, webhook_endpoint};

    fn local(retries: &str, disable_after_seconds: i64) -> WebhookSettings {
        WebhookSettings {
            url_policy: UrlPolicy::Loopback,
            retries: RetrySchedule::parse(retries).unwrap(),
            disable_after_seconds,
            ..WebhookSettings::deployed(400)
        }
    }

    async fn registered(store: &MemoryStore, endpoint: &WebhookEndpoint) {
        let made = event(
            AuditEventType::WebhookCreated,
            Target::Webhook { id: endpoint.id },
        );
        store.create_webhook(endpoint, 10, &made).await.unwrap();
    }

    #[tokio::test]
    async fn an_endpoint_failing_past_the_limit_is_disabled_with_an_audit_event_and_told_once() {
        let store = MemoryStore::new();
        let (url, requests) = answering_receiver(vec![500, 500]).await;
        let ws = WorkspaceId::new();
        let mut endpoint = webhook_endpoint(ws, &url);
        // Its attempts have all failed for an hour; the limit here is ten minutes.
        endpoint.failing_since = Some(Timestamp::now().plus_seconds(-3600));
        registered(&store, &endpoint).await;
        let settings = local("60,60", 600);
        let made = fan_out(
            &store,
            &Sender::default(),
            &settings,
            ws,
            WebhookEventType::ApiKeyCreated,
            AuditEventId::new(),
            "{}",
        )
        .await
        .unwrap();
        assert_eq!(made.len(), 1);

        let stored = store.get_webhook(ws, endpoint.id).await.unwrap().unwrap();
        assert_eq!(stored.disabled, Some(DisabledReason::Failing));
        let trail = store
            .list_audit_events(ws, 10, None, Some(AuditEventType::WebhookDisabled))
            .await
            .unwrap();
        assert_eq!(trail.events.len(), 1);
        assert_eq!(trail.events[0].actor, Actor::System);
        let page = store.list_deliveries(endpoint.id, 10, None).await.unwrap();
        let kinds: Vec<(WebhookEventType, DeliveryStatus, usize)> = page
            .deliveries
            .iter()
            .map(|d| (d.event_type, d.status, d.attempts.len()))
            .collect();
        // Newest first: the notice, tried once (it failed, and is never retried), then the
        // event, failed for good since its endpoint is disabled.
        assert_eq!(
            kinds,
            [
                (WebhookEventType::WebhookDisabled, DeliveryStatus::Failed, 1),
                (WebhookEventType::ApiKeyCreated, DeliveryStatus::Failed, 1),
            ]
        );
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
        // Disabled, it gets nothing more.
        fan_out(
            &store,
            &Sender::default(),
            &settings,
            ws,
            WebhookEventType::ApiKeyCreated,
            AuditEventId::new(),
            "{}",
        )
        .await
        .unwrap();
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_success_ends_the_failing_streak_so_the_endpoint_stays_enabled() {
        let store = MemoryStore::new();
        let (url, _) = answering_receiver(vec![204]).await;
        let ws = WorkspaceId::new();
        let mut endpoint = webhook_endpoint(ws, &url);
        endpoint.failing_since = Some(Timestamp::now().plus_seconds(-3600));
        registered(&store, &endpoint).await;
        fan_out(
            &store,
            &Sender::default(),
            &local("60", 600),
            ws,
            WebhookEventType::ApiKeyUpdated,
            AuditEventId::new(),
            "{}",
        )
        .await
        .unwrap();
        let stored = store.get_webhook(ws, endpoint.id).await.unwrap().unwrap();
        assert_eq!((stored.disabled, stored.failing_since), (None, None));
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed_and_counts_as_a_failed_attempt() {
        let store = MemoryStore::new();
        let (url, requests) = answering_receiver(vec![302]).await;
        let ws = WorkspaceId::new();
        let endpoint = webhook_endpoint(ws, &url);
        registered(&store, &endpoint).await;
        fan_out(
            &store,
            &Sender::default(),
            &local("60", 600),
            ws,
            WebhookEventType::ApiKeyUpdated,
            AuditEventId::new(),
            "{}",
        )
        .await
        .unwrap();
        let page = store.list_deliveries(endpoint.id, 10, None).await.unwrap();
        let delivery = &page.deliveries[0];
        assert_eq!(delivery.attempts[0].status_code, Some(302));
        assert_eq!(delivery.status, DeliveryStatus::Pending, "retried later");
        assert_eq!(
            requests.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the Location was not followed"
        );
    }

    #[tokio::test]
    async fn a_url_the_policy_refuses_is_never_connected_to() {
        let store = MemoryStore::new();
        let (url, requests) = answering_receiver(vec![]).await;
        let ws = WorkspaceId::new();
        // Set when local mode allowed it, delivered where only public addresses may be reached.
        let endpoint = webhook_endpoint(ws, &url);
        registered(&store, &endpoint).await;
        let deployed = WebhookSettings::deployed(400);
        fan_out(
            &store,
            &Sender::default(),
            &deployed,
            ws,
            WebhookEventType::ApiKeyUpdated,
            AuditEventId::new(),
            "{}",
        )
        .await
        .unwrap();
        let page = store.list_deliveries(endpoint.id, 10, None).await.unwrap();
        let attempt = &page.deliveries[0].attempts[0];
        assert_eq!(attempt.status_code, None);
        assert!(
            attempt
                .error
                .as_deref()
                .unwrap_or_default()
                .starts_with("URL refused"),
            "{attempt:?}"
        );
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_attempt_connects_to_the_checked_address_whatever_the_name_resolves_to() {
        let (url, requests) = answering_receiver(vec![204]).await;
        let checked: SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches("/hook")
            .parse()
            .unwrap();
        // A name that resolves nowhere: only the pinned, checked address can be reached.
        let target = parse_endpoint_url(
            &format!("http://rebinding.invalid:{}/hook", checked.port()),
            UrlPolicy::Public,
        );
        assert!(
            target.is_err(),
            "deployed, plain http is refused before any lookup"
        );
        let url = EndpointUrl {
            url: url::Url::parse(&format!("http://rebinding.invalid:{}/hook", checked.port()))
                .unwrap(),
            host: TargetHost::Name("rebinding.invalid".into()),
            port: checked.port(),
        };
        let headers = [
            ("webhook-id", "id".to_owned()),
            ("webhook-timestamp", "1".to_owned()),
            ("webhook-signature", "v1,x".to_owned()),
        ];
        let status = Sender::default()
            .post(
                &url,
                vec![checked],
                headers,
                "{}".into(),
                Duration::from_secs(5),
            )
            .await;
        assert_eq!(status, Ok(204));
        assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_name_is_checked_by_every_address_it_resolves_to() {
        // `localhost` is a name deployed (refused by its name) and fixed addresses locally.
        assert!(check_endpoint_url("https://localhost/x", UrlPolicy::Public)
            .await
            .is_err());
        assert!(
            check_endpoint_url("http://localhost:1/x", UrlPolicy::Loopback)
                .await
                .is_ok()
        );
        assert!(
            check_endpoint_url("https://203.0.113.5/", UrlPolicy::Public)
                .await
                .is_err()
        );
        assert_eq!(
            check_endpoint_url("https://no-such-host.invalid/", UrlPolicy::Public)
                .await
                .err(),
            Some("names a host that does not resolve")
        );
    }
}
