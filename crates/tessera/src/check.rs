//! `tessera check-config`: the verdicts `serve` gives at start, without starting. Loads and
//! validates the settings exactly as `serve` does (same layers, same flags, same checks of the
//! HMAC secrets and TLS files), then prints warnings: unknown variables, and accepted but
//! weaker choices in RFC 8725 terms. Touches neither the database nor the network.

use anyhow::Context as _;
use tessera_server::config::Settings;
use tessera_server::startup;

use crate::cli::ServeArgs;

/// Prints the verdicts; `Err` (a non-zero exit) when `serve` would refuse to start.
pub(crate) fn check_config(args: &ServeArgs) -> anyhow::Result<()> {
    let loaded = Settings::load(
        args.common.config.as_deref(),
        std::env::vars(),
        crate::overrides(&args.common, Some(args)),
    )
    .context("invalid configuration")?;
    startup::check_files(&loaded.settings).context("invalid configuration")?;
    let mut warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    warnings.extend(loaded.settings.security_advice());
    for warning in &warnings {
        println!("warning: {warning}");
    }
    // Built as `serve` builds them (CA files read), without connecting.
    tessera_server::identity::providers(&loaded.settings.identity_providers)
        .map_err(anyhow::Error::msg)
        .context("invalid configuration")?;
    for provider in &loaded.settings.identity_providers {
        let ldap = match provider {
            tessera_server::config::IdentityProviderSettings::Ldap(ldap) => ldap,
            tessera_server::config::IdentityProviderSettings::Oidc(oidc) => {
                println!(
                    "identity provider {}: oidc {} (client {}), callback <issuer>/oauth/upstream/{}/callback, {} group mapping{}",
                    oidc.id,
                    oidc.issuer,
                    oidc.client_id,
                    oidc.id,
                    oidc.roles.len(),
                    if oidc.roles.len() == 1 { "" } else { "s" },
                );
                continue;
            }
        };
        println!(
            "identity provider {}: ldap {}{}, users under {}, {} group mapping{}{}",
            ldap.id,
            ldap.url,
            if ldap.start_tls { " (StartTLS)" } else { "" },
            ldap.user_base,
            ldap.roles.len(),
            if ldap.roles.len() == 1 { "" } else { "s" },
            if ldap.link_existing {
                ", links existing users by username"
            } else {
                ""
            }
        );
    }
    println!(
        "ok: the configuration is valid ({} warning{})",
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
