//! Property tests for every parser of outside input: API keys, emails, passwords, names, phone
//! numbers, SMS segment counts, scopes, JSON request bodies, JWTs and pagination cursors.
//!
//! Each property runs proptest's default number of cases (256, or `PROPTEST_CASES`); a failure
//! prints the shrunk input and is saved under `shared/tests/proptest-regressions/`. The common
//! thread: arbitrary input never panics, and whatever a parser accepts satisfies the documented
//! rule (so the handlers built on these parsers cannot be talked into anything else).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use lambda_http::http::{HeaderValue, Request as HttpRequest};
use lambda_http::{Body, Request};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;
use uuid::Uuid;
use yebolink_shared::domain::account::{DisplayName, Email, Password};
use yebolink_shared::domain::ids::{MessageId, UserId, WorkspaceId};
use yebolink_shared::domain::keys::ApiKeySecret;
use yebolink_shared::domain::message::{is_e164, sms_segments};
use yebolink_shared::domain::scopes::{Scope, Scopes, ScopesError};
use yebolink_shared::domain::timestamp::Timestamp;
use yebolink_shared::http::cursor::{decode_cursor, encode_cursor};
use yebolink_shared::http::error::ApiError;
use yebolink_shared::http::request::{json_object, MAX_BODY_BYTES};
use yebolink_shared::services::jwt::{InvalidToken, JwtKeys, TokenSettings, UserClaims};

// ---- strategies --------------------------------------------------------------------------------

/// Strings that stress parsers: anything at all, plus ASCII, control and format characters,
/// emoji and lookalikes in a mix.
fn nasty_string(max: usize) -> impl Strategy<Value = String> {
    let nasty_char = prop_oneof![
        any::<char>(),
        proptest::char::range(' ', '~'),
        select(vec![
            '\0', '\u{1b}', '\u{7f}', '\u{85}', '\u{200b}', '\u{202e}', '\u{2028}', '\u{feff}',
            '\t', '\n', '\r', '@', '.', '+', ':', '😀', 'ß', 'İ', 'K', '\u{0301}',
        ]),
    ];
    prop::collection::vec(nasty_char, 0..max).prop_map(|chars| chars.into_iter().collect())
}

fn workspace_id() -> impl Strategy<Value = WorkspaceId> {
    any::<u128>().prop_map(|n| WorkspaceId::from(Uuid::from_u128(n)))
}

fn message_id() -> impl Strategy<Value = MessageId> {
    any::<u128>().prop_map(|n| MessageId::from(Uuid::from_u128(n)))
}

/// A key built the documented way from 20 arbitrary bytes: `ybk_` + 40 hex + CRC32 of both.
fn well_formed_key() -> impl Strategy<Value = String> {
    any::<[u8; 20]>().prop_map(|random| {
        let body = format!("ybk_{}", hex::encode(random));
        format!("{body}{:08x}", crc32fast::hash(body.as_bytes()))
    })
}

fn jwt_keys(secret: &[u8], issuer: &str, audience: &str, ttl: i64) -> JwtKeys {
    let settings = TokenSettings {
        issuer: issuer.into(),
        audience: audience.into(),
        ttl_seconds: ttl,
    };
    JwtKeys::new(secret, &settings)
}

const SECRET: &[u8] = b"property-test-secret-property-test-secret";

fn server_keys() -> JwtKeys {
    jwt_keys(SECRET, "yebolink", "yebolink-api", 3600)
}

fn request_with(content_type: Option<&HeaderValue>, body: Vec<u8>) -> Request {
    let mut builder = HttpRequest::builder().method("POST").uri("/x");
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct.clone());
    }
    builder.body(Body::Binary(body)).unwrap()
}

/// Content types the API accepts, in the spellings clients send.
fn accepted_content_type() -> impl Strategy<Value = Option<String>> {
    let essence = select(vec![
        "application/json",
        "text/plain",
        "Application/JSON",
        "TEXT/PLAIN",
    ]);
    let parameter = select(vec!["", "; charset=utf-8", ";charset=UTF-8", " ; foo=bar"]);
    prop_oneof![
        1 => Just(None),
        4 => (essence, parameter).prop_map(|(e, p)| Some(format!("{e}{p}"))),
    ]
}

