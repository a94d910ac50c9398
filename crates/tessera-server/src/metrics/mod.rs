//! Prometheus metrics: the registry, what each metric means, and the `/metrics` endpoint.
//!
//! Owns the metric names, labels and buckets (listed for operators in
//! `docs/configuration.md`, "Metrics"). Counters and histograms are updated as things happen:
//! HTTP requests by the middleware of `http.rs`, security events through the core's
//! [`AuditObserver`], Argon2 waits through the hasher's wait observer. Gauges that describe a
//! state (Argon2 queue, database pool, signing-key ages) are read when scraped, so they cost
//! nothing between scrapes.
//!
//! Every label takes values from a bounded set (route templates, never raw paths; known
//! methods; audit event names; the published key ids), so that no client can grow the
//! series count. No metric carries a user id, a username, an address or a token.
//!
//! # Layout
//! - `mod.rs`: [`Metrics`], the scrape handler and router.
//! - `http.rs`: the request middleware and the login/refresh outcomes derived from statuses.

mod http;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry, Unit};
use tessera_core::audit::{AuditEvent, AuditObserver};
use tessera_core::identity::{ProviderObserver, ProviderOutcome};
use tessera_core::password::{PasswordHasher, WaitObserver};

use crate::state::AppState;

pub(crate) use http::track;

/// The path the endpoint is served at.
pub const METRICS_PATH: &str = "/metrics";

/// The OpenMetrics text format, which Prometheus negotiates and reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latency buckets, in seconds: Prometheus's defaults, which cover a fast token check
/// (milliseconds) and an Argon2 login under load (seconds).
const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KidLabels {
    kid: String,
}

/// Every metric the server exports, in one registry. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<RouteLabels>,
    logins: Family<OutcomeLabels, Counter>,
    refreshes: Family<OutcomeLabels, Counter>,
    reuse_detected: Counter,
    lockouts: Counter,
    audit_events: Family<EventLabels, Counter>,
    provider_checks: Family<ProviderLabels, Counter>,
    hash_queue_depth: Gauge,
    hash_wait: Histogram,
    pool_connections: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    key_age: Family<KidLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A metric's name, help text and unit.
struct Desc(&'static str, &'static str, Option<Unit>);

/// Name, help text and unit of each metric, in the order `/metrics` lists them.
const REQUESTS: Desc = Desc(
    "tessera_http_requests",
    "HTTP requests answered on the public port, by matched route template, method and status",
    None,
);
const REQUEST_DURATION: Desc = Desc(
    "tessera_http_request_duration",
    "Time from a request's headers to its answer, by matched route template and method",
    Some(Unit::Seconds),
);
const LOGINS: Desc = Desc(
    "tessera_logins",
    "Password logins (POST /auth/login) by outcome",
    None,
);
const PROVIDER_CHECKS: Desc = Desc(
    "tessera_identity_provider_checks",
    "Sign-ins checked by an identity provider, by provider id and outcome",
    None,
);
const REFRESHES: Desc = Desc(
    "tessera_refreshes",
    "Refresh-token exchanges (POST /auth/refresh) by outcome",
    None,
);
const REUSE_DETECTED: Desc = Desc(
    "tessera_refresh_reuse_detected",
    "Rotated refresh tokens presented again after the grace window (the session is revoked)",
    None,
);
const LOCKOUTS: Desc = Desc(
    "tessera_lockouts",
    "Failed logins that started a login-throttle lockout",
    None,
);
const AUDIT_EVENTS: Desc = Desc(
    "tessera_audit_events",
    "Audit-log events recorded by this instance, by event name",
    None,
);
const HASH_QUEUE_DEPTH: Desc = Desc(
    "tessera_password_hash_queue_depth",
    "Argon2 calls waiting for a worker now",
    None,
);
const HASH_WAIT: Desc = Desc(
    "tessera_password_hash_wait",
    "Time an Argon2 call waited for a worker (zero when one was free)",
    Some(Unit::Seconds),
);
const POOL_CONNECTIONS: Desc = Desc(
    "tessera_db_pool_connections",
    "Open database connections by state (idle, in_use)",
    None,
);
const POOL_MAX: Desc = Desc(
    "tessera_db_pool_max_connections",
    "Most connections the database pool opens",
    None,
);
const KEY_AGE: Desc = Desc(
    "tessera_signing_key_age",
    "Seconds since each published signing key became active (negative: a published next key not active yet)",
    Some(Unit::Seconds),
);

