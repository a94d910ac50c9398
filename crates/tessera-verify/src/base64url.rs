//! Strict base64url (RFC 7515 §2, RFC 4648 §5) for JWS segments and JWK members.
//!
//! Exactly one encoding of any byte string is accepted: no padding, no whitespace or other
//! bytes outside the URL-safe alphabet, no non-zero trailing bits, no length ≡ 1 (mod 4).
//! Malleable encodings would let one token have many spellings (cache and replay-list misses).

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The engine for every base64url value in this crate (and, via [`encode`], in tessera-core).
pub(crate) const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// The exact decoded length of canonical unpadded base64url of `len` characters, or `None`
/// when no such encoding exists (`len % 4 == 1`).
pub(crate) const fn decoded_len(len: usize) -> Option<usize> {
    let full = (len / 4) * 3;
    match len % 4 {
        0 => Some(full),
        2 => Some(full + 1),
        3 => Some(full + 2),
        _ => None,
    }
}

/// Decodes into `out`, returning the filled prefix; errors when the input is not canonical or
/// does not fit.
pub(crate) fn decode_into<'o>(input: &str, out: &'o mut [u8]) -> Result<&'o [u8], ()> {
    let len = decoded_len(input.len()).ok_or(())?;
    let out = out.get_mut(..len).ok_or(())?;
    let written = STRICT.decode_slice(input, out).map_err(|_| ())?;
    out.get(..written).ok_or(())
}

/// Decodes into a new vector.
pub(crate) fn decode(input: &str) -> Result<Vec<u8>, ()> {
    let len = decoded_len(input.len()).ok_or(())?;
    let mut out = vec![0; len];
    let written = STRICT.decode_slice(input, &mut out).map_err(|_| ())?;
    out.truncate(written);
    Ok(out)
}

/// Encodes without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_base64url_decodes() {
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("Zg").unwrap(), b"f");
        assert_eq!(decode("Zm8").unwrap(), b"fo");
        assert_eq!(decode("Zm9v").unwrap(), b"foo");
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn padding_is_rejected() {
        assert!(decode("Zg==").is_err());
        assert!(decode("Zm8=").is_err());
    }

    #[test]
    fn non_canonical_trailing_bits_are_rejected() {
        // "Zg" is the canonical encoding of "f"; "Zh" carries non-zero trailing bits.
        assert!(decode("Zh").is_err());
        assert!(decode("Zm9").is_err());
    }

    #[test]
    fn whitespace_and_standard_alphabet_are_rejected() {
        for bad in ["Zm 9v", "Zm9v\n", " Zm9v", "Zm\t9v", "+/8", "Zm9v\r\n"] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn impossible_lengths_are_rejected() {
        assert!(decode("Z").is_err());
        assert!(decode("Zm9vY").is_err());
        assert_eq!(decoded_len(5), None);
    }

    #[test]
    fn decode_into_refuses_a_too_small_buffer() {
        let mut buf = [0u8; 2];
        assert!(decode_into("Zm9v", &mut buf).is_err());
        let mut buf = [0u8; 8];
        assert_eq!(decode_into("Zm9v", &mut buf).unwrap(), b"foo");
    }
}
