//! `GET /auth/revocations?since=<cursor>`: the revocation feed for resource servers.
//!
//! Resource servers verify tokens on their own; this feed is how logout, logout-all, reuse
//! detection, disabled users and role changes reach them before the tokens expire. It answers
//! with the revoked session ids and raised token versions of the last *window* (the
//! configured access-token lifetime, plus the largest leeway and the largest poll interval a
//! `tessera-verify` verifier accepts): an older entry concerns only tokens that have expired
//! everywhere, so it is left out and the answer stays small. The wire format is
//! `tessera_verify::revocation::FeedPage`, shared with the verifier.
//!
//! Not public: each resource server authenticates with HTTP Basic, its configured name and
//! secret (`[resource_servers.<name>]`), checked in constant time. Answers carry an `ETag`
//! and `Cache-Control: private, no-cache`, so an unchanged feed costs a 304.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tessera_core::store::RevocationEvent;
use tessera_verify::revocation::{FeedPage, RevokedSession, RevokedToken, UserVersion};

use crate::config::{ResourceServer, Settings};
use crate::error::ApiError;
use crate::state::AppState;

/// Most entries in one answer; `more: true` tells the poller to ask again at once.
const PAGE: u32 = 5_000;
/// The challenge of a 401.
const CHALLENGE: &str = "Basic realm=\"tessera revocation feed\", charset=\"UTF-8\"";

/// Who may read the feed and how far back it reaches.
#[derive(Debug)]
pub(super) struct FeedAccess {
    servers: Vec<ResourceServer>,
    window_secs: u64,
}

/// The feed's route, with its settings.
pub(crate) fn router(settings: &Settings) -> Router<AppState> {
    let access = FeedAccess {
        servers: settings.resource_servers.clone(),
        window_secs: settings.timeline().feed_window().as_secs(),
    };
    Router::new()
        .route("/auth/revocations", get(feed))
        .method_not_allowed_fallback(super::method_not_allowed)
        .route_layer(Extension(Arc::new(access)))
}

/// The revocation feed for resource servers.
#[utoipa::path(
    get,
    path = "/auth/revocations",
    operation_id = "revocation_feed",
    tag = "resource servers",
    params(
        ("since" = Option<String>, Query, description = "the `cursor` of the previous answer", pattern = "^[0-9]+$"),
        ("If-None-Match" = Option<String>, Header, description = "an `ETag` of an earlier answer: 304 when unchanged"),
    ),
    security(("resource_server" = [])),
    responses(
        (status = 200, description = "Revocations after the cursor", body = super::schemas::FeedPageSchema,
            headers(("ETag" = String, description = "strong validator of the answer"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 400, description = "`invalid_request`: `since` is not a cursor", body = crate::error::Body<'static>),
        (status = 401, description = "`invalid_credentials`: no or wrong resource-server credentials", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the HTTP Basic challenge"))),
    )
)]
#[tracing::instrument(skip_all, fields(resource_server))]
pub(super) async fn feed(
    State(state): State<AppState>,
    Extension(access): Extension<Arc<FeedAccess>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(server) = authenticate(&access.servers, &headers) else {
        return Ok(unauthorized());
    };
    tracing::Span::current().record("resource_server", server.name());
    let since = parse_since(query.as_deref())?;
    let now = state.auth().clock().unix();
    let window = i64::try_from(access.window_secs).unwrap_or(i64::MAX);
    let mut entries = state
        .auth()
        .store()
        .revocation_feed(since, now.saturating_sub(window), PAGE + 1)
        .await?;
    let more = entries.len() > PAGE as usize;
    entries.truncate(PAGE as usize);
    let cursor = entries.last().map_or(since, |e| e.seq);
    // One line per subject, sorted, so equal state gives equal bytes (and ETag).
    let mut sessions = BTreeMap::<String, i64>::new();
    let mut users = BTreeMap::<String, (i64, i64)>::new();
    let mut tokens = BTreeMap::<String, i64>::new();
    for entry in entries {
        match entry.event {
            RevocationEvent::Session { session_id, .. } => {
                let at = sessions.entry(session_id).or_insert(entry.created_at);
                *at = (*at).max(entry.created_at);
            }
            RevocationEvent::UserVersion {
                user_id,
                min_version,
            } => {
                let v = users
                    .entry(user_id)
                    .or_insert((min_version, entry.created_at));
                *v = (v.0.max(min_version), v.1.max(entry.created_at));
            }
            RevocationEvent::Token { jti, .. } => {
                let at = tokens.entry(jti).or_insert(entry.created_at);
                *at = (*at).max(entry.created_at);
            }
        }
    }
    let page = FeedPage {
        cursor: cursor.to_string(),
        window_secs: access.window_secs,
        more,
        sessions: sessions
            .into_iter()
            .map(|(sid, at)| RevokedSession { sid, at })
            .collect(),
        users: users
            .into_iter()
            .map(|(sub, (ver, at))| UserVersion { sub, ver, at })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|(jti, at)| RevokedToken { jti, at })
            .collect(),
    };
    let body = serde_json::to_vec(&page).map_err(ApiError::internal)?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body);
    let etag = format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(digest.as_ref().get(..16).unwrap_or_default())
    );
    let cache = [
        (CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
        (
            ETAG,
            HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
        ),
    ];
    let unchanged = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let content_type = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    Ok((cache, content_type, body).into_response())
}

