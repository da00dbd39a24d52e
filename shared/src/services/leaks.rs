//! Leak processing: for each reported token that is a key of ours, its verdict, and the
//! deactivation of the key (with its `api_key.leak_reported` event, in one transaction) if it
//! was still active. The report itself parses in `domain::leak`.

use serde_json::json;

use crate::domain::api_key::ApiKeyRecord;
use crate::domain::audit::{Actor, AuditEvent, AuditEventType, RequestOrigin, Target};
use crate::domain::leak::{LeakLabel, LeakReport, LeakVerdict};
use crate::domain::timestamp::Timestamp;
use crate::storage::error::StoreError;
use crate::storage::keys::{Deactivation, KeyStore};

pub async fn process_reports<S: KeyStore>(
    store: &S,
    reports: &[LeakReport],
    origin: &RequestOrigin,
    audit_retention_days: u64,
) -> Result<Vec<LeakVerdict>, StoreError> {
    let mut verdicts = Vec::with_capacity(reports.len());
    for report in reports {
        verdicts.push(LeakVerdict {
            token_hash: report.token_hash.clone(),
            token_type: report.token_type.clone(),
            label: label_report(store, report, origin, audit_retention_days).await?,
        });
    }
    Ok(verdicts)
}

async fn label_report<S: KeyStore>(
    store: &S,
    report: &LeakReport,
    origin: &RequestOrigin,
    audit_retention_days: u64,
) -> Result<LeakLabel, StoreError> {
    let Some(hash) = &report.key_hash else {
        return Ok(LeakLabel::FalsePositive);
    };
    let key = match store.find_key_by_hash(hash).await? {
        Some(key) if key.key_hash.matches(hash) => key,
        _ => return Ok(LeakLabel::FalsePositive),
    };
    if !key.is_active {
        return Ok(LeakLabel::TruePositive);
    }
    let leak_reported = |key: &ApiKeyRecord| {
        AuditEvent::new(
            AuditEventType::ApiKeyLeakReported,
            Actor::LeakReport {
                source: report.source.clone(),
            },
            Target::api_key(key),
            origin,
            json!({ "url": report.url, "source": report.source }),
            Timestamp::now(),
            audit_retention_days,
        )
    };
    match store
        .deactivate_api_key(key.workspace_id, key.key_id, leak_reported)
        .await?
    {
        Deactivation::Deactivated => tracing::warn!(
            key_id = %key.key_id,
            workspace_id = %key.workspace_id,
            "API key deactivated: reported leaked"
        ),
        // Deactivated meanwhile, by its owner or an earlier delivery of this report.
        Deactivation::AlreadyInactive => {}
        Deactivation::NotFound => tracing::error!(
            key_id = %key.key_id,
            workspace_id = %key.workspace_id,
            "leaked key's lookup item has no key item"
        ),
    }
    Ok(LeakLabel::TruePositive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::ApiKeySecret;
    use crate::domain::leak::parse_reports;
    use crate::domain::scopes::Scopes;
    use crate::services::auth::{verify_api_key, AuthError, KeyRefusal};
    use crate::storage::audit::AuditStore;
    use crate::storage::memory::MemoryStore;
    use crate::testing::{
        leak_report as item, leak_reports_body as body, seed_key, sha256_hex, user,
    };

    #[tokio::test]
    async fn our_active_key_is_deactivated_and_every_key_of_ours_is_a_true_positive() {
        let store = MemoryStore::new();
        let owner = user();
        let (active, active_record) = seed_key(&store, owner.workspace_id, Scopes::all()).await;
        let (inactive, inactive_record) = seed_key(&store, owner.workspace_id, Scopes::all()).await;
        store
            .deactivate_api_key(owner.workspace_id, inactive_record.id, |key| {
                AuditEvent::new(
                    AuditEventType::ApiKeyDeactivated,
                    Actor::User { id: owner.user_id },
                    Target::api_key(key),
                    &RequestOrigin::default(),
                    json!({}),
                    Timestamp::now(),
                    1,
                )
            })
            .await
            .unwrap();
        let unknown = ApiKeySecret::generate().unwrap().expose_once();

        let reports = parse_reports(&body(&[
            item(&active),
            item(&inactive),
            item(&unknown),
            item("ghp_not_ours"),
            item(&active),
        ]))
        .unwrap();
        let origin = RequestOrigin {
            source_ip: Some("192.0.2.10".into()),
            user_agent: Some("GitHub-Secret-Scanning".into()),
        };
        let verdicts = process_reports(&store, &reports, &origin, 30)
            .await
            .unwrap();
        let labels: Vec<LeakLabel> = verdicts.iter().map(|v| v.label).collect();
        use LeakLabel::*;
        assert_eq!(
            labels,
            [
                TruePositive,
                TruePositive,
                FalsePositive,
                FalsePositive,
                TruePositive
            ]
        );
        assert_eq!(verdicts[2].token_hash, sha256_hex(&unknown));
        assert_eq!(verdicts[3].token_hash, sha256_hex("ghp_not_ours"));
        assert_eq!(
            serde_json::to_value(&verdicts[0]).unwrap(),
            json!({"token_hash": sha256_hex(&active), "token_type": "yebolink_api_key", "label": "true_positive"})
        );
        assert!(matches!(
            verify_api_key(&store, &active, Timestamp::now()).await,
            Err(AuthError::InvalidApiKey(KeyRefusal::Deactivated))
        ));
        assert!(store
            .list_api_keys(owner.workspace_id)
            .await
            .unwrap()
            .iter()
            .all(|k| !k.is_active));

        // One leak event, for the key that was active, saying where it leaked.
        let leaks = store
            .list_audit_events(
                owner.workspace_id,
                10,
                None,
                Some(AuditEventType::ApiKeyLeakReported),
            )
            .await
            .unwrap()
            .events;
        assert_eq!(leaks.len(), 1, "{leaks:?}");
        let event = &leaks[0];
        assert_eq!(
            event.actor,
            Actor::LeakReport {
                source: "content".into()
            }
        );
        assert_eq!(event.target, Target::api_key(&active_record));
        assert_eq!(
            event.details,
            json!({"url": "https://github.com/o/r/blob/1/f", "source": "content"})
        );
        assert_eq!(event.source_ip.as_deref(), Some("192.0.2.10"));
        assert!(!serde_json::to_string(event).unwrap().contains(&active[4..]));
    }
}
