//! Where the keys that verify leak reports come from: a fixed document (read from
//! `LEAK_REPORT_PUBLIC_KEYS_FILE` at cold start: local development and tests) or GitHub's
//! secret-scanning meta endpoint (deployed), cached for the container's life and fetched again
//! at most once a minute, when a report names a key identifier the cache does not have.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use yebolink_shared::http::error::ApiError;

use crate::signature::{PublicKeys, SignatureHeaders};

/// The least time between two fetches. GitHub allows an unauthenticated client 60 API calls an
/// hour, so one a minute per container cannot exhaust it alone, and a flood of reports naming
/// made-up identifiers cannot turn into a flood of fetches.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Reads the raw key document from wherever it is published.
pub trait FetchKeys: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

pub enum KeySource<F> {
    Fixed(PublicKeys),
    Fetched(FetchedKeys<F>),
}

impl<F: FetchKeys> KeySource<F> {
    /// Ok when the key the headers name signed `body`; 401 `invalid_signature` when not; 503
    /// when the keys could not be fetched just now (GitHub retries a report it could not
    /// deliver).
    pub async fn verify(
        &self,
        body: &[u8],
        headers: &SignatureHeaders,
        now: Instant,
    ) -> Result<(), ApiError> {
        match self {
            KeySource::Fixed(keys) => keys.verify(body, headers),
            KeySource::Fetched(fetched) => fetched
                .keys_for(&headers.key_identifier, now)
                .await?
                .verify(body, headers),
        }
    }
}

pub struct FetchedKeys<F> {
    fetcher: F,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    keys: Option<Arc<PublicKeys>>,
    /// When a fetch was last tried, whether it worked or not.
    tried_at: Option<Instant>,
}

