-- Version 9 made PostgreSQL's rotation function revoke a reused session itself
-- (migrations/postgres/0009_rotation_revokes_reuse.sql). SQLite rotates in the adapter, which
-- already revokes in the rotation's transaction; its schema is unchanged. The migration exists
-- so both backends report the same schema version.
SELECT 1;
