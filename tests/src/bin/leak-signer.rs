//! `leak-signer`: plays GitHub secret scanning against a local stack.
//!
//! - `leak-signer keygen DIR`: writes `DIR/leak-report-public-keys.json` (GitHub's format, one
//!   current key: what `LEAK_REPORT_PUBLIC_KEYS_FILE` names) and
//!   `DIR/leak-report-private-key.pk8` (PKCS#8 DER). `scripts/lib.sh` runs it into
//!   `.data/leak-report/` (not in git) when the files are missing.
//! - `leak-signer sign PRIVATE_KEY_FILE < body.json`: prints the base64 signature of stdin,
//!   the value of `Github-Public-Key-Signature`.
//! - `leak-signer key-id PRIVATE_KEY_FILE`: prints the key's identifier, the value of
//!   `Github-Public-Key-Identifier`.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use yebolink_blackbox::leak_signing::{keygen, LeakSigner};

const USAGE: &str =
    "usage: leak-signer keygen DIR | sign PRIVATE_KEY_FILE < BODY | key-id PRIVATE_KEY_FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["keygen", dir] => keygen(Path::new(dir)).map(|(public, private)| {
            println!("{}\n{}", public.display(), private.display());
        }),
        ["sign", key] => LeakSigner::from_file(Path::new(key)).and_then(|signer| {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|err| format!("reading stdin: {err}"))?;
            println!("{}", signer.sign(&body));
            Ok(())
        }),
        ["key-id", key] => LeakSigner::from_file(Path::new(key))
            .map(|signer| println!("{}", signer.key_identifier())),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("leak-signer: {err}");
            ExitCode::FAILURE
        }
    }
}
