//! `Json<T>`: axum's JSON extractor with the rejections mapped to API.md's errors: 413
//! `payload_too_large` over the body limit, 400 `invalid_request` for a missing or wrong
//! `Content-Type`, malformed JSON or a missing field. serde's messages can quote the
//! offending value (a password sent as the wrong type, say), so only messages that name a
//! field, never a value, are passed on.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
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
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(map_rejection(&rejection)),
        }
    }
}

fn map_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    let message = match rejection {
        JsonRejection::MissingJsonContentType(_) => "expected Content-Type: application/json".to_owned(),
        JsonRejection::JsonSyntaxError(_) => "the request body is not valid JSON".to_owned(),
        JsonRejection::JsonDataError(e) => field_message(&e.body_text()),
        _ => "the request body could not be read".to_owned(),
    };
    ApiError::InvalidRequest(message)
}

/// Keeps serde's "missing field `x`" / "unknown field `x`", drops anything that could quote a value.
fn field_message(text: &str) -> String {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(start) = text.find(marker) {
            let rest = &text[start..];
            let end = rest[marker.len()..].find('`').map_or(rest.len(), |i| marker.len() + i + 1);
            return format!("invalid request body: {}", &rest[..end]);
        }
    }
    "invalid request body: a field is missing or has the wrong type".to_owned()
}

#[cfg(test)]
mod tests {
    use super::field_message;

    #[test]
    fn field_messages_name_fields_but_never_quote_values() {
        let m = field_message("Failed to deserialize the JSON body: missing field `password` at line 1 column 20");
        assert_eq!(m, "invalid request body: missing field `password`");
        let m = field_message("Failed to deserialize: invalid type: string \"hunter2\", expected a sequence");
        assert!(!m.contains("hunter2"), "{m}");
    }
}
