//! The administration commands: users, roles, keys, migrations. They talk to the database
//! directly, so they work whether or not a server is running on it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::json;
use tessera_core::accounts::Accounts;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::keys::import::{ImportedKey, import_key};
use tessera_core::keys::keyring::MasterKey;
use tessera_core::keys::rotation::KeyManager;
use tessera_core::keys::signing::Algorithm;
use tessera_core::store::{Role, Store, StoreError, User};
use tessera_server::config::Settings;
use tessera_server::startup;
use zeroize::Zeroizing;

use crate::cli::{KeysAction, RoleAction, UserAction};
use crate::secret_input::read_new_password;

pub(crate) async fn open(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    startup::ensure_data_dir(settings.data_dir())
        .context("failed to prepare the data directory")?;
    startup::open_store(settings)
        .await
        .context("failed to open the database")
}

fn role_names(raw: &[String]) -> anyhow::Result<Vec<RoleName>> {
    raw.iter()
        .map(|r| RoleName::parse(r).with_context(|| format!("role '{r}'")))
        .collect()
}

fn permissions(raw: &[String]) -> anyhow::Result<Vec<Permission>> {
    raw.iter()
        .map(|p| Permission::parse(p).with_context(|| format!("permission '{p}'")))
        .collect()
}

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id.as_str(),
        "username": u.username,
        "roles": u.roles,
        "disabled": u.disabled,
        "created_at": u.created_at,
    })
}

fn print_user(u: &User) {
    println!("id:       {}", u.id);
    println!("username: {}", u.username);
    println!("roles:    {}", roles_text(u));
    println!(
        "status:   {}",
        if u.disabled { "disabled" } else { "enabled" }
    );
    println!("created:  {} (unix seconds)", u.created_at);
}

/// `tessera user …`
pub(crate) async fn user(settings: Settings, action: UserAction) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let accounts: Accounts =
        startup::accounts(&settings, store.clone(), clock).with_operator(operator());
    match action {
        UserAction::Add {
            username,
            roles,
            password_stdin,
        } => {
            let roles = role_names(&roles)?;
            let password = read_new_password(password_stdin)?;
            let user = accounts
                .create_user(&username, &password, roles)
                .await
                .context("cannot add the user")?;
            println!("created user {} ({})", user.username, user.id);
        }
        UserAction::List { json } => print_users(&store.list_users().await?, json),
        UserAction::Show { username, json } => {
            show_user(&*store, &accounts, &username, json).await?
        }
        UserAction::Link {
            username,
            provider,
            subject,
            upstream_username,
        } => {
            link_user(
                &settings,
                &accounts,
                &username,
                &provider,
                &subject,
                upstream_username,
            )
            .await?
        }
        UserAction::Unlink { username, provider } => {
            unlink_user(&accounts, &username, &provider).await?;
        }
        UserAction::Disable { username } => {
            accounts
                .set_disabled(&username, true)
                .await
                .context("cannot disable the user")?;
            println!("disabled {username}");
        }
        UserAction::Enable { username } => {
            accounts
                .set_disabled(&username, false)
                .await
                .context("cannot enable the user")?;
            println!("enabled {username}");
        }
        UserAction::SetPassword {
            username,
            password_stdin,
        } => {
            let password = read_new_password(password_stdin)?;
            accounts
                .set_password(&username, &password)
                .await
                .context("cannot set the password")?;
            println!("password set for {username}");
        }
        UserAction::SetRoles { username, roles } => {
            let roles = role_names(&roles)?;
            let user = accounts
                .set_roles(&username, &roles)
                .await
                .context("cannot set the roles")?;
            println!("{}: roles {}", user.username, roles_text(&user));
        }
    }
    Ok(())
}

/// `tessera user link`: the provider must be configured.
async fn link_user(
    settings: &Settings,
    accounts: &Accounts,
    username: &str,
    provider: &str,
    subject: &str,
    upstream_username: Option<String>,
) -> anyhow::Result<()> {
    if !settings
        .identity_providers
        .iter()
        .any(|p| p.id() == provider)
    {
        anyhow::bail!(
            "no identity provider {provider:?} in the configuration ([[identity_providers]])"
        );
    }
    let upstream = upstream_username.unwrap_or_else(|| username.to_owned());
    accounts
        .link_identity(username, provider, subject, &upstream)
        .await
        .context("cannot link the user (is that subject linked already?)")?;
    println!("linked {username} to {provider} subject {subject}");
    Ok(())
}

/// `tessera user unlink`.
async fn unlink_user(accounts: &Accounts, username: &str, provider: &str) -> anyhow::Result<()> {
    accounts
        .unlink_identity(username, provider)
        .await
        .context("cannot unlink the user")?;
    println!("unlinked {username} from {provider}");
    Ok(())
}

