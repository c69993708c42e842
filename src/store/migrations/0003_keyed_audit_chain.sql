-- 0003: the audit chain is keyed: entries written from now on are hashed with HMAC-SHA256 under a key
-- derived from the credentials key, so whoever can write the database but not read the key cannot
-- recompute the chain. Entries written before keep their plain SHA-256 hashes; the anchor, written once
-- by this upgrade and keyed, says how many there were and what the last one's hash is, so they still
-- verify and cannot be rewritten as plain entries later.
CREATE TABLE audit_anchor (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    legacy_entries INTEGER NOT NULL CHECK (legacy_entries >= 1),
    legacy_hash    BLOB    NOT NULL CHECK (length(legacy_hash) = 32),
    tag            BLOB    NOT NULL CHECK (length(tag) = 32)
);