impl<F: FetchKeys> FetchedKeys<F> {
    /// Nothing is fetched until the first report arrives: a cold start needs no network call.
    pub fn new(fetcher: F) -> Self {
        Self {
            fetcher,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The cached keys if they know `key_identifier`; else a fresh fetch, unless one was tried
    /// in the last `REFETCH_INTERVAL` (then the cached keys, which will not verify).
    async fn keys_for(
        &self,
        key_identifier: &str,
        now: Instant,
    ) -> Result<Arc<PublicKeys>, ApiError> {
        {
            // A poisoned lock only means a panic elsewhere mid-update; the cache is still whole.
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let may_fetch = cache
                .tried_at
                .is_none_or(|at| now.saturating_duration_since(at) >= REFETCH_INTERVAL);
            match &cache.keys {
                Some(keys) if keys.contains(key_identifier) || !may_fetch => {
                    return Ok(Arc::clone(keys))
                }
                // The last fetch failed under a minute ago: do not ask again yet.
                None if !may_fetch => return Err(ApiError::ServiceUnavailable),
                _ => {}
            }
        }
        // The lock is not held across the fetch. Lambda sends a container one request at a
        // time, so no second fetch can start meanwhile.
        let fetched = self.fetcher.fetch().await.and_then(|raw| {
            PublicKeys::from_json(&raw).map_err(|err| format!("unusable key document: {err}"))
        });
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.tried_at = Some(now);
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                cache.keys = Some(Arc::clone(&keys));
                Ok(keys)
            }
            // The identifier is unknown to the keys we have (if any) and may be a new one:
            // GitHub retries, and a later fetch may know it.
            Err(problem) => {
                tracing::error!(error = %problem, "fetching the leak-report public keys failed");
                Err(ApiError::ServiceUnavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::tests::Signer;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Serves whatever document is set, and counts the fetches.
    #[derive(Default)]
    struct FakeGitHub {
        document: Mutex<Option<String>>,
        fetches: AtomicUsize,
    }

    impl FakeGitHub {
        fn serve(&self, document: Option<String>) {
            *self.document.lock().unwrap() = document;
        }
        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    impl FetchKeys for &FakeGitHub {
        async fn fetch(&self) -> Result<Vec<u8>, String> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            self.document
                .lock()
                .unwrap()
                .clone()
                .map(String::into_bytes)
                .ok_or_else(|| "connection refused".to_owned())
        }
    }

    const BODY: &[u8] = b"[]";

    fn signed(signer: &Signer) -> SignatureHeaders {
        SignatureHeaders::from_headers(&signer.headers(BODY)).unwrap()
    }

    #[tokio::test]
    async fn the_first_report_fetches_the_keys_and_later_ones_use_the_cache() {
        let (github, signer) = (FakeGitHub::default(), Signer::new("k1"));
        github.serve(Some(Signer::document(&[&signer])));
        let source = KeySource::Fetched(FetchedKeys::new(&github));
        assert_eq!(github.fetches(), 0, "nothing is fetched at cold start");
        let t0 = Instant::now();
        for later in [0, 1, 3600] {
            let now = t0 + Duration::from_secs(later);
            assert_eq!(source.verify(BODY, &signed(&signer), now).await, Ok(()));
        }
        assert_eq!(github.fetches(), 1);
    }

    #[tokio::test]
    async fn an_unknown_identifier_refetches_at_most_once_a_minute() {
        let (github, old, new) = (
            FakeGitHub::default(),
            Signer::new("old"),
            Signer::new("new"),
        );
        github.serve(Some(Signer::document(&[&old])));
        let source = KeySource::Fetched(FetchedKeys::new(&github));
        let t0 = Instant::now();
        assert_eq!(source.verify(BODY, &signed(&old), t0).await, Ok(()));

        // GitHub rotates within the minute: the new key is refused until a refetch is allowed.
        github.serve(Some(Signer::document(&[&old, &new])));
        let soon = t0 + Duration::from_secs(30);
        assert_eq!(
            source.verify(BODY, &signed(&new), soon).await,
            Err(ApiError::InvalidSignature)
        );
        assert_eq!(github.fetches(), 1);

        let later = t0 + REFETCH_INTERVAL;
        assert_eq!(source.verify(BODY, &signed(&new), later).await, Ok(()));
        assert_eq!(github.fetches(), 2);

        // Made-up identifiers, however many, cost one fetch a minute.
        let stranger = Signer::new("made-up");
        for s in 0..10 {
            let now = later + Duration::from_secs(1 + s);
            assert_eq!(
                source.verify(BODY, &signed(&stranger), now).await,
                Err(ApiError::InvalidSignature)
            );
        }
        assert_eq!(github.fetches(), 2);
        let next_minute = later + REFETCH_INTERVAL + Duration::from_secs(1);
        assert_eq!(
            source.verify(BODY, &signed(&stranger), next_minute).await,
            Err(ApiError::InvalidSignature)
        );
        assert_eq!(github.fetches(), 3);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_a_503_and_is_not_retried_within_the_minute() {
        let (github, signer) = (FakeGitHub::default(), Signer::new("k1"));
        let source = KeySource::Fetched(FetchedKeys::new(&github));
        let t0 = Instant::now();
        assert_eq!(
            source.verify(BODY, &signed(&signer), t0).await,
            Err(ApiError::ServiceUnavailable)
        );
        github.serve(Some(Signer::document(&[&signer])));
        assert_eq!(
            source
                .verify(BODY, &signed(&signer), t0 + Duration::from_secs(5))
                .await,
            Err(ApiError::ServiceUnavailable)
        );
        assert_eq!(github.fetches(), 1);
        assert_eq!(
            source
                .verify(BODY, &signed(&signer), t0 + REFETCH_INTERVAL)
                .await,
            Ok(())
        );
        assert_eq!(github.fetches(), 2);
    }

    #[tokio::test]
    async fn an_unusable_document_keeps_the_keys_already_cached() {
        let (github, signer) = (FakeGitHub::default(), Signer::new("k1"));
        github.serve(Some(Signer::document(&[&signer])));
        let source = KeySource::Fetched(FetchedKeys::new(&github));
        let t0 = Instant::now();
        assert_eq!(source.verify(BODY, &signed(&signer), t0).await, Ok(()));

        github.serve(Some("<html>rate limited</html>".into()));
        let stranger = Signer::new("k2");
        assert_eq!(
            source
                .verify(BODY, &signed(&stranger), t0 + REFETCH_INTERVAL)
                .await,
            Err(ApiError::ServiceUnavailable)
        );
        // The cached key still verifies, without another fetch.
        assert_eq!(
            source
                .verify(
                    BODY,
                    &signed(&signer),
                    t0 + REFETCH_INTERVAL + Duration::from_secs(1)
                )
                .await,
            Ok(())
        );
        assert_eq!(github.fetches(), 2);
    }

    #[tokio::test]
    async fn a_fixed_document_never_fetches() {
        let signer = Signer::new("local");
        let source: KeySource<&FakeGitHub> = KeySource::Fixed(signer.public_keys());
        let now = Instant::now();
        assert_eq!(source.verify(BODY, &signed(&signer), now).await, Ok(()));
        let stranger = Signer::new("other");
        assert_eq!(
            source.verify(BODY, &signed(&stranger), now).await,
            Err(ApiError::InvalidSignature)
        );
    }
}
