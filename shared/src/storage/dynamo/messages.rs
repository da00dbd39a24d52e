//! Messages: the message item with its idempotency record, and the history, newest first.

use super::*;

impl MessageStore for DynamoStore {
    async fn put_message(
        &self,
        message: &MessageRecord,
        idempotency: Option<&IdempotencyRecord>,
        now: Timestamp,
    ) -> Result<SendOutcome, StoreError> {
        let absent = Some("attribute_not_exists(pk)");
        let Some(record) = idempotency else {
            // One item: a plain conditional put costs half a transactional one. The condition
            // fails only when an SDK retry follows our own committed attempt (message ids are
            // fresh UUIDv7s): the message is stored, once.
            let result = self
                .connected()
                .await
                .put_item()
                .table_name(&self.table)
                .set_item(Some(message_item(message)))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await;
            return match result {
                Ok(_) => Ok(SendOutcome::Created),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Ok(SendOutcome::Created)
                }
                Err(err) => Err(unavailable(err)),
            };
        };
        let idem_sk = format!("IDEM#{}", record.key);
        let idem_item = HashMap::from([
            ("pk".to_owned(), s(workspace_pk(record.workspace_id))),
            ("sk".to_owned(), s(idem_sk.clone())),
            ("request_hash".to_owned(), s(&record.request_hash)),
            ("status".to_owned(), n(record.status)),
            ("body".to_owned(), s(&record.body)),
            ("expires_at".to_owned(), n(record.expires_at.unix())),
        ]);
        let put_idem = Put::builder()
            .table_name(&self.table)
            .set_item(Some(idem_item))
            // TTL deletion is lazy: an expired record may still be there, and may be replaced.
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now.unix()))
            .build()
            .map_err(built)?;
        let items = vec![
            TransactWriteItem::builder().put(put_idem).build(),
            self.put(message_item(message), absent)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(SendOutcome::Created),
            Transaction::ConditionFailed(_) => {
                let item = self
                    .get(workspace_pk(record.workspace_id), &idem_sk)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Unavailable("idempotency record expired meanwhile".into())
                    })?;
                Ok(SendOutcome::Replayed(idempotency_from_item(
                    record.workspace_id,
                    &record.key,
                    &item,
                )?))
            }
        }
    }

    async fn find_idempotency_record(
        &self,
        workspace_id: WorkspaceId,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(item) = self
            .get(workspace_pk(workspace_id), &format!("IDEM#{key}"))
            .await?
        else {
            return Ok(None);
        };
        let record = idempotency_from_item(workspace_id, key, &item)?;
        // TTL deletion is lazy: an expired record is no record.
        Ok((record.expires_at > now).then_some(record))
    }

    async fn list_messages(
        &self,
        workspace_id: WorkspaceId,
        limit: usize,
        after: Option<MessageId>,
    ) -> Result<MessagePage, StoreError> {
        let pk = workspace_pk(workspace_id);
        let start = after.map(|id| {
            HashMap::from([
                ("pk".to_owned(), s(pk.clone())),
                ("sk".to_owned(), s(format!("MSG#{id}"))),
            ])
        });
        // One more than asked for tells whether another page exists.
        let fetch = i32::try_from(limit + 1).unwrap_or(i32::MAX);
        let output = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":prefix", s("MSG#"))
            .scan_index_forward(false)
            .limit(fetch)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let mut messages = output
            .items()
            .iter()
            .map(|item| message_from_item(workspace_id, item))
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = messages.len() > limit;
        messages.truncate(limit);
        Ok(MessagePage { messages, has_more })
    }

    async fn get_message(
        &self,
        workspace_id: WorkspaceId,
        id: MessageId,
    ) -> Result<Option<MessageRecord>, StoreError> {
        self.get(workspace_pk(workspace_id), &format!("MSG#{id}"))
            .await?
            .map(|item| message_from_item(workspace_id, &item))
            .transpose()
    }
}
