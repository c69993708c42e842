-- 0010: the cameras plug and play has tried (by serial number, else endpoint reference), so a camera is
-- tried once with the default camera password, across restarts too.
CREATE TABLE plug_and_play_attempt (
    camera TEXT    PRIMARY KEY CHECK (length(camera) BETWEEN 1 AND 512),
    at     INTEGER NOT NULL
);
