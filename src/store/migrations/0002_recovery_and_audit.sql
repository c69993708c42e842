-- 0002: forget-password flows that survive a restart, and the hash-chained audit log.
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
);
CREATE UNIQUE INDEX recovery_flow_one_per_camera ON recovery_flow (camera_key)
    WHERE step IN ('awaiting_code', 'code_verified', 'resetting');

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