/// Arbitrary JSON values (bounded depth and size).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        nasty_string(20).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(8), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---- API keys ----------------------------------------------------------------------------------

proptest! {
    #[test]
    fn api_key_parse_never_panics_and_accepts_only_the_documented_format(raw in prop_oneof![
        nasty_string(64),
        "ybk_[0-9a-fA-F]{40,56}",
        "[yY][bB][kK]_[0-9a-f]{48}",
    ]) {
        if ApiKeySecret::parse(&raw).is_ok() {
            prop_assert_eq!(raw.len(), 52);
            prop_assert!(raw.starts_with("ybk_"));
            prop_assert!(raw[4..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            let expected = format!("{:08x}", crc32fast::hash(&raw.as_bytes()[..44]));
            prop_assert_eq!(&raw[44..], expected.as_str());
        }
    }

    #[test]
    fn api_key_parse_accepts_every_well_formed_key(key in well_formed_key()) {
        let parsed = ApiKeySecret::parse(&key);
        prop_assert!(parsed.is_ok());
        let secret = parsed.unwrap();
        let prefix = secret.prefix();
        prop_assert_eq!(prefix.as_str(), format!("{}...", &key[..11]));
        prop_assert_eq!(secret.expose_once(), key);
    }

    #[test]
    fn api_key_parse_accepts_every_generated_key(_case in any::<u8>()) {
        let key = ApiKeySecret::generate().unwrap().expose_once();
        prop_assert!(ApiKeySecret::parse(&key).is_ok());
    }

    /// CRC32 detects every error confined to 32 consecutive bits, so any one-character change
    /// (a typo) is refused without a database read, wherever it is and whatever replaces it.
    #[test]
    fn api_key_parse_rejects_any_single_character_change(
        key in well_formed_key(),
        index in 0usize..52,
        replacement in prop_oneof![select(b"0123456789abcdefABCDEFybk_".to_vec()).prop_map(char::from), any::<char>()],
    ) {
        let mut chars: Vec<char> = key.chars().collect();
        prop_assume!(chars[index] != replacement);
        chars[index] = replacement;
        let typo: String = chars.iter().collect();
        prop_assert!(ApiKeySecret::parse(&typo).is_err(), "accepted {typo:?}");
    }

    #[test]
    fn api_key_parse_rejects_a_dropped_or_inserted_character(
        key in well_formed_key(),
        index in 0usize..52,
        inserted in select(b"0123456789abcdef".to_vec()),
    ) {
        let mut dropped = key.clone();
        dropped.remove(index);
        prop_assert!(ApiKeySecret::parse(&dropped).is_err());
        let mut longer = key.clone();
        longer.insert(index, char::from(inserted));
        prop_assert!(ApiKeySecret::parse(&longer).is_err());
    }
}

// ---- emails, passwords, names ------------------------------------------------------------------

proptest! {
    #[test]
    fn email_parse_never_panics_and_accepted_emails_follow_the_rules(raw in prop_oneof![
        nasty_string(80),
        "[ -~]{0,30}@[ -~]{0,30}",
    ]) {
        if let Ok(email) = Email::parse(&raw) {
            let s = email.as_str();
            prop_assert_eq!(s, raw.trim().to_lowercase());
            prop_assert!(s.len() <= 254);
            prop_assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control()), "{s:?}");
            let (local, domain) = s.split_once('@').expect("an @");
            prop_assert!(!local.is_empty() && local.len() <= 64);
            prop_assert!(!domain.contains('@') && domain.contains('.'));
            prop_assert!(!domain.starts_with('.') && !domain.ends_with('.') && !domain.contains(".."));
            // Parsing is idempotent: the stored form parses to itself.
            prop_assert_eq!(Email::parse(s).map(|e| e.as_str().to_owned()), Ok(s.to_owned()));
        }
    }

    #[test]
    fn email_parse_accepts_ordinary_addresses_case_insensitively(
        local in "[A-Za-z0-9][A-Za-z0-9._%+-]{0,30}",
        labels in prop::collection::vec("[A-Za-z0-9-]{1,15}", 2..4),
        padding in select(vec!["", " ", "\t", "  "]),
    ) {
        let raw = format!("{padding}{local}@{}{padding}", labels.join("."));
        let email = Email::parse(&raw);
        prop_assert!(email.is_ok(), "{raw:?} refused");
        let lower = Email::parse(&raw.to_ascii_lowercase()).unwrap();
        let upper = Email::parse(&raw.to_ascii_uppercase()).unwrap();
        prop_assert_eq!(email.unwrap(), lower.clone());
        prop_assert_eq!(upper, lower);
    }

    #[test]
    fn password_parse_accepts_exactly_12_to_256_characters_unchanged(raw in prop_oneof![
        nasty_string(300),
        proptest::collection::vec(any::<char>(), 10..14).prop_map(|c| c.into_iter().collect()),
        proptest::collection::vec(any::<char>(), 254..259).prop_map(|c| c.into_iter().collect()),
    ]) {
        let chars = raw.chars().count();
        match Password::parse(&raw) {
            Ok(password) => {
                prop_assert!((12..=256).contains(&chars));
                // Never trimmed or normalised: the password is what was typed.
                prop_assert_eq!(password.expose(), raw.as_str());
            }
            Err(_) => prop_assert!(!(12..=256).contains(&chars)),
        }
    }

    #[test]
    fn display_name_parse_keeps_trimmed_text_without_control_characters(raw in prop_oneof![
        nasty_string(120),
        proptest::collection::vec(any::<char>(), 95..106).prop_map(|c| c.into_iter().collect()),
    ]) {
        let trimmed = raw.trim();
        let ok_rule = (1..=100).contains(&trimmed.chars().count())
            && !trimmed.chars().any(char::is_control);
        match DisplayName::parse(&raw) {
            Ok(name) => {
                prop_assert!(ok_rule, "accepted {raw:?}");
                prop_assert_eq!(name.as_str(), trimmed);
                prop_assert_eq!(DisplayName::parse(name.as_str()), Ok(name.clone()));
            }
            Err(_) => prop_assert!(!ok_rule, "refused {raw:?}"),
        }
    }
}

