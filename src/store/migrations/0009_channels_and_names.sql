-- 0009: every added camera has a channel (D1, D2, ...; one camera per channel) and a name the installer
-- may give it (empty: its model and the end of its serial number). This step's Rust part gives the
-- cameras added so far channels 1, 2, ... in the order they were added.
ALTER TABLE added_camera ADD COLUMN channel INTEGER CHECK (channel IS NULL OR channel BETWEEN 1 AND 256);
ALTER TABLE added_camera ADD COLUMN name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 64);
CREATE UNIQUE INDEX added_camera_channel ON added_camera (channel) WHERE channel IS NOT NULL;
