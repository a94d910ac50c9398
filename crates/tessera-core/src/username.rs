//! Usernames per RFC 8265 (PRECIS), computed in Rust so every database agrees on which names
//! clash.
//!
//! Owns the two forms of a name: the display form (the UsernameCasePreserved profile: width
//! mapping, NFC, bidi rule; case kept as typed) and the canonical form (the UsernameCaseMapped
//! profile: the same plus lower-casing). The store keeps `canonical` in a UNIQUE column, so
//! "Alice", "ALICE" and fullwidth "Ａｌｉｃｅ" are one account on SQLite and PostgreSQL alike,
//! whatever their collations. This module must not depend on a database collation or on
//! `str::to_lowercase` alone, and its errors must stay safe to show to the person typing.

use std::fmt;
use std::hash::{Hash, Hasher};

use precis_profiles::precis_core::Error as PrecisError;
use precis_profiles::precis_core::profile::PrecisFastInvocation;
use precis_profiles::{UsernameCaseMapped, UsernameCasePreserved};

/// Why a username was refused. Messages are safe to show (they name at most a code point).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsernameError {
    /// Nothing was typed.
    #[error("username must not be empty")]
    Empty,
    /// Longer than [`Username::MAX_LEN`] characters.
    #[error("username must be at most {max} characters long")]
    TooLong {
        /// The maximum length, in characters.
        max: usize,
    },
    /// A space or other whitespace; RFC 8265 usernames have none.
    #[error("username must not contain spaces")]
    Whitespace,
    /// A control character (tab, line break, NUL, …).
    #[error("username must not contain control characters")]
    ControlCharacter,
    /// A character the PRECIS IdentifierClass does not allow (symbols such as emoji,
    /// unassigned code points, …).
    #[error("username must not contain the character U+{code_point:04X}")]
    DisallowedCharacter {
        /// The offending code point.
        code_point: u32,
    },
    /// Right-to-left text that breaks the bidi rule (RFC 5893), e.g. mixed with digits first.
    #[error("username mixes right-to-left and left-to-right text in a way that is not allowed")]
    Bidi,
    /// Refused by PRECIS for another reason.
    #[error("username is not valid")]
    Invalid,
}

/// A validated username.
///
/// Equality and hashing use the canonical form: two `Username`s that differ only in case or
/// width are equal, exactly as the store's UNIQUE column sees them.
#[derive(Clone, Debug)]
pub struct Username {
    display: String,
    canonical: String,
}

impl Username {
    /// Most characters (Unicode code points) in either form after enforcement.
    pub const MAX_LEN: usize = 64;

    /// Inputs longer than this many bytes are refused before PRECIS runs: no valid name of
    /// [`Self::MAX_LEN`] characters needs more (at 4 bytes per code point and up to 4 code
    /// points composing into one), and it bounds the work an attacker can ask for.
    const MAX_INPUT_BYTES: usize = 1024;

    /// Enforces the RFC 8265 profiles on what the user typed.
    ///
    /// # Errors
    /// A [`UsernameError`] describing the first problem; the message is safe to show.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        if raw.is_empty() {
            return Err(UsernameError::Empty);
        }
        if raw.len() > Self::MAX_INPUT_BYTES {
            return Err(UsernameError::TooLong { max: Self::MAX_LEN });
        }
        let display = UsernameCasePreserved::enforce(raw).map_err(|e| explain(raw, e))?;
        let canonical = UsernameCaseMapped::enforce(raw).map_err(|e| explain(raw, e))?;
        // Lower-casing can lengthen a name ("İ" becomes "i̇"), so both forms are bounded.
        if display.chars().count() > Self::MAX_LEN || canonical.chars().count() > Self::MAX_LEN {
            return Err(UsernameError::TooLong { max: Self::MAX_LEN });
        }
        Ok(Self {
            display: display.into_owned(),
            canonical: canonical.into_owned(),
        })
    }

    /// The form compared for uniqueness (UsernameCaseMapped): store it in the UNIQUE column
    /// and look users up by it.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The form to show (UsernameCasePreserved): case as typed, width and composition
    /// normalised.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// Both forms, display first, for storage.
    pub fn into_parts(self) -> (String, String) {
        (self.display, self.canonical)
    }
}

