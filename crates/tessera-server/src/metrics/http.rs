//! The request middleware: counts and times every request the public router answers, by
//! matched route template, and derives the login and refresh outcomes from what the client
//! was told (the status of `POST /auth/login` and `POST /auth/refresh` says exactly which
//! outcome it was; see `error.rs`).
//!
//! Requests refused before routing (the connection cap's 503, the header limits' 431 and
//! 408) never reach a router and are not counted here.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::{Metrics, OutcomeLabels, RequestLabels, RouteLabels};

/// The `route` label of requests no route matched (any path: the label set stays bounded).
const UNMATCHED: &str = "unmatched";

/// Records one request's count, latency and, for logins and refreshes, outcome.
pub(crate) async fn track(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status();
    let labels = RouteLabels { route, method };
    metrics
        .request_duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    let RouteLabels { route, method } = labels;
    if method == "POST" {
        match route.as_str() {
            "/auth/login" => {
                metrics
                    .logins
                    .get_or_create(&OutcomeLabels {
                        outcome: login_outcome(status),
                    })
                    .inc();
            }
            "/auth/refresh" => {
                metrics
                    .refreshes
                    .get_or_create(&OutcomeLabels {
                        outcome: refresh_outcome(status),
                    })
                    .inc();
            }
            _ => {}
        }
    }
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: status.as_u16(),
        })
        .inc();
    response
}

/// The method as a label: the standard ones by name, any extension method as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `tessera_logins_total{outcome}`: `success` (200), `invalid_credentials` (401: unknown user,
/// wrong password, disabled user), `throttled` (429: login throttle), then the common ones.
fn login_outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "success",
        401 => "invalid_credentials",
        _ => common_outcome(status),
    }
}

/// `tessera_refreshes_total{outcome}`: `success` (200), `invalid_grant` (401: unknown, expired,
/// revoked or reused token), `throttled` (429: per-IP rate), then the common ones.
fn refresh_outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "success",
        401 => "invalid_grant",
        _ => common_outcome(status),
    }
}

/// `throttled` (429), `forbidden` (403: a browser-mode origin or CSRF check), `unavailable`
/// (503: Argon2 queue full or database unavailable), `timeout` (408), `error` (other 5xx),
/// `invalid_request` (any other answer: malformed, oversized).
fn common_outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "throttled",
        403 => "forbidden",
        503 => "unavailable",
        408 => "timeout",
        _ if status.is_server_error() => "error",
        _ => "invalid_request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_outcomes() {
        let cases = [
            (200, "success", "success"),
            (401, "invalid_credentials", "invalid_grant"),
            (429, "throttled", "throttled"),
            (403, "forbidden", "forbidden"),
            (503, "unavailable", "unavailable"),
            (408, "timeout", "timeout"),
            (500, "error", "error"),
            (400, "invalid_request", "invalid_request"),
            (413, "invalid_request", "invalid_request"),
        ];
        for (code, login, refresh) in cases {
            let status = StatusCode::from_u16(code).expect("status");
            assert_eq!(login_outcome(status), login, "login {code}");
            assert_eq!(refresh_outcome(status), refresh, "refresh {code}");
        }
    }

    #[test]
    fn extension_methods_share_one_label() {
        let custom = Method::from_bytes(b"FROBNICATE").expect("method");
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }
}
