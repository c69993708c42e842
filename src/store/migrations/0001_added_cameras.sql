-- 0001: the registry of added cameras.
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
    last_error           TEXT,
    last_error_at        INTEGER,
    clock_offset_secs    INTEGER NOT NULL DEFAULT 0,
    added_at             INTEGER NOT NULL,
    UNIQUE (host, port)
);
CREATE UNIQUE INDEX added_camera_serial ON added_camera (manufacturer, serial) WHERE serial <> '';
CREATE UNIQUE INDEX added_camera_endpoint ON added_camera (endpoint_ref) WHERE endpoint_ref IS NOT NULL;
