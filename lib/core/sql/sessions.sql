-- Named queries of login sessions and login throttling (lib/sessions.py, lib/auth.py).

-- name: session_insert
INSERT INTO app_sessions (session_id, username, client, created_at, last_seen)
VALUES (:session_id, :username, :client, CAST(:now AS TIMESTAMP), CAST(:now AS TIMESTAMP))

-- name: session_by_id
SELECT session_id, username, client, created_at, last_seen, revoked_at, reason
FROM app_sessions WHERE session_id = :session_id

-- name: session_seen
UPDATE app_sessions SET last_seen = CAST(:now AS TIMESTAMP)
WHERE session_id = :session_id AND revoked_at IS NULL

-- name: session_revoke
UPDATE app_sessions SET revoked_at = CAST(:now AS TIMESTAMP), reason = :reason
WHERE session_id = :session_id AND revoked_at IS NULL

-- name: sessions_open_of_user
SELECT count(*) FROM app_sessions WHERE username = :username AND revoked_at IS NULL

-- name: sessions_revoke_user
UPDATE app_sessions SET revoked_at = CAST(:now AS TIMESTAMP), reason = :reason
WHERE username = :username AND revoked_at IS NULL

-- name: session_known_client
-- Has this client signed in as this user lately? (It is then spared the global backoff.)
SELECT count(*) > 0 FROM app_sessions
WHERE username = :username AND client = :client AND created_at >= CAST(:since AS TIMESTAMP)

-- name: throttle_row
SELECT username, client, failures, first_failure, locked_until
FROM login_throttle WHERE username = :username AND client = :client

-- name: throttle_of_user
SELECT username, client, failures, first_failure, locked_until
FROM login_throttle WHERE username = :username ORDER BY client

-- name: throttle_put
INSERT INTO login_throttle (username, client, failures, first_failure, locked_until)
VALUES (:username, :client, :failures, CAST(:first_failure AS TIMESTAMP), CAST(:locked_until AS TIMESTAMP))
ON CONFLICT (username, client) DO UPDATE SET failures = excluded.failures,
    first_failure = excluded.first_failure, locked_until = excluded.locked_until

-- name: throttle_clear_pair
DELETE FROM login_throttle WHERE username = :username AND client = :client

-- name: throttle_clear_user
DELETE FROM login_throttle WHERE username = :username

-- name: user_failed_login_counted
-- Failed logins of an account, for people to read (throttling itself is in login_throttle).
UPDATE app_users SET failed_attempts = failed_attempts + 1 WHERE username = :username

-- name: user_failures_cleared
UPDATE app_users SET failed_attempts = 0, locked_until = NULL WHERE username = :username
