//! `tessera client`: register and administer OAuth 2.0 clients through the core registry
//! ([`Clients`]), each change audited with the CLI operator. A client secret is printed once,
//! by `add` and `rotate-secret`; `list` and `show` never print a secret or its digest.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tessera_core::clients::{ClientKeys, ClientSpec, Clients};
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::error::AuthError;
use tessera_core::store::{ClientRecord, GrantType};
use tessera_server::config::Settings;
use tessera_server::startup;

use crate::admin::{open, operator};
use crate::audit::{duration_secs, rfc3339};
use crate::cli::{ClientAction, ClientAddArgs};

/// `tessera client …`
pub(crate) async fn client(settings: Settings, action: ClientAction) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let accounts =
        startup::accounts(&settings, store.clone(), clock.clone()).with_operator(operator());
    let clients = Clients::new(store, accounts.audit().clone(), clock);
    match action {
        ClientAction::Add(args) => add(&clients, args).await,
        ClientAction::List { json } => {
            let list = clients.list().await.map_err(client_error)?;
            print_list(&list, json);
            Ok(())
        }
        ClientAction::Show { client, json } => {
            let found = clients.find(&client).await.map_err(client_error)?;
            if json {
                println!("{}", client_json(&found, now()));
            } else {
                print_client(&found, now());
            }
            Ok(())
        }
        ClientAction::RotateSecret {
            client,
            overlap,
            json,
        } => rotate(&clients, &client, &overlap, json).await,
        ClientAction::Disable { client } => {
            clients
                .set_disabled(&client, true)
                .await
                .map_err(client_error)?;
            println!("disabled {client}; its sessions have ended");
            Ok(())
        }
        ClientAction::Enable { client } => {
            clients
                .set_disabled(&client, false)
                .await
                .map_err(client_error)?;
            println!("enabled {client}");
            Ok(())
        }
        ClientAction::Remove { client } => {
            let removed = clients.remove(&client).await.map_err(client_error)?;
            println!(
                "removed client {} ({}); its sessions have ended",
                removed.name, removed.id
            );
            Ok(())
        }
    }
}

fn now() -> i64 {
    SystemClock.unix()
}

/// The registry's refusals as the CLI words them.
fn client_error(e: AuthError) -> anyhow::Error {
    match e {
        AuthError::NotFound => anyhow::anyhow!("no client with that id or name"),
        AuthError::InvalidInput(message) => anyhow::anyhow!(message),
        other => anyhow::Error::new(other),
    }
}

/// `--grant` values, or an error listing the known ones.
fn grants(raw: &[String]) -> anyhow::Result<Vec<GrantType>> {
    raw.iter()
        .map(|g| {
            GrantType::parse(g).with_context(|| {
                format!(
                    "unknown grant '{g}'; use client_credentials, refresh_token, password or authorization_code"
                )
            })
        })
        .collect()
}

/// `--public`, `--jwks-file F`, `--jwks-uri U`, or a secret by default (clap keeps them
/// exclusive).
fn keys(args: &ClientAddArgs) -> anyhow::Result<ClientKeys> {
    if args.public {
        return Ok(ClientKeys::Public);
    }
    if let Some(file) = &args.jwks_file {
        let json = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        return Ok(ClientKeys::Jwks(json));
    }
    Ok(match &args.jwks_uri {
        Some(uri) => ClientKeys::JwksUri(uri.clone()),
        None => ClientKeys::Secret,
    })
}

/// `tessera client add NAME …`
async fn add(clients: &Clients, args: ClientAddArgs) -> anyhow::Result<()> {
    let spec = ClientSpec {
        grants: grants(&args.grants)?,
        keys: keys(&args)?,
        name: args.name,
        scopes: args.scopes,
        audiences: args.audiences,
        redirect_uris: args.redirect_uris,
        post_logout_redirect_uris: args.post_logout_redirect_uris,
        web_origins: args.web_origins,
        first_party: args.first_party,
    };
    let registered = clients.add(spec).await.map_err(client_error)?;
    let client = &registered.client;
    let secret = registered.secret.as_ref().map(|s| s.expose());
    if args.json {
        println!(
            "{}",
            json!({ "client_id": client.id, "client_secret": secret })
        );
        return Ok(());
    }
    println!("created client {} ({})", client.name, kind(client));
    println!("client_id:     {}", client.id);
    if let Some(secret) = secret {
        println!("client_secret: {secret}");
        println!("The secret is shown only once: store it now (`rotate-secret` makes a new one).");
    }
    Ok(())
}