// ---- phone numbers and SMS segments ------------------------------------------------------------

fn e164_rule(raw: &str) -> bool {
    let Some(digits) = raw.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.chars().count())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

proptest! {
    #[test]
    fn is_e164_matches_the_documented_rule(raw in prop_oneof![
        nasty_string(20),
        "\\+[0-9]{0,17}",
        "\\+?[1-9][0-9]{6,15}[a-z ]?",
        "\\+[٠-٩0-9]{8,15}",
    ]) {
        prop_assert_eq!(is_e164(&raw), e164_rule(&raw), "{:?}", raw);
    }

    #[test]
    fn is_e164_accepts_every_valid_number(raw in "\\+[1-9][0-9]{7,14}") {
        prop_assert!(is_e164(&raw));
    }

    /// Bounds: at least one segment; no more than UCS-2 would need (67 units per part), no fewer
    /// than the most generous packing (160 per part).
    #[test]
    fn sms_segments_are_bounded(text in prop_oneof![
        nasty_string(400),
        "[ -~€\\[\\]{}^~|]{0,500}",
    ]) {
        let segments = u64::from(sms_segments(&text));
        let units = text.encode_utf16().count() as u64;
        prop_assert!(segments >= 1);
        prop_assert!(segments <= units.div_ceil(67).max(1), "{segments} for {units} units");
        prop_assert!(segments >= units.div_ceil(160), "{segments} for {units} units");
    }

    /// Appending text never lowers the count (a non-GSM character switches the whole message to
    /// UCS-2, which only ever needs more parts).
    #[test]
    fn sms_segments_are_monotone_in_length(
        text in prop_oneof![nasty_string(300), "[ -~€]{0,400}"],
        more in prop_oneof![nasty_string(50), "[ -~€]{0,200}"],
    ) {
        let longer = format!("{text}{more}");
        prop_assert!(sms_segments(&text) <= sms_segments(&longer));
        // Same alphabet, one more character: never fewer parts, at most one more.
        let plus_one = format!("{text}a");
        let (a, b) = (sms_segments(&text), sms_segments(&plus_one));
        prop_assert!(a <= b && b <= a + 1, "{a} -> {b}");
    }

    #[test]
    fn sms_segments_of_plain_gsm_text_are_exact(len in 0usize..2000) {
        let text = "a".repeat(len);
        let expected = if len <= 160 { 1 } else { len.div_ceil(153) };
        prop_assert_eq!(sms_segments(&text) as usize, expected);
    }
}

