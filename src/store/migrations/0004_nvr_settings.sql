-- 0004: the recorder's own settings that the installer changes from the menu (the menu language first),
-- one row per setting, so they survive a restart.
CREATE TABLE nvr_setting (
    name  TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value TEXT NOT NULL CHECK (length(value) <= 4096)
);
