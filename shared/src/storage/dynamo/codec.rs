//! Item codecs: attribute values in and out, the partition keys, and each record as an item.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::account::DisplayName;
use crate::domain::api_key::ApiKeyRecord;
use crate::domain::audit::AuditEvent;
use crate::domain::ids::{KeyId, WorkspaceId};
use crate::domain::keys::{KeyHash, KeyPrefix};
use crate::domain::message::{Channel, IdempotencyRecord, MessageRecord};
use crate::domain::policy::{IpBlock, KeyPolicy, Metadata};
use crate::domain::scopes::Scopes;
use crate::domain::timestamp::Timestamp;
use crate::domain::usage::{Bucket, MinuteUsage, Outcome, UsageCounts};
use crate::domain::webhook::next_expiry_reminder;
use crate::storage::error::StoreError;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn read_s(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a string"
        ))),
    }
}

pub(super) fn read_opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

pub(super) fn read_i64(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not an integer"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a number"
        ))),
    }
}

pub(super) fn read_u64(item: &Item, name: &str) -> Result<u64, StoreError> {
    u64::try_from(read_i64(item, name)?)
        .map_err(|_| StoreError::Corrupt(format!("{name} negative")))
}

pub(super) fn read_time(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    read_i64(item, name).map(Timestamp::from_unix)
}

pub(super) fn read_opt_time(item: &Item, name: &str) -> Result<Option<Timestamp>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => read_time(item, name).map(Some),
    }
}

pub(super) fn read_bool(item: &Item, name: &str) -> Result<bool, StoreError> {
    match item.get(name) {
        Some(AttributeValue::Bool(value)) => Ok(*value),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a boolean"
        ))),
    }
}

pub(super) fn read_parsed<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    read_s(item, name)?
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("attribute {name} does not parse")))
}

pub(super) fn read_scopes(item: &Item) -> Result<Scopes, StoreError> {
    Scopes::from_stored(&read_s(item, "scopes")?)
        .map_err(|_| StoreError::Corrupt("attribute scopes does not parse".into()))
}

/// The sparse index of what is due: pending webhook deliveries and key expiry reminders.
pub(super) const DUE_INDEX: &str = "due_index";
/// Shards of each kind in `due_index`, so no one index partition takes every write.
pub(super) const DUE_SHARDS: u8 = 4;
pub(super) const KEY_REMINDER_DUE: &str = "KEYDUE";

/// The `due_shard` of an item of `kind` with id `id`.
pub(super) fn due_shard(kind: &str, id: &uuid::Uuid) -> String {
    format!("{kind}#{}", id.as_bytes()[15] % DUE_SHARDS)
}

pub(super) fn workspace_pk(id: WorkspaceId) -> String {
    format!("WS#{id}")
}

pub(super) fn key_hash_pk(hash: &KeyHash) -> String {
    format!("KEYHASH#{}", hash.as_str())
}

pub(super) fn usage_pk(key_id: KeyId) -> String {
    format!("USAGE#{key_id}")
}

/// The attribute of a key's minute counter that counts requests of `outcome`.
pub(super) fn outcome_attribute(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Checked => "hits",
        Outcome::OutOfScope => "out_of_scope",
        Outcome::WorkspaceLimited => "ws_limited",
    }
}

pub(super) fn minute_from_item(item: &Item) -> Result<MinuteUsage, StoreError> {
    let start = read_s(item, "sk")?
        .strip_prefix("W#")
        .and_then(|t| t.parse().ok())
        .map(Timestamp::from_unix)
        .ok_or_else(|| StoreError::Corrupt("minute counter sort key".into()))?;
    let optional = |name: &str| -> Result<u64, StoreError> {
        if item.contains_key(name) {
            read_u64(item, name)
        } else {
            Ok(0)
        }
    };
    Ok(MinuteUsage {
        start,
        hits: optional("hits")?,
        // A counter written before usage was counted has no limit: none of it shows as a 429.
        limit: if item.contains_key("lim") {
            read_u64(item, "lim")?
        } else {
            u64::MAX
        },
        out_of_scope: optional("out_of_scope")?,
        workspace_limited: optional("ws_limited")?,
    })
}

/// An hour bucket (`m00`..`m59`, per minute) or a day bucket (`h00`..`h23`, per hour).
pub(super) fn bucket_from_item(item: &Item, part: char) -> Result<Bucket, StoreError> {
    let start = read_s(item, "sk")?
        .get(2..)
        .and_then(|t| t.parse().ok())
        .map(Timestamp::from_unix)
        .ok_or_else(|| StoreError::Corrupt("usage bucket sort key".into()))?;
    let mut parts = std::collections::BTreeMap::new();
    for (name, value) in item {
        let Some(index) = name
            .strip_prefix(part)
            .filter(|i| i.len() == 2)
            .and_then(|i| i.parse::<u32>().ok())
        else {
            continue;
        };
        let counts = match value {
            AttributeValue::S(raw) => UsageCounts::from_stored(raw),
            _ => None,
        }
        .ok_or_else(|| StoreError::Corrupt(format!("usage bucket entry {name}")))?;
        parts.insert(index, counts);
    }
    Ok(Bucket { start, parts })
}

