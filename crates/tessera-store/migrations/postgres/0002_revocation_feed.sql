-- The revocation feed: every change that revokes access tokens appends an entry in the same
-- transaction. Each server instance (and a server whose data the CLI changed) follows the
-- feed to keep its in-memory revocation view current without a database read per request.
-- Writers take `LOCK TABLE revocation_log IN EXCLUSIVE MODE` before appending, so sequence
-- numbers become visible in order and a follower reading `seq > last` never skips one.
CREATE TABLE revocation_log (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('session', 'user_version')),
    subject    TEXT NOT NULL,
    value      BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX revocation_log_by_time ON revocation_log (created_at);
CREATE INDEX sessions_by_expiry ON sessions (absolute_expires_at);
CREATE INDEX users_with_versions ON users (token_version) WHERE token_version > 0;