// ---- scopes ------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn scopes_from_request_accepts_exactly_non_empty_lists_of_known_names(
        requested in proptest::option::of(prop::collection::vec(
            prop_oneof![
                4 => select(vec!["send_messages", "read_messages"]).prop_map(str::to_owned),
                1 => nasty_string(16),
                1 => select(vec!["SEND_MESSAGES", " read_messages", "admin", ""]).prop_map(str::to_owned),
            ],
            0..6,
        )),
    ) {
        let result = Scopes::from_request(requested.as_deref());
        match &requested {
            None => prop_assert_eq!(result, Ok(Scopes::all())),
            Some(names) => {
                let unknown = names.iter().find(|n| Scope::parse(n).is_none());
                match (unknown, names.is_empty(), result) {
                    (Some(name), _, result) => {
                        prop_assert_eq!(result, Err(ScopesError::Unknown(name.clone())));
                    }
                    (None, true, result) => prop_assert_eq!(result, Err(ScopesError::Empty)),
                    (None, false, Ok(scopes)) => {
                        // Canonical order, no duplicates, exactly the requested set.
                        let got: Vec<&str> = scopes.names().collect();
                        let expected: Vec<&str> = Scope::ALL
                            .iter()
                            .map(Scope::as_str)
                            .filter(|s| names.iter().any(|n| n == s))
                            .collect();
                        prop_assert_eq!(&got, &expected);
                        prop_assert_eq!(Scopes::from_stored(&scopes.to_stored()), Ok(scopes.clone()));
                        let mut reversed = names.clone();
                        reversed.reverse();
                        prop_assert_eq!(Scopes::from_request(Some(&reversed)), Ok(scopes));
                    }
                    (None, false, Err(err)) => prop_assert!(false, "refused {names:?}: {err:?}"),
                }
            }
        }
    }
}

// ---- JSON request bodies -----------------------------------------------------------------------

