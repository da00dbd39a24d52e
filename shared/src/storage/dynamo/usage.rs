//! Per-key usage: the key's minute counters and the hour and day buckets they roll up into.

use super::*;

impl UsageStore for DynamoStore {
    async fn count_key_request(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        expires_at: Timestamp,
        outcome: Outcome,
        limit: u64,
    ) -> Result<MinuteUsage, StoreError> {
        // The request's outcome rides on the counter write the rate limit already makes: the
        // same one `UpdateItem`, a few more bytes.
        let counted = outcome_attribute(outcome);
        let item = self
            .update_counter(
                Counter::KeyRequests(key_id).name(),
                minute,
                &format!("ADD {counted} :one SET expires_at = :expires, lim = :limit"),
                vec![
                    (":one", n(1)),
                    (":expires", n(expires_at.unix())),
                    (":limit", n(limit)),
                ],
                ReturnValue::AllNew,
            )
            .await?;
        minute_from_item(&item)
    }

    async fn move_to_workspace_limited(
        &self,
        key_id: KeyId,
        minute: Timestamp,
        counted_as: Outcome,
    ) -> Result<(), StoreError> {
        let from = outcome_attribute(counted_as);
        self.take_back(
            Counter::KeyRequests(key_id).name(),
            minute,
            format!("ADD {from} :minus_one, ws_limited :one"),
            format!("{from} > :zero"),
            vec![(":minus_one", n(-1)), (":one", n(1))],
        )
        .await
    }

    async fn key_minutes(
        &self,
        key_id: KeyId,
        from: Timestamp,
        to: Timestamp,
        newest: usize,
    ) -> Result<Vec<MinuteUsage>, StoreError> {
        if from >= to || newest == 0 {
            return Ok(Vec::new());
        }
        // Strongly consistent: these are the minutes a read shows "at once". Newest first, so
        // `Limit` keeps the latest; each item is about 100 bytes.
        let output = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(Counter::KeyRequests(key_id).name()))
            .expression_attribute_values(":from", s(format!("W#{}", from.unix())))
            .expression_attribute_values(":to", s(format!("W#{}", to.unix() - 1)))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(newest).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        let mut minutes = output
            .items()
            .iter()
            .map(minute_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        minutes.reverse();
        Ok(minutes)
    }

    async fn roll_up_minutes(
        &self,
        key_id: KeyId,
        hour: Timestamp,
        minutes: &[MinuteUsage],
    ) -> Result<(), StoreError> {
        if minutes.is_empty() {
            return Ok(());
        }
        // Absolute values (`SET`), never `ADD`: a roll-up sent twice (an SDK retry, a request
        // retried, two instances racing) writes the same values, so nothing counts twice.
        let mut sets = vec!["expires_at = :expires".to_owned()];
        let mut update = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(usage_pk(key_id)))
            .key("sk", s(format!("H#{}", hour.unix())))
            .expression_attribute_values(":expires", n(hour.unix() + HOUR_RETENTION_SECONDS));
        for minute in minutes {
            let part = part_of(minute.start, MINUTE_SECONDS, HOUR_SECONDS);
            sets.push(format!("m{part:02} = :m{part:02}"));
            update = update.expression_attribute_values(
                format!(":m{part:02}"),
                s(minute.counts().to_stored()),
            );
        }
        let output = update
            .update_expression(format!("SET {}", sets.join(", ")))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(unavailable)?;
        let total = bucket_from_item(&output.attributes.unwrap_or_default(), 'm')?.total();
        let day = floor(hour, DAY_SECONDS);
        let part = part_of(hour, HOUR_SECONDS, DAY_SECONDS);
        self.connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(usage_pk(key_id)))
            .key("sk", s(format!("D#{}", day.unix())))
            .update_expression(format!("SET h{part:02} = :total, expires_at = :expires"))
            .expression_attribute_values(":total", s(total.to_stored()))
            .expression_attribute_values(":expires", n(day.unix() + DAY_RETENTION_SECONDS))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn usage_buckets(
        &self,
        key_id: KeyId,
        granularity: Granularity,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Bucket>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let (prefix, part) = match granularity {
            Granularity::Hour => ("H#", 'm'),
            Granularity::Day => ("D#", 'h'),
        };
        // Eventually consistent (half the price): buckets change once a minute at most, and
        // the live minutes laid over them are read consistently.
        let items: Vec<Item> = self
            .connected()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(usage_pk(key_id)))
            .expression_attribute_values(":from", s(format!("{prefix}{}", from.unix())))
            .expression_attribute_values(":to", s(format!("{prefix}{}", to.unix() - 1)))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(unavailable)?;
        items
            .iter()
            .map(|item| bucket_from_item(item, part))
            .collect()
    }
}
