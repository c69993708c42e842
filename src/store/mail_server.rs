//! The recorder's own mail server's SQL: one row, its login password sealed.

use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;

use super::{StoreError, Tx};
use crate::mail::SmtpSecurity;

/// The sealing context of the mail server's login password.
pub(super) const MAIL_PASSWORD: &str = "nvr/mail-server-password/v1";

/// The mail server as stored, the password opened (it never leaves the service).
#[derive(Debug, Clone)]
pub struct StoredMailServer {
    /// Server host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// Login user, if any.
    pub username: Option<String>,
    /// Login password, if any (and it still opens).
    pub password: Option<SecretString>,
    /// From address.
    pub from: String,
    /// A certificate (PEM) to trust besides the system's.
    pub trusted_certificate: Option<String>,
}

impl Tx<'_> {
    /// The mail server, when one is set.
    pub fn nvr_mail_server(&self) -> Result<Option<StoredMailServer>, StoreError> {
        let row = self
            .tx
            .query_row(
                "SELECT host, port, security, username, password, from_address, trusted_certificate
                 FROM nvr_mail_server WHERE id = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, u16>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, Option<Vec<u8>>>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, Option<String>>(6)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(
            |(host, port, security, username, sealed, from, trusted_certificate)| {
                StoredMailServer {
                    host,
                    port,
                    // The column only holds the three names (CHECK).
                    security: SmtpSecurity::parse(&security).unwrap_or(SmtpSecurity::None),
                    username,
                    password: sealed
                        .and_then(|sealed| self.sealer.unseal(MAIL_PASSWORD, &sealed).ok()),
                    from,
                    trusted_certificate,
                }
            },
        ))
    }

    /// Sets the mail server, replacing the old one.
    pub fn set_nvr_mail_server(&self, server: &StoredMailServer) -> Result<(), StoreError> {
        let sealed = server
            .password
            .as_ref()
            .map(|password| self.sealer.seal(MAIL_PASSWORD, password));
        self.tx.execute(
            "INSERT INTO nvr_mail_server (id, host, port, security, username, password, from_address,
                                         trusted_certificate)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port,
                 security = excluded.security, username = excluded.username,
                 password = excluded.password, from_address = excluded.from_address,
                 trusted_certificate = excluded.trusted_certificate",
            params![
                server.host,
                server.port,
                server.security.as_str(),
                server.username,
                sealed,
                server.from,
                server.trusted_certificate
            ],
        )?;
        Ok(())
    }
}