proptest! {
    /// Whatever the bytes and the Content-Type, `json_object` answers without panicking, and it
    /// succeeds only for an accepted content type with a body of at most 64 KiB that is a JSON
    /// object; every failure is one of the documented 4xx errors.
    #[test]
    fn json_object_never_panics_and_accepts_only_json_objects(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            nasty_string(100).prop_map(String::into_bytes),
        ],
        content_type in prop_oneof![
            accepted_content_type(),
            nasty_string(30).prop_map(Some),
            select(vec![
                "application/x-www-form-urlencoded", "application/xml", "text/xml",
                "multipart/form-data; boundary=x", "application/jsonp", "application/json-patch+json",
                "text/html", "*/*",
            ]).prop_map(|s| Some(s.to_owned())),
        ],
    ) {
        // A header value a client could actually send (HTTP forbids some bytes).
        let header = match &content_type {
            None => None,
            Some(ct) => match HeaderValue::from_bytes(ct.as_bytes()) {
                Ok(value) => Some(value),
                Err(_) => return Ok(()),
            },
        };
        let essence = content_type
            .as_deref()
            .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        // A header that is not ASCII text is refused whatever it says.
        let accepted_type = content_type.as_deref().is_none_or(str::is_ascii)
            && matches!(essence.as_deref(), None | Some("application/json" | "text/plain" | ""));
        let result = json_object(&request_with(header.as_ref(), body.clone()));
        match result {
            Ok(_) => {
                prop_assert!(accepted_type, "accepted Content-Type {content_type:?}");
                prop_assert!(body.len() <= MAX_BODY_BYTES);
                prop_assert!(matches!(serde_json::from_slice::<Value>(&body), Ok(Value::Object(_))));
            }
            Err(err) => {
                prop_assert!(err.status().is_client_error(), "{err:?}");
                let expected = if !accepted_type {
                    ApiError::UnsupportedMediaType
                } else {
                    match serde_json::from_slice::<Value>(&body) {
                        Ok(Value::Object(_)) if body.len() > MAX_BODY_BYTES => ApiError::PayloadTooLarge,
                        Ok(Value::Object(_)) => {
                            return Err(TestCaseError::fail(format!("a JSON object was refused: {err:?}")));
                        }
                        Ok(_) if body.len() > MAX_BODY_BYTES => ApiError::PayloadTooLarge,
                        Ok(_) => ApiError::field("body", "must be a JSON object"),
                        Err(_) if body.len() > MAX_BODY_BYTES => ApiError::PayloadTooLarge,
                        Err(_) => ApiError::InvalidJson,
                    }
                };
                prop_assert_eq!(err, expected);
            }
        }
    }

    #[test]
    fn json_object_accepts_every_json_object_and_keeps_its_fields(
        fields in prop::collection::btree_map(nasty_string(10), json_value(), 0..8),
        content_type in accepted_content_type(),
        pretty in any::<bool>(),
    ) {
        let object = Value::Object(fields.clone().into_iter().collect());
        let text = if pretty { serde_json::to_string_pretty(&object).unwrap() } else { object.to_string() };
        let header = content_type.as_deref().map(|ct| HeaderValue::from_str(ct).unwrap());
        let parsed = json_object(&request_with(header.as_ref(), text.into_bytes()));
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let parsed = parsed.unwrap();
        for (name, value) in &fields {
            match value {
                Value::String(s) => prop_assert_eq!(parsed.required_str(name).unwrap(), s.as_str()),
                Value::Null => prop_assert!(parsed.optional_str(name).unwrap().is_none()),
                _ => {
                    let err = parsed.required_str(name).unwrap_err();
                    prop_assert_eq!(err, ApiError::field(name, "must be a string"));
                }
            }
        }
    }

    #[test]
    fn json_object_refuses_bodies_over_64_kib(extra in 1usize..2048) {
        let body = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_BODY_BYTES - 8 + extra));
        prop_assume!(body.len() > MAX_BODY_BYTES);
        prop_assert_eq!(json_object(&request_with(None, body.into_bytes())).err(), Some(ApiError::PayloadTooLarge));
    }
}

// ---- JWTs --------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn jwt_verify_rejects_arbitrary_strings(token in prop_oneof![
        nasty_string(200),
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,120}\\.[A-Za-z0-9_-]{0,60}",
        "eyJ[A-Za-z0-9_-]{10,60}\\.eyJ[A-Za-z0-9_-]{10,200}\\.[A-Za-z0-9_-]{43}",
    ]) {
        prop_assert_eq!(server_keys().verify(&token), Err(InvalidToken));
    }

    #[test]
    fn jwt_verify_accepts_every_issued_token_for_its_user_and_workspace(
        user in any::<u128>(),
        workspace in any::<u128>(),
        age in 0i64..3000,
    ) {
        let (user_id, workspace_id) = (UserId::from(Uuid::from_u128(user)), WorkspaceId::from(Uuid::from_u128(workspace)));
        let now = Timestamp::from_unix(Timestamp::now().unix() - age);
        let token = server_keys().issue(user_id, workspace_id, now).unwrap();
        prop_assert_eq!(server_keys().verify(&token), Ok(UserClaims { user_id, workspace_id }));
    }

    /// A real token with any one byte changed, dropped or added never verifies: not in the
    /// header, not in the claims, not in the signature (including its last character's unused
    /// bits, which the decoder refuses).
    #[test]
    fn jwt_verify_never_accepts_a_mutated_token(
        index in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".to_vec()),
            any::<u8>(),
        ],
        mutation in 0u8..3,
    ) {
        let token = server_keys().issue(UserId::new(), WorkspaceId::new(), Timestamp::now()).unwrap();
        let mut bytes = token.clone().into_bytes();
        let at = index.index(bytes.len());
        match mutation {
            0 => {
                prop_assume!(bytes[at] != replacement);
                bytes[at] = replacement;
            }
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, replacement),
        }
        let mutated = String::from_utf8_lossy(&bytes).into_owned();
        prop_assume!(mutated != token);
        prop_assert_eq!(server_keys().verify(&mutated), Err(InvalidToken), "{}", mutated);
    }

    /// The claims of a real token rewritten (another workspace or user, a later expiry, another
    /// audience) and re-encoded, with the original header and signature kept.
    #[test]
    fn jwt_verify_never_accepts_rewritten_claims(
        field in select(vec!["wid", "sub", "exp", "aud", "iss", "iat"]),
        other in any::<u128>(),
    ) {
        let token = server_keys().issue(UserId::new(), WorkspaceId::new(), Timestamp::now()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims[field] = match field {
            "exp" | "iat" => Value::from((other % 1_000_000_000) as i64 + 2_000_000_000),
            _ => Value::from(Uuid::from_u128(other).to_string()),
        };
        let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
        prop_assert_eq!(server_keys().verify(&forged), Err(InvalidToken));
    }

    /// Tokens this service did not sign, or that are expired, or meant for someone else.
    #[test]
    fn jwt_verify_rejects_foreign_expired_and_misaddressed_tokens(
        secret in prop::collection::vec(any::<u8>(), 32..64),
        expired_by in 1i64..10_000_000,
        which in 0u8..4,
    ) {
        prop_assume!(secret != SECRET);
        let now = Timestamp::now();
        let (issuer, issued_at) = match which {
            0 => (jwt_keys(&secret, "yebolink", "yebolink-api", 3600), now),
            1 => (server_keys(), Timestamp::from_unix(now.unix() - 3600 - expired_by)),
            2 => (jwt_keys(SECRET, "someone-else", "yebolink-api", 3600), now),
            _ => (jwt_keys(SECRET, "yebolink", "another-api", 3600), now),
        };
        let token = issuer.issue(UserId::new(), WorkspaceId::new(), issued_at).unwrap();
        prop_assert_eq!(server_keys().verify(&token), Err(InvalidToken));
    }
}

