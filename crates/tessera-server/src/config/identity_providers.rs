//! `[[identity_providers]]`: external identity providers. Kind `ldap` (OpenLDAP, Active
//! Directory, FreeIPA): a directory that checks its users' passwords, asked in the file's
//! order for an unknown username. Kind `oidc`: an upstream OpenID Connect provider the
//! sign-in page offers a button for. See `docs/identity-providers.md`.
//!
//! Secrets never sit in the file: a bind password or client secret comes from a `…_file`
//! (read here) or a `…_env` (the variable's name; [`resolve_env`] reads it from the
//! variables the caller passed in). `Debug` never shows them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use tessera_core::domain::RoleName;

use super::ConfigError;
use super::loopback::is_loopback_url;
use super::schema::Conv;

const KEY: &str = "identity_providers";

/// One `[[identity_providers]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityProviderLayer {
    id: Option<String>,
    kind: Option<String>,
    url: Option<String>,
    start_tls: Option<bool>,
    ca_file: Option<PathBuf>,
    bind_dn: Option<String>,
    /// Refused with a message: secrets are not written in the file.
    bind_password: Option<toml::Value>,
    bind_password_file: Option<PathBuf>,
    bind_password_env: Option<String>,
    user_base: Option<String>,
    user_filter: Option<String>,
    username_attribute: Option<String>,
    subject_attribute: Option<String>,
    group_base: Option<String>,
    group_filter: Option<String>,
    roles: Option<BTreeMap<String, Vec<String>>>,
    link_existing: Option<String>,
    timeout_secs: Option<u64>,
    pool_size: Option<usize>,
    // kind = "oidc"
    name: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    /// Refused with a message: secrets are not written in the file.
    client_secret: Option<toml::Value>,
    client_secret_file: Option<PathBuf>,
    client_secret_env: Option<String>,
    scopes: Option<Vec<String>>,
    username_claim: Option<String>,
    groups_claim: Option<String>,
    userinfo: Option<bool>,
}

/// Where a bind password or client secret comes from (`Debug` shows no secret).
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Read from `bind_password_file` (or resolved from the environment).
    Known(SecretString),
    /// `bind_password_env`, not yet resolved.
    Env(String),
}

/// A configured LDAP directory.
#[derive(Clone)]
pub struct LdapProviderSettings {
    /// Stable id; links name it.
    pub id: String,
    /// `ldaps://…` or `ldap://…` (loopback or `start_tls` only).
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub start_tls: bool,
    /// PEM file of the CAs to trust (default: the system's).
    pub ca_file: Option<PathBuf>,
    /// The service account that searches.
    pub bind_dn: String,
    /// Its password.
    pub bind_password: SecretSource,
    /// Where users are searched.
    pub user_base: String,
    /// The search filter; `{username}` is replaced by the RFC 4515-escaped username.
    pub user_filter: String,
    /// The attribute holding the username (default `uid`; Active Directory `sAMAccountName`).
    pub username_attribute: String,
    /// The stable subject attribute (default `entryUUID`; Active Directory `objectGUID`).
    pub subject_attribute: String,
    /// Where groups are searched.
    pub group_base: Option<String>,
    /// The group filter; `{dn}` is replaced by the escaped DN of the user's entry.
    pub group_filter: Option<String>,
    /// Group DN -> roles.
    pub roles: Vec<(String, Vec<RoleName>)>,
    /// `link_existing = "username"`.
    pub link_existing: bool,
    /// Bound on each directory exchange (connect, bind, search), default 5 s.
    pub timeout: Duration,
    /// Connections kept open and logins checked at once, default 4.
    pub pool_size: usize,
}

impl fmt::Debug for LdapProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapProviderSettings")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("start_tls", &self.start_tls)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &"[redacted]")
            .field("user_base", &self.user_base)
            .field("user_filter", &self.user_filter)
            .field("roles", &self.roles)
            .field("link_existing", &self.link_existing)
            .finish_non_exhaustive()
    }
}

