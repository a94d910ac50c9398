//! The stored form of a password: an Argon2id PHC string.
//!
//! Owns validation of hashes read back from the store. It must never print a hash: `Debug` is
//! redacted, and there is no `Display`.

use std::fmt;

use argon2::password_hash::PasswordHash as Phc;

use super::{PasswordError, PasswordParams};

/// An Argon2id hash in PHC string format (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
///
/// Built by [`super::PasswordHasher::hash`] or, for hashes read from the store, by
/// [`PasswordHash::from_phc`]. Hashes made with parameters below today's floor are accepted
/// (so that old users can still log in and be rehashed); hashes whose costs exceed the
/// server's maxima are refused, so a tampered row cannot make a login allocate gigabytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

/// The costs recorded in a PHC string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cost {
    pub(crate) m_cost_kib: u32,
    pub(crate) t_cost: u32,
    pub(crate) p_cost: u32,
}

impl PasswordHash {
    /// Validates a PHC string: it must be Argon2id, version 19 (0x13), with a salt, a hash of
    /// 16 to 64 bytes, and costs within [`PasswordParams`]'s maxima.
    ///
    /// # Errors
    /// [`PasswordError::InvalidHash`] otherwise. The error does not repeat the string.
    pub fn from_phc(phc: String) -> Result<Self, PasswordError> {
        parse(&phc)?;
        Ok(Self(phc))
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The PHC string, for storage.
    pub fn into_phc(self) -> String {
        self.0
    }

    /// The costs recorded in the string; validated at construction.
    pub(crate) fn cost(&self) -> Result<Cost, PasswordError> {
        parse(&self.0)
    }
}

fn parse(phc: &str) -> Result<Cost, PasswordError> {
    let parsed = Phc::new(phc).map_err(|_| PasswordError::InvalidHash)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT || parsed.version != Some(0x13) {
        return Err(PasswordError::InvalidHash);
    }
    let output_ok = parsed.hash.is_some_and(|h| (16..=64).contains(&h.len()));
    if parsed.salt.is_none() || !output_ok {
        return Err(PasswordError::InvalidHash);
    }
    let params = argon2::Params::try_from(&parsed).map_err(|_| PasswordError::InvalidHash)?;
    let cost = Cost {
        m_cost_kib: params.m_cost(),
        t_cost: params.t_cost(),
        p_cost: params.p_cost(),
    };
    let within_maxima = cost.m_cost_kib <= PasswordParams::MAX_M_COST_KIB
        && cost.t_cost <= PasswordParams::MAX_T_COST
        && cost.p_cost <= PasswordParams::MAX_P_COST;
    if !within_maxima {
        return Err(PasswordError::InvalidHash);
    }
    Ok(cost)
}

impl AsRef<str> for PasswordHash {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is an offline-crackable secret: never let it reach a log through `{:?}`.
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Well-formed; the hash bytes are arbitrary since parsing does not verify anything.
    const VALID: &str =
        "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$2CIJd/aoGQgLLXG/GKRzKuPdB1Bu3u6Aa8TPbOfY2DE";

    #[test]
    fn a_valid_argon2id_phc_string_is_accepted() {
        let hash = PasswordHash::from_phc(VALID.to_owned()).expect("valid phc");
        assert_eq!(hash.as_str(), VALID);
        assert_eq!(
            hash.cost().expect("cost"),
            Cost {
                m_cost_kib: 8,
                t_cost: 1,
                p_cost: 1
            }
        );
    }

    #[test]
    fn other_algorithms_and_garbage_are_refused() {
        let cases = [
            ("", "empty"),
            ("not a hash", "garbage"),
            (
                "$argon2i$v=19$m=8,t=1,p=1$c29tZXNhbHQ$2CIJd/aoGQgLLXG/GKRzKuPdB1Bu3u6Aa8TPbOfY2DE",
                "argon2i, not argon2id",
            ),
            (
                "$argon2id$v=16$m=8,t=1,p=1$c29tZXNhbHQ$2CIJd/aoGQgLLXG/GKRzKuPdB1Bu3u6Aa8TPbOfY2DE",
                "old argon2 version",
            ),
            ("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ", "no hash part"),
            (
                "$argon2id$v=19$m=8388608,t=1,p=1$c29tZXNhbHQ$2CIJd/aoGQgLLXG/GKRzKuPdB1Bu3u6Aa8TPbOfY2DE",
                "8 GiB of memory",
            ),
            (
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                "bcrypt",
            ),
        ];
        for (phc, why) in cases {
            let err = PasswordHash::from_phc(phc.to_owned()).expect_err(why);
            assert!(
                matches!(err, PasswordError::InvalidHash),
                "{why}: got {err:?}"
            );
        }
    }

    #[test]
    fn debug_output_does_not_show_the_hash() {
        let hash = PasswordHash::from_phc(VALID.to_owned()).expect("valid phc");
        let shown = format!("{hash:?}");
        assert!(!shown.contains("c29tZXNhbHQ"), "{shown}");
        assert_eq!(shown, "PasswordHash(<redacted>)");
    }
}
