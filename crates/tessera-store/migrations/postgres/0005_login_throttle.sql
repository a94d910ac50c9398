-- Brute-force protection: failed-login counters per (username, IP) pair, per IP and per
-- username, kept here so that every instance on this database sees the same counts. The
-- username is the canonical form of what was submitted, whether or not such a user exists;
-- an unused part of the key is the empty string (so the primary key covers every row).
CREATE TABLE login_throttles (
    scope           TEXT NOT NULL CHECK (scope IN ('pair', 'ip', 'user')),
    username        TEXT NOT NULL,
    ip              TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    PRIMARY KEY (scope, username, ip)
);
CREATE INDEX login_throttles_by_ip ON login_throttles (ip);
-- The IP of each username's last successful login: per-username delays spare it.
CREATE TABLE login_successes (
    username TEXT PRIMARY KEY,
    ip       TEXT NOT NULL,
    at       BIGINT NOT NULL
);
