//! GitHub secret scanning's request signatures: the public keys in GitHub's JSON format
//! (`PublicKeys`), the two signature headers (`SignatureHeaders`) and the check that a raw body
//! was signed, ECDSA P-256 with SHA-256 (ASN.1 DER signature), by the key the headers name.

use std::collections::HashMap;

use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_ASN1};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::http::HeaderMap;
use serde::Deserialize;
use yebolink_shared::http::error::ApiError;

pub const KEY_IDENTIFIER_HEADER: &str = "github-public-key-identifier";
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";

/// Why a public key document could not be used. Operator-facing (logs), never a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyDocumentError {
    #[error("not GitHub's {{\"public_keys\": [...]}} JSON")]
    NotJson,
    #[error("public key {0}: not a PEM-encoded ECDSA P-256 public key")]
    NotP256(String),
    #[error("no public keys")]
    Empty,
}

/// One verifying key: parsed (and so known to be a P-256 point) when the document is read.
#[derive(Debug)]
pub struct VerifyingKey(ParsedPublicKey);

impl VerifyingKey {
    /// A `-----BEGIN PUBLIC KEY-----` PEM block (SubjectPublicKeyInfo DER inside), as GitHub
    /// publishes them. aws-lc accepts the SPKI DER itself and refuses any curve but P-256.
    pub fn from_pem(pem: &str) -> Option<Self> {
        let body = pem
            .trim()
            .strip_prefix("-----BEGIN PUBLIC KEY-----")?
            .strip_suffix("-----END PUBLIC KEY-----")?;
        let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD.decode(base64).ok()?;
        ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der)
            .ok()
            .map(Self)
    }

    fn verifies(&self, body: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(body, signature).is_ok()
    }
}

/// GitHub's public keys by identifier: `{"public_keys": [{"key_identifier", "key", "is_current"}]}`.
/// Keys that are no longer current still verify: GitHub may retry a report signed before a
/// rotation.
#[derive(Debug, Default)]
pub struct PublicKeys(HashMap<String, VerifyingKey>);

#[derive(Deserialize)]
struct KeyDocument {
    public_keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct KeyEntry {
    key_identifier: String,
    key: String,
}

impl PublicKeys {
    /// Every key must parse: a document with one bad key is refused whole, so a broken file or
    /// answer is noticed at once rather than when that key is used.
    pub fn from_json(raw: &[u8]) -> Result<Self, KeyDocumentError> {
        let document: KeyDocument =
            serde_json::from_slice(raw).map_err(|_| KeyDocumentError::NotJson)?;
        if document.public_keys.is_empty() {
            return Err(KeyDocumentError::Empty);
        }
        document
            .public_keys
            .into_iter()
            .map(|entry| match VerifyingKey::from_pem(&entry.key) {
                Some(key) => Ok((entry.key_identifier, key)),
                None => Err(KeyDocumentError::NotP256(entry.key_identifier)),
            })
            .collect::<Result<HashMap<_, _>, _>>()
            .map(Self)
    }

    pub fn contains(&self, key_identifier: &str) -> bool {
        self.0.contains_key(key_identifier)
    }

    /// Whether the named key signed `body`. An unknown identifier verifies nothing.
    pub fn verify(&self, body: &[u8], headers: &SignatureHeaders) -> Result<(), ApiError> {
        match self.0.get(&headers.key_identifier) {
            Some(key) if key.verifies(body, &headers.signature) => Ok(()),
            _ => Err(ApiError::InvalidSignature),
        }
    }
}

/// The two headers of a signed request: which key, and the DER signature (base64 on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub key_identifier: String,
    signature: Vec<u8>,
}

