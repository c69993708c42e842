-- 0007: a certificate (PEM) the recorder trusts for its mail server besides the system's: the CA
-- that signed a private relay's certificate.
ALTER TABLE nvr_mail_server ADD COLUMN trusted_certificate TEXT
    CHECK (trusted_certificate IS NULL OR length(trusted_certificate) <= 16384);
