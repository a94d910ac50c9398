//! `protected-api`: runs the example API against a running Tessera.
//!
//! Settings come from the environment (the names are this example's own; `TESSERA_*` belongs
//! to the server):
//! - `API_LISTEN`: address to listen on, default `127.0.0.1:3000`;
//! - `API_ISSUER`: Tessera's issuer URL, default `http://127.0.0.1:8080`;
//! - `API_AUDIENCE`: the audience tokens must carry, default `tessera`;
//! - `API_FEED_NAME` and `API_FEED_SECRET_FILE`: this API's name and secret file as
//!   configured at Tessera under `[resource_servers.<name>]`; without them the API does not
//!   follow the revocation feed;
//! - `API_FEED_POLL_SECS`: poll interval, default 5.

use std::error::Error;
use std::time::Duration;

use tessera_verify::{RemoteVerifier, RevocationFeedConfig};

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(var("RUST_LOG", "info")))
        .init();
    let listen = var("API_LISTEN", "127.0.0.1:3000");
    let issuer = var("API_ISSUER", "http://127.0.0.1:8080");
    let mut builder = RemoteVerifier::builder(issuer, var("API_AUDIENCE", "tessera"));
    if let (Ok(name), Ok(file)) = (
        std::env::var("API_FEED_NAME"),
        std::env::var("API_FEED_SECRET_FILE"),
    ) {
        let secret = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read API_FEED_SECRET_FILE {file}: {e}"))?;
        let poll = var("API_FEED_POLL_SECS", "5").parse::<u64>()?;
        builder = builder.revocation_feed(
            RevocationFeedConfig::new(name, secret.trim()).poll_interval(Duration::from_secs(poll)),
        );
    } else {
        tracing::warn!(
            "API_FEED_NAME / API_FEED_SECRET_FILE unset: revoked tokens stay valid until they expire"
        );
    }
    let verifier = builder.build()?;
    if let Err(e) = verifier.refresh().await {
        tracing::warn!(error.message = %e, "cannot fetch Tessera's keys yet; retrying in the background");
    }
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(%listen, "protected-api listening");
    axum::serve(listener, protected_api::app(verifier)).await?;
    Ok(())
}
