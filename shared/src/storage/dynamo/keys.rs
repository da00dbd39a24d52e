//! API keys: the key item and its hash lookup item in one transaction with the change's event,
//! and the workspace's active-key slots.

use super::*;

impl DynamoStore {
    /// Claims one of the workspace's `cap` active-key slots (`active_keys` on the workspace
    /// item): `false` when all are taken. Not retried by the SDK (see `add_to_counter`).
    async fn claim_key_slot(
        &self,
        workspace_id: WorkspaceId,
        cap: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(workspace_id)))
            .key("sk", s("WORKSPACE"))
            .update_expression("ADD active_keys :one")
            .condition_expression("attribute_not_exists(active_keys) OR active_keys < :cap")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cap", n(cap))
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Gives back one active-key slot. Not retried by the SDK: a double release would let the
    /// workspace past its cap.
    async fn release_key_slot(&self, workspace_id: WorkspaceId) -> Result<(), StoreError> {
        self.connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(workspace_id)))
            .key("sk", s("WORKSPACE"))
            .update_expression("ADD active_keys :minus_one")
            .condition_expression("active_keys > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .customize()
            .config_override(no_retries())
            .send()
            .await
            .map(|_| ())
            .or_else(|err| {
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Ok(())
                } else {
                    Err(unavailable(err))
                }
            })
    }
}

/// What an edit may change: on the key item, and (what the request path reads) on its lookup.
const EDITABLE_ON_KEY: [&str; 6] = [
    "name",
    "scopes",
    "rate_limit",
    "allowed_ips",
    "metadata",
    "monthly_limit",
];
const EDITABLE_ON_LOOKUP: [&str; 4] = ["scopes", "rate_limit", "allowed_ips", "monthly_limit"];

impl DynamoStore {
    /// An `Update` of `item`'s attributes among `names` from `old` to `new` (SET, or REMOVE
    /// when `new` lacks it), under `condition` and, for each, that it still holds its old
    /// value. `None` when nothing differs. Names are placeholders (`name` is a reserved word).
    fn edit_item(
        &self,
        (old, new): (&Item, &Item),
        names: &[&str],
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let (mut sets, mut removes, mut pins) =
            (Vec::new(), Vec::new(), vec![condition.to_owned()]);
        let mut update = Update::builder().table_name(&self.table);
        for key in ["pk", "sk"] {
            update = update.key(key, new.get(key).cloned().unwrap_or_else(|| s("")));
        }
        for (i, name) in names.iter().enumerate() {
            let (before, after) = (old.get(*name), new.get(*name));
            if before == after {
                continue;
            }
            update = update.expression_attribute_names(format!("#a{i}"), *name);
            match after {
                Some(value) => {
                    sets.push(format!("#a{i} = :n{i}"));
                    update = update.expression_attribute_values(format!(":n{i}"), value.clone());
                }
                None => removes.push(format!("#a{i}")),
            }
            match before {
                Some(value) => {
                    pins.push(format!("#a{i} = :o{i}"));
                    update = update.expression_attribute_values(format!(":o{i}"), value.clone());
                }
                None => pins.push(format!("attribute_not_exists(#a{i})")),
            }
        }
        if sets.is_empty() && removes.is_empty() {
            return Ok(None);
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression += &format!("SET {}", sets.join(", "));
        }
        if !removes.is_empty() {
            expression += &format!(" REMOVE {}", removes.join(", "));
        }
        for (name, value) in values {
            update = update.expression_attribute_values(*name, value.clone());
        }
        let update = update
            .update_expression(expression.trim())
            .condition_expression(pins.join(" AND "))
            .build()
            .map_err(built)?;
        Ok(Some(TransactWriteItem::builder().update(update).build()))
    }
}

impl KeyStore for DynamoStore {
    async fn create_api_key(
        &self,
        key: &ApiKeyRecord,
        cap: u64,
        event: &AuditEvent,
    ) -> Result<KeyCreated, StoreError> {
        // The slot is claimed first, with one conditional ADD: concurrent creations cannot pass
        // the cap together (as a count read before the write could), and they do not conflict
        // with each other (as they would inside transactions on one item).
        if !self.claim_key_slot(key.workspace_id, cap).await? {
            return Ok(KeyCreated::LimitReached);
        }
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![
            self.put(key_item(key), absent)?,
            self.put(key_lookup_item(key), absent)?,
            self.put(audit_item(key.workspace_id, event)?, absent)?,
        ];
        let outcome = match self.transact(items).await {
            Ok(Transaction::Committed) => Ok(KeyCreated::Created),
            // Fresh ids and a 160-bit secret never collide: a failed condition means a retry of
            // our own attempt that had already committed. Confirm it is ours.
            Ok(Transaction::ConditionFailed(_)) => {
                match self.find_key_by_hash(&key.key_hash).await {
                    Ok(Some(stored)) if stored.key_id == key.id => Ok(KeyCreated::Created),
                    Ok(_) => Err(StoreError::Corrupt(
                        "key id or key hash already exists".into(),
                    )),
                    Err(err) => Err(err),
                }
            }
            Err(err) => Err(err),
        };
        if outcome.is_err() {
            // The key may or may not exist (a timeout proves nothing): give the slot back only
            // when it surely does not, so the count never falls under the real number.
            if let Ok(None) = self.find_key_by_hash(&key.key_hash).await {
                let _ = self.release_key_slot(key.workspace_id).await;
            }
        }
        outcome
    }

