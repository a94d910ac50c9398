-- The audit log: security-relevant events (logins, lockouts, refresh-token reuse, logouts,
-- account, role and key changes), one row each, kept for `audit.retention_days`. Never a
-- secret: no password, token, hash or key material is ever written here.
CREATE TABLE audit_log (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    actor      TEXT,
    subject    TEXT,
    session_id TEXT,
    client_ip  TEXT,
    detail     TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_subject ON audit_log (subject, at);