pub(super) fn key_lookup_item(key: &ApiKeyRecord) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(key_hash_pk(&key.key_hash))),
        ("sk".to_owned(), s("KEYHASH")),
        ("key_hash".to_owned(), s(key.key_hash.as_str())),
        ("key_id".to_owned(), s(key.id.to_string())),
        ("workspace_id".to_owned(), s(key.workspace_id.to_string())),
        ("scopes".to_owned(), s(key.scopes.to_stored())),
        ("is_active".to_owned(), AttributeValue::Bool(key.is_active)),
    ]);
    if let Some(used) = key.last_used_at {
        item.insert("last_used_at".to_owned(), n(used.unix()));
    }
    if let Some(expiry) = key.expires_at {
        item.insert("key_expires_at".to_owned(), n(expiry.unix()));
    }
    put_policy(&mut item, key, false);
    item
}

/// The policy's attributes (none for an unset setting). The addresses are packed, 17 bytes a
/// block (`IpBlock::to_bytes`), so the lookup item stays small at 20 IPv6 blocks; the metadata
/// goes on the key item only (`with_metadata`): the request path never reads it.
fn put_policy(item: &mut Item, key: &ApiKeyRecord, with_metadata: bool) {
    let policy = &key.policy;
    if let Some(limit) = policy.rate_limit_per_minute {
        item.insert("rate_limit".to_owned(), n(limit));
    }
    if let Some(blocks) = &policy.allowed_ips {
        let packed: Vec<u8> = blocks.iter().flat_map(|b| b.to_bytes()).collect();
        item.insert(
            "allowed_ips".to_owned(),
            AttributeValue::B(Blob::new(packed)),
        );
    }
    if let Some(limit) = policy.monthly_send_limit {
        item.insert("monthly_limit".to_owned(), n(limit));
    }
    if key.quota_id != key.id {
        item.insert("quota_id".to_owned(), s(key.quota_id.to_string()));
    }
    if let (true, Some(metadata)) = (with_metadata, &policy.metadata) {
        if let Ok(json) = serde_json::to_string(metadata) {
            item.insert("metadata".to_owned(), s(json));
        }
    }
}

/// The policy stored by `put_policy`, and whose monthly count the key continues.
pub(super) fn read_policy(
    item: &Item,
    key_id: KeyId,
    with_metadata: bool,
) -> Result<(KeyPolicy, KeyId), StoreError> {
    let optional = |name: &str| -> Result<Option<u64>, StoreError> {
        item.contains_key(name)
            .then(|| read_u64(item, name))
            .transpose()
    };
    let allowed_ips = match item.get("allowed_ips") {
        None => None,
        Some(AttributeValue::B(packed)) => Some(
            packed
                .as_ref()
                .chunks(17)
                .map(IpBlock::from_bytes)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| StoreError::Corrupt("attribute allowed_ips".into()))?,
        ),
        Some(_) => return Err(StoreError::Corrupt("attribute allowed_ips".into())),
    };
    let metadata = match (with_metadata, item.contains_key("metadata")) {
        (true, true) => Some(
            serde_json::from_str::<Metadata>(&read_s(item, "metadata")?)
                .map_err(|_| StoreError::Corrupt("attribute metadata".into()))?,
        ),
        _ => None,
    };
    let policy = KeyPolicy {
        rate_limit_per_minute: optional("rate_limit")?,
        allowed_ips,
        metadata,
        monthly_send_limit: optional("monthly_limit")?,
    };
    let quota_id = read_opt_id(item, "quota_id")?.unwrap_or(key_id);
    Ok((policy, quota_id))
}

pub(super) fn audit_item(
    workspace_id: WorkspaceId,
    event: &AuditEvent,
) -> Result<Item, StoreError> {
    let shown = serde_json::to_string(event)
        .map_err(|err| StoreError::Corrupt(format!("audit event does not serialize: {err}")))?;
    Ok(HashMap::from([
        ("pk".to_owned(), s(workspace_pk(workspace_id))),
        ("sk".to_owned(), s(format!("AUDIT#{}", event.id))),
        ("event_type".to_owned(), s(event.event_type.as_str())),
        ("event".to_owned(), s(shown)),
        ("expires_at".to_owned(), n(event.retain_until.unix())),
    ]))
}

pub(super) fn audit_from_item(item: &Item) -> Result<AuditEvent, StoreError> {
    let mut event: AuditEvent = serde_json::from_str(&read_s(item, "event")?)
        .map_err(|_| StoreError::Corrupt("attribute event does not parse".into()))?;
    event.retain_until = read_time(item, "expires_at")?;
    Ok(event)
}