/// `tessera user show`: the user and their linked identities.
async fn show_user(
    store: &dyn Store,
    accounts: &Accounts,
    username: &str,
    json: bool,
) -> anyhow::Result<()> {
    let user = accounts
        .find(username)
        .await
        .context("cannot show the user")?;
    let identities = store.identities_of(&user.id).await?;
    if json {
        let mut out = user_json(&user);
        let linked: Vec<serde_json::Value> = identities
            .iter()
            .map(|i| {
                json!({
                    "provider": i.provider,
                    "subject": i.subject,
                    "upstream_username": i.upstream_username,
                    "created_at": i.created_at,
                    "last_seen_at": i.last_seen_at,
                })
            })
            .collect();
        if let Some(object) = out.as_object_mut() {
            object.insert("identities".to_owned(), linked.into());
        }
        println!("{out}");
    } else {
        print_user(&user);
        for i in &identities {
            println!(
                "linked:   {} subject {} as {} (last sign-in {}, unix seconds)",
                i.provider, i.subject, i.upstream_username, i.last_seen_at
            );
        }
    }
    Ok(())
}

/// `tessera user list`: a table, or a JSON array with `--json`.
fn print_users(users: &[User], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::Value::Array(users.iter().map(user_json).collect())
        );
        return;
    }
    println!("{:<32} {:<36} {:<9} ROLES", "USERNAME", "ID", "STATUS");
    for u in users {
        let status = if u.disabled { "disabled" } else { "enabled" };
        println!(
            "{:<32} {:<36} {:<9} {}",
            u.username,
            u.id,
            status,
            u.roles.join(",")
        );
    }
}

/// A user's roles for a person to read: `-` when there are none.
fn roles_text(user: &User) -> String {
    if user.roles.is_empty() {
        "-".to_owned()
    } else {
        user.roles.join(", ")
    }
}

/// Who the audit log says made an administrative change: `cli:` and the operating-system
/// user running the command.
pub(crate) fn operator() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    let user: String = user.chars().filter(|c| !c.is_control()).take(64).collect();
    format!("cli:{user}")
}

/// `tessera role …`
pub(crate) async fn role(settings: Settings, action: RoleAction) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let accounts = startup::accounts(&settings, store.clone(), clock).with_operator(operator());
    match action {
        RoleAction::Add {
            name,
            permissions: perms,
        } => {
            let name = RoleName::parse(&name)?;
            let perms = permissions(&perms)?;
            match accounts.create_role(&name, &perms).await {
                Err(StoreError::Conflict(_)) => bail!("role '{name}' already exists"),
                other => other?,
            }
            println!("created role {name}");
        }
        RoleAction::List { json } => {
            let roles = store.list_roles().await?;
            if json {
                let list: Vec<_> = roles.iter().map(role_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                println!("{:<32} PERMISSIONS", "ROLE");
                for r in &roles {
                    let perms: Vec<&str> = r.permissions.iter().map(Permission::as_str).collect();
                    println!("{:<32} {}", r.name, perms.join(" "));
                }
            }
        }
        RoleAction::Grant {
            role,
            permissions: perms,
        } => {
            let name = RoleName::parse(&role)?;
            for p in &permissions(&perms)? {
                accounts
                    .change_permission(&name, p, true)
                    .await
                    .with_context(|| format!("cannot grant to role '{name}'"))?;
            }
            println!("granted to {name}: {}", perms.join(" "));
        }
        RoleAction::Revoke {
            role,
            permissions: perms,
        } => {
            let name = RoleName::parse(&role)?;
            for p in &permissions(&perms)? {
                accounts
                    .change_permission(&name, p, false)
                    .await
                    .with_context(|| format!("cannot revoke from role '{name}'"))?;
            }
            println!("revoked from {name}: {}", perms.join(" "));
        }
    }
    Ok(())
}

fn role_json(r: &Role) -> serde_json::Value {
    json!({
        "name": r.name.as_str(),
        "permissions": r.permissions.iter().map(Permission::as_str).collect::<Vec<_>>(),
    })
}

/// `tessera keys …`
pub(crate) async fn keys(settings: Settings, action: KeysAction) -> anyhow::Result<()> {
    // The generators need no database.
    match &action {
        KeysAction::GenerateSecret { algorithm } => return generate_secret(algorithm),
        KeysAction::GenerateMasterKey => {
            let key = MasterKey::generate().context("cannot generate a master key")?;
            println!("{}", key.encode().as_str());
            return Ok(());
        }
        _ => {}
    }
    let store = open(&settings).await?;
    match action {
        KeysAction::List { json, all } => list_keys(store.as_ref(), json, all).await?,
        KeysAction::Rotate { now } => {
            let manager = startup::key_manager(&settings, store)?.with_operator(operator());
            let key = manager.rotate(now).await.context("cannot rotate")?;
            if now {
                println!(
                    "new key {} ({}) signs now; verifiers with a cached JWKS refuse new tokens until their cache expires",
                    key.kid, key.alg
                );
            } else {
                println!(
                    "new key {} ({}) published; it signs from {} (unix seconds)",
                    key.kid, key.alg, key.activates_at
                );
            }
        }
        KeysAction::Retire { kid } => {
            let manager = startup::key_manager(&settings, store)?.with_operator(operator());
            manager
                .retire(&kid)
                .await
                .with_context(|| format!("cannot retire key '{kid}'"))?;
            println!("retired {kid}");
        }
        KeysAction::Import {
            file,
            alg,
            kid,
            now,
        } => {
            let manager = startup::key_manager(&settings, store)?.with_operator(operator());
            import_key_file(&manager, &file, alg, kid, now).await?;
        }
        KeysAction::ExportPublic { kid } => export_public(store.as_ref(), kid).await?,
        KeysAction::GenerateSecret { .. } | KeysAction::GenerateMasterKey => {}
    }
    Ok(())
}