/// Registers `metric` as `desc` says and returns the handle to update.
fn registered<M: Metric + Clone>(registry: &mut Registry, desc: &Desc, metric: M) -> M {
    let Desc(name, help, unit) = desc;
    match unit {
        Some(unit) => registry.register_with_unit(*name, *help, unit.clone(), metric.clone()),
        None => registry.register(*name, *help, metric.clone()),
    }
    metric
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let mut r = Registry::default();
        Self {
            requests: registered(
                &mut r,
                &REQUESTS,
                Family::<RequestLabels, Counter>::default(),
            ),
            request_duration: registered(
                &mut r,
                &REQUEST_DURATION,
                Family::new_with_constructor(latency_histogram),
            ),
            logins: registered(&mut r, &LOGINS, Family::<OutcomeLabels, Counter>::default()),
            refreshes: registered(
                &mut r,
                &REFRESHES,
                Family::<OutcomeLabels, Counter>::default(),
            ),
            reuse_detected: registered(&mut r, &REUSE_DETECTED, Counter::default()),
            lockouts: registered(&mut r, &LOCKOUTS, Counter::default()),
            audit_events: registered(
                &mut r,
                &AUDIT_EVENTS,
                Family::<EventLabels, Counter>::default(),
            ),
            provider_checks: registered(
                &mut r,
                &PROVIDER_CHECKS,
                Family::<ProviderLabels, Counter>::default(),
            ),
            hash_queue_depth: registered(&mut r, &HASH_QUEUE_DEPTH, Gauge::default()),
            hash_wait: registered(
                &mut r,
                &HASH_WAIT,
                Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            ),
            pool_connections: registered(
                &mut r,
                &POOL_CONNECTIONS,
                Family::<StateLabels, Gauge>::default(),
            ),
            pool_max: registered(&mut r, &POOL_MAX, Gauge::default()),
            key_age: registered(&mut r, &KEY_AGE, Family::<KidLabels, Gauge>::default()),
            registry: r,
        }
    }

    /// The hook the password hasher calls with each wait for a worker.
    pub fn hash_wait_observer(&self) -> WaitObserver {
        let histogram = self.hash_wait.clone();
        Arc::new(move |waited: Duration| histogram.observe(waited.as_secs_f64()))
    }

    /// Attaches the hasher's wait observer (once per hasher; a second registry is ignored).
    pub fn observe_hasher(&self, hasher: &PasswordHasher) {
        let _first = hasher.set_wait_observer(self.hash_wait_observer());
    }

    /// Reads the state gauges and renders every metric in the OpenMetrics text format.
    pub fn render(&self, state: &AppState) -> Result<String, std::fmt::Error> {
        self.sample(state);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Sets the gauges that describe the state now.
    fn sample(&self, state: &AppState) {
        let hasher = state.auth().accounts().hasher();
        self.hash_queue_depth
            .set(i64::try_from(hasher.queue_depth()).unwrap_or(i64::MAX));
        let pool = state.auth().store().pool_usage();
        for (label, value) in [("idle", pool.idle), ("in_use", pool.in_use())] {
            self.pool_connections
                .get_or_create(&StateLabels { state: label })
                .set(i64::from(value));
        }
        self.pool_max.set(i64::from(pool.max));
        // The published set changes on rotation: retired keys leave the family.
        let now = state.auth().clock().unix();
        let published = state.published();
        self.key_age.clear();
        for (kid, activated_at) in &published.kids {
            self.key_age
                .get_or_create(&KidLabels { kid: kid.clone() })
                .set(now.saturating_sub(*activated_at));
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProviderObserver for Metrics {
    fn observe(&self, provider: &str, outcome: ProviderOutcome) {
        self.provider_checks
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
                outcome: outcome.as_str(),
            })
            .inc();
    }
}

impl AuditObserver for Metrics {
    fn observe(&self, event: AuditEvent) {
        self.audit_events
            .get_or_create(&EventLabels {
                event: event.as_str(),
            })
            .inc();
        match event {
            AuditEvent::RefreshReuseDetected => {
                self.reuse_detected.inc();
            }
            AuditEvent::LoginLockedOut => {
                self.lockouts.inc();
            }
            _ => {}
        }
    }
}

/// What the scrape handler reads.
#[derive(Clone, Debug)]
struct Scrape {
    metrics: Arc<Metrics>,
    state: AppState,
}

/// `GET /metrics`, for the metrics listener or (when asked) the public router.
pub(crate) fn router(metrics: Arc<Metrics>, state: AppState) -> Router {
    Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(Scrape { metrics, state })
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    match scrape.metrics.render(&scrape.state) {
        Ok(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error.message = %e, "cannot render the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