    async fn list_api_keys(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        // Every page: a workspace's keys are few, and the console lists them all at once.
        let items: Vec<Item> = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(workspace_pk(workspace_id)))
            .expression_attribute_values(":prefix", s("KEY#"))
            .scan_index_forward(false)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(unavailable)?;
        items
            .iter()
            .map(|item| key_from_item(workspace_id, item))
            .collect()
    }

    async fn get_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get(workspace_pk(workspace_id), &format!("KEY#{key_id}"))
            .await?
            .map(|item| key_from_item(workspace_id, &item))
            .transpose()
    }

    async fn deactivate_api_key<F>(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
        event: F,
    ) -> Result<Deactivation, StoreError>
    where
        F: Fn(&ApiKeyRecord) -> AuditEvent + Send + Sync,
    {
        // Read, then write under a condition that pins what was read. A replaced key gave its
        // slot to its successor, so a rotation committing in between must not let this
        // deactivation give back a slot the key no longer holds: the condition fails, and the
        // key is read again.
        for _ in 0..3 {
            let Some(key) = self.get_api_key(workspace_id, key_id).await? else {
                return Ok(Deactivation::NotFound);
            };
            if !key.is_active {
                return Ok(Deactivation::AlreadyInactive);
            }
            let key_condition = if key.replaced_by.is_some() {
                "is_active = :true AND attribute_exists(replaced_by)"
            } else {
                "is_active = :true AND attribute_not_exists(replaced_by)"
            };
            let items = vec![
                self.set_inactive(
                    workspace_pk(workspace_id),
                    format!("KEY#{key_id}"),
                    key_condition,
                )?,
                self.set_inactive(
                    key_hash_pk(&key.key_hash),
                    "KEYHASH".to_owned(),
                    "attribute_exists(pk)",
                )?,
                self.put(
                    audit_item(workspace_id, &event(&key))?,
                    Some("attribute_not_exists(pk)"),
                )?,
            ];
            match self.transact(items).await? {
                Transaction::Committed => {
                    if key.replaced_by.is_none() {
                        self.release_key_slot(workspace_id).await?;
                    }
                    return Ok(Deactivation::Deactivated);
                }
                Transaction::ConditionFailed(codes) if Transaction::failed_at(&codes, 0) => {}
                Transaction::ConditionFailed(_) => {
                    return Err(StoreError::Corrupt(
                        "key item without its lookup item".into(),
                    ))
                }
            }
        }
        Err(StoreError::Unavailable(
            "key kept changing during deactivation".into(),
        ))
    }

    async fn update_api_key(&self, update: &KeyUpdate) -> Result<Updated, StoreError> {
        let (old, new) = (&update.old, &update.new);
        let editable = "is_active = :true AND attribute_not_exists(replaced_by) \
             AND (attribute_not_exists(key_expires_at) OR key_expires_at > :now)";
        let values = [
            (":true", AttributeValue::Bool(true)),
            (":now", n(update.now.unix())),
        ];
        let key = self.edit_item(
            (&key_item(old), &key_item(new)),
            &EDITABLE_ON_KEY,
            editable,
            &values,
        )?;
        let Some(key) = key else {
            return Ok(Updated::Updated);
        };
        let mut items = vec![key];
        let lookup = self.edit_item(
            (&key_lookup_item(old), &key_lookup_item(new)),
            &EDITABLE_ON_LOOKUP,
            "attribute_exists(pk)",
            &[],
        )?;
        items.extend(lookup);
        items.push(self.put(
            audit_item(new.workspace_id, &update.event)?,
            Some("attribute_not_exists(pk)"),
        )?);
        match self.transact(items).await? {
            Transaction::Committed => Ok(Updated::Updated),
            Transaction::ConditionFailed(_) => Ok(Updated::Changed),
        }
    }

    async fn rotate_api_key(&self, rotation: &Rotation) -> Result<Rotated, StoreError> {
        let (old, new) = (&rotation.old, &rotation.new);
        let (ws, now) = (old.workspace_id, rotation.event.occurred_at);
        let expiry = n(rotation.old_expires_at.unix());
        let old_key = Update::builder()
            .table_name(&self.table)
            .key("pk", s(workspace_pk(ws)))
            .key("sk", s(format!("KEY#{}", old.id)))
            .update_expression(
                "SET key_expires_at = :expiry, replaced_by = :new REMOVE due_shard, due_at",
            )
            .condition_expression(
                "is_active = :true AND attribute_not_exists(replaced_by) \
                 AND (attribute_not_exists(key_expires_at) OR key_expires_at > :now)",
            )
            .expression_attribute_values(":expiry", expiry.clone())
            .expression_attribute_values(":new", s(new.id.to_string()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", n(now.unix()))
            .build()
            .map_err(built)?;
        let old_lookup = Update::builder()
            .table_name(&self.table)
            .key("pk", s(key_hash_pk(&old.key_hash)))
            .key("sk", s("KEYHASH"))
            .update_expression("SET key_expires_at = :expiry")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":expiry", expiry)
            .build()
            .map_err(built)?;
        let absent = Some("attribute_not_exists(pk)");
        let items = vec![
            TransactWriteItem::builder().update(old_key).build(),
            TransactWriteItem::builder().update(old_lookup).build(),
            self.put(key_item(new), absent)?,
            self.put(key_lookup_item(new), absent)?,
            self.put(audit_item(ws, &rotation.event)?, absent)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(Rotated::Rotated),
            Transaction::ConditionFailed(codes) if Transaction::failed_at(&codes, 0) => {
                // Either someone else changed the key, or this is an SDK retry of our own
                // committed attempt: then the old key names our new key.
                match self.get_api_key(ws, old.id).await? {
                    Some(now) if now.replaced_by == Some(new.id) => Ok(Rotated::Rotated),
                    _ => Ok(Rotated::NotRotatable),
                }
            }
            Transaction::ConditionFailed(_) => Err(StoreError::Corrupt(
                "key item without its lookup item, or a fresh id taken".into(),
            )),
        }
    }

    async fn find_key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyLookup>, StoreError> {
        let Some(item) = self.get(key_hash_pk(hash), "KEYHASH").await? else {
            return Ok(None);
        };
        let key_id = read_parsed(&item, "key_id")?;
        let (policy, quota_id) = read_policy(&item, key_id, false)?;
        Ok(Some(KeyLookup {
            key_hash: KeyHash::from_stored(read_s(&item, "key_hash")?),
            key_id,
            policy,
            quota_id,
            workspace_id: read_parsed(&item, "workspace_id")?,
            scopes: read_scopes(&item)?,
            is_active: read_bool(&item, "is_active")?,
            last_used_at: read_opt_time(&item, "last_used_at")?,
            expires_at: read_opt_time(&item, "key_expires_at")?,
        }))
    }

    async fn record_key_use(
        &self,
        key: &KeyLookup,
        now: Timestamp,
        source_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        let touch =
            |pk: String, sk: String, condition: &str| -> Result<TransactWriteItem, StoreError> {
                let on_key_item = sk.starts_with("KEY#");
                let mut update = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(pk))
                    .key("sk", s(sk))
                    .update_expression("SET last_used_at = :now")
                    .condition_expression(condition)
                    .expression_attribute_values(":now", n(now.unix()));
                // The address goes on the key item (what the owner lists), in the same write.
                if let (Some(ip), true) = (source_ip, on_key_item) {
                    update = update
                        .update_expression("SET last_used_at = :now, last_used_ip = :ip")
                        .expression_attribute_values(":ip", s(ip));
                }
                if condition.contains(":cutoff") {
                    update = update
                        .expression_attribute_values(
                            ":cutoff",
                            n(now.unix() - LAST_USED_RESOLUTION_SECONDS),
                        )
                        .expression_attribute_values(":true", AttributeValue::Bool(true));
                }
                Ok(TransactWriteItem::builder()
                    .update(update.build().map_err(built)?)
                    .build())
            };
        let items = vec![
            touch(
                key_hash_pk(&key.key_hash),
                "KEYHASH".to_owned(),
                "is_active = :true AND (attribute_not_exists(last_used_at) OR last_used_at <= :cutoff)",
            )?,
            touch(
                workspace_pk(key.workspace_id),
                format!("KEY#{}", key.key_id),
                "attribute_exists(pk)",
            )?,
        ];
        // A failed condition means another request already recorded this minute's use.
        self.transact(items).await.map(|_| ())
    }
}
