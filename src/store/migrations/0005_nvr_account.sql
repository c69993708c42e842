-- 0005: the recorder's own admin account (one): its argon2id password hash, the reserved email for
-- password recovery, an optional default camera activation password (sealed), the login lockout (which
-- must survive a restart), and the TOTP second factor (secret sealed, last step used, recovery codes
-- hashed).
CREATE TABLE nvr_account (
    id                        INTEGER PRIMARY KEY CHECK (id = 1),
    username                  TEXT    NOT NULL CHECK (length(username) BETWEEN 1 AND 32),
    password_hash             TEXT    NOT NULL,
    reserved_email            TEXT    NOT NULL CHECK (length(reserved_email) <= 254),
    default_camera_password   BLOB,
    failed_logins             INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until              INTEGER,
    totp_secret               BLOB,
    totp_last_step            INTEGER,
    totp_recovery_hashes      TEXT,
    activated_at              INTEGER NOT NULL
);
