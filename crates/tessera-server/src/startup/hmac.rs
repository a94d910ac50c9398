//! HMAC mode: the signing secrets come from `TESSERA_HMAC_SECRET` (comma-separated) or from
//! `keys.hmac_secret_file` (one per line), never from the store, the command line or the
//! config file. The first secret signs; the others only verify, so a secret is rotated by
//! putting the new one first and removing the old one once its last token has expired.
//! Every verifier holds the secret, which is why nothing rotates automatically here.
//!
//! Only real random secrets are accepted (RFC 8725 §3.5): base64url without padding, decoding
//! to at least the hash output's length, and with the character variety random text has, so
//! that a passphrase typed into the variable is refused.

use std::collections::HashSet;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;
use tessera_core::keys::keyring::KeyRing;
use tessera_core::keys::signing::{Algorithm, SigningKey};
use zeroize::Zeroizing;

use super::StartupError;
use crate::config::Settings;

/// Fewest distinct characters accepted in one secret: random base64url text of 43 characters
/// (32 bytes) has about 31; a passphrase has far fewer.
const MIN_DISTINCT_CHARS: usize = 20;

/// The key ring of HMAC mode.
pub(crate) fn ring(settings: &Settings) -> Result<KeyRing, StartupError> {
    let alg = settings.keys.algorithm;
    let text: Zeroizing<String> =
        match (&settings.keys.hmac_secret, &settings.keys.hmac_secret_file) {
            (Some(env), _) => Zeroizing::new(env.expose_secret().replace(',', "\n")),
            (None, Some(file)) => read_file(file)?,
            (None, None) => {
                return Err(StartupError::Config(format!(
                    "{alg} needs TESSERA_HMAC_SECRET or keys.hmac_secret_file"
                )));
            }
        };
    let secrets: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if secrets.is_empty() {
        return Err(StartupError::Config("no HMAC secret given".to_owned()));
    }
    let mut keys = Vec::new();
    for (i, secret) in (0_i64..).zip(secrets) {
        let key = parse(alg, secret, i + 1)?;
        // Activation times 0, -1, -2, …: the first secret is always the latest to have
        // started, so it is the one that signs; the others only verify.
        keys.push((key, -i));
    }
    KeyRing::new(keys).ok_or_else(|| StartupError::Config("no HMAC secret given".to_owned()))
}

fn read_file(file: &Path) -> Result<Zeroizing<String>, StartupError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(file).map_err(|e| {
        StartupError::io(
            format!("cannot read the HMAC secret file {}", file.display()),
            e,
        )
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(StartupError::Config(format!(
            "the HMAC secret file {} is readable by group or others; run `chmod 600 {}`",
            file.display(),
            file.display()
        )));
    }
    std::fs::read_to_string(file)
        .map(Zeroizing::new)
        .map_err(|e| {
            StartupError::io(
                format!("cannot read the HMAC secret file {}", file.display()),
                e,
            )
        })
}

/// One secret as a signing key; errors name its position, never its text.
fn parse(alg: Algorithm, secret: &str, position: i64) -> Result<SigningKey, StartupError> {
    let refuse = |why: &str| {
        StartupError::Config(format!(
            "HMAC secret #{position} is refused: {why}; generate one with `tessera keys generate-secret --algorithm {alg}`"
        ))
    };
    let bytes = Zeroizing::new(
        URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| refuse("it is not base64url without padding"))?,
    );
    let needed = hash_len(alg);
    if bytes.len() < needed {
        return Err(refuse(&format!(
            "{alg} needs at least {needed} random bytes, this has {}",
            bytes.len()
        )));
    }
    if secret.chars().collect::<HashSet<_>>().len() < MIN_DISTINCT_CHARS {
        return Err(refuse("it does not look random (a passphrase?)"));
    }
    let kid = format!(
        "hs-{}",
        &URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &bytes),
            b"tessera hmac key id",
        ))[..16]
    );
    SigningKey::from_private(alg, Some(kid), &bytes).map_err(|e| refuse(&e.to_string()))
}

/// The hash output length of an HMAC algorithm, the minimum secret length (RFC 7518 §3.2).
pub(crate) fn hash_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize) -> String {
        let mut bytes = vec![0u8; n];
        aws_lc_rs::rand::fill(&mut bytes).unwrap();
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn random_secrets_of_the_hash_length_are_accepted() {
        for (alg, n) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            let key = parse(alg, &random(n), 1).unwrap();
            assert_eq!(key.alg(), alg);
            assert!(key.kid().starts_with("hs-"));
            assert!(key.public_jwk().is_none(), "never published");
        }
    }

    #[test]
    fn the_first_secret_signs_and_the_others_still_verify() {
        use secrecy::SecretString;
        let (new, old) = (random(32), random(32));
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_test(dir.path());
        settings.keys.algorithm = Algorithm::HS256;
        settings.keys.hmac_secret = Some(SecretString::from(format!("{new},{old}")));
        let keys = ring(&settings).unwrap();
        let signing = keys.signing_key_at(0);
        assert_eq!(
            signing.kid(),
            parse(Algorithm::HS256, &new, 1).unwrap().kid(),
            "the first secret signs"
        );
        assert_eq!(keys.verification_keys().len(), 2, "both verify");
        assert!(keys.jwks().keys.is_empty(), "nothing is published");

        // The same from a file, which must be owner-only.
        use std::os::unix::fs::PermissionsExt as _;
        let file = dir.path().join("hmac.secrets");
        std::fs::write(&file, format!("{new}\n{old}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        settings.keys.hmac_secret = None;
        settings.keys.hmac_secret_file = Some(file.clone());
        assert_eq!(ring(&settings).unwrap().verification_keys().len(), 2);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            ring(&settings)
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
    }

    #[test]
    fn short_padded_non_base64url_and_passphrase_secrets_are_refused_without_echoing_them() {
        let passphrase = "mysecretpasswordmysecretpasswordmysecretpassword";
        let cases = [
            (Algorithm::HS256, random(31), "too short"),
            (Algorithm::HS512, random(32), "too short for HS512"),
            (Algorithm::HS256, format!("{}=", random(32)), "padded"),
            (
                Algorithm::HS256,
                "correct horse battery staple correct horse".to_owned(),
                "spaces",
            ),
            (Algorithm::HS256, passphrase.to_owned(), "passphrase"),
        ];
        for (alg, secret, case) in cases {
            let err = parse(alg, &secret, 1).unwrap_err().to_string();
            assert!(err.contains("generate-secret"), "{case}: {err}");
            assert!(!err.contains(&secret), "{case}: the secret is never echoed");
        }
    }
}
