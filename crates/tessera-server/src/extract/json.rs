//! `Json<T>`: a JSON request body with every rejection mapped to API.md's errors: 413
//! `payload_too_large` over the body limit; 400 `invalid_request` for a missing or wrong
//! `Content-Type`, malformed JSON, a body that is not a JSON object (serde would otherwise
//! accept `["name","password"]` for a struct), or a missing, unknown or mistyped field.
//! serde's messages can quote the offending value (a password sent as the wrong type, say),
//! so only messages that name a field, never a value, are passed on.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(content_type_error());
        }
        let bytes = read_body(req, state).await?;
        decode(&bytes).map(Self)
    }
}

/// A JSON body that may be absent: an empty body (with or without a `Content-Type`) is `None`;
/// a non-empty one must be a valid JSON object, as for [`Json`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if !json {
            return Err(content_type_error());
        }
        decode(&bytes).map(|v| Self(Some(v)))
    }
}

fn content_type_error() -> ApiError {
    ApiError::InvalidRequest("expected Content-Type: application/json".to_owned())
}

/// The body, within the router's limit (over it: 413).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidRequest("the request body could not be read".to_owned())
        }
    })
}

/// A JSON object into `T`; errors name fields, never values.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::InvalidRequest(
            "the request body must be a JSON object".to_owned(),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::InvalidRequest(if e.is_data() {
            field_message(&e.to_string())
        } else {
            "the request body is not valid JSON".to_owned()
        })
    })
}

/// `application/json` or any `application/*+json`, parameters ignored.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Keeps serde's "missing field `x`" / "unknown field `x`", drops anything that could quote a value.
fn field_message(text: &str) -> String {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(start) = text.find(marker) {
            let rest = &text[start..];
            let end = rest[marker.len()..]
                .find('`')
                .map_or(rest.len(), |i| marker.len() + i + 1);
            return format!("invalid request body: {}", &rest[..end]);
        }
    }
    "invalid request body: a field is missing or has the wrong type".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_messages_name_fields_but_never_quote_values() {
        let m = field_message("missing field `password` at line 1 column 20");
        assert_eq!(m, "invalid request body: missing field `password`");
        let m = field_message(
            "invalid type: string \"hunter2\", expected a sequence at line 1 column 9",
        );
        assert!(!m.contains("hunter2"), "{m}");
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters_and_suffixes() {
        let cases = [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("text/json+x", false),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), expected, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()), "no content type");
    }
}