/// A configured upstream OpenID Connect provider.
#[derive(Clone)]
pub struct OidcProviderSettings {
    /// Stable id; links name it, and it is in the callback URL
    /// (`{issuer}/oauth/upstream/{id}/callback`, to register at the provider).
    pub id: String,
    /// The button's label ("Sign in with {name}").
    pub name: String,
    /// The provider's issuer URL (discovery: `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// Tessera's client id at the provider.
    pub client_id: String,
    /// Its client secret (`client_secret_basic`).
    pub client_secret: SecretSource,
    /// Scopes asked for (always with `openid`).
    pub scopes: Vec<String>,
    /// The claim the Tessera username is taken from at provisioning (default
    /// `preferred_username`; `sub` when absent).
    pub username_claim: String,
    /// The claim holding group names, for `roles` (default `groups`).
    pub groups_claim: String,
    /// Group name -> roles.
    pub roles: Vec<(String, Vec<RoleName>)>,
    /// Whether the userinfo endpoint is read too (its claims complete the ID token's).
    pub userinfo: bool,
    /// Bound on each exchange with the provider, default 5 s.
    pub timeout: Duration,
}

impl fmt::Debug for OidcProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcProviderSettings")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// A configured identity provider.
#[derive(Debug, Clone)]
pub enum IdentityProviderSettings {
    /// `kind = "ldap"`.
    Ldap(LdapProviderSettings),
    /// `kind = "oidc"`.
    Oidc(OidcProviderSettings),
}

impl IdentityProviderSettings {
    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            Self::Ldap(l) => &l.id,
            Self::Oidc(o) => &o.id,
        }
    }
}

impl Conv<Option<Vec<IdentityProviderLayer>>> for IdentityProviderSettings {
    type Out = Vec<IdentityProviderSettings>;
    fn to(layer: Option<Vec<IdentityProviderLayer>>) -> Result<Self::Out, ConfigError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, entry) in layer.unwrap_or_default().into_iter().enumerate() {
            let provider = parse(i, entry)?;
            if !seen.insert(provider.id().to_owned()) {
                return Err(invalid(format!(
                    "id {:?} is used twice; each provider needs its own, never reused, id",
                    provider.id()
                )));
            }
            out.push(provider);
        }
        Ok(out)
    }
}

fn invalid(reason: String) -> ConfigError {
    ConfigError::invalid(KEY, reason)
}

fn parse(index: usize, l: IdentityProviderLayer) -> Result<IdentityProviderSettings, ConfigError> {
    let id = l.id.clone().ok_or_else(|| {
        invalid(format!(
            "entry {} has no `id`; give it a stable one such as \"corp\"",
            index + 1
        ))
    })?;
    let ok_id = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
    if !ok_id {
        return Err(invalid(format!(
            "id {id:?}: use 1 to 64 characters among a-z 0-9 - _"
        )));
    }
    match l.kind.as_deref() {
        Some("ldap") => parse_ldap(id, l).map(IdentityProviderSettings::Ldap),
        Some("oidc") => parse_oidc(id, l).map(IdentityProviderSettings::Oidc),
        Some(other) => Err(invalid(format!(
            "{id}: unknown kind {other:?}; use \"ldap\" or \"oidc\""
        ))),
        None => Err(invalid(format!(
            "{id}: `kind` is missing; use \"ldap\" or \"oidc\""
        ))),
    }
}

fn parse_ldap(id: String, l: IdentityProviderLayer) -> Result<LdapProviderSettings, ConfigError> {
    check_groups(&id, &l)?;
    let need = |value: Option<String>, key: &str, example: &str| {
        value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| invalid(format!("{id}: `{key}` is missing (for example {example})")))
    };
    let url = need(l.url, "url", "\"ldaps://ldap.example.org\"")?;
    let start_tls = l.start_tls.unwrap_or(false);
    check_url(&id, &url, start_tls)?;
    let bind_password = secret_of(
        &id,
        "bind_password",
        l.bind_password.is_some(),
        l.bind_password_file,
        l.bind_password_env,
    )?;
    let user_filter = need(
        l.user_filter,
        "user_filter",
        "\"(&(objectClass=inetOrgPerson)(uid={username}))\"",
    )?;
    if !user_filter.contains("{username}") {
        return Err(invalid(format!(
            "{id}: `user_filter` must contain {{username}} where the escaped username goes"
        )));
    }
    check_filter(&id, "user_filter", &user_filter)?;
    let roles = parse_roles(&id, l.roles.unwrap_or_default())?;
    let link_existing = match l.link_existing.as_deref() {
        None | Some("off") => false,
        Some("username") => true,
        Some(other) => {
            return Err(invalid(format!(
                "{id}: link_existing {other:?}: use \"username\" (only for a directory you \
                 trust with your local users' names) or leave it out"
            )));
        }
    };
    let timeout_secs = l.timeout_secs.unwrap_or(5);
    if !(1..=60).contains(&timeout_secs) {
        return Err(invalid(format!("{id}: timeout_secs must be 1 to 60")));
    }
    let pool_size = l.pool_size.unwrap_or(4);
    if !(1..=64).contains(&pool_size) {
        return Err(invalid(format!("{id}: pool_size must be 1 to 64")));
    }
    if let Some(ca) = &l.ca_file
        && !ca.is_file()
    {
        return Err(invalid(format!(
            "{id}: ca_file {} is not a readable file",
            ca.display()
        )));
    }
    Ok(LdapProviderSettings {
        bind_dn: need(l.bind_dn, "bind_dn", "\"cn=svc,dc=example,dc=org\"")?,
        user_base: need(l.user_base, "user_base", "\"ou=people,dc=example,dc=org\"")?,
        username_attribute: l.username_attribute.unwrap_or_else(|| "uid".to_owned()),
        subject_attribute: l
            .subject_attribute
            .unwrap_or_else(|| "entryUUID".to_owned()),
        group_base: l.group_base,
        group_filter: l.group_filter,
        id,
        url,
        start_tls,
        ca_file: l.ca_file,
        bind_password,
        user_filter,
        roles,
        link_existing,
        timeout: Duration::from_secs(timeout_secs),
        pool_size,
    })
}

