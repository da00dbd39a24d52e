//! API keys and their lookups in memory.

use super::*;

impl KeyStore for MemoryStore {
    async fn create_api_key(
        &self,
        key: &ApiKeyRecord,
        cap: u64,
        event: &AuditEvent,
    ) -> Result<KeyCreated, StoreError> {
        let mut state = self.state()?;
        let active = state.active_keys.entry(key.workspace_id).or_insert(0);
        if *active >= cap {
            return Ok(KeyCreated::LimitReached);
        }
        *active += 1;
        state
            .lookups
            .insert(key.key_hash.as_str().to_owned(), lookup_of(key));
        state.keys.insert((key.workspace_id, key.id), key.clone());
        state.record(key.workspace_id, event);
        Ok(KeyCreated::Created)
    }

    async fn get_api_key(
        &self,
        workspace_id: WorkspaceId,
        key_id: KeyId,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.state()?.keys.get(&(workspace_id, key_id)).cloned())
    }

    async fn list_api_keys(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let state = self.state()?;
        Ok(state
            .keys
            .range(
                (workspace_id, KeyId::from(uuid::Uuid::nil()))
                    ..=(workspace_id, KeyId::from(uuid::Uuid::max())),
            )
            .rev()
            .map(|(_, key)| key.clone())
            .collect())
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
        let mut state = self.state()?;
        let Some(key) = state.keys.get_mut(&(workspace_id, key_id)) else {
            return Ok(Deactivation::NotFound);
        };
        if !key.is_active {
            return Ok(Deactivation::AlreadyInactive);
        }
        key.is_active = false;
        let (hash, held_slot) = (key.key_hash.as_str().to_owned(), key.replaced_by.is_none());
        let event = event(key);
        if let Some(lookup) = state.lookups.get_mut(&hash) {
            lookup.is_active = false;
        }
        if held_slot {
            if let Some(active) = state.active_keys.get_mut(&workspace_id) {
                *active = active.saturating_sub(1);
            }
        }
        state.record(workspace_id, &event);
        Ok(Deactivation::Deactivated)
    }

    async fn rotate_api_key(&self, rotation: &Rotation) -> Result<Rotated, StoreError> {
        let mut state = self.state()?;
        let (ws, now) = (rotation.old.workspace_id, rotation.event.occurred_at);
        let Some(old) = state.keys.get_mut(&(ws, rotation.old.id)) else {
            return Ok(Rotated::NotRotatable);
        };
        if old.status(now) != KeyStatus::Active || old.replaced_by.is_some() {
            return Ok(Rotated::NotRotatable);
        }
        old.expires_at = Some(rotation.old_expires_at);
        old.replaced_by = Some(rotation.new.id);
        let hash = old.key_hash.as_str().to_owned();
        if let Some(lookup) = state.lookups.get_mut(&hash) {
            lookup.expires_at = Some(rotation.old_expires_at);
        }
        let new = &rotation.new;
        state
            .lookups
            .insert(new.key_hash.as_str().to_owned(), lookup_of(new));
        state.keys.insert((ws, new.id), new.clone());
        state.record(ws, &rotation.event);
        Ok(Rotated::Rotated)
    }

    async fn update_api_key(&self, update: &KeyUpdate) -> Result<Updated, StoreError> {
        let mut state = self.state()?;
        let (old, new) = (&update.old, &update.new);
        let Some(stored) = state.keys.get_mut(&(old.workspace_id, old.id)) else {
            return Ok(Updated::Changed);
        };
        if stored.status(update.now) != KeyStatus::Active || stored.replaced_by.is_some() {
            return Ok(Updated::Changed);
        }
        // As DynamoDB's conditions: each field the edit changes must still hold its old value.
        let (o, n, s) = (&old.policy, &new.policy, &stored.policy);
        let moved = |changed: bool, still: bool| changed && !still;
        if moved(new.name != old.name, stored.name == old.name)
            || moved(new.scopes != old.scopes, stored.scopes == old.scopes)
            || moved(
                n.rate_limit_per_minute != o.rate_limit_per_minute,
                s.rate_limit_per_minute == o.rate_limit_per_minute,
            )
            || moved(
                n.allowed_ips != o.allowed_ips,
                s.allowed_ips == o.allowed_ips,
            )
            || moved(n.metadata != o.metadata, s.metadata == o.metadata)
            || moved(
                n.monthly_send_limit != o.monthly_send_limit,
                s.monthly_send_limit == o.monthly_send_limit,
            )
        {
            return Ok(Updated::Changed);
        }
        stored.name = new.name.clone();
        stored.scopes = new.scopes.clone();
        stored.policy = new.policy.clone();
        let edited = stored.clone();
        if let Some(lookup) = state.lookups.get_mut(edited.key_hash.as_str()) {
            let used = lookup.last_used_at;
            *lookup = lookup_of(&edited);
            lookup.last_used_at = used;
        }
        state.record(edited.workspace_id, &update.event);
        Ok(Updated::Updated)
    }

    async fn find_key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyLookup>, StoreError> {
        Ok(self.state()?.lookups.get(hash.as_str()).cloned())
    }

    async fn record_key_use(
        &self,
        key: &KeyLookup,
        now: Timestamp,
        source_ip: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let cutoff = now.unix() - LAST_USED_RESOLUTION_SECONDS;
        let Some(lookup) = state.lookups.get_mut(key.key_hash.as_str()) else {
            return Ok(());
        };
        let stale = lookup.last_used_at.is_none_or(|t| t.unix() <= cutoff);
        if !lookup.is_active || !stale {
            return Ok(());
        }
        lookup.last_used_at = Some(now);
        if let Some(record) = state.keys.get_mut(&(key.workspace_id, key.key_id)) {
            record.last_used_at = Some(now);
            if let Some(ip) = source_ip {
                record.last_used_ip = Some(ip.to_owned());
            }
        }
        Ok(())
    }
}
