//! Fuzzes what happens to a presented refresh token before the store sees it: the browser-mode
//! `Cookie` header parser (`tessera_verify::csrf::cookie_value`), the plausibility check of
//! `AuthService::refresh`/`session_of_refresh`/`logout` (`RefreshToken::is_plausible`), the
//! lookup hash (`hash_refresh_token`) and the successor derivation (`RefreshToken::successor_of`)
//! under a fixed master key, plus the master key's own text decoder (`MasterKey::from_encoded`).
//!
//! Each input is used as the whole `refresh_token` body value and, line by line, as `Cookie`
//! headers. Invariants: no panic; equal inputs give equal outputs; the hash is the SHA-256 of
//! the exact bytes presented; a successor is 43 base64url characters (256 bits), is itself
//! plausible, and differs from its predecessor; a cookie value is non-empty RFC 6265
//! cookie-octets; a decoded master key re-encodes to its text.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_core::keys::keyring::{MasterKey, RefreshKey};
use tessera_core::token::{MAX_REFRESH_TOKEN_LEN, RefreshToken, hash_refresh_token};
use tessera_verify::csrf::{REFRESH_COOKIE, cookie_value};

/// A fixed master key, so a crash reproduces byte for byte.
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn refresh_key() -> &'static RefreshKey {
    static KEY: OnceLock<RefreshKey> = OnceLock::new();
    KEY.get_or_init(|| {
        MasterKey::from_encoded(MASTER_KEY)
            .expect("fixed master key")
            .refresh_key()
    })
}

fn is_base64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_presented(presented: &str) {
    let hash = hash_refresh_token(presented);
    assert_eq!(hash, RefreshToken::presented(presented).hash());
    assert_eq!(hash, hash_refresh_token(&presented.to_owned()));

    let plausible = RefreshToken::is_plausible(presented);
    assert_eq!(
        plausible,
        !presented.is_empty() && presented.len() <= MAX_REFRESH_TOKEN_LEN
    );
    if !plausible {
        return;
    }
    let key = refresh_key();
    let next = RefreshToken::successor_of(presented, key);
    assert_eq!(
        next.expose(),
        RefreshToken::successor_of(presented, key).expose()
    );
    assert_eq!(next.expose().len(), 43, "a successor carries 256 bits");
    assert!(is_base64url(next.expose()));
    assert!(RefreshToken::is_plausible(next.expose()));
    assert_ne!(next.expose(), presented, "a token never succeeds itself");
    assert_ne!(next.hash(), hash);
    assert_eq!(next.hash(), hash_refresh_token(next.expose()));
    // The grace window leads forward along the chain: the next step is as well-formed.
    let after = RefreshToken::successor_of(next.expose(), key);
    assert_eq!(after.expose().len(), 43);
    assert_ne!(after.expose(), next.expose());
}

fn check_cookies(headers: &str) {
    let Some(value) = cookie_value(headers.lines(), REFRESH_COOKIE) else {
        return;
    };
    assert!(!value.is_empty());
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\')),
        "a cookie value is made of RFC 6265 cookie-octets"
    );
    assert!(headers.contains(value));
    assert_eq!(cookie_value(headers.lines(), REFRESH_COOKIE), Some(value));
    check_presented(value);
}

fn check_master_key(text: &str) {
    let Ok(key) = MasterKey::from_encoded(text) else {
        return;
    };
    assert_eq!(
        key.encode().as_str(),
        text.trim(),
        "canonical base64url only"
    );
    let again = MasterKey::from_encoded(text).expect("decodes twice");
    assert_eq!(key.refresh_key().mac(b"t"), again.refresh_key().mac(b"t"));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_presented(text);
    check_cookies(text);
    check_master_key(text);
});
