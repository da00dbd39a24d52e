//! `POST /api/v1/api-keys/leaks`: a leaked-key report from GitHub secret scanning. No JWT or
//! key: the raw body must carry GitHub's ECDSA signature, checked before the body is even
//! parsed. Every active key of ours among the tokens is deactivated at once; the answer is the
//! bare JSON array GitHub's protocol reads, one label per token.

use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use yebolink_shared::domain::leak::{parse_reports, LeakLabel, LeakVerdict};
use yebolink_shared::http::app::App;
use yebolink_shared::http::audit::origin_of;
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::MAX_BODY_BYTES;
use yebolink_shared::http::response::{bare_json, failure};
use yebolink_shared::services::leaks::process_reports;
use yebolink_shared::storage::Store;

use crate::key_source::{FetchKeys, KeySource};
use crate::signature::SignatureHeaders;

pub async fn handle<S: Store, F: FetchKeys>(
    app: &App<S>,
    keys: &KeySource<F>,
    req: Request,
) -> Response<Body> {
    match report_leaked_keys(app, keys, &req).await {
        Ok(verdicts) => bare_json(StatusCode::OK, &verdicts),
        Err(err) => failure(&err),
    }
}

async fn report_leaked_keys<S: Store, F: FetchKeys>(
    app: &App<S>,
    keys: &KeySource<F>,
    req: &Request,
) -> Result<Vec<LeakVerdict>, ApiError> {
    let body = req.body().as_ref();
    // 100 reports of our 52-character keys with GitHub URLs take about 25 KB.
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    // The signature covers the exact bytes received, so it is checked on them, unparsed.
    let signature = SignatureHeaders::from_headers(req.headers())?;
    keys.verify(body, &signature, Instant::now()).await?;
    let reports = parse_reports(body)?;
    let verdicts = process_reports(
        &app.store,
        &reports,
        &origin_of(req),
        app.limits.audit_retention_days,
    )
    .await?;
    let ours = verdicts
        .iter()
        .filter(|v| v.label == LeakLabel::TruePositive)
        .count();
    tracing::info!(
        reports = verdicts.len(),
        true_positives = ours,
        key_identifier = %signature.key_identifier,
        "leak report answered"
    );
    Ok(verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::tests::Signer;
    use crate::signature::{KEY_IDENTIFIER_HEADER, SIGNATURE_HEADER};
    use lambda_http::http::HeaderMap;
    use serde_json::{json, Value};
    use sha2::{Digest, Sha256};
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::domain::timestamp::Timestamp;
    use yebolink_shared::services::auth::verify_api_key;
    use yebolink_shared::storage::memory::MemoryStore;
    use yebolink_shared::testing::{app, assert_error, body_json, seed_key, user};

    /// Never called: the tests use the fixed source, as local development does.
    struct NoNetwork;
    impl FetchKeys for NoNetwork {
        async fn fetch(&self) -> Result<Vec<u8>, String> {
            Err("no network in unit tests".into())
        }
    }

    fn post(body: &[u8], headers: HeaderMap) -> Request {
        let mut req = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/api/v1/api-keys/leaks")
            .header("content-type", "application/json")
            .body(Body::Text(String::from_utf8_lossy(body).into_owned()))
            .unwrap();
        req.headers_mut().extend(headers);
        req
    }

    fn report(tokens: &[&str]) -> Vec<u8> {
        Value::Array(
            tokens
                .iter()
                .map(|t| json!({"token": t, "type": "yebolink_api_key", "url": "https://github.com/o/r/blob/a/f", "source": "content"}))
                .collect(),
        )
        .to_string()
        .into_bytes()
    }

    struct World {
        app: App<MemoryStore>,
        github: Signer,
        keys: KeySource<NoNetwork>,
    }

    fn world() -> World {
        let github = Signer::new("github-key-1");
        let keys = KeySource::Fixed(github.public_keys());
        World {
            app: app(),
            github,
            keys,
        }
    }

    async fn key_works(app: &App<MemoryStore>, secret: &str) -> bool {
        verify_api_key(&app.store, secret, Timestamp::now())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_signed_report_deactivates_our_key_and_answers_the_bare_array() {
        let w = world();
        let (secret, _) = seed_key(&w.app.store, user().workspace_id, Scopes::all()).await;
        let body = report(&[&secret, "not-a-key"]);
        let response = handle(&w.app, &w.keys, post(&body, w.github.headers(&body))).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let sha = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
        assert_eq!(
            body_json(&response),
            json!([
                {"token_hash": sha(&secret), "token_type": "yebolink_api_key", "label": "true_positive"},
                {"token_hash": sha("not-a-key"), "token_type": "yebolink_api_key", "label": "false_positive"},
            ])
        );
        assert!(!key_works(&w.app, &secret).await);
    }

    #[tokio::test]
    async fn an_unsigned_or_badly_signed_report_is_401_and_changes_nothing() {
        let w = world();
        let (secret, _) = seed_key(&w.app.store, user().workspace_id, Scopes::all()).await;
        let body = report(&[&secret]);
        let stranger = Signer::new("github-key-1");
        let mut without_signature = w.github.headers(&body);
        without_signature.remove(SIGNATURE_HEADER);
        let mut without_identifier = w.github.headers(&body);
        without_identifier.remove(KEY_IDENTIFIER_HEADER);
        let other_body = report(&["something else"]);
        for headers in [
            HeaderMap::new(),
            without_signature,
            without_identifier,
            crate::signature::tests::headers("unknown-id", &w.github.signature(&body)),
            crate::signature::tests::headers("github-key-1", "%%% not base64"),
            stranger.headers(&body),
            w.github.headers(&other_body),
        ] {
            let response = handle(&w.app, &w.keys, post(&body, headers)).await;
            assert_error(&response, 401, "invalid_signature");
        }
        assert!(key_works(&w.app, &secret).await);
    }

    #[tokio::test]
    async fn the_signature_is_checked_before_the_body_is_parsed() {
        let w = world();
        let response = handle(&w.app, &w.keys, post(b"not json", HeaderMap::new())).await;
        assert_error(&response, 401, "invalid_signature");
    }

    #[tokio::test]
    async fn a_signed_but_invalid_body_is_400_and_changes_nothing() {
        let w = world();
        let (secret, _) = seed_key(&w.app.store, user().workspace_id, Scopes::all()).await;
        let too_many: Vec<&str> = std::iter::repeat_n(secret.as_str(), 101).collect();
        let mut missing = json!([{"token": secret, "type": "t", "url": "u"}]).to_string();
        for (body, code) in [
            (b"[]".to_vec(), "validation_error"),
            (report(&too_many), "validation_error"),
            (
                json!({"token": secret}).to_string().into_bytes(),
                "validation_error",
            ),
            (
                std::mem::take(&mut missing).into_bytes(),
                "validation_error",
            ),
            (b"[{".to_vec(), "invalid_json"),
        ] {
            let response = handle(&w.app, &w.keys, post(&body, w.github.headers(&body))).await;
            assert_error(&response, 400, code);
        }
        assert!(key_works(&w.app, &secret).await);
    }

    #[tokio::test]
    async fn an_oversized_body_is_413_before_anything_else() {
        let w = world();
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let response = handle(&w.app, &w.keys, post(&body, w.github.headers(&body))).await;
        assert_error(&response, 413, "payload_too_large");
    }
}
