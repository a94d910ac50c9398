-- Version 8 gave PostgreSQL a function that rotates a refresh token in one round trip
-- (migrations/postgres/0008_rotation_function.sql). SQLite runs in the server's process, so a
-- statement costs no round trip and rotation stays in the adapter; its schema is unchanged.
-- The migration exists so both backends report the same schema version.
SELECT 1;
