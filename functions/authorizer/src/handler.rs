//! The authorizer's answer to API Gateway: an IAM policy for the method ARN plus a context.
//! Allowed: the principal (`principal_type`, `workspace_id`, `key_id`/`user_id`, `scopes`).
//! Denied: `error_code`/`error_message`, which the gateway responses render as the envelope.
//! Database failure: an error, never an Allow; the gateway answers it with a 503.

use std::collections::HashMap;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::app::App;
use yebolink_shared::http::auth::{parse_ip, presented};
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::metrics::{Decided, Observed};
use yebolink_shared::services::auth::{context_for, decide_from, AuthError, Credential, Principal};
use yebolink_shared::storage::error::StoreError;
use yebolink_shared::storage::Store;

/// API Gateway's REST authorizer answer, with the context as a JSON map of strings.
pub type AuthorizerResponse = ApiGatewayCustomAuthorizerResponse<HashMap<String, Value>>;

#[derive(Debug, thiserror::Error)]
#[error("authorization unavailable: the key store could not be read")]
pub struct StoreUnavailable;

/// The decision for `event` and what it was, for the metric line.
pub async fn handle<S: Store>(
    app: &App<S>,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Decided<AuthorizerResponse, StoreUnavailable> {
    let mut observed = Observed::default();
    let answer = decide_event(app, event, &mut observed).await;
    Decided { answer, observed }
}

async fn decide_event<S: Store>(
    app: &App<S>,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    observed: &mut Observed,
) -> Result<AuthorizerResponse, StoreUnavailable> {
    let method_arn = event.method_arn.clone().unwrap_or_default();
    let path = event
        .resource
        .as_deref()
        .or(event.path.as_deref())
        .unwrap_or("");
    let Some(credential) = Credential::for_path(path) else {
        // A route with no credential of its own has no authorizer: never a real request.
        observed.decided(&Err(AuthError::InvalidToken));
        return Ok(deny(&ApiError::Unauthorized, method_arn));
    };
    // The gateway's own record of the caller's address (never a client-set header).
    let source_ip = event
        .request_context
        .identity
        .as_ref()
        .and_then(|identity| identity.source_ip.as_deref())
        .and_then(parse_ip);
    let decision = decide_from(
        &app.store,
        app.jwt.as_ref(),
        presented(&event.headers),
        credential,
        Timestamp::now(),
        source_ip.as_deref(),
    )
    .await;
    observed.decided(&decision);
    match decision {
        Ok(principal) => Ok(allow(&principal, method_arn)),
        // A store that cannot be read is an error (the gateway's 503); a corrupt item a Deny.
        Err(AuthError::Unavailable(StoreError::Unavailable(detail))) => {
            tracing::error!(error = %detail, "denying: key store unavailable");
            Err(StoreUnavailable)
        }
        Err(denial) => Ok(deny(&denial.into(), method_arn)),
    }
}

fn response(
    principal_id: String,
    effect: IamPolicyEffect,
    method_arn: String,
    context: HashMap<String, Value>,
) -> AuthorizerResponse {
    // The library's types are non-exhaustive: built from Default, field by field.
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = vec![method_arn];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = vec![statement];
    let mut response = AuthorizerResponse::default();
    response.principal_id = Some(principal_id);
    response.policy_document = policy;
    response.context = context;
    response
}

fn allow(principal: &Principal, method_arn: String) -> AuthorizerResponse {
    let principal_id = match principal {
        Principal::User(user) => user.user_id.to_string(),
        Principal::ApiKey(key) => key.key_id.to_string(),
    };
    response(
        principal_id,
        IamPolicyEffect::Allow,
        method_arn,
        context_for(principal),
    )
}

fn deny(denial: &ApiError, method_arn: String) -> AuthorizerResponse {
    let context = HashMap::from([
        ("error_code".to_owned(), Value::from(denial.code())),
        ("error_message".to_owned(), Value::from(denial.to_string())),
    ]);
    response(
        "anonymous".to_owned(),
        IamPolicyEffect::Deny,
        method_arn,
        context,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use yebolink_shared::domain::ids::{UserId, WorkspaceId};
    use yebolink_shared::domain::scopes::Scopes;
    use yebolink_shared::http::metrics::AuthorizerOutcome;
    use yebolink_shared::storage::memory::MemoryStore;
    use yebolink_shared::storage::traits::*;
    use yebolink_shared::testing::{app, deactivated_event, seed_key};

    const MESSAGES: &str = include_str!("../tests/fixtures/messages-request.json");
    const API_KEYS: &str = include_str!("../tests/fixtures/api-keys-request.json");

    /// A fixture event with its headers replaced.
    fn event(fixture: &str, headers: Value) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
        let mut raw: Value = serde_json::from_str(fixture).unwrap();
        raw["headers"] = headers;
        serde_json::from_value(raw).unwrap()
    }

    fn effect(response: &AuthorizerResponse) -> &'static str {
        match response.policy_document.statement[0].effect {
            IamPolicyEffect::Allow => "Allow",
            _ => "Deny",
        }
    }

    fn denial_code(response: &AuthorizerResponse) -> &str {
        response.context["error_code"].as_str().unwrap()
    }

    #[tokio::test]
    async fn a_valid_key_is_allowed_with_its_workspace_and_scopes() {
        let app = app();
        let workspace = WorkspaceId::new();
        let (secret, key) = seed_key(
            &app.store,
            workspace,
            Scopes::from_stored("read_messages").unwrap(),
        )
        .await;
        let response = handle(&app, event(MESSAGES, json!({"X-API-Key": secret})))
            .await
            .answer
            .unwrap();
        assert_eq!(effect(&response), "Allow");
        assert_eq!(response.context["principal_type"], "api_key");
        assert_eq!(response.context["workspace_id"], workspace.to_string());
        assert_eq!(response.context["key_id"], key.id.to_string());
        assert_eq!(response.context["scopes"], "read_messages");
        assert_eq!(
            response.policy_document.statement[0].resource,
            ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/api/v1/messages"]
        );
    }

    #[tokio::test]
    async fn the_first_use_records_last_used_at() {
        let app = app();
        let workspace = WorkspaceId::new();
        let (secret, _) = seed_key(&app.store, workspace, Scopes::all()).await;
        handle(&app, event(MESSAGES, json!({"x-api-key": secret})))
            .await
            .answer
            .unwrap();
        let keys = app.store.list_api_keys(workspace).await.unwrap();
        assert!(keys[0].last_used_at.is_some());
    }

    #[tokio::test]
    async fn missing_malformed_unknown_and_deactivated_keys_are_denied_alike() {
        let app = app();
        let workspace = WorkspaceId::new();
        let (secret, key) = seed_key(&app.store, workspace, Scopes::all()).await;
        app.store
            .deactivate_api_key(workspace, key.id, deactivated_event)
            .await
            .unwrap();
        let (unknown, _) = seed_key(&MemoryStore::new(), workspace, Scopes::all()).await;
        for (headers, outcome) in [
            (json!({}), AuthorizerOutcome::InvalidKey),
            (
                json!({"X-API-Key": "garbage"}),
                AuthorizerOutcome::InvalidKey,
            ),
            (
                json!({"X-API-Key": "ybk_1234567890abcdef1234567890abcdef1234567890abcdef"}),
                AuthorizerOutcome::InvalidKey,
            ),
            (json!({"X-API-Key": unknown}), AuthorizerOutcome::InvalidKey),
            (json!({"X-API-Key": secret}), AuthorizerOutcome::Deactivated),
        ] {
            let decided = handle(&app, event(MESSAGES, headers.clone())).await;
            assert_eq!(decided.observed.decision, Some(outcome), "{headers}");
            let response = decided.answer.unwrap();
            assert_eq!(effect(&response), "Deny", "{headers}");
            assert_eq!(denial_code(&response), "invalid_api_key");
            assert_eq!(response.context["error_message"], "Invalid API key");
        }
    }

    #[tokio::test]
    async fn a_user_token_is_allowed_on_management_routes_only() {
        let app = app();
        let jwt = app.jwt.as_ref().unwrap();
        let (user, workspace) = (UserId::new(), WorkspaceId::new());
        let token = jwt.issue(user, workspace, Timestamp::now()).unwrap();
        let bearer = json!({"Authorization": format!("Bearer {token}")});

        let response = handle(&app, event(API_KEYS, bearer.clone()))
            .await
            .answer
            .unwrap();
        assert_eq!(effect(&response), "Allow");
        assert_eq!(response.context["principal_type"], "user");
        assert_eq!(response.context["user_id"], user.to_string());

        let response = handle(&app, event(MESSAGES, bearer)).await.answer.unwrap();
        assert_eq!(denial_code(&response), "invalid_api_key");
    }

    #[tokio::test]
    async fn expired_alg_none_wrong_audience_and_api_keys_are_denied_on_management_routes() {
        let app = app();
        let (secret, _) = seed_key(&app.store, WorkspaceId::new(), Scopes::all()).await;
        let jwt = app.jwt.clone().unwrap();
        let expired = jwt
            .issue(
                UserId::new(),
                WorkspaceId::new(),
                Timestamp::from_unix(Timestamp::now().unix() - 7200),
            )
            .unwrap();
        let none_alg = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            expired.split('.').nth(1).unwrap()
        );
        let mut settings = yebolink_shared::testing::config().tokens;
        settings.audience = "another-api".into();
        let other_audience = yebolink_shared::services::jwt::JwtKeys::new(
            yebolink_shared::testing::TEST_JWT_SECRET,
            &settings,
        )
        .issue(UserId::new(), WorkspaceId::new(), Timestamp::now())
        .unwrap();
        let valid = jwt
            .issue(UserId::new(), WorkspaceId::new(), Timestamp::now())
            .unwrap();
        for headers in [
            json!({"Authorization": format!("Bearer {expired}")}),
            json!({"Authorization": format!("Bearer {none_alg}")}),
            json!({"Authorization": format!("Bearer {other_audience}")}),
            json!({"Authorization": format!("Bearer {secret}")}),
            json!({"X-API-Key": secret}),
            json!({"Authorization": format!("Bearer {valid}"), "X-API-Key": secret}),
            json!({"Authorization": valid}),
        ] {
            let response = handle(&app, event(API_KEYS, headers.clone()))
                .await
                .answer
                .unwrap();
            assert_eq!(effect(&response), "Deny", "{headers}");
            assert_eq!(denial_code(&response), "unauthorized");
        }
    }

    #[tokio::test]
    async fn a_database_failure_is_an_error_never_an_allow() {
        let app = app();
        let (secret, _) = seed_key(&app.store, WorkspaceId::new(), Scopes::all()).await;
        app.store.set_unavailable(true);
        let decided = handle(&app, event(MESSAGES, json!({"X-API-Key": secret}))).await;
        assert!(decided.answer.is_err());
        assert_eq!(decided.observed.decision, Some(AuthorizerOutcome::Error));
    }

    #[tokio::test]
    async fn garbage_keys_cost_no_database_read() {
        let app = app();
        app.store.set_unavailable(true);
        let response = handle(
            &app,
            event(MESSAGES, json!({"X-API-Key": "ybk_not-even-hex"})),
        )
        .await
        .answer
        .unwrap();
        assert_eq!(denial_code(&response), "invalid_api_key");
    }
}
