-- Server-side login sessions and per-client login throttling (docs/security.md, "Sessions and login").
--
-- A browser holds only a random token (inside the signed, httpOnly login cookie); the
-- warehouse keeps its SHA-256, so a copy of the warehouse or a backup holds no usable session.
-- The guard checks the row on every page run: a revoked, idle or expired row ends the session.
CREATE TABLE IF NOT EXISTS app_sessions (
    session_id  VARCHAR PRIMARY KEY,          -- sha256 hex of the token in the cookie
    username    VARCHAR NOT NULL,
    client      VARCHAR NOT NULL,             -- the address the session was started from
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    last_seen   TIMESTAMP NOT NULL DEFAULT current_timestamp,
    revoked_at  TIMESTAMP,
    reason      VARCHAR                       -- logout, user.disable, user.roles, user.password_reset, idle ...
);

-- Failed logins per (typed username, client); client '*' counts every client (the slower,
-- global per-username backoff that applies only to clients the user has not signed in from).
-- Rows exist for unknown usernames too, so throttling says nothing about which accounts exist.
CREATE TABLE IF NOT EXISTS login_throttle (
    username      VARCHAR NOT NULL,
    client        VARCHAR NOT NULL,
    failures      INTEGER NOT NULL,
    first_failure TIMESTAMP NOT NULL,
    locked_until  TIMESTAMP,
    PRIMARY KEY (username, client)
);