/// A secret (`key` is `bind_password` or `client_secret`): from `{key}_file` or
/// `{key}_env`, never inline.
fn secret_of(
    id: &str,
    key: &str,
    inline: bool,
    file: Option<PathBuf>,
    env: Option<String>,
) -> Result<SecretSource, ConfigError> {
    if inline {
        return Err(invalid(format!(
            "{id}: `{key}` is not accepted in the file; put the secret in a file only the \
             server can read and set `{key}_file`, or set `{key}_env` to the name of an \
             environment variable"
        )));
    }
    Ok(match (file, env) {
        (Some(file), None) => SecretSource::Known(read_secret(id, &file)?),
        (None, Some(name)) if !name.trim().is_empty() => SecretSource::Env(name),
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "{id}: set one of `{key}_file` and `{key}_env`, not both"
            )));
        }
        _ => {
            return Err(invalid(format!(
                "{id}: the {key} is missing; set `{key}_file` (a file only the server can \
                 read) or `{key}_env` (a variable's name)"
            )));
        }
    })
}

/// `group_filter` needs `{dn}` and `group_base`; `roles` need groups.
fn check_groups(id: &str, l: &IdentityProviderLayer) -> Result<(), ConfigError> {
    if let Some(filter) = &l.group_filter {
        if !filter.contains("{dn}") {
            return Err(invalid(format!(
                "{id}: `group_filter` must contain {{dn}} where the user's escaped DN goes"
            )));
        }
        check_filter(id, "group_filter", filter)?;
        if l.group_base.is_none() {
            return Err(invalid(format!(
                "{id}: `group_filter` needs `group_base`, where groups are searched"
            )));
        }
    }
    if l.roles.as_ref().is_some_and(|r| !r.is_empty()) && l.group_filter.is_none() {
        return Err(invalid(format!(
            "{id}: `roles` map groups, which needs `group_base` and `group_filter`"
        )));
    }
    Ok(())
}

fn parse_oidc(id: String, l: IdentityProviderLayer) -> Result<OidcProviderSettings, ConfigError> {
    let issuer = l.issuer.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        invalid(format!(
            "{id}: `issuer` is missing (for example \"https://accounts.google.com\")"
        ))
    })?;
    check_issuer(&id, &issuer)?;
    let client_id = l
        .client_id
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "{id}: `client_id` is missing: Tessera's client id at the provider"
            ))
        })?;
    let client_secret = secret_of(
        &id,
        "client_secret",
        l.client_secret.is_some(),
        l.client_secret_file,
        l.client_secret_env,
    )?;
    let mut scopes = l
        .scopes
        .unwrap_or_else(|| vec!["openid".into(), "profile".into()]);
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        return Err(invalid(format!(
            "{id}: scopes are single words such as \"profile\""
        )));
    }
    let timeout_secs = l.timeout_secs.unwrap_or(5);
    if !(1..=60).contains(&timeout_secs) {
        return Err(invalid(format!("{id}: timeout_secs must be 1 to 60")));
    }
    let ldap_only = [
        ("url", l.url.is_some()),
        ("bind_dn", l.bind_dn.is_some()),
        ("user_filter", l.user_filter.is_some()),
        ("group_filter", l.group_filter.is_some()),
        ("link_existing", l.link_existing.is_some()),
    ];
    if let Some((key, _)) = ldap_only.iter().find(|(_, set)| *set) {
        return Err(invalid(format!(
            "{id}: `{key}` is an LDAP setting; an oidc provider has none"
        )));
    }
    Ok(OidcProviderSettings {
        name: l.name.unwrap_or_else(|| id.clone()),
        roles: parse_roles(&id, l.roles.unwrap_or_default())?,
        id,
        issuer: issuer.trim_end_matches('/').to_owned(),
        client_id,
        client_secret,
        scopes,
        username_claim: l
            .username_claim
            .unwrap_or_else(|| "preferred_username".into()),
        groups_claim: l.groups_claim.unwrap_or_else(|| "groups".into()),
        userinfo: l.userinfo.unwrap_or(false),
        timeout: Duration::from_secs(timeout_secs),
    })
}

