//! Whether a URL names this machine: plain `http` (or `ldap`) is accepted only there, for
//! browser origins, upstream issuers and directory URLs alike.

/// Whether `url`'s host, whatever its scheme (`http`, `ldap`, …), is this machine:
/// `localhost` or a loopback address.
pub(super) fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    is_loopback_authority(rest.split(['/', '?', '#']).next().unwrap_or_default())
}

/// Whether `host[:port]` names this machine.
fn is_loopback_authority(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .map_or_else(|| host.split(':').next().unwrap_or(host), |(h, _)| h);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
