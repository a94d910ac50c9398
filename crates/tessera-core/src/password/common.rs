//! The check against commonly used passwords (NIST SP 800-63B-4 §3.1.1.2 blocklist).
//!
//! Owns the list shipped in the binary (`data/common-passwords.txt`, sources in
//! `data/README.md`) and a few trivial patterns. It must stay a blocklist: no composition
//! rules, and nothing that refuses a long random passphrase.

use std::collections::HashSet;
use std::sync::LazyLock;

use zeroize::Zeroizing;

/// Lowercase, NFKC, at least 8 characters, sorted, one per line; checked by the tests below.
const LIST: &str = include_str!("../../data/common-passwords.txt");

/// Built on first use (~16k entries, a few hundred KiB) rather than at startup.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| LIST.lines().filter(|line| !line.is_empty()).collect());

/// Whether an NFKC-normalised password is in the list (ignoring case) or a trivial pattern.
pub(super) fn is_common(normalized: &str) -> bool {
    let lowered = Zeroizing::new(normalized.to_lowercase());
    let chars: Zeroizing<Vec<char>> = Zeroizing::new(lowered.chars().collect());
    COMMON.contains(lowered.as_str()) || is_periodic(&chars) || is_straight_run(&chars)
}

/// A group repeated at least twice (`aaaa…`, `abab…`, `mydogmydog`), the tail possibly cut.
fn is_periodic(chars: &[char]) -> bool {
    (1..=chars.len() / 2).any(|period| {
        chars
            .iter()
            .zip(chars.iter().skip(period))
            .all(|(a, b)| a == b)
    })
}

/// Consecutive characters all one step up or all one step down (`abcdefgh…`, `87654321…`);
/// digits wrap (`…7890123…`), as on a keyboard's number row.
fn is_straight_run(chars: &[char]) -> bool {
    let step = |a: char, b: char| -> i64 {
        match (a, b) {
            ('9', '0') => 1,
            ('0', '9') => -1,
            _ => i64::from(u32::from(b)) - i64::from(u32::from(a)),
        }
    };
    let mut steps = chars.windows(2).filter_map(|w| match w {
        [a, b] => Some(step(*a, *b)),
        _ => None,
    });
    match steps.next() {
        Some(first @ (1 | -1)) => steps.all(|s| s == first),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use unicode_normalization::UnicodeNormalization;

    use super::*;

    #[test]
    fn the_shipped_list_is_lowercase_nfkc_sorted_unique_and_long_enough() {
        let lines: Vec<&str> = LIST.lines().collect();
        assert!(
            lines.len() > 10_000,
            "list unexpectedly small: {}",
            lines.len()
        );
        assert!(lines.len() <= 100_000, "list too large: {}", lines.len());
        for line in &lines {
            assert!(
                line.chars().count() >= 8,
                "{line:?} is shorter than the 8-character floor"
            );
            let canonical: String = line.nfkc().collect::<String>().to_lowercase();
            assert_eq!(*line, canonical, "{line:?} is not lowercase NFKC");
        }
        for pair in lines.windows(2) {
            assert!(
                pair[0] < pair[1],
                "not sorted or duplicated near {:?}",
                pair[1]
            );
        }
    }

    #[test]
    fn listed_passwords_match_ignoring_case() {
        let cases = [
            ("password", "the classic"),
            ("PASSWORD", "upper case"),
            ("iloveyou", "a phrase"),
            ("qwertyuiop", "a keyboard row"),
        ];
        for (pw, why) in cases {
            assert!(is_common(pw), "{why}: {pw}");
        }
    }

    #[test]
    fn trivial_patterns_are_common_and_passphrases_are_not() {
        let common = [
            ("zzzzzzzzzzzzzzzz", "one character repeated"),
            ("mydogrexmydogrex", "a word repeated"),
            ("abababababababa", "a pair repeated with a cut tail"),
            ("lmnopqrstuvwxyz", "ascending letters"),
            ("7890123456789012", "digits wrapping upwards"),
            ("3210987654321098", "digits wrapping downwards"),
        ];
        for (pw, why) in common {
            assert!(is_common(pw), "{why}: {pw}");
        }
        let fine = [
            ("correct horse battery staple", "a passphrase"),
            ("abcdefghijklmnoz", "a run broken at the end"),
            ("tr0ub4dor&3-extended", "not in the list"),
        ];
        for (pw, why) in fine {
            assert!(!is_common(pw), "{why}: {pw}");
        }
    }
}
