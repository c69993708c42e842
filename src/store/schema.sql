-- The whole current schema, for reading. The store builds databases by applying the numbered files in
-- migrations/ in order; a test checks that the result is exactly this.
-- Schema version (PRAGMA user_version): the number of the last file in migrations/.

-- Added cameras; an id is never reused, so a stale reference cannot reach another camera. Passwords are sealed with XChaCha20-Poly1305 under the key file, never stored clear.
-- `credentials_rejected` survives restarts so the NVR never retries credentials a camera refused.
-- The last error is a reason kind (model::ReasonKind's word) and the camera's own words; migration
-- 0008 renamed the words' column and added the kind, written as SQLite writes an added column.
-- Migration 0009 added the channel (D1, D2, ...; one camera per channel) and the installer's name for the
-- camera (empty: its model and the end of its serial number).
-- Migration 0012 added the pending password: a new password sealed before the camera is told, cleared
-- when it is stored as the camera's, so vigild finishes a change a crash interrupted.
CREATE TABLE added_camera (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    host                 TEXT    NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    port                 INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    service_path         TEXT    NOT NULL CHECK (substr(service_path, 1, 1) = '/'),
    endpoint_ref         TEXT,
    manufacturer         TEXT    NOT NULL DEFAULT '',
    model                TEXT    NOT NULL DEFAULT '',
    firmware             TEXT    NOT NULL DEFAULT '',
    serial               TEXT    NOT NULL DEFAULT '',
    mac                  TEXT,
    username             TEXT    NOT NULL CHECK (length(username) >= 1),
    password_sealed      BLOB    NOT NULL,
    credentials_rejected INTEGER NOT NULL DEFAULT 0 CHECK (credentials_rejected IN (0, 1)),
    state                TEXT    NOT NULL CHECK (state IN ('online', 'not_certified', 'locked', 'offline')),
    state_since          INTEGER NOT NULL,
    last_error_words     TEXT,
    last_error_at        INTEGER,
    clock_offset_secs    INTEGER NOT NULL DEFAULT 0,
    added_at             INTEGER NOT NULL, last_error_kind TEXT
    CHECK (last_error_kind IS NULL OR length(last_error_kind) <= 32), channel INTEGER CHECK (channel IS NULL OR channel BETWEEN 1 AND 256), name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 64), protocol TEXT NOT NULL DEFAULT 'onvif'
    CHECK (protocol IN ('onvif', 'hikvision', 'dahua')), pending_password_sealed BLOB,
    UNIQUE (host, port)
);
CREATE UNIQUE INDEX added_camera_serial ON added_camera (manufacturer, serial) WHERE serial <> '';
CREATE UNIQUE INDEX added_camera_channel ON added_camera (channel) WHERE channel IS NOT NULL;
CREATE UNIQUE INDEX added_camera_endpoint ON added_camera (endpoint_ref) WHERE endpoint_ref IS NOT NULL;

-- Forget-password flows. One active flow per camera (camera_key: its serial, else its endpoint). The reset
-- token and, while a reset is in progress, the new password are sealed like camera passwords.
CREATE TABLE recovery_flow (
    id                  INTEGER PRIMARY KEY,
    device_key          TEXT    NOT NULL,
    camera_key          TEXT    NOT NULL,
    host                TEXT    NOT NULL,
    port                INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    service_path        TEXT    NOT NULL,
    manufacturer        TEXT    NOT NULL DEFAULT '',
    model               TEXT    NOT NULL DEFAULT '',
    firmware            TEXT    NOT NULL DEFAULT '',
    serial              TEXT    NOT NULL DEFAULT '',
    mac                 TEXT,
    reset_user          TEXT    NOT NULL,
    masked_email        TEXT,
    internet            INTEGER NOT NULL CHECK (internet IN (0, 1)),
    methods             TEXT    NOT NULL,
    camera_date         TEXT    NOT NULL,
    clock_offset_secs   INTEGER NOT NULL DEFAULT 0,
    challenge_nonce     TEXT,
    challenge_expires   INTEGER,
    qr_payload          TEXT,
    attempts_left       INTEGER,
    step                TEXT    NOT NULL CHECK (step IN ('awaiting_code', 'code_verified', 'resetting',
                                                         'completed', 'failed', 'expired', 'cancelled')),
    code_sent_to        TEXT,
    removed_camera_id   INTEGER,
    removed_username    TEXT,
    add_after_reset     INTEGER NOT NULL CHECK (add_after_reset IN (0, 1)),
    actor               TEXT    NOT NULL,
    reset_token_sealed  BLOB,
    token_expires       INTEGER,
    new_password_sealed BLOB,
    result_camera_id    INTEGER,
    failure             TEXT,
    started_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
, protocol TEXT NOT NULL DEFAULT 'vigil'
    CHECK (protocol IN ('vigil', 'hikvision', 'dahua')));
CREATE UNIQUE INDEX recovery_flow_one_per_camera ON recovery_flow (camera_key)
    WHERE step IN ('awaiting_code', 'code_verified', 'resetting');

-- Security actions, append-only. Each row's hash is HMAC-SHA256, under a key derived from the credentials
-- key, over the previous row's hash and its own fields, so an edited or deleted row breaks the chain and
-- only the NVR can extend it. Rows written before schema 3 keep plain SHA-256 hashes (see audit_anchor).
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    camera    TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash      BLOB    NOT NULL CHECK (length(hash) = 32)
);

-- Written once, by the upgrade to schema 3, when the log already held entries: how many were hashed with
-- plain SHA-256, the last one's hash, and an HMAC over both. Without it, every entry must be keyed.
CREATE TABLE audit_anchor (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    legacy_entries INTEGER NOT NULL CHECK (legacy_entries >= 1),
    legacy_hash    BLOB    NOT NULL CHECK (length(legacy_hash) = 32),
    tag            BLOB    NOT NULL CHECK (length(tag) = 32)
);

-- The recorder's own settings changed from the menu (the menu language, ...), one row per setting.
CREATE TABLE nvr_setting (
    name  TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value TEXT NOT NULL CHECK (length(value) <= 4096)
);

-- The recorder's own admin account (one): argon2id hash, reserved email, optional default camera
-- activation password (sealed), login lockout, TOTP (secret sealed, last step used, recovery hashes).
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

-- The recorder's own mail server (Settings > Network > Email); the login password is sealed. The
-- trusted certificate was added by migration 0007 and is written as SQLite writes an added column.
CREATE TABLE nvr_mail_server (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    host          TEXT    NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    port          INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security      TEXT    NOT NULL CHECK (security IN ('none', 'starttls', 'tls')),
    username      TEXT,
    password      BLOB,
    from_address  TEXT    NOT NULL CHECK (length(from_address) <= 254)
    , trusted_certificate TEXT
    CHECK (trusted_certificate IS NULL OR length(trusted_certificate) <= 16384));

-- The cameras plug and play has tried (serial number, else endpoint reference): one attempt each, ever.
CREATE TABLE plug_and_play_attempt (
    camera TEXT    PRIMARY KEY CHECK (length(camera) BETWEEN 1 AND 512),
    at     INTEGER NOT NULL
);