/// Turns a PRECIS error into one a person can act on.
fn explain(raw: &str, error: PrecisError) -> UsernameError {
    match error {
        PrecisError::BadCodepoint(info) => match char::from_u32(info.cp) {
            // Line breaks and tabs are both; "control" is the more useful thing to hear.
            Some(c) if c.is_control() => UsernameError::ControlCharacter,
            Some(c) if c.is_whitespace() => UsernameError::Whitespace,
            _ => UsernameError::DisallowedCharacter {
                code_point: info.cp,
            },
        },
        // `Invalid` is PRECIS's answer for an empty string (ruled out above) and for the bidi
        // rule; anything else it reports is unexpected and gets a generic message.
        PrecisError::Invalid if !raw.is_empty() => UsernameError::Bidi,
        _ => UsernameError::Invalid,
    }
}

impl PartialEq for Username {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for Username {}

impl Hash for Username {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical.hash(state);
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.display
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Username {
        Username::parse(raw).unwrap_or_else(|e| panic!("{raw:?} should parse: {e}"))
    }

    #[test]
    fn names_differing_only_in_case_clash() {
        let alice = parse("Alice");
        let shouting = parse("ALICE");

        assert_eq!(alice.canonical(), "alice");
        assert_eq!(shouting.canonical(), "alice");
        assert_eq!(alice, shouting);
        assert_eq!(alice.as_str(), "Alice", "display keeps the case as typed");
        assert_eq!(shouting.as_str(), "ALICE");
    }

    #[test]
    fn fullwidth_and_decomposed_forms_fold_to_the_same_name() {
        let cases = [
            ("Ａｌｉｃｅ", "alice", "Alice", "fullwidth letters"),
            ("ｂｏｂ_99", "bob_99", "bob_99", "fullwidth with ASCII tail"),
            (
                "Jose\u{301}",
                "jos\u{e9}",
                "Jos\u{e9}",
                "decomposed accent composes (NFC)",
            ),
            ("Jos\u{e9}", "jos\u{e9}", "Jos\u{e9}", "composed accent"),
            (
                "ΣΊΣΥΦΟΣ",
                "σίσυφοσ",
                "ΣΊΣΥΦΟΣ",
                "Greek lower-cases (toLowerCase, no final sigma)",
            ),
        ];
        for (raw, canonical, display, why) in cases {
            let name = parse(raw);
            assert_eq!(name.canonical(), canonical, "{why}");
            assert_eq!(name.as_str(), display, "{why}");
        }
        assert_eq!(parse("Ａｌｉｃｅ"), parse("alice"));
    }

    #[test]
    fn ascii_punctuation_and_non_latin_letters_are_accepted() {
        for raw in [
            "alice.smith",
            "bob-the_builder",
            "carol+test@example.com",
            "名前",
            "Ünal",
        ] {
            let name = parse(raw);
            assert!(!name.canonical().is_empty(), "{raw}");
        }
    }

    #[test]
    fn invalid_names_are_refused_with_a_clear_error() {
        let long = "a".repeat(65);
        let huge = "a".repeat(5000);
        let cases: [(&str, UsernameError, &str); 9] = [
            ("", UsernameError::Empty, "empty"),
            ("alice smith", UsernameError::Whitespace, "inner space"),
            (" alice", UsernameError::Whitespace, "leading space"),
            (
                "alice\u{3000}",
                UsernameError::Whitespace,
                "ideographic space",
            ),
            ("ali\u{7}ce", UsernameError::ControlCharacter, "bell"),
            ("ali\nce", UsernameError::ControlCharacter, "newline"),
            (
                "alice🙂",
                UsernameError::DisallowedCharacter {
                    code_point: 0x1F642,
                },
                "emoji",
            ),
            (&long, UsernameError::TooLong { max: 64 }, "65 characters"),
            (&huge, UsernameError::TooLong { max: 64 }, "far too long"),
        ];
        for (raw, expected, why) in cases {
            let err = Username::parse(raw).expect_err(why);
            assert_eq!(err, expected, "{why}");
            assert!(!err.to_string().is_empty(), "{why}: message for the user");
        }
    }

    #[test]
    fn sixty_four_characters_is_the_longest_name() {
        let name = "ä".repeat(64);
        assert_eq!(parse(&name).canonical().chars().count(), 64);
    }

    #[test]
    fn right_to_left_names_follow_the_bidi_rule() {
        assert!(Username::parse("שלום").is_ok(), "pure Hebrew is fine");
        assert_eq!(
            Username::parse("1שלום").expect_err("digit then RTL"),
            UsernameError::Bidi
        );
    }
}