/// The resource server named by `Authorization: Basic`, if its secret matches.
pub(crate) fn authenticate<'a>(
    servers: &'a [ResourceServer],
    headers: &HeaderMap,
) -> Option<&'a ResourceServer> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = zeroize::Zeroizing::new(STANDARD.decode(encoded.trim()).ok()?);
    let colon = decoded.iter().position(|b| *b == b':')?;
    let (name, secret) = (decoded.get(..colon)?, decoded.get(colon + 1..)?);
    let server = servers.iter().find(|s| s.name().as_bytes() == name)?;
    server.is_secret(secret).then_some(server)
}

fn unauthorized() -> Response {
    let body = serde_json::json!({
        "error": "invalid_credentials",
        "error_description": "the revocation feed needs a resource server's credentials (HTTP Basic)",
    });
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE))],
        axum::Json(body),
    )
        .into_response()
}

/// `since`: a cursor from an earlier answer; absent means from the start of the window.
fn parse_since(query: Option<&str>) -> Result<i64, ApiError> {
    let mut since = 0;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "since" {
            since = value
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    ApiError::InvalidRequest("since must be a cursor from an earlier answer".into())
                })?;
        }
    }
    Ok(since)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_non_negative_cursor() {
        assert_eq!(parse_since(None).unwrap(), 0);
        assert_eq!(parse_since(Some("since=42")).unwrap(), 42);
        assert_eq!(parse_since(Some("x=1&since=7")).unwrap(), 7);
        assert!(parse_since(Some("since=-1")).is_err());
        assert!(parse_since(Some("since=abc")).is_err());
    }

    #[test]
    fn basic_credentials_must_name_a_server_and_match_its_secret() {
        let secret = "0123456789abcdef0123456789abcdef";
        let servers = [ResourceServer::from_secret("orders", secret).unwrap()];
        let headers = |value: String| {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
            h
        };
        let basic =
            |user: &str, pass: &str| format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
        assert!(authenticate(&servers, &headers(basic("orders", secret))).is_some());
        assert!(authenticate(&servers, &headers(basic("orders", "wrong"))).is_none());
        assert!(authenticate(&servers, &headers(basic("billing", secret))).is_none());
        assert!(authenticate(&servers, &headers(format!("Bearer {secret}"))).is_none());
        assert!(authenticate(&servers, &HeaderMap::new()).is_none());
    }
}