/// An issuer is `https://` (plain `http://` on loopback only), without query or fragment.
fn check_issuer(id: &str, issuer: &str) -> Result<(), ConfigError> {
    let host = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let loopback = is_loopback_url(issuer);
    if !(issuer.starts_with("https://") || (issuer.starts_with("http://") && loopback))
        || host.is_empty()
        || issuer.contains(['?', '#'])
    {
        return Err(invalid(format!(
            "{id}: issuer {issuer:?} must be an https:// URL without query or fragment (http:// only on loopback)"
        )));
    }
    Ok(())
}

/// `ldaps://` anywhere; `ldap://` only on loopback or with StartTLS.
fn check_url(id: &str, url: &str, start_tls: bool) -> Result<(), ConfigError> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        invalid(format!(
            "{id}: url {url:?} must be ldaps://host[:port] or ldap://host[:port]"
        ))
    })?;
    let loopback = !rest.is_empty() && is_loopback_url(url);
    match scheme {
        "ldaps" if !start_tls => Ok(()),
        "ldaps" => Err(invalid(format!(
            "{id}: start_tls is for ldap:// URLs; an ldaps:// connection is TLS already"
        ))),
        "ldap" if loopback || start_tls => Ok(()),
        "ldap" => Err(invalid(format!(
            "{id}: {url} would send passwords in clear text; use ldaps:// or set start_tls = true"
        ))),
        _ => Err(invalid(format!(
            "{id}: url {url:?} must be ldaps://host[:port] or ldap://host[:port]"
        ))),
    }
}

/// A filter's parentheses must balance (a typo would otherwise match nothing, or too much).
fn check_filter(id: &str, key: &str, filter: &str) -> Result<(), ConfigError> {
    let mut depth = 0i64;
    for c in filter.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    if depth != 0 || !filter.starts_with('(') {
        return Err(invalid(format!(
            "{id}: `{key}` {filter:?} is not a parenthesised LDAP filter with balanced parentheses"
        )));
    }
    Ok(())
}

fn parse_roles(
    id: &str,
    roles: BTreeMap<String, Vec<String>>,
) -> Result<Vec<(String, Vec<RoleName>)>, ConfigError> {
    roles
        .into_iter()
        .map(|(group, names)| {
            let names = names
                .iter()
                .map(|n| {
                    RoleName::parse(n)
                        .map_err(|e| invalid(format!("{id}: roles for {group:?}: {n:?}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((group, names))
        })
        .collect()
}

fn read_secret(id: &str, path: &std::path::Path) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(format!(
            "{id}: bind_password_file {} cannot be read ({})",
            path.display(),
            e.kind()
        ))
    })?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(invalid(format!(
            "{id}: bind_password_file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::from(secret))
}

/// Resolves each `bind_password_env` from `vars` (the process environment the caller passed).
///
/// # Errors
/// A provider whose variable is unset or empty.
pub(crate) fn resolve_env(
    providers: &mut [IdentityProviderSettings],
    vars: &[(String, String)],
) -> Result<(), ConfigError> {
    for provider in providers {
        let (id, secret, key) = match provider {
            IdentityProviderSettings::Ldap(l) => (&l.id, &mut l.bind_password, "bind_password_env"),
            IdentityProviderSettings::Oidc(o) => (&o.id, &mut o.client_secret, "client_secret_env"),
        };
        if let SecretSource::Env(name) = secret {
            let value = vars
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    invalid(format!(
                        "{id}: {key} names {name}, which is not set (or is empty)"
                    ))
                })?;
            *secret = SecretSource::Known(SecretString::from(value));
        }
    }
    Ok(())
}
