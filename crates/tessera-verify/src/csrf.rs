//! Browser mode: the names of Tessera's cookies and the CSRF checks for requests that a
//! cookie authenticates, shared by the auth server and by resource servers on the same host.
//!
//! A browser attaches cookies to requests other pages trigger, so a state-changing request
//! authenticated by a cookie is accepted only when both hold:
//! - **Origin**: `Origin` names the server's own origin or a configured one, and
//!   `Sec-Fetch-Site`, when sent, is not `none` (a typed URL or bookmark does not `POST`).
//!   Without `Origin` the request must say `Sec-Fetch-Site: same-origin`.
//! - **CSRF token**: the `X-CSRF-Token` header carries the session's CSRF token. The token is
//!   an HMAC of the session id under a key only the auth server holds; each access token of
//!   the session carries a digest of it in the `csrf` claim, so anyone who verifies the token
//!   can check the header without the key ([`token_matches`]). A page gets the token from the
//!   login or refresh response, or from `GET /auth/csrf`; other origins cannot read those.
//!
//! Bearer-authenticated requests need neither: another site cannot make a browser send an
//! `Authorization` header.

use aws_lc_rs::digest;

use crate::base64url;
use crate::claims::Claims;

/// The access-token cookie: `Path=/`, so every API on the host receives it.
pub const ACCESS_COOKIE: &str = "__Host-tessera-access";
/// The refresh-token cookie: `Path=/auth`, so only the auth server's endpoints receive it.
pub const REFRESH_COOKIE: &str = "__Secure-tessera-refresh";
/// The request header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The access-token claim holding [`claim_for`] of the session's CSRF token.
pub const CSRF_CLAIM: &str = "csrf";

/// Bytes of the SHA-256 digest kept in the claim (128 bits: a preimage is out of reach).
const CLAIM_BYTES: usize = 16;

/// The `csrf` claim for a CSRF token: base64url of the first 128 bits of its SHA-256.
pub fn claim_for(csrf_token: &str) -> String {
    let hash = digest::digest(&digest::SHA256, csrf_token.as_bytes());
    base64url::encode(hash.as_ref().get(..CLAIM_BYTES).unwrap_or_default())
}

/// Whether `presented` (the `X-CSRF-Token` header) is the CSRF token of the session `claims`
/// belong to. Constant-time in the compared digest; `false` when the token has no `csrf`
/// claim.
pub fn token_matches(claims: &Claims, presented: &str) -> bool {
    let Some(expected) = claims.extra.get(CSRF_CLAIM).and_then(|v| v.as_str()) else {
        return false;
    };
    constant_time_eq(claim_for(presented).as_bytes(), expected.as_bytes())
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a cookie-authenticated request was refused (answered 403; the texts are safe to send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfRefusal {
    /// Neither `Origin` nor `Sec-Fetch-Site: same-origin`.
    #[error("a request authenticated by a cookie must carry an Origin header")]
    MissingOrigin,
    /// `Origin` is not an allowed origin (or is `null`).
    #[error("the request comes from an origin this server does not accept")]
    OriginNotAllowed,
    /// `Sec-Fetch-Site: none`: the user did not start this from a page.
    #[error("a request authenticated by a cookie must come from a page")]
    NotFromAPage,
    /// No `X-CSRF-Token` header.
    #[error("the X-CSRF-Token header is missing")]
    MissingToken,
    /// The `X-CSRF-Token` header is not the session's CSRF token.
    #[error("the X-CSRF-Token header does not match the session")]
    BadToken,
}

/// Why a configured origin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OriginError(String);

/// The origins whose pages may send cookie-authenticated requests (and, on the auth server,
/// read its responses through CORS). Never a wildcard: every entry is one exact origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// Parses each entry as an origin (`scheme://host[:port]`, no path, no wildcard).
    ///
    /// # Errors
    /// The first entry that is not an exact `http` or `https` origin.
    pub fn new<I, S>(origins: I) -> Result<Self, OriginError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for origin in origins {
            let origin = normalize_origin(origin.as_ref())?;
            if !parsed.contains(&origin) {
                parsed.push(origin);
            }
        }
        Ok(Self(parsed))
    }

    /// The origins, normalized (lowercase scheme and host, default ports dropped).
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether `origin` (an `Origin` header value) is one of these.
    pub fn contains(&self, origin: &str) -> bool {
        normalize_origin(origin).is_ok_and(|o| self.0.contains(&o))
    }

    /// The origin check for a state-changing request authenticated by a cookie, from its
    /// `Origin` and `Sec-Fetch-Site` headers.
    ///
    /// # Errors
    /// The [`CsrfRefusal`] to answer 403 with.
    pub fn check(
        &self,
        origin: Option<&str>,
        sec_fetch_site: Option<&str>,
    ) -> Result<(), CsrfRefusal> {
        let site = sec_fetch_site.map(str::trim);
        if site.is_some_and(|s| s.eq_ignore_ascii_case("none")) {
            return Err(CsrfRefusal::NotFromAPage);
        }
        match origin.map(str::trim) {
            Some(origin) if self.contains(origin) => Ok(()),
            Some(_) => Err(CsrfRefusal::OriginNotAllowed),
            None if site.is_some_and(|s| s.eq_ignore_ascii_case("same-origin")) => Ok(()),
            None => Err(CsrfRefusal::MissingOrigin),
        }
    }

    /// [`AllowedOrigins::check`], then the CSRF token against the access token's claim.
    ///
    /// # Errors
    /// The [`CsrfRefusal`] to answer 403 with.
    pub fn check_request(
        &self,
        origin: Option<&str>,
        sec_fetch_site: Option<&str>,
        csrf_header: Option<&str>,
        claims: &Claims,
    ) -> Result<(), CsrfRefusal> {
        self.check(origin, sec_fetch_site)?;
        let presented = csrf_header
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(CsrfRefusal::MissingToken)?;
        if token_matches(claims, presented) {
            Ok(())
        } else {
            Err(CsrfRefusal::BadToken)
        }
    }
}

