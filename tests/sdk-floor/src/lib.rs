//! The SDK floor of a cold start, for `make bench` (docs/performance.md): what the authorizer
//! and the messaging functions cannot do without in this project's shape. The same init as
//! theirs (`App`: config, the DynamoDB client, the warm-up's connections) but no logging and
//! no JWT keys, and per request the same DynamoDB calls on items of the same shape, but no
//! validation, no decision and no JSON view. Each answers as its function would only when
//! its calls found what the function's would (the harness checks), so a run that timed
//! nothing fails. Counters and sent messages go to `FLOOR#` partitions: the floors never
//! count against the real functions' limits. Not shipped.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use lambda_runtime::Error;
use serde_json::{json, Value};
use yebolink_shared::domain::ids::MessageId;
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::gate::{ADMIT_ALONGSIDE_CALLS, ADMIT_THEN_CALLS};
use yebolink_shared::lambda_http::request::RequestContext;
use yebolink_shared::lambda_http::{Body, Request, RequestExt, Response};
use yebolink_shared::storage::dynamo::DynamoStore;

/// The warm-up's connections of the function `AWS_LAMBDA_FUNCTION_NAME` names, as its own
/// `main` asks for.
pub fn warm_connections(function_name: &str) -> usize {
    if function_name.ends_with("send-message") {
        ADMIT_THEN_CALLS
    } else {
        ADMIT_ALONGSIDE_CALLS
    }
}

/// The authorizer's one call for an API key: the consistent read of its hash's item. `Allow`
/// when the item exists, whatever it holds.
pub async fn key_hash_read(store: &DynamoStore, event: Value) -> Result<Value, Error> {
    let header = event["headers"]["X-API-Key"].as_str().unwrap_or_default();
    let hash = ApiKeySecret::parse(header)
        .map_err(|_| "no well-formed X-API-Key")?
        .hash();
    let read = store
        .connected()
        .await
        .get_item()
        .table_name(store.table_name())
        .key("pk", s(format!("KEYHASH#{}", hash.as_str())))
        .key("sk", s("KEYHASH"))
        .consistent_read(true)
        .send()
        .await?;
    let effect = if read.item.is_some() { "Allow" } else { "Deny" };
    Ok(json!({
        "principalId": "sdk-floor",
        "policyDocument": { "Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"] }] },
    }))
}

/// A messaging request's calls, by route: the workspace's and the key's rate-limit counters
/// at once, with get-message's consistent read or list-messages' page query beside them, or
/// followed by send-message's conditional put (`http::gate::admit_alongside`, `admit_then`).
pub async fn messaging_calls(store: &DynamoStore, req: Request) -> Result<Response<Body>, Error> {
    let Some(RequestContext::ApiGatewayV1(context)) = req.request_context_ref() else {
        return Err("no API Gateway request context".into());
    };
    let field = |name: &str| context.authorizer.fields.get(name).and_then(Value::as_str);
    let (workspace, key) = field("workspace_id")
        .zip(field("key_id"))
        .ok_or("no key context")?;
    let minute = Timestamp::now().unix() / 60 * 60;
    let counters = async {
        tokio::try_join!(
            count(store, format!("FLOOR#RATE#WS#{workspace}"), minute, false),
            count(store, format!("FLOOR#RATE#{key}"), minute, true),
        )
    };
    let client = store.connected().await;
    let workspace_pk = format!("WS#{workspace}");
    let message_id = req
        .path_parameters_ref()
        .and_then(|p| p.first("id").map(str::to_owned));
    let (status, found) = match (req.method().as_str(), message_id) {
        ("GET", Some(id)) => {
            let read = client
                .get_item()
                .table_name(store.table_name())
                .key("pk", s(workspace_pk))
                .key("sk", s(format!("MSG#{id}")))
                .consistent_read(true)
                .send();
            let (_, read) = tokio::try_join!(counters, async { Ok::<_, Error>(read.await?) })?;
            (200, read.item.is_some())
        }
        ("GET", None) => {
            let page = client
                .query()
                .table_name(store.table_name())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(workspace_pk))
                .expression_attribute_values(":prefix", s("MSG#"))
                .scan_index_forward(false)
                .limit(21)
                .send();
            let (_, page) = tokio::try_join!(counters, async { Ok::<_, Error>(page.await?) })?;
            (200, page.count > 0)
        }
        _ => {
            counters.await?;
            let body: Value = match req.body() {
                Body::Text(text) => serde_json::from_str(text)?,
                _ => return Err("no JSON body".into()),
            };
            let text = |v: &Value| s(v.as_str().unwrap_or_default());
            let id = MessageId::new().to_string();
            let item = HashMap::from([
                ("pk".to_owned(), s(format!("FLOOR#{workspace_pk}"))),
                ("sk".to_owned(), s(format!("MSG#{id}"))),
                ("message_id".to_owned(), s(id)),
                ("key_id".to_owned(), s(key)),
                ("to".to_owned(), text(&body["to"])),
                ("channel".to_owned(), text(&body["channel"])),
                ("text".to_owned(), text(&body["content"]["text"])),
                ("status".to_owned(), s("queued")),
                ("segments".to_owned(), n(1)),
                ("created_at".to_owned(), n(minute)),
            ]);
            client
                .put_item()
                .table_name(store.table_name())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await?;
            (201, true)
        }
    };
    let status = if found { status } else { 404 };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(
            json!({ "data": { "found": found } }).to_string(),
        ))?)
}

/// One rate-limit counter's `UpdateItem`, shaped as the store's (`ADD`, expiry, and for a
/// key its limit and all of its minute's counts back).
async fn count(store: &DynamoStore, pk: String, minute: i64, key: bool) -> Result<(), Error> {
    let (expression, returned) = if key {
        (
            "ADD ok :one SET expires_at = :expires, lim = :limit",
            ReturnValue::AllNew,
        )
    } else {
        (
            "ADD hits :one SET expires_at = :expires",
            ReturnValue::UpdatedNew,
        )
    };
    let mut update = store
        .connected()
        .await
        .update_item()
        .table_name(store.table_name())
        .key("pk", s(pk))
        .key("sk", s(format!("W#{minute}")))
        .update_expression(expression)
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":expires", n(minute + 7200))
        .return_values(returned);
    if key {
        update = update.expression_attribute_values(":limit", n(1000));
    }
    update.send().await?;
    Ok(())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
