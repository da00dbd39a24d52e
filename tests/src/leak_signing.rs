//! A local stand-in for GitHub secret scanning's signing key: `keygen` writes an ECDSA P-256
//! key pair (the public half in GitHub's `{"public_keys": [...]}` format, which the local
//! stack reads from `LEAK_REPORT_PUBLIC_KEYS_FILE`), and `LeakSigner` signs report bodies with
//! the private half as GitHub would. Used by `leak-signer` and `tests/leaks.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

pub const PUBLIC_KEYS_FILE: &str = "leak-report-public-keys.json";
pub const PRIVATE_KEY_FILE: &str = "leak-report-private-key.pk8";
/// The headers GitHub signs with (HTTP header names are case-insensitive).
pub const KEY_IDENTIFIER_HEADER: &str = "Github-Public-Key-Identifier";
pub const SIGNATURE_HEADER: &str = "Github-Public-Key-Signature";

pub struct LeakSigner {
    pair: EcdsaKeyPair,
}

impl LeakSigner {
    /// A fresh key pair, not written anywhere (a key the stack does not know).
    pub fn generate() -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .expect("generate a P-256 key");
        Self::from_pkcs8(pkcs8.as_ref()).expect("a fresh key parses")
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
            .map(|pair| Self { pair })
            .map_err(|err| format!("not a PKCS#8 P-256 private key: {err}"))
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let der = fs::read(path).map_err(|err| format!("{}: {err}", path.display()))?;
        Self::from_pkcs8(&der)
    }

    /// The signer whose key the local stack trusts: `YEBOLINK_LEAK_SIGNING_KEY` (set by
    /// `make test` and `make dev`'s scripts). Panics with instructions when it is unset.
    pub fn from_env() -> Self {
        let path = std::env::var_os("YEBOLINK_LEAK_SIGNING_KEY").unwrap_or_else(|| {
            panic!(
                "YEBOLINK_LEAK_SIGNING_KEY is not set: point it at the private key the stack's \
                 LEAK_REPORT_PUBLIC_KEYS_FILE pairs with (scripts/lib.sh writes both to \
                 .data/leak-report/)"
            )
        });
        Self::from_file(Path::new(&path)).unwrap_or_else(|err| panic!("{err}"))
    }

    /// SubjectPublicKeyInfo DER of the public key.
    fn public_der(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .expect("encode the public key")
            .as_ref()
            .to_vec()
    }

    /// Hex SHA-256 of the public key (GitHub's identifiers are opaque hex strings too).
    pub fn key_identifier(&self) -> String {
        hex(digest(&SHA256, &self.public_der()).as_ref())
    }

    pub fn public_key_pem(&self) -> String {
        let base64 = STANDARD.encode(self.public_der());
        let lines: Vec<&str> = base64
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// `{"public_keys": [{"key_identifier", "key", "is_current": true}]}`.
    pub fn public_keys_document(&self) -> String {
        let document = json!({"public_keys": [{
            "key_identifier": self.key_identifier(),
            "key": self.public_key_pem(),
            "is_current": true,
        }]});
        serde_json::to_string_pretty(&document).expect("serialise")
    }

    /// Base64 of the ASN.1 DER ECDSA signature of `body`: `Github-Public-Key-Signature`.
    pub fn sign(&self, body: &[u8]) -> String {
        let signature = self
            .pair
            .sign(&SystemRandom::new(), body)
            .expect("sign the body");
        STANDARD.encode(signature.as_ref())
    }
}

/// Writes `DIR/leak-report-public-keys.json` and `DIR/leak-report-private-key.pk8` (PKCS#8 DER,
/// readable by its owner only); returns their paths.
pub fn keygen(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .map_err(|err| format!("key generation failed: {err}"))?;
    let signer = LeakSigner::from_pkcs8(pkcs8.as_ref())?;
    let (public, private) = (dir.join(PUBLIC_KEYS_FILE), dir.join(PRIVATE_KEY_FILE));
    write_private(&private, pkcs8.as_ref())?;
    fs::write(&public, signer.public_keys_document() + "\n")
        .map_err(|err| format!("{}: {err}", public.display()))?;
    Ok((public, private))
}

#[cfg(unix)]
fn write_private(path: &Path, der: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(der))
        .map_err(|err| format!("{}: {err}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, der: &[u8]) -> Result<(), String> {
    fs::write(path, der).map_err(|err| format!("{}: {err}", path.display()))
}

/// Hex SHA-256 of `text`: the `token_hash` a report's answer names a token by.
pub fn sha256_hex(text: &str) -> String {
    hex(digest(&SHA256, text.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
