//! The rules a new password must satisfy (NIST SP 800-63B-4), and the normalised [`Password`]
//! type that is the only thing the hasher accepts.
//!
//! Owns normalisation (NFKC) and the length limits, counted in Unicode code points after
//! normalisation. It must not add composition rules (no "one digit, one symbol"), must not
//! refuse spaces or non-ASCII characters, and must never echo the password in a violation.

use std::fmt;
use std::ops::RangeInclusive;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use super::{PasswordError, common};

/// Why a new password was refused. The messages are safe to show to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Fewer code points than the policy's minimum.
    #[error("password must be at least {min} characters long")]
    TooShort {
        /// The minimum length, in characters.
        min: usize,
    },
    /// More code points than the policy's maximum (checked before any hashing).
    #[error("password must be at most {max} characters long")]
    TooLong {
        /// The maximum length, in characters.
        max: usize,
    },
    /// In the list of commonly used passwords, or a trivial pattern (one character or a short
    /// group repeated, a straight run such as `abcdefgh…` or `98765432…`).
    #[error(
        "password is too common or too easy to guess, choose another one (several unrelated \
         words make a good passphrase)"
    )]
    Common,
    /// A control character (tab, line break, NUL, …): almost always a paste mistake, and
    /// impossible to type at a login prompt.
    #[error("password must not contain control characters such as tabs or line breaks")]
    ControlCharacter,
    /// The password is the username (a context-specific word, NIST SP 800-63B-4 §3.1.1.2).
    #[error("password must not be the username")]
    SameAsUsername,
}

/// What a new password must satisfy (at registration and password change).
///
/// Per NIST SP 800-63B-4: the password is NFKC-normalised, its length is counted in Unicode code
/// points, any printable character including spaces is allowed, there are no composition rules,
/// and it must not be a commonly used password (case-insensitive match against the list
/// shipped in the binary). Login does not apply this policy: see [`Password::for_login`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_len: usize,
    max_len: usize,
}

impl PasswordPolicy {
    /// Default minimum: 15 characters, NIST's minimum for a password that is the only factor.
    pub const DEFAULT_MIN_LEN: usize = 15;
    /// Accepted minimums: 8 (NIST's floor when another factor is used) to 64.
    pub const MIN_LEN_RANGE: RangeInclusive<usize> = 8..=64;
    /// Default maximum: 128 characters, room for long passphrases.
    pub const DEFAULT_MAX_LEN: usize = 128;
    /// Accepted maximums: 64 (NIST: allow at least 64) to 1024. The top of the range is also
    /// the limit at login, so lowering the maximum never locks anyone out.
    pub const MAX_LEN_RANGE: RangeInclusive<usize> = 64..=1024;

    /// A policy with the given limits, in characters (code points after NFKC).
    ///
    /// # Errors
    /// [`PasswordError::InvalidLengthLimits`] when `min_len` is outside
    /// [`Self::MIN_LEN_RANGE`] or `max_len` outside [`Self::MAX_LEN_RANGE`] (the ranges do
    /// not overlap except at 64, so `min_len <= max_len` always holds).
    pub fn new(min_len: usize, max_len: usize) -> Result<Self, PasswordError> {
        if !Self::MIN_LEN_RANGE.contains(&min_len) || !Self::MAX_LEN_RANGE.contains(&max_len) {
            return Err(PasswordError::InvalidLengthLimits { min_len, max_len });
        }
        Ok(Self { min_len, max_len })
    }

    /// The minimum length, in characters.
    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// The maximum length, in characters.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Normalises a new password and checks it against the policy.
    ///
    /// # Errors
    /// The first [`PolicyViolation`] found: length first (so an over-long input is refused
    /// before anything else looks at it), then control characters, then the common list.
    pub fn check(&self, raw: &SecretString) -> Result<Password, PolicyViolation> {
        let normalized = normalize(raw);
        let len = normalized.chars().count();
        if len > self.max_len {
            return Err(PolicyViolation::TooLong { max: self.max_len });
        }
        if len < self.min_len {
            return Err(PolicyViolation::TooShort { min: self.min_len });
        }
        if normalized.chars().any(char::is_control) {
            return Err(PolicyViolation::ControlCharacter);
        }
        if common::is_common(&normalized) {
            return Err(PolicyViolation::Common);
        }
        Ok(Password(SecretString::from(normalized.as_str())))
    }
}

