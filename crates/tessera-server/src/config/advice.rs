//! Security advice on a configuration the server accepts: things that are allowed but weaken
//! the tokens, in the terms of RFC 8725 (JWT Best Current Practices) and RFC 6750.
//!
//! `tessera check-config` prints these after the verdicts of [`Settings::validate`]; the
//! server does not refuse them. Refusals belong in `settings.rs`, not here. Messages never
//! contain a secret.

use std::time::Duration;

use super::Settings;

/// Access-token lifetimes above this draw a warning (the range allows up to 60 minutes).
const LONG_ACCESS_TOKEN: Duration = Duration::from_secs(15 * 60);

impl Settings {
    /// Warnings about accepted but weaker choices, each saying what to prefer and why.
    pub fn security_advice(&self) -> Vec<String> {
        let mut advice = Vec::new();
        if self.keys.algorithm.is_hmac() {
            advice.push(format!(
                "keys.algorithm = {} signs with a shared secret: every resource server that can \
                 verify tokens can also mint them, and a leaked secret forges tokens for all of \
                 them; prefer an asymmetric algorithm such as EdDSA or ES256 when verifiers are \
                 not fully trusted (RFC 8725 §3.2, §3.5)",
                self.keys.algorithm
            ));
        }
        if self.access_token_ttl > LONG_ACCESS_TOKEN {
            advice.push(format!(
                "access_token_ttl_secs = {}: a stolen access token stays usable for {} minutes \
                 and revocation only reaches verifiers that follow the feed; bearer tokens \
                 should be short-lived, 5 to 15 minutes (RFC 6750 §5.3, RFC 8725 §3.10)",
                self.access_token_ttl.as_secs(),
                self.access_token_ttl.as_secs() / 60
            ));
        }
        if self.audience.is_none() {
            advice.push(
                "audience is the default \"tessera\": give each deployment an audience that \
                 names its resource servers, so a token issued for one cannot be replayed \
                 at another (RFC 8725 §3.9)"
                    .to_owned(),
            );
        }
        if self.keys.rotation_interval.is_none() && !self.keys.algorithm.is_hmac() {
            advice.push(
                "keys.rotation_interval_days = 0 turns scheduled key rotation off: a key that \
                 leaked unnoticed keeps signing valid tokens (RFC 8725 §3.5)"
                    .to_owned(),
            );
        }
        if self.trusted_proxies.trusts_everyone() {
            advice.push(
                "trusted_proxies covers every address: any client can choose the address \
                 brute-force protection counts it under with X-Forwarded-For; list only your \
                 proxies"
                    .to_owned(),
            );
        }
        if self.behind_tls_proxy && self.trusted_proxies.is_empty() {
            advice.push(
                "behind_tls_proxy = true but trusted_proxies is empty: every client is seen as \
                 the proxy's address, so one client's failed logins count against all; list the \
                 proxy in trusted_proxies"
                    .to_owned(),
            );
        }
        if let Some(listen) = self.metrics.listen
            && !listen.ip().to_canonical().is_loopback()
        {
            advice.push(format!(
                "metrics.listen = {listen} serves /metrics without authentication or TLS beyond \
                 loopback: request rates, outcomes and key ids are readable by anyone who \
                 reaches it; keep it on a network only the scraper reaches"
            ));
        }
        advice
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrustedProxies;

    #[test]
    fn the_test_defaults_draw_only_the_audience_advice() {
        let settings = Settings::for_test(std::path::Path::new("/tmp/unused"));
        let advice = settings.security_advice();
        assert_eq!(advice.len(), 1, "{advice:?}");
        assert!(advice[0].contains("RFC 8725 §3.9"), "{advice:?}");
    }

    #[test]
    fn weaker_choices_are_named_with_their_rfc() {
        let mut settings = Settings::for_test(std::path::Path::new("/tmp/unused"));
        settings.audience = Some("api".to_owned());
        settings.access_token_ttl = Duration::from_secs(3600);
        settings.keys.algorithm = tessera_core::keys::signing::Algorithm::HS256;
        settings.trusted_proxies = TrustedProxies::parse(&["0.0.0.0/0".to_owned()]).unwrap();
        settings.metrics.listen = "0.0.0.0:9090".parse().ok();

        let advice = settings.security_advice().join("\n");

        assert!(
            advice.contains("HS256") && advice.contains("RFC 8725 §3.2"),
            "{advice}"
        );
        assert!(
            advice.contains("60 minutes") && advice.contains("RFC 6750"),
            "{advice}"
        );
        assert!(
            advice.contains("trusted_proxies covers every address"),
            "{advice}"
        );
        assert!(advice.contains("metrics.listen = 0.0.0.0:9090"), "{advice}");
    }
}
