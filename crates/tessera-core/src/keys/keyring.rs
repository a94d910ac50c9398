//! The master key and the key ring.
//!
//! Private signing keys are stored in the database sealed with AES-256-GCM under a 256-bit
//! master key that never enters the database (it comes from `TESSERA_MASTER_KEY` or an
//! owner-only file), so a copy of the database alone reveals no private key. Each record has
//! its own random 96-bit nonce, and the key id and algorithm are the associated data: a sealed
//! key moved to another row, or relabelled with another algorithm, fails to open.
//!
//! The [`KeyRing`] is the set of usable keys built from the store at start: the active key
//! signs; every published key verifies.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_verify::{Algorithm, Jwk, JwkSet, VerificationKey};
use zeroize::Zeroizing;

use crate::error::KeyringError;
use crate::keys::signing::SigningKey;
use crate::store::SealedSecret;

/// The 256-bit key that seals private signing keys at rest.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Result<Self, KeyringError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| KeyringError::Crypto)?;
        Ok(Self(bytes))
    }

    /// Parses the base64url (no padding) text form; surrounding whitespace is ignored so a
    /// key file may end with a newline.
    pub fn from_encoded(text: &str) -> Result<Self, KeyringError> {
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| KeyringError::BadMasterKey)?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyringError::BadMasterKey)?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The base64url text form, for writing the key file.
    pub fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.as_ref()))
    }

    /// The key that derives each refresh token's successor (HKDF-SHA256 of the master key with
    /// its own label, so it is independent of the sealing key and shared by every instance
    /// that has the master key).
    pub fn refresh_key(&self) -> RefreshKey {
        RefreshKey(self.derive(b"tessera refresh-token successor v1"))
    }

    /// The key that derives each session's CSRF token (browser mode): HKDF-SHA256 of the
    /// master key with its own label, so every instance derives the same tokens.
    pub fn csrf_key(&self) -> CsrfKey {
        CsrfKey(self.derive(b"tessera csrf token v1"))
    }

    /// The key that authenticates what the OpenID Connect sign-in hands the browser to carry
    /// (the single sign-on cookie, the pending authorization request, the sign-in form's CSRF
    /// token): HKDF-SHA256 of the master key with its own label, shared by every instance.
    pub fn browser_key(&self) -> BrowserKey {
        BrowserKey(self.derive(b"tessera browser sign-in v1"))
    }

    fn derive(&self, label: &'static [u8]) -> hmac::Key {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tessera");
        let prk = salt.extract(self.0.as_ref());
        let info: [&[u8]; 1] = [label];
        match prk.expand(&info, hmac::HMAC_SHA256).map(hmac::Key::from) {
            Ok(key) => key,
            // HKDF can only fail for an output longer than 255 hash blocks; ours is one block.
            Err(_) => hmac::Key::new(hmac::HMAC_SHA256, self.0.as_ref()),
        }
    }

    fn cipher(&self) -> Result<LessSafeKey, KeyringError> {
        let key =
            UnboundKey::new(&AES_256_GCM, self.0.as_ref()).map_err(|_| KeyringError::Crypto)?;
        Ok(LessSafeKey::new(key))
    }

    /// Seals `plaintext` for the key `kid` of algorithm `alg`.
    pub fn seal(
        &self,
        kid: &str,
        alg: Algorithm,
        plaintext: &[u8],
    ) -> Result<SealedSecret, KeyringError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KeyringError::Crypto)?;
        let mut in_out = plaintext.to_vec();
        self.cipher()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(kid, alg)),
                &mut in_out,
            )
            .map_err(|_| KeyringError::Crypto)?;
        Ok(SealedSecret {
            nonce: nonce.to_vec(),
            ciphertext: in_out,
        })
    }

    /// Opens what [`MasterKey::seal`] sealed for the same `kid` and `alg`.
    pub fn open(
        &self,
        kid: &str,
        alg: Algorithm,
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let unseal = || KeyringError::Unseal {
            kid: kid.to_owned(),
        };
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| unseal())?;
        let mut in_out = Zeroizing::new(sealed.ciphertext.clone());
        let plain_len = self
            .cipher()?
            .open_in_place(nonce, Aad::from(associated_data(kid, alg)), in_out.as_mut())
            .map_err(|_| unseal())?
            .len();
        in_out.truncate(plain_len);
        Ok(in_out)
    }
}