/// `tessera client rotate-secret ID_OR_NAME [--overlap D] [--json]`
async fn rotate(clients: &Clients, client: &str, overlap: &str, json: bool) -> anyhow::Result<()> {
    let secs = duration_secs(overlap)
        .and_then(|s| u64::try_from(s).ok())
        .with_context(|| {
            format!("--overlap takes a duration such as 90s, 15m, 24h, 7d or 2w, not '{overlap}'")
        })?;
    let (old, secret) = clients
        .rotate_secret(client, Duration::from_secs(secs))
        .await
        .map_err(client_error)?;
    // The expiry as stored, not as computed here.
    let expires_at = clients
        .find(&old.id)
        .await
        .map_err(client_error)?
        .previous_secret_expires_at;
    if json {
        println!(
            "{}",
            json!({
                "client_id": old.id,
                "client_secret": secret.expose(),
                "previous_secret_expires_at": expires_at,
            })
        );
        return Ok(());
    }
    println!("new secret for client {} ({})", old.name, old.id);
    println!("client_secret: {}", secret.expose());
    println!("The secret is shown only once: store it now.");
    match expires_at {
        Some(at) => println!("The previous secret works until {} ({at}).", rfc3339(at)),
        None => println!("The previous secret no longer works."),
    }
    Ok(())
}

/// How a client authenticates: `public`, `confidential` (a secret) or `keys`
/// (`private_key_jwt`).
fn kind(c: &ClientRecord) -> &'static str {
    if c.public {
        "public"
    } else if c.jwks.is_some() || c.jwks_uri.is_some() {
        "keys"
    } else {
        "confidential"
    }
}

fn grant_names(c: &ClientRecord) -> Vec<&'static str> {
    c.grants.iter().map(|g| g.as_str()).collect()
}

/// The previous secret's expiry, while it still works.
fn previous_until(c: &ClientRecord, now: i64) -> Option<i64> {
    c.previous_secret_expires_at.filter(|&t| t > now)
}

/// Every field but the secret's digests.
fn client_json(c: &ClientRecord, now: i64) -> serde_json::Value {
    let jwks = c
        .jwks
        .as_deref()
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok());
    json!({
        "client_id": c.id,
        "name": c.name,
        "authentication": kind(c),
        "grants": grant_names(c),
        "scopes": c.scopes,
        "audiences": c.audiences,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "web_origins": c.web_origins,
        "public": c.public,
        "first_party": c.first_party,
        "jwks": jwks,
        "jwks_uri": c.jwks_uri,
        "previous_secret_valid": previous_until(c, now).is_some(),
        "previous_secret_expires_at": previous_until(c, now),
        "disabled": c.disabled,
        "failed_auths": c.failures.failures,
        "last_failed_auth_at": (c.failures.failures > 0).then_some(c.failures.last_failure_at),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    })
}

/// A list for a person to read: `-` when empty.
fn words(items: &[impl AsRef<str>]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn print_client(c: &ClientRecord, now: i64) {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("client_id:       {}", c.id);
    println!("name:            {}", c.name);
    println!("authentication:  {}", kind(c));
    println!("grants:          {}", words(&grant_names(c)));
    println!("scopes:          {}", words(&c.scopes));
    if c.audiences.is_empty() {
        println!("audiences:       - (the server's audience)");
    } else {
        println!("audiences:       {}", words(&c.audiences));
    }
    println!("redirect URIs:   {}", words(&c.redirect_uris));
    if c.grants.contains(&GrantType::AuthorizationCode) {
        println!("logout URIs:     {}", words(&c.post_logout_redirect_uris));
        println!("web origins:     {}", words(&c.web_origins));
    }
    if c.jwks.is_some() {
        println!("jwks:            registered (inline JWK Set)");
    }
    println!("jwks_uri:        {}", c.jwks_uri.as_deref().unwrap_or("-"));
    println!("first-party:     {}", yes_no(c.first_party));
    println!(
        "status:          {}",
        if c.disabled { "disabled" } else { "enabled" }
    );
    match previous_until(c, now) {
        Some(at) => println!("previous secret: valid until {} ({at})", rfc3339(at)),
        None => println!("previous secret: none"),
    }
    if c.failures.failures > 0 {
        let last = c.failures.last_failure_at;
        println!(
            "failed auths:    {} (last {} ({last}))",
            c.failures.failures,
            rfc3339(last)
        );
    } else {
        println!("failed auths:    0");
    }
    println!(
        "created:         {} ({})",
        rfc3339(c.created_at),
        c.created_at
    );
    println!(
        "updated:         {} ({})",
        rfc3339(c.updated_at),
        c.updated_at
    );
}

/// `tessera client list`: a table, or a JSON array with `--json`.
fn print_list(clients: &[ClientRecord], json: bool) {
    let now = now();
    if json {
        let list: Vec<_> = clients.iter().map(|c| client_json(c, now)).collect();
        println!("{}", serde_json::Value::Array(list));
        return;
    }
    println!(
        "{:<32} {:<22} {:<12} {:<11} {:<8} GRANTS",
        "NAME", "CLIENT_ID", "AUTH", "FIRST-PARTY", "STATUS"
    );
    for c in clients {
        println!(
            "{:<32} {:<22} {:<12} {:<11} {:<8} {}",
            c.name,
            c.id,
            kind(c),
            if c.first_party { "yes" } else { "no" },
            if c.disabled { "disabled" } else { "enabled" },
            grant_names(c).join(",")
        );
    }
}