impl Default for PasswordPolicy {
    /// 15 to 128 characters.
    fn default() -> Self {
        Self {
            min_len: Self::DEFAULT_MIN_LEN,
            max_len: Self::DEFAULT_MAX_LEN,
        }
    }
}

/// A password after NFKC normalisation, ready to hash or verify.
///
/// Only obtainable through [`PasswordPolicy::check`] (new passwords) or
/// [`Password::for_login`] (existing ones), so nothing un-normalised reaches Argon2 and the
/// same typed password always gives the same bytes.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Normalises a password typed at login. Only the absolute maximum length
    /// (the top of [`PasswordPolicy::MAX_LEN_RANGE`], 1024 characters) is checked: no minimum
    /// and no common-password check, so users whose password predates a stricter policy can
    /// still log in.
    ///
    /// # Errors
    /// [`PolicyViolation::TooLong`] over 1024 characters, before any hashing.
    pub fn for_login(raw: &SecretString) -> Result<Self, PolicyViolation> {
        let normalized = normalize(raw);
        let max = *PasswordPolicy::MAX_LEN_RANGE.end();
        if normalized.chars().count() > max {
            return Err(PolicyViolation::TooLong { max });
        }
        Ok(Self(SecretString::from(normalized.as_str())))
    }

    /// A random password nobody knows, for the dummy hash.
    pub(crate) fn random() -> Result<Self, PasswordError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut()).map_err(PasswordError::internal)?;
        let text: Zeroizing<String> =
            Zeroizing::new(bytes.iter().map(|b| format!("{b:02x}")).collect());
        Ok(Self(SecretString::from(text.as_str())))
    }

    pub(crate) fn secret(&self) -> &SecretString {
        &self.0
    }

    /// Whether the password is the username, compared case-insensitively on the
    /// RFC 8265 canonical form of the name.
    pub fn is_username(&self, canonical_username: &str) -> bool {
        let lowered = Zeroizing::new(self.0.expose_secret().to_lowercase());
        lowered.as_str() == canonical_username
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// NFKC, in a buffer that is wiped when dropped.
fn normalize(raw: &SecretString) -> Zeroizing<String> {
    Zeroizing::new(raw.expose_secret().nfkc().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    fn normalized(p: &Password) -> String {
        p.secret().expose_secret().to_owned()
    }

    #[test]
    fn default_policy_is_15_to_128_characters() {
        let policy = PasswordPolicy::default();
        assert_eq!((policy.min_len(), policy.max_len()), (15, 128));
    }

    #[test]
    fn length_limits_outside_their_ranges_are_refused() {
        let cases = [
            (7, 128, "minimum under 8"),
            (65, 128, "minimum over 64"),
            (15, 63, "maximum under 64"),
            (15, 1025, "maximum over 1024"),
        ];
        for (min, max, why) in cases {
            let err = PasswordPolicy::new(min, max).expect_err(why);
            assert!(
                matches!(err, PasswordError::InvalidLengthLimits { .. }),
                "{why}: got {err:?}"
            );
        }
        assert!(
            PasswordPolicy::new(8, 64).is_ok(),
            "both ends of the ranges"
        );
        assert!(
            PasswordPolicy::new(64, 1024).is_ok(),
            "both ends of the ranges"
        );
    }

    #[test]
    fn violations_are_reported_without_echoing_the_password() {
        let policy = PasswordPolicy::new(15, 64).expect("policy");
        let cases = [
            (
                "short pass",
                PolicyViolation::TooShort { min: 15 },
                "10 characters",
            ),
            (
                &"x1y2z3".repeat(11),
                PolicyViolation::TooLong { max: 64 },
                "66 characters",
            ),
            (
                "passwordpassword",
                PolicyViolation::Common,
                "in the shipped list",
            ),
            (
                "PasswordPassword",
                PolicyViolation::Common,
                "list match ignores case",
            ),
            (
                "ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ",
                PolicyViolation::Common,
                "fullwidth folds by NFKC",
            ),
            (
                "aaaaaaaaaaaaaaaaaaaa",
                PolicyViolation::Common,
                "one repeated character",
            ),
            (
                "abcabcabcabcabcabc",
                PolicyViolation::Common,
                "a short group repeated",
            ),
            (
                "abcdefghijklmnopqrs",
                PolicyViolation::Common,
                "a straight run",
            ),
            (
                "9876543210987654",
                PolicyViolation::Common,
                "a descending digit run",
            ),
            (
                "tab\tin the middle here",
                PolicyViolation::ControlCharacter,
                "a tab",
            ),
            (
                "line\nbreak in the middle",
                PolicyViolation::ControlCharacter,
                "a newline",
            ),
        ];
        for (raw, expected, why) in cases {
            let err = policy.check(&secret(raw)).expect_err(why);
            assert_eq!(err, expected, "{why}");
            assert!(
                !err.to_string().contains(raw),
                "{why}: message echoes the password"
            );
        }
    }

    #[test]
    fn long_passphrase_with_spaces_and_unicode_is_accepted() {
        let policy = PasswordPolicy::default();
        let cases = [
            "correct horse battery staple",
            "    leading and trailing spaces count    ",
            "Ünïcödé pässwörds are fine ☃ 🔐",
            "日本語のパスワードもとてもいいです",
        ];
        for raw in cases {
            assert!(
                policy.check(&secret(raw)).is_ok(),
                "{raw:?} must be accepted"
            );
        }
    }

    #[test]
    fn length_is_counted_in_code_points_after_nfkc() {
        let policy = PasswordPolicy::new(8, 64).expect("policy");
        // 8 characters, 16 bytes in UTF-8: accepted at a minimum of 8.
        assert!(
            policy.check(&secret("äöüßéèêë")).is_ok(),
            "8 two-byte characters"
        );
        // "ﬃ" (one code point) becomes "ffi" (three) under NFKC: 4 typed, 8 after.
        assert!(policy.check(&secret("ﬃﬃxy")).is_ok(), "ligatures expand");
        assert_eq!(
            policy.check(&secret("abcqxyz")).expect_err("7 characters"),
            PolicyViolation::TooShort { min: 8 }
        );
    }

    #[test]
    fn composed_decomposed_and_fullwidth_forms_normalise_to_the_same_password() {
        let policy = PasswordPolicy::default();
        let composed = policy.check(&secret("caf\u{e9} au lait, s'il vous pla\u{ee}t"));
        let decomposed = policy.check(&secret("cafe\u{301} au lait, s'il vous plai\u{302}t"));
        let fullwidth = Password::for_login(&secret("ｃａｆé ａｕ ｌａｉｔ, s'il vous plaît"));

        let composed = normalized(&composed.expect("composed"));
        assert_eq!(composed, normalized(&decomposed.expect("decomposed")));
        assert_eq!(composed, normalized(&fullwidth.expect("fullwidth")));
    }

    #[test]
    fn login_checks_only_the_absolute_maximum_length() {
        let cases = [
            ("", "empty"),
            ("short", "under any minimum"),
            ("password", "common"),
        ];
        for (raw, why) in cases {
            assert!(
                Password::for_login(&secret(raw)).is_ok(),
                "{why} must reach verification"
            );
        }
        let at_limit = "a".repeat(1024);
        assert!(
            Password::for_login(&secret(&at_limit)).is_ok(),
            "1024 characters"
        );
        let over = "a".repeat(1025);
        assert_eq!(
            Password::for_login(&secret(&over)).expect_err("1025 characters"),
            PolicyViolation::TooLong { max: 1024 }
        );
    }

    #[test]
    fn debug_output_does_not_show_the_password() {
        let p = Password::for_login(&secret("hunter2 is my password")).expect("password");
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
    }
}
