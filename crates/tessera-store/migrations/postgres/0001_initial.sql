-- Tessera schema v1 (PostgreSQL). Mirrors migrations/sqlite/0001_initial.sql column for column:
-- times are Unix seconds (BIGINT), hashes and sealed keys raw bytes (BYTEA).
CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    username           TEXT NOT NULL,
    -- RFC 8265 UsernameCaseMapped form, computed in Rust so both backends agree on clashes
    username_canonical TEXT NOT NULL UNIQUE,
    password_hash      TEXT NOT NULL,
    disabled           BOOLEAN NOT NULL DEFAULT FALSE,
    token_version      BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE roles (
    name       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL REFERENCES roles (name) ON DELETE RESTRICT,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    revoked_at          BIGINT,
    revoked_reason      TEXT,
    user_agent          TEXT,
    client_ip           TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Every refresh token a session was given, current and rotated, kept until the session ends so
-- that reuse of an old one is recognised however late it comes.
CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('next', 'active', 'retiring', 'retired')),
    public_jwk TEXT,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
-- Exactly one active key, even when two instances start at once.
CREATE UNIQUE INDEX one_active_signing_key ON signing_keys (status) WHERE status = 'active';
