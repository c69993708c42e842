-- 0008: a camera's last error is a reason kind the menu translates plus the camera's own words,
-- instead of an English sentence. The sentences stored so far are read into kind and words by this
-- step's Rust part (store/cameras.rs, `reasons_from_sentences`).
ALTER TABLE added_camera RENAME COLUMN last_error TO last_error_words;
ALTER TABLE added_camera ADD COLUMN last_error_kind TEXT
    CHECK (last_error_kind IS NULL OR length(last_error_kind) <= 32);
