-- Identities at external providers linked to Tessera users: (provider id from the
-- configuration, the provider's stable subject: an LDAP entry's entryUUID or objectGUID, an
-- OpenID Connect issuer and sub) -> user. A user linked to a provider is checked there.
-- `upstream_username` is the name the provider knows the user by (what an LDAP login
-- searches for), refreshed at each sign-in. Mirrors migrations/postgres/0013_identities.sql.
CREATE TABLE identities (
    provider          TEXT NOT NULL,
    subject           TEXT NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    upstream_username TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    last_seen_at      INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_by_user ON identities (user_id);
