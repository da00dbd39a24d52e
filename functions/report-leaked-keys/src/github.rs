//! The deployed key source: GitHub's secret-scanning public keys, fetched over HTTPS (rustls on
//! aws-lc, the system's trust store) from `LEAK_REPORT_PUBLIC_KEYS_URL`. Which source a
//! container uses is decided once, at cold start, by `key_source_from_env`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lambda_http::http::header::{ACCEPT, USER_AGENT};
use lambda_http::http::{Request, Uri};

use crate::key_source::{FetchKeys, FetchedKeys, KeySource};
use crate::signature::PublicKeys;

pub const DEFAULT_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";
/// GitHub's document holds a handful of keys (about 200 bytes each).
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Well inside the function's timeout, so a slow GitHub ends in our 503, not a Lambda timeout.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The file source when `LEAK_REPORT_PUBLIC_KEYS_FILE` is set (local development and tests:
/// the SAM template never sets it), else GitHub's endpoint (`LEAK_REPORT_PUBLIC_KEYS_URL`,
/// default `DEFAULT_KEYS_URL`). A file that cannot be used stops the cold start.
pub fn key_source_from_env() -> Result<KeySource<GitHubKeys>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(path) = var("LEAK_REPORT_PUBLIC_KEYS_FILE") {
        let raw = std::fs::read(&path)
            .map_err(|err| format!("LEAK_REPORT_PUBLIC_KEYS_FILE {path}: {err}"))?;
        let keys = PublicKeys::from_json(&raw)
            .map_err(|err| format!("LEAK_REPORT_PUBLIC_KEYS_FILE {path}: {err}"))?;
        return Ok(KeySource::Fixed(keys));
    }
    let url = var("LEAK_REPORT_PUBLIC_KEYS_URL").unwrap_or_else(|| DEFAULT_KEYS_URL.to_owned());
    Ok(KeySource::Fetched(FetchedKeys::new(GitHubKeys::new(&url)?)))
}

pub struct GitHubKeys {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: Uri,
}

impl GitHubKeys {
    pub fn new(url: &str) -> Result<Self, String> {
        let url: Uri = url
            .parse()
            .map_err(|_| format!("LEAK_REPORT_PUBLIC_KEYS_URL is not a URL: {url}"))?;
        if url.scheme_str() != Some("https") {
            return Err("LEAK_REPORT_PUBLIC_KEYS_URL must be https".to_owned());
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|err| format!("no TLS trust store: {err}"))?
            .https_only()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url,
        })
    }
}

impl FetchKeys for GitHubKeys {
    async fn fetch(&self) -> Result<Vec<u8>, String> {
        // GitHub's API refuses requests without a User-Agent.
        let request = Request::get(self.url.clone())
            .header(USER_AGENT, "yebolink-leak-reports")
            .header(ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|err| err.to_string())?;
        let fetch = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|err| format!("request failed: {err}"))?;
            if !response.status().is_success() {
                return Err(format!("answered {}", response.status()));
            }
            Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map(|body| body.to_bytes().to_vec())
                .map_err(|err| format!("reading the answer failed: {err}"))
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("no answer within {FETCH_TIMEOUT:?}"))?
    }
}