/// The origin of a URL or origin string: `scheme://host[:port]`, lowercase, default port
/// dropped. Refuses wildcards, `null`, paths, queries, user info and schemes other than http(s).
///
/// # Errors
/// What is wrong with `text`, safe to print.
pub fn normalize_origin(text: &str) -> Result<String, OriginError> {
    let refuse = |why: &str| OriginError(format!("`{text}` is not an origin: {why}"));
    if text.contains('*') {
        return Err(refuse(
            "wildcards are never accepted, since cookies and credentials go with every allowed \
             origin; list each origin",
        ));
    }
    let lower = text.trim().to_ascii_lowercase();
    let (scheme, rest) = lower
        .split_once("://")
        .ok_or_else(|| refuse("write it as scheme://host[:port]"))?;
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return Err(refuse("the scheme must be http or https")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(refuse(
            "only scheme://host[:port], without path, query or user",
        ));
    }
    // An IPv6 literal keeps its colons inside brackets; the port, if any, follows them.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (inside, after) = v6
                .split_once(']')
                .ok_or_else(|| refuse("an IPv6 address needs its closing bracket"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| refuse("junk after the host"))?,
                ),
            };
            (format!("[{inside}]"), port)
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        },
    };
    if host.is_empty() || host == "[]" {
        return Err(refuse("the host is missing"));
    }
    let authority = match port {
        Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(refuse("the port must be a number"));
        }
        Some(p) if p != default_port => format!("{host}:{p}"),
        _ => host,
    };
    Ok(format!("{scheme}://{authority}"))
}

/// The value of the cookie `name` in `Cookie` header values (RFC 6265 §5.4: `a=1; b=2`). The
/// first occurrence wins, as browsers send the most specific cookie first.
///
/// One pair of enclosing double quotes is removed. A value that is empty or breaks the RFC 6265
/// §4.1.1 `cookie-value` grammar (whitespace, control characters, `"`, `,`, `;` or `\`
/// inside) counts as not sent: no token Tessera sets looks like that.
pub fn cookie_value<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    let (_, value) = cookie_headers
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)?;
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    (!value.is_empty() && value.bytes().all(is_cookie_octet)).then_some(value)
}

