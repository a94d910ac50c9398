-- OpenID Connect sign-in: authorization codes, remembered consents, the scope a session was
-- granted, and the logout redirect URIs and browser origins of a client. Mirrors
-- migrations/sqlite/0011_oidc.sql.

-- The scope granted at the session's start, space-separated (NULL: the first-party API, every
-- permission of the user's roles). A refresh carries at most this scope (RFC 6749 §6).
ALTER TABLE sessions ADD COLUMN scope TEXT;

ALTER TABLE oauth_clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]';

-- Authorization codes (RFC 6749 §4.1.2), kept only as SHA-256 hashes. `uses` counts the
-- redemptions: the first one gets the code, every later one is a reuse, which revokes the
-- session the first one started (`session_id`). Rows are pruned an hour after they expire,
-- so a late replay is still recognised.
CREATE TABLE authorization_codes (
    code_hash       BYTEA PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    nonce           TEXT,
    scope           TEXT NOT NULL,
    audience        TEXT,
    auth_time       BIGINT NOT NULL,
    browser_session TEXT,
    session_id      TEXT,
    uses            BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

-- A user's remembered consent to a client: the scopes, sorted and space-separated.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_by_client ON consents (client_id);
