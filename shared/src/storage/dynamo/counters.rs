//! Fixed-window counters: one item per window, counted with `ADD` and never sent twice.

use super::*;

impl DynamoStore {
    /// `ADD hits :delta` on one window item of a counter, returning the new count.
    ///
    /// An `ADD` is not idempotent: if a request was applied but its answer lost (a timeout, a
    /// dropped connection, a 500), sending it again counts it twice. So the SDK's own retries are
    /// off for these writes, and the store retries by itself only answers that prove nothing
    /// was written (throttling), within the operation timeout the SDK would have used. Anything
    /// else fails closed (503): at worst one request is counted that was not served.
    pub(super) async fn add_to_counter(
        &self,
        pk: String,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        let attributes = self
            .update_counter(
                pk,
                window_start,
                "ADD hits :one SET expires_at = :expires",
                vec![(":one", n(1)), (":expires", n(expires_at.unix()))],
                ReturnValue::UpdatedNew,
            )
            .await?;
        read_u64(&attributes, "hits")
    }

    /// One conditional `UpdateItem` that takes a count back from a counter's window item
    /// (`condition` keeps it above zero; `:zero` is bound here). Not retried: a lost answer
    /// leaves the count as it was, which costs the owner one place in a window at most. A
    /// failed condition (nothing to take back) is a success.
    pub(super) async fn take_back(
        &self,
        pk: String,
        window_start: Timestamp,
        update: String,
        condition: String,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let mut request = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(format!("W#{}", window_start.unix())))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_values(":zero", n(0));
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request
            .customize()
            .config_override(no_retries())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// One `UpdateItem` with `ADD` on a counter's window item, sent at most once per answer
    /// that proves nothing (see `add_to_counter`); returns the attributes asked for.
    pub(super) async fn update_counter(
        &self,
        pk: String,
        window_start: Timestamp,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
        returned: ReturnValue,
    ) -> Result<Item, StoreError> {
        let budget = self
            .client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_timeout())
            .unwrap_or(Duration::from_secs(2));
        let deadline = tokio::time::Instant::now() + budget;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .connected()
                .await
                .update_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(format!("W#{}", window_start.unix())))
                .update_expression(expression)
                .return_values(returned.clone());
            for (name, value) in &values {
                request = request.expression_attribute_values(*name, value.clone());
            }
            let request = request.customize().config_override(no_retries()).send();
            let result = tokio::time::timeout_at(deadline, request)
                .await
                .map_err(|_| StoreError::Unavailable("counter update timed out".into()))?;
            match result {
                Ok(output) => return Ok(output.attributes.unwrap_or_default()),
                Err(err) if attempt < 3 && not_applied(&err) => {
                    tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
    }
}

impl CounterStore for DynamoStore {
    async fn count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        expires_at: Timestamp,
    ) -> Result<u64, StoreError> {
        self.add_to_counter(counter.name(), window_start, expires_at)
            .await
    }

    async fn uncount(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> Result<(), StoreError> {
        // Never creates a window item (it would have no expiry).
        self.take_back(
            counter.name(),
            window_start,
            "ADD hits :minus_one".into(),
            "attribute_exists(pk) AND hits > :zero".into(),
            vec![(":minus_one", n(-1))],
        )
        .await
    }

    async fn count_up_to(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
        expires_at: Timestamp,
        limit: u64,
    ) -> Result<Option<u64>, StoreError> {
        // Not retried (see `add_to_counter`): a lost answer counts one send that was refused.
        let result = self
            .connected()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", s(counter.name()))
            .key("sk", s(format!("W#{}", window_start.unix())))
            .update_expression("ADD hits :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n(expires_at.unix()))
            .expression_attribute_values(":limit", n(limit))
            .return_values(ReturnValue::UpdatedNew)
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(output) => read_u64(&output.attributes.unwrap_or_default(), "hits").map(Some),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn current_count(
        &self,
        counter: Counter<'_>,
        window_start: Timestamp,
    ) -> Result<u64, StoreError> {
        match self
            .get(counter.name(), &format!("W#{}", window_start.unix()))
            .await?
        {
            Some(item) if item.contains_key("hits") => read_u64(&item, "hits"),
            _ => Ok(0),
        }
    }
}
