-- Named queries of the foundation (audit, users, settings). One block per query.

-- name: audit_insert
INSERT INTO audit_log (username, roles, action, entity, entity_id, before, after, detail)
VALUES (:username, :roles, :action, :entity, :entity_id,
        CAST(:before AS JSON), CAST(:after AS JSON), CAST(:detail AS JSON))

-- name: users_all
SELECT username, display_name, email, password_hash, roles, disabled, failed_attempts,
       locked_until, last_login, last_activity, created_at
FROM app_users ORDER BY username

-- name: user_by_name
SELECT username, display_name, email, password_hash, roles, disabled, failed_attempts,
       locked_until, last_login, last_activity, created_at
FROM app_users WHERE username = :username

-- name: user_insert
INSERT INTO app_users (username, display_name, email, password_hash, roles, password_changed_at)
VALUES (:username, :display_name, :email, :password_hash, :roles, current_timestamp)

-- name: user_login_failed
-- A lock that has run out starts a fresh count (the first failure after it is failure 1);
-- failures while still locked extend the lock.
UPDATE app_users
SET failed_attempts = CASE WHEN locked_until <= current_timestamp THEN 1
                           ELSE failed_attempts + 1 END,
    locked_until = CASE WHEN locked_until <= current_timestamp THEN NULL
                        WHEN failed_attempts + 1 >= :max_attempts
                        THEN current_timestamp + to_minutes(CAST(:lock_minutes AS BIGINT))
                        ELSE locked_until END
WHERE username = :username

-- name: user_login_succeeded
UPDATE app_users
SET failed_attempts = 0, locked_until = NULL, last_login = current_timestamp,
    last_activity = current_timestamp
WHERE username = :username

-- name: user_touch
UPDATE app_users SET last_activity = current_timestamp
WHERE username = :username
  AND (last_activity IS NULL OR last_activity < current_timestamp - INTERVAL 1 MINUTE)

-- name: setting_get
SELECT value FROM app_settings WHERE key = :key

-- name: setting_all
SELECT key, value FROM app_settings

-- name: setting_put
INSERT INTO app_settings (key, value, updated_by, updated_at)
VALUES (:key, CAST(:value AS JSON), :updated_by, current_timestamp)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by,
                                updated_at = excluded.updated_at

-- name: lake_data_version
SELECT max(snapshot_id) FROM ducklake_snapshots('lake')

-- name: schema_versions
SELECT version FROM schema_version ORDER BY version
