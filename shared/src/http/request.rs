//! Reading outside input from a request: the JSON body (size, content type, syntax), its fields
//! (each error names the field), path ids, query parameters (a page's limit, a usage range) and
//! headers. Nothing here panics on any input.

use std::str::FromStr;

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};

use crate::domain::timestamp::Timestamp;
use crate::domain::usage::{Granularity, UsageRange};
use crate::http::error::ApiError;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON object body. Content types accepted: none, `application/json` and `text/plain`: the
/// public docs' `fetch` examples send a JSON string with no Content-Type, which clients label
/// `text/plain`. Anything else (forms, XML, ...) is a 415.
pub fn json_object(req: &Request) -> Result<JsonObject, ApiError> {
    if let Some(content_type) = req.headers().get(CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .map_err(|_| ApiError::UnsupportedMediaType)?
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(essence.as_str(), "application/json" | "text/plain" | "") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(JsonObject(map)),
        Ok(_) => Err(ApiError::field("body", "must be a JSON object")),
        Err(_) => Err(ApiError::InvalidJson),
    }
}

/// Like `json_object`, for routes whose body is optional: an empty body is an empty object.
pub fn optional_json_object(req: &Request) -> Result<JsonObject, ApiError> {
    if req.body().as_ref().iter().all(u8::is_ascii_whitespace) {
        return Ok(JsonObject(Map::new()));
    }
    json_object(req)
}

/// Field access that reports which field is wrong. `null` counts as absent.
pub struct JsonObject(Map<String, Value>);

impl JsonObject {
    fn present(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// A field as sent, `null` included (`Some(Value::Null)`): for edits, where null clears.
    pub fn sent(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// The names of the fields sent.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn required_str(&self, field: &str) -> Result<&str, ApiError> {
        self.optional_str(field)?
            .ok_or_else(|| ApiError::field(field, "is required"))
    }

    pub fn optional_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::field(field, "must be a string")),
        }
    }

    pub fn optional_str_array(&self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::field(field, "must be an array of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::field(field, "must be an array of strings")),
        }
    }

    /// A whole number in `range`, or absent.
    pub fn optional_integer(
        &self,
        field: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ApiError> {
        let problem = || {
            ApiError::field(
                field,
                &format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        };
        match self.present(field) {
            None => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .filter(|v| range.contains(v))
                .map(Some)
                .ok_or_else(problem),
            Some(_) => Err(problem()),
        }
    }

    pub fn required_object(&self, field: &str) -> Result<JsonObject, ApiError> {
        match self.present(field) {
            None => Err(ApiError::field(field, "is required")),
            Some(Value::Object(map)) => Ok(JsonObject(map.clone())),
            Some(_) => Err(ApiError::field(field, "must be an object")),
        }
    }
}

/// A path parameter that names a resource. One that does not parse cannot name anything, so it
/// is a 404 like an unknown id.
pub fn path_id<T: FromStr>(req: &Request, name: &str) -> Result<T, ApiError> {
    req.path_parameters()
        .first(name)
        .and_then(|raw| raw.parse().ok())
        .ok_or(ApiError::NotFound)
}

/// Items per page of a listing when `limit` is not given, and the most it may ask for.
pub const DEFAULT_PAGE_LIMIT: usize = 20;
pub const MAX_PAGE_LIMIT: usize = 100;

/// The `limit` query parameter of a listing: 1 to 100, default 20.
pub fn page_limit(req: &Request) -> Result<usize, ApiError> {
    match query_param(req, "limit") {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
            .ok_or_else(|| ApiError::field("limit", "must be a whole number from 1 to 100")),
    }
}

pub fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters().first(name).map(str::to_owned)
}

/// A header as text; absent or not visible ASCII counts as absent.
pub fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The range a usage route's query asks for: `granularity` (`hour` or `day`, default `day`),
/// `from` and `to` (RFC 3339). Errors name the field.
pub fn query_range(req: &Request, now: Timestamp) -> Result<UsageRange, ApiError> {
    let granularity = match query_param(req, "granularity") {
        None => Granularity::Day,
        Some(raw) => Granularity::parse(&raw)
            .ok_or_else(|| ApiError::field("granularity", "must be hour or day"))?,
    };
    let time = |name: &str| {
        query_param(req, name)
            .map(|raw| {
                Timestamp::parse_rfc3339(&raw)
                    .ok_or_else(|| ApiError::field(name, "must be an RFC 3339 date-time"))
            })
            .transpose()
    };
    Ok(UsageRange::new(
        granularity,
        time("from")?,
        time("to")?,
        now,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    #[test]
    fn json_with_no_content_type_or_text_plain_is_accepted() {
        for ct in [
            None,
            Some("application/json"),
            Some("text/plain;charset=UTF-8"),
            Some("Application/JSON; charset=utf-8"),
        ] {
            assert!(json_object(&request(ct, r#"{"a":1}"#)).is_ok(), "{ct:?}");
        }
    }

    #[test]
    fn other_content_types_are_415() {
        let err = json_object(&request(Some("application/x-www-form-urlencoded"), "a=1")).err();
        assert_eq!(err, Some(ApiError::UnsupportedMediaType));
    }

    #[test]
    fn bodies_over_64_kib_are_413() {
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(
            json_object(&request(None, &big)).err(),
            Some(ApiError::PayloadTooLarge)
        );
    }

    #[test]
    fn syntax_errors_are_invalid_json_and_non_objects_name_the_body() {
        assert_eq!(
            json_object(&request(None, "{nope")).err(),
            Some(ApiError::InvalidJson)
        );
        assert_eq!(
            json_object(&request(None, "")).err(),
            Some(ApiError::InvalidJson)
        );
        assert_eq!(
            json_object(&request(None, "[1]")).err(),
            Some(ApiError::field("body", "must be a JSON object"))
        );
    }

    #[test]
    fn field_errors_name_the_field() {
        let body = json_object(&request(
            None,
            r#"{"name": 5, "scopes": "x", "gone": null}"#,
        ))
        .unwrap();
        assert_eq!(
            body.required_str("name").err(),
            Some(ApiError::field("name", "must be a string"))
        );
        assert_eq!(
            body.required_str("gone").err(),
            Some(ApiError::field("gone", "is required"))
        );
        assert!(body.optional_str_array("scopes").is_err());
        assert_eq!(body.optional_str_array("absent").unwrap(), None);
    }
}
