-- The browser sign-in (SSO session) a client's session was started from through an
-- authorization code, so that RP-initiated logout ends the browser session and its sessions
-- with that client, however long ago the code was pruned. NULL: not started from a browser
-- sign-in. Mirrors migrations/sqlite/0012_browser_sessions.sql.
ALTER TABLE sessions ADD COLUMN browser_session TEXT;
CREATE INDEX sessions_by_browser_session ON sessions (browser_session)
    WHERE browser_session IS NOT NULL;