impl SignatureHeaders {
    /// Both headers present and the signature valid base64, else 401 `invalid_signature`.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(ApiError::InvalidSignature)
        };
        let key_identifier = header(KEY_IDENTIFIER_HEADER)?.to_owned();
        let signature = STANDARD
            .decode(header(SIGNATURE_HEADER)?)
            .map_err(|_| ApiError::InvalidSignature)?;
        Ok(Self {
            key_identifier,
            signature,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
    };
    use lambda_http::http::HeaderValue;

    /// A key pair standing in for GitHub's, and its public key in GitHub's format.
    pub(crate) struct Signer {
        pub key_identifier: String,
        pair: EcdsaKeyPair,
    }

    pub(crate) fn pem_of(pair: &EcdsaKeyPair) -> String {
        let der = pair.public_key().as_der().unwrap();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der.as_ref())
        )
    }

    impl Signer {
        pub(crate) fn new(key_identifier: &str) -> Self {
            Self {
                key_identifier: key_identifier.to_owned(),
                pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap(),
            }
        }

        pub(crate) fn document(signers: &[&Signer]) -> String {
            let keys: Vec<_> = signers
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "key_identifier": s.key_identifier,
                        "key": pem_of(&s.pair),
                        "is_current": true,
                    })
                })
                .collect();
            serde_json::json!({ "public_keys": keys }).to_string()
        }

        pub(crate) fn public_keys(&self) -> PublicKeys {
            PublicKeys::from_json(Self::document(&[self]).as_bytes()).unwrap()
        }

        pub(crate) fn signature(&self, body: &[u8]) -> String {
            let signature = self.pair.sign(&SystemRandom::new(), body).unwrap();
            STANDARD.encode(signature.as_ref())
        }

        pub(crate) fn headers(&self, body: &[u8]) -> HeaderMap {
            headers(&self.key_identifier, &self.signature(body))
        }
    }

    pub(crate) fn headers(key_identifier: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            KEY_IDENTIFIER_HEADER,
            HeaderValue::from_str(key_identifier).unwrap(),
        );
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers
    }

    fn check(keys: &PublicKeys, body: &[u8], headers: &HeaderMap) -> Result<(), ApiError> {
        keys.verify(body, &SignatureHeaders::from_headers(headers)?)
    }

    const BODY: &[u8] =
        br#"[{"token":"x","type":"yebolink_api_key","url":"u","source":"content"}]"#;

    #[test]
    fn a_body_signed_by_the_named_key_is_accepted() {
        let github = Signer::new("gh-1");
        assert_eq!(
            check(&github.public_keys(), BODY, &github.headers(BODY)),
            Ok(())
        );
    }

    #[test]
    fn a_key_that_is_no_longer_current_still_verifies() {
        let (old, new) = (Signer::new("old"), Signer::new("new"));
        let document = Signer::document(&[&old, &new]).replacen("true", "false", 1);
        let keys = PublicKeys::from_json(document.as_bytes()).unwrap();
        assert_eq!(check(&keys, BODY, &old.headers(BODY)), Ok(()));
        assert_eq!(check(&keys, BODY, &new.headers(BODY)), Ok(()));
    }

    #[test]
    fn a_tampered_body_is_rejected() {
        let github = Signer::new("gh-1");
        let signed = github.headers(BODY);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            check(&github.public_keys(), &tampered, &signed),
            Err(ApiError::InvalidSignature)
        );
        assert_eq!(
            check(&github.public_keys(), b"", &signed),
            Err(ApiError::InvalidSignature)
        );
    }

    #[test]
    fn a_signature_by_another_key_or_under_an_unknown_identifier_is_rejected() {
        let (github, other) = (Signer::new("gh-1"), Signer::new("gh-2"));
        let keys = github.public_keys();
        // Another key's signature presented under GitHub's identifier.
        let forged = headers("gh-1", &other.signature(BODY));
        assert_eq!(check(&keys, BODY, &forged), Err(ApiError::InvalidSignature));
        // A good signature under an identifier the document does not have.
        let unknown = headers("gh-unknown", &github.signature(BODY));
        assert_eq!(
            check(&keys, BODY, &unknown),
            Err(ApiError::InvalidSignature)
        );
    }

    #[test]
    fn missing_or_empty_headers_and_bad_base64_are_rejected() {
        let github = Signer::new("gh-1");
        let keys = github.public_keys();
        let good = github.headers(BODY);
        for missing in [KEY_IDENTIFIER_HEADER, SIGNATURE_HEADER] {
            let mut without = good.clone();
            without.remove(missing);
            assert_eq!(
                check(&keys, BODY, &without),
                Err(ApiError::InvalidSignature)
            );
        }
        for signature in ["", "not base64!", "AAAA", "%%%%"] {
            assert_eq!(
                check(&keys, BODY, &headers("gh-1", signature)),
                Err(ApiError::InvalidSignature),
                "{signature:?}"
            );
        }
        assert_eq!(
            check(&keys, BODY, &headers("", &github.signature(BODY))),
            Err(ApiError::InvalidSignature)
        );
    }

    #[test]
    fn a_document_with_a_key_on_another_curve_or_no_pem_is_refused() {
        let p384 = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).unwrap();
        let document = serde_json::json!({"public_keys": [
            {"key_identifier": "p384", "key": pem_of(&p384), "is_current": true}
        ]});
        assert_eq!(
            PublicKeys::from_json(document.to_string().as_bytes()).err(),
            Some(KeyDocumentError::NotP256("p384".into()))
        );
        for key in [
            "",
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----",
            "MFkw",
        ] {
            let document = serde_json::json!({"public_keys": [
                {"key_identifier": "k", "key": key, "is_current": true}
            ]});
            assert!(PublicKeys::from_json(document.to_string().as_bytes()).is_err());
        }
    }

    #[test]
    fn documents_that_are_not_githubs_format_are_refused() {
        for raw in [
            &b""[..],
            b"[]",
            b"{}",
            b"{\"public_keys\": []}",
            b"{\"public_keys\": [{}]}",
        ] {
            assert!(PublicKeys::from_json(raw).is_err(), "{raw:?}");
        }
    }
}
