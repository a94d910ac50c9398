-- Per-client rate limits on registration and refresh (GCRA): one row per bucket
-- ("register:<ip>", "refresh:<ip>") holding when its next request is free, in Unix
-- milliseconds, so every instance on this database applies the same budget.
CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    next_free_ms BIGINT NOT NULL
);
CREATE INDEX rate_limits_by_time ON rate_limits (next_free_ms);
