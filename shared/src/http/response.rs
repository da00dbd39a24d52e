//! The one place JSON responses are built: `Content-Type: application/json` and the envelope
//! `{"success": true, "data": ...}` / `{"success": false, "error": {"code", "message"}}`.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use crate::http::error::ApiError;

/// A success envelope around `data`.
pub fn success<T: Serialize>(status: StatusCode, data: &T) -> Response<Body> {
    match serde_json::to_string(&json!({ "success": true, "data": data })) {
        Ok(body) => with_json(status, body),
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            failure(&ApiError::Internal)
        }
    }
}

/// `data` itself as the body, with no envelope: only for a success answer whose shape an outside
/// protocol fixes (GitHub secret scanning reads a bare JSON array from leak reports). Errors
/// keep the envelope.
pub fn bare_json<T: Serialize>(status: StatusCode, data: &T) -> Response<Body> {
    match serde_json::to_string(data) {
        Ok(body) => with_json(status, body),
        Err(err) => {
            tracing::error!(error = %err, "response serialisation failed");
            failure(&ApiError::Internal)
        }
    }
}

/// The error envelope for `err`, with `Retry-After` where the error has one.
pub fn failure(err: &ApiError) -> Response<Body> {
    let body = json!({
        "success": false,
        "error": { "code": err.code(), "message": err.to_string() },
    })
    .to_string();
    let mut response = with_json(err.status(), body);
    if let Some(seconds) = err.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    // For the request's metric line (`http::metrics`), which reports what refused a 429.
    if let Some(limit) = err.limit_kind() {
        response.extensions_mut().insert(limit);
    }
    response
}

/// Either outcome of a handler as a response.
pub fn respond<T: Serialize>(result: Result<(StatusCode, T), ApiError>) -> Response<Body> {
    match result {
        Ok((status, data)) => success(status, &data),
        Err(err) => failure(&err),
    }
}

/// A response whose body is already serialised JSON (an idempotent replay).
pub fn with_json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::limits::LimitKind;

    fn body_json(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn success_wraps_data_in_the_envelope_with_json_content_type() {
        let response = success(StatusCode::CREATED, &json!({"id": 1}));
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            body_json(&response),
            json!({"success": true, "data": {"id": 1}})
        );
    }

    #[test]
    fn a_bare_body_is_the_data_alone_with_json_content_type() {
        let response = bare_json(StatusCode::OK, &json!([{"label": "false_positive"}]));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(body_json(&response), json!([{"label": "false_positive"}]));
    }

    #[test]
    fn rate_limited_failure_carries_retry_after() {
        let response = failure(&ApiError::RateLimited {
            retry_after: 17,
            limit: LimitKind::Workspace,
        });
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.extensions().get::<LimitKind>(),
            Some(&LimitKind::Workspace),
            "the metric line learns which limit refused"
        );
        assert_eq!(response.headers()["retry-after"], "17");
        assert_eq!(body_json(&response)["error"]["code"], "rate_limited");
        assert_eq!(body_json(&response)["success"], false);
    }
}