/// Derives refresh-token successors: `successor = HMAC-SHA256(refresh key, presented token)`.
/// Deterministic, so a retried or concurrent refresh of the same token leads to the same
/// successor, while the database (which holds only hashes) cannot produce a live token.
#[derive(Clone)]
pub struct RefreshKey(hmac::Key);

impl fmt::Debug for RefreshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshKey(<redacted>)")
    }
}

impl RefreshKey {
    /// The HMAC of `token` under this key.
    pub fn mac(&self, token: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.0, token);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

/// Derives a session's CSRF token: `base64url(HMAC-SHA256(csrf key, session id))`. A page of
/// an allowed origin learns it from the login or refresh response; other pages cannot (see
/// `tessera_verify::csrf`).
#[derive(Clone)]
pub struct CsrfKey(hmac::Key);

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    /// The CSRF token of the session `session_id`.
    pub fn token_for(&self, session_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, session_id.as_bytes()).as_ref())
    }
}

/// Authenticates values the browser carries for the sign-in: `HMAC-SHA256(key, purpose ‖ 0 ‖
/// value)`, so a MAC made for one purpose never passes for another.
#[derive(Clone)]
pub struct BrowserKey(hmac::Key);

impl fmt::Debug for BrowserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserKey(<redacted>)")
    }
}

impl BrowserKey {
    /// `value.MAC` in base64url, for `purpose`.
    pub fn seal(&self, purpose: &str, value: &str) -> String {
        format!("{value}.{}", self.mac(purpose, value))
    }

    /// The `value` of a [`BrowserKey::seal`] output for `purpose`, if its MAC is right
    /// (compared in constant time).
    pub fn open<'a>(&self, purpose: &str, sealed: &'a str) -> Option<&'a str> {
        let (value, mac) = sealed.rsplit_once('.')?;
        let expected = self.mac(purpose, value);
        bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            mac.as_bytes(),
        ))
        .then_some(value)
    }

    fn mac(&self, purpose: &str, value: &str) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(purpose.as_bytes());
        context.update(&[0]);
        context.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(context.sign().as_ref())
    }
}

fn associated_data(kid: &str, alg: Algorithm) -> Vec<u8> {
    format!("tessera signing key v1\0{kid}\0{}", alg.as_str()).into_bytes()
}

/// The published keys, each with the time it starts signing. The signing key at any moment
/// is the one that started most recently, so every instance with the same keys and a
/// reasonably synchronised clock picks the same one without coordinating.
#[derive(Debug, Clone)]
pub struct KeyRing {
    /// By activation time, oldest first.
    keys: Vec<(Arc<SigningKey>, i64)>,
    /// The oldest key, signing while no key's time has come yet.
    oldest: Arc<SigningKey>,
    /// Imported public keys: published and verifying, never signing.
    public_only: Vec<Jwk>,
}

impl KeyRing {
    /// A ring from keys and their activation times (Unix seconds). `None` if empty.
    pub fn new(mut keys: Vec<(SigningKey, i64)>) -> Option<Self> {
        if keys.is_empty() {
            return None;
        }
        keys.sort_by_key(|(_, activates_at)| *activates_at);
        let keys: Vec<(Arc<SigningKey>, i64)> =
            keys.into_iter().map(|(k, at)| (Arc::new(k), at)).collect();
        let oldest = keys.first()?.0.clone();
        Some(Self {
            keys,
            oldest,
            public_only: Vec::new(),
        })
    }

    /// Adds imported public keys, which verify (and are published) but never sign.
    pub fn with_public_keys(mut self, keys: Vec<Jwk>) -> Self {
        self.public_only = keys;
        self
    }

    /// The key that signs at `now`: the latest one whose activation time has come, or the
    /// oldest if none has (a ring whose only keys are pending).
    pub fn signing_key_at(&self, now: i64) -> &Arc<SigningKey> {
        self.keys
            .iter()
            .rev()
            .find(|(_, at)| *at <= now)
            .map_or(&self.oldest, |(key, _)| key)
    }

