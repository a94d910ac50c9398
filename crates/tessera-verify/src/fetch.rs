//! HTTP GETs for the remote key source and the revocation feed (feature `jwks-fetch`), with
//! the safety rules both share: `https` only (plain `http` on a loopback host only, for local
//! development and tests), no redirects, no credentials in URLs, a size cap enforced while
//! reading, a time limit, and conditional requests (`ETag` / `If-None-Match`).
//!
//! It owns [`RemoteError`], the error of anything fetched. Nothing here parses JWKs or feed
//! pages; that belongs to the callers.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, ETAG, HeaderMap, IF_NONE_MATCH};
use reqwest::{StatusCode, Url};

use crate::error::KeyError;

/// Why fetching keys, discovery or the revocation feed failed. Messages never contain secrets
/// or response bodies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The URL does not parse, carries credentials, or has no host.
    #[error("invalid url: {0}")]
    InvalidUrl(&'static str),
    /// `http://` to a host that is not loopback; only `https` is allowed there.
    #[error("url must use https (plain http is allowed for loopback hosts only)")]
    InsecureUrl,
    /// The request failed before an answer arrived (connection, TLS, time limit).
    #[error("request failed")]
    Transport(#[source] reqwest::Error),
    /// The server answered with a redirect, which is never followed.
    #[error("the server answered with a redirect, which is not followed")]
    Redirect,
    /// The feed refused the resource server's credential (401 or 403).
    #[error("the revocation feed refused the resource server's credential")]
    Unauthorized,
    /// Any other non-success status.
    #[error("the server answered with status {0}")]
    Status(u16),
    /// The answer is larger than the cap.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The answer is not the expected JSON document.
    #[error("the answer is not a valid {0} document")]
    InvalidDocument(&'static str),
    /// The discovery document names another issuer than the configured one.
    #[error("the discovery document names another issuer")]
    IssuerMismatch,
    /// The key set holds no usable key, or a key is unusable.
    #[error("the key set is unusable")]
    Keys(#[from] KeyError),
    /// A setting is out of range.
    #[error("invalid setting: {0}")]
    InvalidSetting(&'static str),
    /// Background refresh needs a Tokio runtime; build inside one.
    #[error("no tokio runtime: build the remote verifier inside a tokio runtime")]
    NoRuntime,
}

/// What a conditional GET returned.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// 304: the cached copy (with the `ETag` sent) is current.
    NotModified {
        /// From `Cache-Control: max-age`.
        max_age: Option<Duration>,
    },
    /// 200 with the body.
    Body {
        /// The bytes, at most the cap.
        body: Vec<u8>,
        /// The `ETag`, to send as `If-None-Match` next time.
        etag: Option<String>,
        /// From `Cache-Control: max-age` (zero for `no-cache` / `no-store`).
        max_age: Option<Duration>,
    },
}

/// Parses and checks a URL: https, or http to a loopback host; no user info.
pub(crate) fn checked_url(url: &str) -> Result<Url, RemoteError> {
    let url = Url::parse(url).map_err(|_| RemoteError::InvalidUrl("not an absolute url"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RemoteError::InvalidUrl(
            "credentials in the url are not allowed",
        ));
    }
    let host = url
        .host_str()
        .ok_or(RemoteError::InvalidUrl("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(host) => Ok(url),
        "http" => Err(RemoteError::InsecureUrl),
        _ => Err(RemoteError::InvalidUrl("the scheme must be https")),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The HTTP client both fetchers use: no redirects, a time limit per request.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, RemoteError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("tessera-verify/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(RemoteError::Transport)
}

/// GETs `request` (already carrying its URL and any credential) conditionally on `etag`,
/// reading at most `cap` bytes.
pub(crate) async fn get(
    request: reqwest::RequestBuilder,
    etag: Option<&str>,
    cap: usize,
) -> Result<Fetched, RemoteError> {
    let request = match etag {
        Some(etag) => request.header(IF_NONE_MATCH, etag),
        None => request,
    };
    let mut response = request.send().await.map_err(RemoteError::Transport)?;
    let status = response.status();
    let max_age = max_age(response.headers());
    if status == StatusCode::NOT_MODIFIED && etag.is_some() {
        return Ok(Fetched::NotModified { max_age });
    }
    if status.is_redirection() {
        return Err(RemoteError::Redirect);
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(RemoteError::Unauthorized);
    }
    if status != StatusCode::OK {
        return Err(RemoteError::Status(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > u64::try_from(cap).unwrap_or(u64::MAX))
    {
        return Err(RemoteError::TooLarge(cap));
    }
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read chunk by chunk so a lying or absent Content-Length cannot make us buffer more.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(RemoteError::Transport)? {
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(RemoteError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body {
        body,
        etag,
        max_age,
    })
}

/// Fetches a JWK Set from `url` with this module's rules (https, or http to loopback; no
/// redirects; at most [`JwkSet::MAX_JSON_LEN`] bytes; a time limit of `timeout`) and parses it
/// strictly. An auth server uses it to read the keys a client publishes for its
/// `private_key_jwt` assertions (RFC 7591 `jwks_uri`).
///
/// # Errors
/// Every [`RemoteError`] of the fetch; `InvalidDocument` when the body is not a JWK Set.
pub async fn fetch_jwk_set(
    url: &str,
    timeout: Duration,
) -> Result<crate::jwk::JwkSet, RemoteError> {
    let url = checked_url(url)?;
    let request = client(timeout)?.get(url);
    match get(request, None, crate::jwk::JwkSet::MAX_JSON_LEN).await? {
        Fetched::Body { body, .. } => crate::jwk::JwkSet::from_json(&body)
            .map_err(|_| RemoteError::InvalidDocument("JWK Set")),
        Fetched::NotModified { .. } => Err(RemoteError::Status(304)),
    }
}

/// `max-age` from `Cache-Control` (`no-cache` and `no-store` count as zero).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn only_https_or_loopback_http_without_credentials_is_accepted() {
        let cases = [
            ("https://auth.example/jwks", true, "https"),
            ("http://127.0.0.1:8080/jwks", true, "loopback v4"),
            ("http://[::1]:8080/jwks", true, "loopback v6"),
            ("http://localhost/jwks", true, "localhost"),
            ("http://auth.example/jwks", false, "plain http off loopback"),
            (
                "http://10.0.0.1/jwks",
                false,
                "private address is not loopback",
            ),
            ("https://user:pw@auth.example/", false, "credentials"),
            ("ftp://auth.example/", false, "other scheme"),
            ("/relative", false, "relative"),
        ];
        for (url, ok, why) in cases {
            assert_eq!(checked_url(url).is_ok(), ok, "{why}: {url}");
        }
    }

    #[test]
    fn max_age_reads_the_directive_and_no_cache_means_zero() {
        let headers = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(CACHE_CONTROL, HeaderValue::from_static(v));
            h
        };
        assert_eq!(
            max_age(&headers("public, max-age=600")),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age(&headers("no-cache")), Some(Duration::ZERO));
        assert_eq!(max_age(&headers("public")), None);
        assert_eq!(max_age(&HeaderMap::new()), None);
    }
}
