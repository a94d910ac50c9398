//! The command-line grammar (clap). `///` comments are the `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Tessera: a JWT authentication server.
///
/// Settings come from a TOML file (--config), TESSERA_* environment variables and flags;
/// flags override the environment, which overrides the file. See docs/configuration.md.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the server (embedded SQLite and generated keys when nothing is configured).
    Serve(ServeArgs),
    /// Manage users.
    User(UserCommand),
    /// Manage roles and the permissions they grant.
    Role(RoleCommand),
    /// Inspect signing keys.
    Keys(KeysCommand),
    /// Apply pending database migrations and print the schema version (the server also
    /// migrates at start; run this to upgrade the schema ahead of a rolling deployment).
    Migrate(MigrateArgs),
    /// Check the configuration without starting: prints the verdicts `serve` would give at
    /// start, then warnings about weaker choices (RFC 8725 terms); exits non-zero on an error.
    /// Takes the same options as `serve`.
    CheckConfig(ServeArgs),
    /// List and clear failed-login counts (brute-force protection); clearing lifts their
    /// delays on every instance at once.
    Locks(LocksCommand),
    /// List the audit log (logins, lockouts, refresh-token reuse, logouts, password, user,
    /// role and key changes), newest first.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Only this event (e.g. login.failed, refresh.reuse_detected).
    #[arg(long, value_name = "NAME")]
    pub(crate) event: Option<String>,
    /// Only events concerning this user (username, any case, or user id).
    #[arg(long, value_name = "USERNAME|ID")]
    pub(crate) user: Option<String>,
    /// Only events since this time: Unix seconds, or a duration back from now (90s, 15m, 24h,
    /// 7d, 2w).
    #[arg(long, value_name = "DURATION_OR_UNIX")]
    pub(crate) since: Option<String>,
    /// At most this many entries, the newest.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub(crate) limit: u32,
    /// Print JSON lines, one entry each.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LocksCommand {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(subcommand)]
    pub(crate) action: LocksAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LocksAction {
    /// List counts: per username and IP, per IP (username `*`), per username (IP `*`), with the
    /// time (unix seconds) until which each refuses logins.
    List {
        /// Only counts of this username (any case).
        #[arg(long)]
        username: Option<String>,
        /// Only counts of this client IP.
        #[arg(long)]
        ip: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete counts: those matching every option given, or all of them with none.
    Clear {
        /// Only counts of this username (any case).
        #[arg(long)]
        username: Option<String>,
        /// Only counts of this client IP.
        #[arg(long)]
        ip: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Where the configuration and the data are (shared by every command).
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Data directory: SQLite file and master key [env: TESSERA_DATA_DIR] [default: ./tessera-data].
    #[arg(long, value_name = "DIR", global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [env: TESSERA_DATABASE_URL] [default: the SQLite file in the data directory].
    #[arg(long, value_name = "URL", global = true)]
    pub(crate) database_url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Address to listen on [env: TESSERA_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) listen: Option<SocketAddr>,
    /// Token issuer (`iss`) [env: TESSERA_ISSUER] [default on loopback: http://<listen>; required elsewhere].
    #[arg(long, value_name = "URL")]
    pub(crate) issuer: Option<String>,
    /// Token audience (`aud`) [env: TESSERA_AUDIENCE] [default on loopback: tessera; required elsewhere].
    #[arg(long, value_name = "AUD")]
    pub(crate) audience: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct UserCommand {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(subcommand)]
    pub(crate) action: UserAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserAction {
    /// Create a user. The password is read from a prompt, or from stdin with --password-stdin.
    Add {
        /// The username (compared case-insensitively, RFC 8265).
        username: String,
        /// A role to grant (repeatable); the role must exist.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Show {
        /// The username.
        username: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: they can no longer log in.
    Disable {
        /// The username.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// The username.
        username: String,
    },
    /// Set a user's password (prompt, or --password-stdin).
    SetPassword {
        /// The username.
        username: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Replace a user's roles (no --role removes them all).
    SetRoles {
        /// The username.
        username: String,
        /// A role to grant (repeatable); each must exist.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RoleCommand {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(subcommand)]
    pub(crate) action: RoleAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RoleAction {
    /// Create a role, optionally with permissions.
    Add {
        /// Role name (a-z, 0-9, and : . _ - /).
        name: String,
        /// A permission the role grants (repeatable).
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
    },
    /// List roles and their permissions.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add permissions to a role.
    Grant {
        /// The role.
        role: String,
        /// Permissions to add.
        #[arg(required = true)]
        permissions: Vec<String>,
    },
    /// Remove permissions from a role.
    Revoke {
        /// The role.
        role: String,
        /// Permissions to remove.
        #[arg(required = true)]
        permissions: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct KeysCommand {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(subcommand)]
    pub(crate) action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysAction {
    /// List signing keys: kid, algorithm, status, when each signs and leaves the JWKS. Never
    /// prints private material.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Include retired keys.
        #[arg(long)]
        all: bool,
    },
    /// Publish a new key now; it signs once verifiers' cached JWKS hold it (11 minutes).
    Rotate {
        /// Sign with the new key at once. Verifiers holding a cached JWKS refuse new tokens
        /// until their cache expires (up to 10 minutes): use only when the current key is
        /// compromised.
        #[arg(long)]
        now: bool,
    },
    /// Retire a key that no longer signs: it leaves the JWKS and its private part is erased.
    /// Tokens it signed stop verifying.
    Retire {
        /// The key id (kids are base64url thumbprints and may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Import an existing key, keeping its kid: a private key (PEM: PKCS#8, PKCS#1 RSA, SEC1
    /// EC; or a private JWK) becomes the next key on the safe timeline; a public key (PEM
    /// SubjectPublicKeyInfo) only verifies, until the tokens it signed have expired.
    Import {
        /// The key file (PEM or JSON).
        file: std::path::PathBuf,
        /// The algorithm (required for PEM; a JWK may carry it): RS256, PS256, ES256, EdDSA, …
        #[arg(long)]
        alg: Option<String>,
        /// The key id (default: the JWK's kid, else the RFC 7638 thumbprint).
        #[arg(long, allow_hyphen_values = true)]
        kid: Option<String>,
        /// Sign with it at once (see `rotate --now`).
        #[arg(long)]
        now: bool,
    },
    /// Print the published public keys as a JWK Set (or one JWK with --kid).
    ExportPublic {
        /// Only this key.
        #[arg(long, allow_hyphen_values = true)]
        kid: Option<String>,
    },
    /// Print a new random HMAC secret for HMAC mode (base64url, the hash output's length).
    GenerateSecret {
        /// HS256, HS384 or HS512.
        #[arg(long, default_value = "HS256")]
        algorithm: String,
    },
    /// Print a new random master key (for TESSERA_MASTER_KEY or the master key file).
    GenerateMasterKey,
}