    /// Verification keys for every key in the ring.
    pub fn verification_keys(&self) -> Vec<VerificationKey> {
        let signing = self.keys.iter().map(|(k, _)| k.verification_key());
        // Imported public keys were checked when imported; one that no longer parses is skipped.
        let public = self
            .public_only
            .iter()
            .filter_map(|jwk| VerificationKey::from_jwk(jwk).ok());
        signing.chain(public).collect()
    }

    /// The public JWK Set (HMAC secrets are never published).
    pub fn jwks(&self) -> JwkSet {
        let signing = self.keys.iter().filter_map(|(k, _)| k.public_jwk());
        JwkSet {
            keys: signing.chain(self.public_only.iter().cloned()).collect(),
        }
    }

    /// The kids in the ring with their activation times.
    pub fn kids(&self) -> impl Iterator<Item = (&str, i64)> {
        let public = self
            .public_only
            .iter()
            .map(|jwk| (jwk.kid.as_deref().unwrap_or(""), i64::MIN));
        self.keys.iter().map(|(k, at)| (k.kid(), *at)).chain(public)
    }
}

/// The current key ring, replaced as keys rotate; shared by the token issuer and the server.
#[derive(Debug)]
pub struct CurrentKeys(std::sync::RwLock<Arc<KeyRing>>);

impl CurrentKeys {
    /// Starts with `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self(std::sync::RwLock::new(Arc::new(ring)))
    }

    /// The ring now.
    pub fn get(&self) -> Arc<KeyRing> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the ring.
    pub fn set(&self, ring: KeyRing) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_only_with_the_same_key_kid_and_alg() {
        let master = MasterKey::generate().unwrap();
        let sealed = master
            .seal("kid-1", Algorithm::EdDSA, b"private bytes")
            .unwrap();
        assert_ne!(
            sealed.ciphertext,
            b"private bytes".to_vec(),
            "ciphertext must not be the plaintext"
        );
        assert_eq!(
            master
                .open("kid-1", Algorithm::EdDSA, &sealed)
                .unwrap()
                .as_slice(),
            b"private bytes"
        );

        assert!(
            master.open("kid-2", Algorithm::EdDSA, &sealed).is_err(),
            "another kid"
        );
        assert!(
            master.open("kid-1", Algorithm::ES256, &sealed).is_err(),
            "another alg"
        );
        let other = MasterKey::generate().unwrap();
        assert!(
            other.open("kid-1", Algorithm::EdDSA, &sealed).is_err(),
            "another master key"
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(
            master.open("kid-1", Algorithm::EdDSA, &tampered).is_err(),
            "tampered ciphertext"
        );
    }

    #[test]
    fn the_refresh_key_is_stable_per_master_key_and_differs_between_master_keys() {
        let master = MasterKey::generate().unwrap();
        let again = MasterKey::from_encoded(&master.encode()).unwrap();
        let other = MasterKey::generate().unwrap();
        assert_eq!(
            master.refresh_key().mac(b"t"),
            again.refresh_key().mac(b"t")
        );
        assert_ne!(
            master.refresh_key().mac(b"t"),
            other.refresh_key().mac(b"t")
        );
        assert_ne!(
            master.refresh_key().mac(b"t"),
            master.refresh_key().mac(b"u")
        );
    }

    #[test]
    fn csrf_tokens_are_per_session_per_master_key_and_not_refresh_successors() {
        let master = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let token = master.csrf_key().token_for("s1");
        assert_eq!(token, master.csrf_key().token_for("s1"));
        assert_ne!(token, master.csrf_key().token_for("s2"));
        assert_ne!(token, other.csrf_key().token_for("s1"));
        assert_ne!(
            token,
            URL_SAFE_NO_PAD.encode(master.refresh_key().mac(b"s1")),
            "the two derived keys are independent"
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let master = MasterKey::generate().unwrap();
        let a = master.seal("k", Algorithm::EdDSA, b"same").unwrap();
        let b = master.seal("k", Algorithm::EdDSA, b"same").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn master_key_round_trips_through_its_text_form_and_refuses_bad_text() {
        let master = MasterKey::generate().unwrap();
        let text = master.encode();
        assert_eq!(text.len(), 43);
        let again = MasterKey::from_encoded(&format!("{}\n", text.as_str())).unwrap();
        assert_eq!(again.encode().as_str(), text.as_str());
        for bad in ["", "short", "!!!!", &"A".repeat(44)] {
            assert!(
                MasterKey::from_encoded(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
    }
}
