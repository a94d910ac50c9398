-- The periodic sweep deletes stale failed-login counters by time; without this index it
-- reads the whole table, which an attack on many names or addresses makes large. The column
-- changes only on a failed login, so the index costs nothing on the success path. Mirrors
-- migrations/sqlite/0014_throttle_sweep_index.sql.
CREATE INDEX login_throttles_by_time ON login_throttles (last_failure_at);
