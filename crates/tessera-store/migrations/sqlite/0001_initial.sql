-- Tessera schema v1 (SQLite). Times are Unix seconds; hashes are raw bytes.
CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    username           TEXT NOT NULL,
    -- RFC 8265 UsernameCaseMapped form, computed in Rust so both backends agree on clashes
    username_canonical TEXT NOT NULL UNIQUE,
    password_hash      TEXT NOT NULL,
    disabled           INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    token_version      INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE roles (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
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
    created_at          INTEGER NOT NULL,
    last_used_at        INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    revoked_at          INTEGER,
    revoked_reason      TEXT,
    user_agent          TEXT,
    client_ip           TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Every refresh token a session was given, current and rotated, kept until the session ends so
-- that reuse of an old one is recognised however late it comes.
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('next', 'active', 'retiring', 'retired')),
    public_jwk TEXT,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
-- Exactly one active key, even when two instances start at once.
CREATE UNIQUE INDEX one_active_signing_key ON signing_keys (status) WHERE status = 'active';
