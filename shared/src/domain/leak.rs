//! Leaked-key reports (GitHub secret scanning's partner protocol): the report body as it
//! parses, each reported token hashed the moment it is read, and the verdict per token. The
//! deactivation of every key of ours that leaked is `services::leaks`; the function
//! `report-leaked-keys` checks the request's signature before anything here runs.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::invalid::InvalidField;
use crate::domain::keys::{ApiKeySecret, KeyHash};

/// Reports per request, as GitHub's protocol allows.
pub const MAX_REPORTS: usize = 100;

/// One reported token, with the token already reduced to its SHA-256: nothing keeps the raw
/// token, and what is ours is found by the hash alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReport {
    /// Hex SHA-256 of the token exactly as reported: what the answer names it by.
    pub token_hash: String,
    /// The stored form, when the token has our key format and checksum; `None` means it cannot
    /// be ours, and costs no database read.
    pub key_hash: Option<KeyHash>,
    pub token_type: String,
    pub url: String,
    pub source: String,
}

impl LeakReport {
    fn hashing(token: &str, token_type: String, url: String, source: String) -> Self {
        Self {
            token_hash: hex::encode(Sha256::digest(token.as_bytes())),
            key_hash: ApiKeySecret::parse(token).ok().map(|secret| secret.hash()),
            token_type,
            url,
            source,
        }
    }
}

/// The body: a JSON array of 1..=100 objects with string `token`, `type`, `url` and `source`
/// (other fields are ignored). Each error names the item and field at fault.
/// Why a report body was refused: not JSON at all, or a rule broken at a named place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidReports {
    NotJson,
    Field(InvalidField),
}

fn invalid(field: &str, problem: &str) -> InvalidReports {
    InvalidReports::Field(InvalidField::new(field, problem))
}

pub fn parse_reports(body: &[u8]) -> Result<Vec<LeakReport>, InvalidReports> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => return Err(invalid("body", "must be a JSON array of reports")),
        Err(_) => return Err(InvalidReports::NotJson),
    };
    if items.is_empty() || items.len() > MAX_REPORTS {
        return Err(invalid(
            "body",
            &format!("must hold 1 to {MAX_REPORTS} reports, not {}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let Value::Object(fields) = item else {
                return Err(invalid(&format!("body[{index}]"), "must be an object"));
            };
            let text = |name: &str| match fields.get(name) {
                Some(Value::String(value)) => Ok(value.as_str()),
                None | Some(Value::Null) => {
                    Err(invalid(&format!("body[{index}].{name}"), "is required"))
                }
                Some(_) => Err(invalid(
                    &format!("body[{index}].{name}"),
                    "must be a string",
                )),
            };
            // Every field is checked before the token is hashed, so a bad item costs no hash.
            let (token, token_type, url, source) =
                (text("token")?, text("type")?, text("url")?, text("source")?);
            Ok(LeakReport::hashing(
                token,
                token_type.to_owned(),
                url.to_owned(),
                source.to_owned(),
            ))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakLabel {
    /// A key of ours, active or not.
    TruePositive,
    FalsePositive,
}

/// One entry of the answer GitHub reads: `{"token_hash", "token_type", "label"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakVerdict {
    pub token_hash: String,
    pub token_type: String,
    pub label: LeakLabel,
}

/// Labels every report and deactivates each active key of ours among them, in order, each with
/// an `api_key.leak_reported` event (actor: the reporter's `source`; details: `url`, `source`)
/// written in the deactivation's transaction. Per report of a well-formed key: one strongly
/// consistent read, plus the deactivation when the key is active. A database failure stops the
/// whole request (503): GitHub sends it again, and the keys this attempt already deactivated
/// are then true positives that need nothing more.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{leak_report as item, leak_reports_body as body, sha256_hex};
    use serde_json::json;

    fn message(err: InvalidReports) -> String {
        match err {
            InvalidReports::Field(InvalidField { field, problem }) => format!("{field}: {problem}"),
            InvalidReports::NotJson => panic!("a JSON body was refused as not JSON"),
        }
    }

    #[test]
    fn each_token_is_kept_only_as_its_sha256() {
        let key = ApiKeySecret::generate().unwrap().expose_once();
        let reports = parse_reports(&body(&[item(&key), item("garbage")])).unwrap();
        assert_eq!(reports[0].token_hash, sha256_hex(&key));
        assert_eq!(
            reports[0].key_hash.as_ref().map(KeyHash::as_str),
            Some(sha256_hex(&key).as_str())
        );
        assert_eq!(reports[1].token_hash, sha256_hex("garbage"));
        assert_eq!(reports[1].key_hash, None);
        assert!(!format!("{reports:?}").contains(&key[4..]));
        assert_eq!(reports[0].url, "https://github.com/o/r/blob/1/f");
        assert_eq!(reports[0].source, "content");
        assert_eq!(reports[0].token_type, "yebolink_api_key");
    }

    #[test]
    fn a_mistyped_key_cannot_be_ours() {
        let key = ApiKeySecret::generate().unwrap().expose_once();
        let typo = format!("{}0", &key[..key.len() - 1]);
        let typo = if typo == key {
            format!("{}1", &key[..key.len() - 1])
        } else {
            typo
        };
        let reports = parse_reports(&body(&[item(&typo), item(&format!(" {key}"))])).unwrap();
        assert!(reports.iter().all(|r| r.key_hash.is_none()));
        assert_eq!(reports[1].token_hash, sha256_hex(&format!(" {key}")));
    }

    #[test]
    fn the_body_must_be_an_array_of_1_to_100_reports() {
        assert_eq!(parse_reports(b"not json"), Err(InvalidReports::NotJson));
        for raw in [&b"{}"[..], b"\"x\"", b"null", b"1"] {
            assert!(
                message(parse_reports(raw).unwrap_err()).starts_with("body: must be a JSON array")
            );
        }
        assert!(message(parse_reports(b"[]").unwrap_err()).contains("1 to 100 reports, not 0"));
        let many: Vec<Value> = (0..101).map(|i| item(&format!("t{i}"))).collect();
        assert!(message(parse_reports(&body(&many)).unwrap_err()).contains("not 101"));
        assert_eq!(parse_reports(&body(&many[..100])).unwrap().len(), 100);
    }

    #[test]
    fn a_bad_item_is_named_by_index_and_field() {
        let mut missing = item("t");
        missing.as_object_mut().unwrap().remove("url");
        let mut number = item("t");
        number["source"] = json!(5);
        let mut null = item("t");
        null["token"] = Value::Null;
        for (bad, expected) in [
            (json!("t"), "body[1]: must be an object"),
            (missing, "body[1].url: is required"),
            (number, "body[1].source: must be a string"),
            (null, "body[1].token: is required"),
            (json!({}), "body[1].token: is required"),
        ] {
            assert_eq!(
                message(parse_reports(&body(&[item("ok"), bad])).unwrap_err()),
                expected
            );
        }
    }
}
