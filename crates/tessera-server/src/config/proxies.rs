//! `trusted_proxies`: which peers may say who the client is, in `X-Forwarded-For`.
//!
//! Owns the parsing of the list (IP addresses and CIDR blocks) and the choice of the client
//! address for a request. The default is an empty list: the socket's peer address is the
//! client, and `X-Forwarded-For` is ignored, since any client can send that header. With
//! proxies configured, the header is read only when the peer is one of them, right to left,
//! skipping further trusted hops; the first untrusted address is the client.

use std::net::IpAddr;

use axum::http::HeaderMap;

use super::ConfigError;
use super::schema::Conv;

/// An IP address block (`10.0.0.0/8`, `fd00::/8`, or a single address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

impl Block {
    fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network = addr.trim().parse::<IpAddr>().ok()?.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The configured trusted proxies. Default: none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Block>);

impl Conv<Option<Vec<String>>> for TrustedProxies {
    type Out = TrustedProxies;
    fn to(entries: Option<Vec<String>>) -> Result<TrustedProxies, ConfigError> {
        Self::parse(entries.as_deref().unwrap_or_default())
    }
}

impl TrustedProxies {
    /// Parses the `trusted_proxies` entries (IP addresses or CIDR blocks).
    pub fn parse(entries: &[String]) -> Result<Self, ConfigError> {
        entries
            .iter()
            .map(|entry| {
                Block::parse(entry).ok_or_else(|| {
                    ConfigError::invalid(
                        "trusted_proxies",
                        format!(
                            "entry {entry:?} is not an IP address or CIDR block such as \
                             \"10.0.0.0/8\" or \"::1\""
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a block covers a whole address family (`0.0.0.0/0`, `::/0`).
    pub fn trusts_everyone(&self) -> bool {
        self.0.iter().any(|block| block.prefix == 0)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// The client's address: `peer`, unless `peer` is a trusted proxy and `X-Forwarded-For`
    /// names an address beyond the trusted hops.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An entry that does not parse was not written by a proxy we trust: stop at the
            // last address a trusted hop vouched for.
            let Ok(ip) = hop.parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>())
            .expect("valid")
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_str(value).expect("ascii"),
        );
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn the_header_is_used_only_from_a_trusted_peer() {
        let trusted = proxies(&["10.0.0.0/8", "::1"]);
        let cases = [
            (
                &trusted,
                "203.0.113.9",
                "198.51.100.1",
                "203.0.113.9",
                "untrusted peer",
            ),
            (
                &trusted,
                "10.1.2.3",
                "198.51.100.1",
                "198.51.100.1",
                "trusted peer",
            ),
            (
                &trusted,
                "10.1.2.3",
                "198.51.100.1, 10.9.9.9",
                "198.51.100.1",
                "trusted hops skipped",
            ),
            (
                &trusted,
                "10.1.2.3",
                "6.6.6.6, 198.51.100.1",
                "198.51.100.1",
                "spoofed left part ignored",
            ),
            (
                &trusted,
                "10.1.2.3",
                "junk, 10.0.0.5",
                "10.0.0.5",
                "unparsable entry stops the walk",
            ),
            (
                &trusted,
                "::1",
                "198.51.100.1",
                "198.51.100.1",
                "IPv6 loopback proxy",
            ),
        ];
        for (proxies, peer, header, want, why) in cases {
            assert_eq!(proxies.client_ip(ip(peer), &xff(header)), ip(want), "{why}");
        }
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("10.1.2.3"), &xff("198.51.100.1")),
            ip("10.1.2.3"),
            "default: none trusted"
        );
        assert_eq!(
            trusted.client_ip(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3"),
            "no header"
        );
    }

    #[test]
    fn bad_entries_are_refused_with_the_key() {
        for entry in ["10.0.0.0/33", "example.com", "10.0.0.1/", ""] {
            let err = TrustedProxies::parse(&[entry.to_owned()]).expect_err(entry);
            assert!(
                err.to_string().starts_with("trusted_proxies"),
                "{entry}: {err}"
            );
        }
    }

    #[test]
    fn the_list_comes_from_the_file_or_the_environment() {
        use crate::config::{CliOverrides, Settings};
        let env = |value: &str| vec![("TESSERA_TRUSTED_PROXIES".to_owned(), value.to_owned())];

        let loaded = Settings::load(None, env("10.0.0.0/8, ::1"), CliOverrides::default())
            .expect("valid list");
        let refused = Settings::load(None, env("10.0.0.0/8,proxy.local"), CliOverrides::default())
            .expect_err("a host name is not an address");

        let trusted = loaded.settings.trusted_proxies;
        assert_eq!(
            trusted.client_ip(ip("10.2.3.4"), &xff("198.51.100.7")),
            ip("198.51.100.7")
        );
        assert_eq!(
            trusted.client_ip(ip("::1"), &xff("198.51.100.7")),
            ip("198.51.100.7")
        );
        assert!(
            refused.to_string().starts_with("trusted_proxies"),
            "{refused}"
        );
        assert!(
            Settings::load(None, Vec::new(), CliOverrides::default())
                .expect("defaults")
                .settings
                .trusted_proxies
                .is_empty()
        );
    }
}