/// RFC 6265 §4.1.1 `cookie-octet`: visible ASCII except `"`, `,`, `;` and `\`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn origins() -> AllowedOrigins {
        AllowedOrigins::new(["https://app.example", "http://127.0.0.1:8080"]).unwrap()
    }

    #[test]
    fn origins_normalize_case_trailing_slash_and_default_ports() {
        assert_eq!(
            normalize_origin("HTTPS://App.Example:443/").unwrap(),
            "https://app.example"
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_origin("http://[::1]:8080").unwrap(),
            "http://[::1]:8080"
        );
        assert_eq!(normalize_origin("http://[::1]").unwrap(), "http://[::1]");
        assert!(origins().contains("https://APP.example"));
        assert!(!origins().contains("https://app.example.evil"));
        assert!(!origins().contains("http://127.0.0.1:8081"));
    }

    #[test]
    fn wildcards_null_paths_and_other_schemes_are_not_origins() {
        for bad in [
            "*",
            "https://*.example",
            "null",
            "https://app.example/path",
            "ftp://app.example",
            "https://user@app.example",
            "https://app.example:http",
            "app.example",
            "https://",
        ] {
            assert!(normalize_origin(bad).is_err(), "{bad} was accepted");
        }
        assert!(
            AllowedOrigins::new(["*"])
                .unwrap_err()
                .to_string()
                .contains("wildcards are never accepted")
        );
    }

    #[test]
    fn the_origin_check_follows_origin_then_sec_fetch_site() {
        let o = origins();
        assert_eq!(
            o.check(Some("https://app.example"), Some("same-site")),
            Ok(())
        );
        assert_eq!(o.check(Some("http://127.0.0.1:8080"), None), Ok(()));
        assert_eq!(
            o.check(Some("http://127.0.0.1:9999"), Some("same-site")),
            Err(CsrfRefusal::OriginNotAllowed)
        );
        assert_eq!(
            o.check(Some("null"), None),
            Err(CsrfRefusal::OriginNotAllowed)
        );
        assert_eq!(o.check(None, Some("same-origin")), Ok(()));
        assert_eq!(
            o.check(None, Some("cross-site")),
            Err(CsrfRefusal::MissingOrigin)
        );
        assert_eq!(o.check(None, None), Err(CsrfRefusal::MissingOrigin));
        assert_eq!(
            o.check(Some("https://app.example"), Some("none")),
            Err(CsrfRefusal::NotFromAPage)
        );
    }

    #[test]
    fn the_token_must_match_the_claim_of_the_session() {
        let mut claims: Claims = serde_json::from_value(serde_json::json!({
            "iss": "i", "aud": "a", "sub": "u", "client_id": "c", "iat": 0, "exp": 1,
            "jti": "j", "sid": "s"
        }))
        .unwrap();
        let o = origins();
        let origin = Some("https://app.example");
        assert_eq!(
            o.check_request(origin, None, Some("t0ken"), &claims),
            Err(CsrfRefusal::BadToken),
            "a token without the claim accepts no CSRF token"
        );
        claims
            .extra
            .insert(CSRF_CLAIM.to_owned(), claim_for("t0ken").into());
        assert_eq!(
            o.check_request(origin, None, Some("t0ken"), &claims),
            Ok(())
        );
        assert_eq!(
            o.check_request(origin, None, Some("t0kem"), &claims),
            Err(CsrfRefusal::BadToken)
        );
        assert_eq!(
            o.check_request(origin, None, None, &claims),
            Err(CsrfRefusal::MissingToken)
        );
        assert_eq!(
            o.check_request(Some("https://evil.example"), None, Some("t0ken"), &claims),
            Err(CsrfRefusal::OriginNotAllowed)
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let headers = ["a=1; __Host-tessera-access=tok; b=2", "c=3"];
        assert_eq!(cookie_value(headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(cookie_value(headers, "c"), Some("3"));
        assert_eq!(cookie_value(headers, "tessera-access"), None);
        assert_eq!(cookie_value(["x="], "x"), None);
    }

    #[test]
    fn cookie_values_outside_the_rfc_6265_grammar_count_as_not_sent() {
        let cases: [(&str, Option<&str>, &str); 9] = [
            // Found by the refresh_token fuzz target (minimized): the value came back as " r".
            (
                " __Secure-tessera-refresh=\" r\"",
                None,
                "blank inside quotes",
            ),
            ("x=\"tok\"", Some("tok"), "one pair of quotes is removed"),
            ("x=\"\"tok\"\"", None, "a second pair is not"),
            ("x=\"", None, "a lone quote"),
            ("x=\"\"", None, "quoted empty"),
            ("x=t\u{8}k", None, "a control character"),
            ("x=a\\b", None, "a backslash"),
            ("x=a,b", None, "a comma"),
            (
                "x=eyJhbGciOiJFZERTQSJ9.e30.c2ln-_",
                Some("eyJhbGciOiJFZERTQSJ9.e30.c2ln-_"),
                "a compact JWS",
            ),
        ];
        for (header, expected, case) in cases {
            let name = header.trim().split_once('=').map(|(n, _)| n).unwrap();
            assert_eq!(cookie_value([header], name), expected, "{case}");
        }
    }
}
