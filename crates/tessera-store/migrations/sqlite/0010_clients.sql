-- The OAuth 2.0 client registry. List columns hold a JSON array of strings (the same text on
-- both backends); secrets are kept only as SHA-256 hashes.
CREATE TABLE oauth_clients (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL UNIQUE,
    grants                     TEXT NOT NULL,
    scopes                     TEXT NOT NULL,
    audiences                  TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,
    public                     INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    first_party                INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1)),
    disabled                   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    jwks                       TEXT,
    jwks_uri                   TEXT,
    secret_hash                BLOB,
    previous_secret_hash       BLOB,
    previous_secret_expires_at INTEGER,
    failed_auths               INTEGER NOT NULL DEFAULT 0,
    last_failed_auth_at        INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);

-- Client assertion ids seen (RFC 7523 §3), kept until the assertion expires, so a replay is
-- refused on every instance.
CREATE TABLE client_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_by_expiry ON client_assertion_jtis (expires_at);

-- Disabling or removing a client revokes its sessions.
CREATE INDEX sessions_by_client ON sessions (client_id);

-- The revocation feed gains kind 'token' (one access token revoked: subject is its jti, value
-- its exp). SQLite cannot alter a CHECK constraint, so the table is rebuilt with its rows and
-- positions, and with its AUTOINCREMENT counter carried over: a position handed out once is
-- never handed out again, even when the newest entries were already swept away.
CREATE TABLE revocation_log_new (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('session', 'user_version', 'token')),
    subject    TEXT NOT NULL,
    value      INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO revocation_log_new (seq, kind, subject, value, created_at)
    SELECT seq, kind, subject, value, created_at FROM revocation_log ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'revocation_log_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'revocation_log_new', seq FROM sqlite_sequence WHERE name = 'revocation_log';
DROP TABLE revocation_log;
ALTER TABLE revocation_log_new RENAME TO revocation_log;
CREATE INDEX revocation_log_by_time ON revocation_log (created_at);
-- The revocation snapshot reads the token revocations still in force.
CREATE INDEX revocation_log_tokens ON revocation_log (value) WHERE kind = 'token';