/// `tessera keys list [--all] [--json]`.
async fn list_keys(store: &dyn Store, json: bool, all: bool) -> anyhow::Result<()> {
    let mut keys = store.signing_keys().await?;
    if all {
        keys.extend(store.retired_signing_keys().await?);
        keys.sort_by_key(|k| k.generation);
    }
    if json {
        let list: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({
                    "kid": k.kid, "alg": k.alg.as_str(), "status": k.status.as_str(),
                    "created_at": k.created_at, "activates_at": k.activates_at, "retire_after": k.retire_after,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    println!(
        "{:<45} {:<6} {:<9} {:<12} {:<12} RETIRES",
        "KID", "ALG", "STATUS", "PUBLISHED", "SIGNS FROM"
    );
    for k in &keys {
        let retires = k.retire_after.map_or("-".to_owned(), |t| t.to_string());
        println!(
            "{:<45} {:<6} {:<9} {:<12} {:<12} {retires}",
            k.kid,
            k.alg.as_str(),
            k.status.as_str(),
            k.created_at,
            k.activates_at
        );
    }
    Ok(())
}

/// `tessera keys import FILE [--alg A] [--kid K] [--now]`: a private key signs (from now or
/// after publish-ahead), a public JWK only verifies.
async fn import_key_file(
    manager: &KeyManager,
    file: &Path,
    alg: Option<String>,
    kid: Option<String>,
    now: bool,
) -> anyhow::Result<()> {
    let alg = alg
        .map(|a| {
            a.parse::<Algorithm>()
                .map_err(|_| anyhow::anyhow!("unknown algorithm '{a}'"))
        })
        .transpose()?;
    let input = Zeroizing::new(
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    match import_key(&input, alg, kid).context("cannot import the key")? {
        ImportedKey::Private(key) => {
            let stored = manager
                .import(*key, now)
                .await
                .context("cannot import the key")?;
            println!(
                "imported {} ({}); it signs from {} (unix seconds)",
                stored.kid, stored.alg, stored.activates_at
            );
        }
        ImportedKey::Public(jwk) => {
            let stored = manager
                .import_public(&jwk)
                .await
                .context("cannot import the key")?;
            let until = stored.retire_after.unwrap_or_default();
            println!(
                "imported public key {} ({}); it verifies, never signs, and is published until {until} (unix seconds)",
                stored.kid, stored.alg
            );
        }
    }
    Ok(())
}

/// `tessera keys export-public [--kid K]`: one JWK, or the JWK Set of every published key.
async fn export_public(store: &dyn Store, kid: Option<String>) -> anyhow::Result<()> {
    let mut keys: Vec<serde_json::Value> = Vec::new();
    for k in store.signing_keys().await? {
        if let Some(jwk) = &k.public_jwk
            && kid.as_deref().is_none_or(|wanted| wanted == k.kid)
        {
            keys.push(serde_json::from_str(jwk).context("a stored public key is corrupt")?);
        }
    }
    match kid {
        Some(kid) => {
            let jwk = keys
                .pop()
                .with_context(|| format!("no published public key '{kid}'"))?;
            println!("{jwk}");
        }
        None => println!("{}", json!({ "keys": keys })),
    }
    Ok(())
}

fn generate_secret(algorithm: &str) -> anyhow::Result<()> {
    let len = match algorithm {
        "HS256" => 32,
        "HS384" => 48,
        "HS512" => 64,
        other => bail!("unknown HMAC algorithm '{other}': use HS256, HS384 or HS512"),
    };
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    aws_lc_rs::rand::fill(bytes.as_mut_slice())
        .map_err(|_| anyhow::anyhow!("the random source failed"))?;
    println!(
        "{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice())
    );
    Ok(())
}

/// `tessera migrate`
pub(crate) async fn migrate(settings: Settings) -> anyhow::Result<()> {
    startup::ensure_data_dir(settings.data_dir())
        .context("failed to prepare the data directory")?;
    let migrated = startup::migrate_store(&settings)
        .await
        .context("failed to migrate the database")?;
    if migrated.from == migrated.to {
        println!("schema version {} (up to date)", migrated.to);
    } else {
        println!(
            "schema version {} (migrated from {})",
            migrated.to, migrated.from
        );
    }
    Ok(())
}
