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
    /// Manage OAuth 2.0 clients: register, list, show, rotate secrets, disable, remove.
    Client(ClientCommand),
}

#[derive(Debug, Args)]
pub(crate) struct ClientCommand {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(subcommand)]
    pub(crate) action: ClientAction,
}

/// What `tessera client add` is given.
#[derive(Debug, Args)]
pub(crate) struct ClientAddArgs {
    /// Unique name: 1 to 64 characters among A-Z a-z 0-9 - _ .
    pub(crate) name: String,
    /// A grant type it may use (repeatable; at least one): client_credentials, refresh_token,
    /// password, authorization_code.
    #[arg(long = "grant", value_name = "GRANT")]
    pub(crate) grants: Vec<String>,
    /// A scope (permission name) it may be given (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub(crate) scopes: Vec<String>,
    /// An audience its tokens may name (repeatable; the first is the default; none: the
    /// server's own audience).
    #[arg(long = "audience", value_name = "URI")]
    pub(crate) audiences: Vec<String>,
    /// A redirect URI for the authorization code flow (repeatable; exact match).
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub(crate) redirect_uris: Vec<String>,
    /// Where OpenID Connect logout may send the browser afterwards (repeatable; exact match).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub(crate) post_logout_redirect_uris: Vec<String>,
    /// A browser origin (scheme://host[:port]) whose pages may call the token, userinfo and
    /// revocation endpoints (CORS; repeatable).
    #[arg(long = "web-origin", value_name = "ORIGIN")]
    pub(crate) web_origins: Vec<String>,
    /// A public client: no secret, authenticates with `none` (e.g. a browser or mobile app).
    #[arg(long, conflicts_with_all = ["jwks_file", "jwks_uri"])]
    pub(crate) public: bool,
    /// Authenticate with private_key_jwt against the public keys in this JWK Set file.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    pub(crate) jwks_file: Option<PathBuf>,
    /// Authenticate with private_key_jwt against the JWK Set published at this URL.
    #[arg(long, value_name = "URI")]
    pub(crate) jwks_uri: Option<String>,
    /// A first-party client: may use the password grant, and its sign-ins skip the consent
    /// screen.
    #[arg(long)]
    pub(crate) first_party: bool,
    /// Print one JSON object: {"client_id", "client_secret"} (null without a secret).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientAction {
    /// Register a client. A confidential client's secret is printed once and never again
    /// (only its SHA-256 is stored).
    Add(ClientAddArgs),
    /// List clients: name, client_id, grants, how each authenticates, first-party, status.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show one client (never its secret).
    Show {
        /// The client_id or the name.
        #[arg(value_name = "ID_OR_NAME", allow_hyphen_values = true)]
        client: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give a confidential client a new secret, printed once; the old one keeps working for
    /// the overlap.
    RotateSecret {
        /// The client_id or the name.
        #[arg(value_name = "ID_OR_NAME", allow_hyphen_values = true)]
        client: String,
        /// How long the old secret keeps working: a duration such as 90s, 15m, 24h, 7d, 2w
        /// (0s: it stops at once).
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        overlap: String,
        /// Print one JSON object: {"client_id", "client_secret", "previous_secret_expires_at"}.
        #[arg(long)]
        json: bool,
    },
    /// Disable a client: it can no longer authenticate, and its sessions end.
    Disable {
        /// The client_id or the name.
        #[arg(value_name = "ID_OR_NAME", allow_hyphen_values = true)]
        client: String,
    },
    /// Enable a disabled client.
    Enable {
        /// The client_id or the name.
        #[arg(value_name = "ID_OR_NAME", allow_hyphen_values = true)]
        client: String,
    },
    /// Remove a client and end its sessions.
    Remove {
        /// The client_id or the name.
        #[arg(value_name = "ID_OR_NAME", allow_hyphen_values = true)]
        client: String,
    },
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
    /// Link a user to an identity at a configured provider (an LDAP entry's entryUUID, or
    /// objectGUID in hex for Active Directory): their logins are checked there from then on.
    Link {
        /// The username.
        username: String,
        /// The provider's `id` in `[[identity_providers]]`.
        #[arg(long)]
        provider: String,
        /// The provider's stable subject for this person.
        #[arg(long)]
        subject: String,
        /// The name the provider knows them by (default: the username).
        #[arg(long)]
        upstream_username: Option<String>,
    },
    /// Remove a user's link to a provider: their logins are checked locally again.
    Unlink {
        /// The username.
        username: String,
        /// The provider's `id`.
        #[arg(long)]
        provider: String,
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
