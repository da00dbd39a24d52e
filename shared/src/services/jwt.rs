//! User session tokens: HS256 JWTs with issuer, audience, expiry, subject (user) and workspace.
//! The algorithm is pinned, so `alg: none` or an RS/HS confusion never verifies.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::timestamp::Timestamp;

/// Who tokens are issued by and for, and how long they live (`JWT_ISSUER`, `JWT_AUDIENCE`,
/// `JWT_TTL_SECONDS`, read by `bootstrap::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl_seconds: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    /// Workspace id.
    wid: String,
    iat: i64,
    exp: i64,
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserClaims {
    pub user_id: UserId,
    pub workspace_id: WorkspaceId,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidToken;

impl JwtKeys {
    pub fn new(secret: &[u8], settings: &TokenSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_seconds: settings.ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    pub fn issue(
        &self,
        user_id: UserId,
        workspace_id: WorkspaceId,
        now: Timestamp,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id.to_string(),
            wid: workspace_id.to_string(),
            iat: now.unix(),
            exp: now.plus_seconds(self.ttl_seconds).unix(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    pub fn verify(&self, token: &str) -> Result<UserClaims, InvalidToken> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| InvalidToken)?;
        Ok(UserClaims {
            user_id: data.claims.sub.parse().map_err(|_| InvalidToken)?,
            workspace_id: data.claims.wid.parse().map_err(|_| InvalidToken)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

    fn keys_with(secret: &[u8], issuer: &str, audience: &str) -> JwtKeys {
        let settings = TokenSettings {
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_seconds: 3600,
        };
        JwtKeys::new(secret, &settings)
    }

    fn keys() -> JwtKeys {
        keys_with(SECRET, "yebolink", "yebolink-api")
    }

    #[test]
    fn issued_token_verifies_to_its_user_and_workspace() {
        let (user, ws) = (UserId::new(), WorkspaceId::new());
        let token = keys().issue(user, ws, Timestamp::now()).unwrap();
        assert_eq!(
            keys().verify(&token).unwrap(),
            UserClaims {
                user_id: user,
                workspace_id: ws
            }
        );
    }

    #[test]
    fn expired_token_is_rejected() {
        let past = Timestamp::from_unix(Timestamp::now().unix() - 7200);
        let token = keys()
            .issue(UserId::new(), WorkspaceId::new(), past)
            .unwrap();
        assert_eq!(keys().verify(&token), Err(InvalidToken));
    }

    #[test]
    fn wrong_secret_issuer_or_audience_is_rejected() {
        let now = Timestamp::now();
        for other in [
            keys_with(
                b"another-secret-another-secret-another",
                "yebolink",
                "yebolink-api",
            ),
            keys_with(SECRET, "someone-else", "yebolink-api"),
            keys_with(SECRET, "yebolink", "another-api"),
        ] {
            let token = other.issue(UserId::new(), WorkspaceId::new(), now).unwrap();
            assert_eq!(keys().verify(&token), Err(InvalidToken));
        }
    }

    #[test]
    fn alg_none_and_tampered_tokens_are_rejected() {
        let token = keys()
            .issue(UserId::new(), WorkspaceId::new(), Timestamp::now())
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            keys().verify(&format!("{none_header}.{}.", parts[1])),
            Err(InvalidToken)
        );

        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["wid"] = WorkspaceId::new().to_string().into();
        let forged = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert_eq!(
            keys().verify(&format!("{}.{forged}.{}", parts[0], parts[2])),
            Err(InvalidToken)
        );
        assert_eq!(keys().verify("not.a.jwt"), Err(InvalidToken));
        assert_eq!(keys().verify(""), Err(InvalidToken));
    }
}