pub(super) fn key_item(key: &ApiKeyRecord) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(workspace_pk(key.workspace_id))),
        ("sk".to_owned(), s(format!("KEY#{}", key.id))),
        ("key_id".to_owned(), s(key.id.to_string())),
        ("name".to_owned(), s(key.name.as_str())),
        ("key_prefix".to_owned(), s(key.key_prefix.as_str())),
        ("key_hash".to_owned(), s(key.key_hash.as_str())),
        ("scopes".to_owned(), s(key.scopes.to_stored())),
        ("is_active".to_owned(), AttributeValue::Bool(key.is_active)),
        ("created_at".to_owned(), n(key.created_at.unix())),
    ]);
    if let Some(used) = key.last_used_at {
        item.insert("last_used_at".to_owned(), n(used.unix()));
    }
    if let Some(expiry) = key.expires_at {
        item.insert("key_expires_at".to_owned(), n(expiry.unix()));
        // The webhook scheduler's expiry reminders (`due_index`).
        if let Some(due) = next_expiry_reminder(expiry, key.created_at) {
            let shard = due_shard(KEY_REMINDER_DUE, key.id.as_uuid());
            item.insert("due_shard".to_owned(), s(shard));
            item.insert("due_at".to_owned(), n(due.unix()));
        }
    }
    if let Some(id) = key.replaced_by {
        item.insert("replaced_by".to_owned(), s(id.to_string()));
    }
    if let Some(id) = key.rotated_from {
        item.insert("rotated_from".to_owned(), s(id.to_string()));
    }
    if let Some(ip) = &key.last_used_ip {
        item.insert("last_used_ip".to_owned(), s(ip));
    }
    put_policy(&mut item, key, true);
    item
}

pub(super) fn read_opt_id<T: std::str::FromStr>(
    item: &Item,
    name: &str,
) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => read_parsed(item, name).map(Some),
    }
}

pub(super) fn key_from_item(
    workspace_id: WorkspaceId,
    item: &Item,
) -> Result<ApiKeyRecord, StoreError> {
    let id = read_parsed(item, "key_id")?;
    let (policy, quota_id) = read_policy(item, id, true)?;
    Ok(ApiKeyRecord {
        id,
        policy,
        quota_id,
        workspace_id,
        name: DisplayName::from_stored(read_s(item, "name")?),
        key_prefix: KeyPrefix::from_stored(read_s(item, "key_prefix")?),
        key_hash: KeyHash::from_stored(read_s(item, "key_hash")?),
        scopes: read_scopes(item)?,
        is_active: read_bool(item, "is_active")?,
        last_used_at: read_opt_time(item, "last_used_at")?,
        last_used_ip: read_opt_s(item, "last_used_ip"),
        created_at: read_time(item, "created_at")?,
        expires_at: read_opt_time(item, "key_expires_at")?,
        replaced_by: read_opt_id(item, "replaced_by")?,
        rotated_from: read_opt_id(item, "rotated_from")?,
    })
}

pub(super) fn message_item(message: &MessageRecord) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(workspace_pk(message.workspace_id))),
        ("sk".to_owned(), s(format!("MSG#{}", message.id))),
        ("message_id".to_owned(), s(message.id.to_string())),
        ("key_id".to_owned(), s(message.key_id.to_string())),
        ("to".to_owned(), s(&message.to)),
        ("channel".to_owned(), s(message.channel.as_str())),
        ("text".to_owned(), s(&message.text)),
        ("status".to_owned(), s(&message.status)),
        ("segments".to_owned(), n(message.segments)),
        ("created_at".to_owned(), n(message.created_at.unix())),
    ]);
    if let Some(subject) = &message.subject {
        item.insert("subject".to_owned(), s(subject));
    }
    item
}

pub(super) fn message_from_item(
    workspace_id: WorkspaceId,
    item: &Item,
) -> Result<MessageRecord, StoreError> {
    let channel = read_s(item, "channel")?;
    Ok(MessageRecord {
        id: read_parsed(item, "message_id")?,
        workspace_id,
        key_id: read_parsed(item, "key_id")?,
        to: read_s(item, "to")?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown channel {channel}")))?,
        text: read_s(item, "text")?,
        subject: read_opt_s(item, "subject"),
        status: read_s(item, "status")?,
        segments: u32::try_from(read_u64(item, "segments")?)
            .map_err(|_| StoreError::Corrupt("segments too large".into()))?,
        created_at: read_time(item, "created_at")?,
    })
}

pub(super) fn idempotency_from_item(
    workspace_id: WorkspaceId,
    key: &str,
    item: &Item,
) -> Result<IdempotencyRecord, StoreError> {
    Ok(IdempotencyRecord {
        workspace_id,
        key: key.to_owned(),
        request_hash: read_s(item, "request_hash")?,
        status: u16::try_from(read_u64(item, "status")?)
            .map_err(|_| StoreError::Corrupt("status out of range".into()))?,
        body: read_s(item, "body")?,
        expires_at: read_time(item, "expires_at")?,
    })
}
