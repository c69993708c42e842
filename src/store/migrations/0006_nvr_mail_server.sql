-- 0006: the recorder's own mail server (Settings > Network > Email), for its account's recovery codes:
-- server, port, security (none, starttls, tls), optional login with the password sealed, From address.
CREATE TABLE nvr_mail_server (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    host          TEXT    NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    port          INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security      TEXT    NOT NULL CHECK (security IN ('none', 'starttls', 'tls')),
    username      TEXT,
    password      BLOB,
    from_address  TEXT    NOT NULL CHECK (length(from_address) <= 254)
);
