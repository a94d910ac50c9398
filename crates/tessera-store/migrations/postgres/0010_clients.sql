-- The OAuth 2.0 client registry. Mirrors migrations/sqlite/0010_clients.sql: list columns hold
-- a JSON array of strings (the same text on both backends); secrets are kept only as SHA-256
-- hashes.
CREATE TABLE oauth_clients (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL UNIQUE,
    grants                     TEXT NOT NULL,
    scopes                     TEXT NOT NULL,
    audiences                  TEXT NOT NULL,
    redirect_uris              TEXT NOT NULL,
    public                     BOOLEAN NOT NULL DEFAULT FALSE,
    first_party                BOOLEAN NOT NULL DEFAULT FALSE,
    disabled                   BOOLEAN NOT NULL DEFAULT FALSE,
    jwks                       TEXT,
    jwks_uri                   TEXT,
    secret_hash                BYTEA,
    previous_secret_hash       BYTEA,
    previous_secret_expires_at BIGINT,
    failed_auths               BIGINT NOT NULL DEFAULT 0,
    last_failed_auth_at        BIGINT NOT NULL DEFAULT 0,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);

-- Client assertion ids seen (RFC 7523 §3), kept until the assertion expires, so a replay is
-- refused on every instance.
CREATE TABLE client_assertion_jtis (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_by_expiry ON client_assertion_jtis (expires_at);

-- Disabling or removing a client revokes its sessions.
CREATE INDEX sessions_by_client ON sessions (client_id);

-- The revocation feed gains kind 'token' (one access token revoked: subject is its jti, value
-- its exp). The rotation function (0009) appends 'session' entries, which stay valid.
ALTER TABLE revocation_log DROP CONSTRAINT revocation_log_kind_check;
ALTER TABLE revocation_log ADD CONSTRAINT revocation_log_kind_check
    CHECK (kind IN ('session', 'user_version', 'token'));
-- The revocation snapshot reads the token revocations still in force.
CREATE INDEX revocation_log_tokens ON revocation_log (value) WHERE kind = 'token';
