//! Structured logs: one line per request (method, matched route, status, latency), and the
//! cause of every 5xx logged once, here at the edge. Never the URI's query, a header value, a
//! body, a password, a token or a hash: spans use the matched route template, not the raw URI.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::{MakeSpan, OnFailure, OnResponse, TraceLayer};
use tracing::{Level, Span};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::error::ErrorCause;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable text (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber writing to `sink` (a parameter so tests can silence it).
/// `filter` uses `RUST_LOG` syntax, e.g. `info` or `tessera=debug`. Calling it twice is
/// harmless: the second call keeps the first subscriber.
pub fn init<W>(format: LogFormat, filter: &str, sink: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_target(false);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The request-logging layer.
pub(crate) fn trace_layer()
-> TraceLayer<HttpClassifier, RouteSpan, (), LogResponse, (), (), NoFailureLog> {
    TraceLayer::new_for_http()
        .make_span_with(RouteSpan)
        .on_request(())
        .on_response(LogResponse)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(NoFailureLog)
}

type HttpClassifier =
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>;

/// Names the span after the matched route template.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteSpan;

impl<B> MakeSpan<B> for RouteSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("<unmatched>", MatchedPath::as_str);
        tracing::info_span!("request", method = %request.method(), route, user_id = tracing::field::Empty)
    }
}

/// Logs one line per response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &http::Response<B>, latency: Duration, _span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        tracing::event!(Level::INFO, status, latency_ms, "request served");
    }
}

/// 5xx responses are logged by [`log_error_causes`] with their cause; the trace layer adds
/// nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoFailureLog;

impl OnFailure<ServerErrorsFailureClass> for NoFailureLog {
    fn on_failure(&mut self, _class: ServerErrorsFailureClass, _latency: Duration, _span: &Span) {}
}

/// Logs the cause chain of a 5xx once, then drops it from the response.
pub(crate) async fn log_error_causes(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(ErrorCause(cause)) = response.extensions_mut().remove::<ErrorCause>() {
        let mut chain = Vec::new();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push(s.to_string());
            source = s.source();
        }
        tracing::error!(error.message = %cause, error.cause_chain = ?chain, "request failed");
    }
    response
}
