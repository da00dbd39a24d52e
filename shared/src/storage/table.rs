//! The table's definition, read from `infra/table.json`: the one description that local mode,
//! the integration tests and the SAM template (checked by `make lint`) all share.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;

pub const TABLE_JSON: &str = include_str!("../../../infra/table.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<Attribute>,
    pub key_schema: Vec<KeyElement>,
    pub global_secondary_indexes: Vec<Index>,
    pub billing_mode: String,
    pub time_to_live_attribute: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElement {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Index {
    pub index_name: String,
    pub key_schema: Vec<KeyElement>,
    pub projection: IndexProjection,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexProjection {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

pub fn definition() -> Result<TableDefinition, serde_json::Error> {
    serde_json::from_str(TABLE_JSON)
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn key_schema(elements: &[KeyElement]) -> Result<Vec<KeySchemaElement>, Error> {
    elements
        .iter()
        .map(|e| {
            Ok(KeySchemaElement::builder()
                .attribute_name(&e.attribute_name)
                .key_type(KeyType::from(e.key_type.as_str()))
                .build()?)
        })
        .collect()
}

/// Creates `name` from the definition and enables TTL where the endpoint supports it.
pub async fn create_table(client: &Client, name: &str) -> Result<(), Error> {
    let def = definition()?;
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(def.billing_mode.as_str()))
        .set_key_schema(Some(key_schema(&def.key_schema)?));
    for attribute in &def.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()?,
        );
    }
    for index in &def.global_secondary_indexes {
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(
                index.projection.projection_type.as_str(),
            ))
            .set_non_key_attributes(
                (!index.projection.non_key_attributes.is_empty())
                    .then(|| index.projection.non_key_attributes.clone()),
            )
            .build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(projection)
                .build()?,
        );
    }
    request.send().await?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(&def.time_to_live_attribute)
        .enabled(true)
        .build()?;
    // The local emulator may not implement TTL; expiry is also checked in code, so go on.
    if let Err(err) = client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        tracing::debug!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(err), "TTL not enabled");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_has_the_generic_keys_prefix_index_and_ttl() {
        let def = definition().unwrap();
        let keys: Vec<_> = def
            .key_schema
            .iter()
            .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
            .collect();
        assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
        assert_eq!(
            def.global_secondary_indexes[0].index_name,
            "key_prefix_index"
        );
        assert_eq!(
            def.global_secondary_indexes[0].key_schema[0].attribute_name,
            "key_prefix"
        );
        assert_eq!(def.billing_mode, "PAY_PER_REQUEST");
        assert_eq!(def.time_to_live_attribute, "expires_at");
    }
}
