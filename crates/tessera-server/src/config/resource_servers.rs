//! `[resource_servers.<name>]`: the resource servers allowed to read the revocation feed
//! (`GET /auth/revocations`), each with its own secret.
//!
//! A secret comes from `secret_file` (a file only the server can read, at least 32
//! characters) or is given as `secret_sha256` (the hex SHA-256 of the secret, so the
//! configuration file holds nothing that opens the feed). Never from the command line or the
//! environment. Only the SHA-256 is kept in memory, compared in constant time, and never
//! printed (`Debug` is redacted).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::ConfigError;
use super::schema::Conv;

/// Shortest accepted secret, in characters: 32 random base64 characters are 192 bits.
pub const MIN_SECRET_LEN: usize = 32;

/// `[resource_servers.<name>]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceServerLayer {
    pub(crate) secret_file: Option<PathBuf>,
    pub(crate) secret_sha256: Option<String>,
    pub(crate) audience: Option<String>,
}

/// A resource server allowed to read the revocation feed.
#[derive(Clone, PartialEq, Eq)]
pub struct ResourceServer {
    name: String,
    secret_hash: [u8; 32],
    audience: Option<String>,
}

impl ResourceServer {
    /// A resource server with this secret (tests and embedding; operators use the file).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a bad name or a secret shorter than [`MIN_SECRET_LEN`].
    pub fn from_secret(name: &str, secret: &str) -> Result<Self, ConfigError> {
        check_name(name)?;
        if secret.chars().count() < MIN_SECRET_LEN {
            return Err(ConfigError::invalid(
                "resource_servers.<name>.secret_file",
                format!(
                    "the secret of resource server {name} must have at least {MIN_SECRET_LEN} characters; generate one with `openssl rand -base64 32`"
                ),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            secret_hash: sha256(secret.as_bytes()),
            audience: None,
        })
    }

    /// The same resource server, serving `audience` (the `aud` of the tokens it accepts and
    /// may introspect).
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The audience it serves; `None`: the server's own `audience` setting.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Its name (the HTTP Basic user name it presents).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `secret` is this resource server's secret, in constant time.
    pub fn is_secret(&self, secret: &[u8]) -> bool {
        bool::from(sha256(secret).ct_eq(&self.secret_hash))
    }
}

impl fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceServer")
            .field("name", &self.name)
            .field("secret", &"[redacted]")
            .finish()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "resource_servers.<name>",
            "names have 1 to 64 characters among A-Z a-z 0-9 - _ .".to_owned(),
        ))
    }
}

/// Turns the file's tables into resource servers, reading secret files.
impl Conv<Option<BTreeMap<String, ResourceServerLayer>>> for ResourceServer {
    type Out = Vec<ResourceServer>;
    fn to(layer: Option<BTreeMap<String, ResourceServerLayer>>) -> Result<Vec<Self>, ConfigError> {
        load(layer)
    }
}

fn load(
    layer: Option<BTreeMap<String, ResourceServerLayer>>,
) -> Result<Vec<ResourceServer>, ConfigError> {
    let mut servers = Vec::new();
    for (name, entry) in layer.unwrap_or_default() {
        check_name(&name)?;
        let server = match (entry.secret_file, entry.secret_sha256) {
            (Some(file), None) => ResourceServer::from_secret(&name, read_secret(&file)?.trim())?,
            (None, Some(hex)) => ResourceServer {
                secret_hash: parse_hex(&hex).ok_or_else(|| {
                    ConfigError::invalid(
                        "resource_servers.<name>.secret_sha256",
                        format!(
                            "for {name} must be 64 hex digits (`printf %s \"$SECRET\" | sha256sum`)"
                        ),
                    )
                })?,
                name: name.clone(),
                audience: None,
            },
            _ => {
                return Err(ConfigError::invalid(
                    "resource_servers.<name>",
                    format!("{name} needs exactly one of secret_file and secret_sha256"),
                ));
            }
        };
        let server = match entry.audience {
            Some(aud)
                if aud.is_empty()
                    || aud.len() > 256
                    || !aud.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                return Err(ConfigError::invalid(
                    "resource_servers.<name>.audience",
                    format!(
                        "for {name} must be 1 to 256 printable characters without spaces (e.g. https://api.example.org)"
                    ),
                ));
            }
            Some(aud) => server.with_audience(aud),
            None => server,
        };
        servers.push(server);
    }
    Ok(servers)
}

fn read_secret(file: &Path) -> Result<Zeroizing<String>, ConfigError> {
    let unreadable = |e: std::io::Error| {
        ConfigError::invalid(
            "resource_servers.<name>.secret_file",
            format!("cannot be read: {} ({e})", file.display()),
        )
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file)
            .map_err(unreadable)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(ConfigError::invalid(
                "resource_servers.<name>.secret_file",
                format!(
                    "{} is readable by group or others; run `chmod 600 {}`",
                    file.display(),
                    file.display()
                ),
            ));
        }
    }
    std::fs::read_to_string(file)
        .map(Zeroizing::new)
        .map_err(unreadable)
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ResourceServer>, ConfigError> {
        #[derive(Deserialize)]
        struct Wrapper {
            resource_servers: Option<BTreeMap<String, ResourceServerLayer>>,
        }
        let wrapper: Wrapper = toml::from_str(text).unwrap();
        load(wrapper.resource_servers)
    }

    #[test]
    fn a_hashed_secret_is_accepted_and_checked() {
        // printf %s 'correct horse battery staple and more' | sha256sum
        let secret = "correct horse battery staple and more";
        let hex: String = sha256(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let servers = parse(&format!(
            "[resource_servers.orders-api]\nsecret_sha256 = \"{hex}\"\n"
        ))
        .unwrap();
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].name(), "orders-api");
        assert!(servers[0].is_secret(secret.as_bytes()));
        assert!(!servers[0].is_secret(b"wrong"));
        assert!(
            !format!("{:?}", servers[0]).contains(&hex[..8]),
            "debug is redacted"
        );
    }

    #[test]
    fn a_secret_file_is_read_and_must_be_private_and_long() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rs.secret");
        std::fs::write(&file, "0123456789abcdef0123456789abcdef\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let text = format!("[resource_servers.a]\nsecret_file = {:?}\n", file);
            assert!(parse(&text).is_err(), "world-readable file refused");
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            let servers = parse(&text).unwrap();
            assert!(servers[0].is_secret(b"0123456789abcdef0123456789abcdef"));
            std::fs::write(&file, "short\n").unwrap();
            assert!(parse(&text).is_err(), "short secret refused");
        }
    }

    #[test]
    fn a_bad_entry_is_refused_with_the_key() {
        let cases = [
            ("[resource_servers.a]\n", "neither secret"),
            (
                "[resource_servers.a]\nsecret_sha256 = \"abc\"\n",
                "short hex",
            ),
            (
                "[resource_servers.\"a b\"]\nsecret_sha256 = \"abc\"\n",
                "bad name",
            ),
        ];
        for (text, why) in cases {
            let err = parse(text).expect_err(why).to_string();
            assert!(err.contains("resource_servers"), "{why}: {err}");
        }
    }
}