// ---- pagination cursors ------------------------------------------------------------------------

proptest! {
    #[test]
    fn cursor_round_trips_within_its_workspace(ws in workspace_id(), id in message_id()) {
        prop_assert_eq!(decode_cursor(&encode_cursor(ws, id), ws), Ok(id));
    }

    #[test]
    fn cursor_of_one_workspace_is_refused_by_any_other(ws in workspace_id(), other in workspace_id(), id in message_id()) {
        prop_assume!(ws != other);
        let err = decode_cursor::<MessageId>(&encode_cursor(ws, id), other).unwrap_err();
        prop_assert_eq!(err.code(), "validation_error");
        prop_assert!(err.to_string().starts_with("cursor:"));
    }

    #[test]
    fn cursor_decode_never_panics_on_arbitrary_strings(raw in prop_oneof![
        nasty_string(120),
        "[A-Za-z0-9_-]{0,120}",
        (any::<Vec<u8>>()).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
    ], ws in workspace_id()) {
        if let Err(err) = decode_cursor::<MessageId>(&raw, ws) {
            prop_assert_eq!(err.code(), "validation_error");
        }
    }

    /// A hand-edited cursor (one character changed) either is refused or still names the same
    /// workspace: an edit can never carry a listing into another workspace.
    #[test]
    fn an_edited_cursor_never_leaves_its_workspace(
        ws in workspace_id(),
        other in workspace_id(),
        id in message_id(),
        index in any::<prop::sample::Index>(),
        replacement in select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()),
    ) {
        prop_assume!(ws != other);
        let cursor = encode_cursor(ws, id);
        let mut bytes = cursor.clone().into_bytes();
        let at = index.index(bytes.len());
        prop_assume!(bytes[at] != replacement);
        bytes[at] = replacement;
        let edited = String::from_utf8(bytes).unwrap();
        prop_assert!(decode_cursor::<MessageId>(&edited, other).is_err());
        if let Ok(decoded) = decode_cursor(&edited, ws) {
            // Accepted only because it still says `ws`; it names a message id of that workspace's
            // key space, and the listing query is scoped to `ws` anyway.
            let text = String::from_utf8(URL_SAFE_NO_PAD.decode(&edited).unwrap()).unwrap();
            let (workspace, message) = text.split_once(':').unwrap();
            prop_assert_eq!(workspace.parse::<WorkspaceId>().ok(), Some(ws));
            prop_assert_eq!(message.parse::<MessageId>().ok(), Some(decoded));
        }
    }
}
