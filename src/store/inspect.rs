//! A look at a state directory that changes nothing, for checking it after a crash: SQLite's own
//! integrity check, the audit chain, every sealed secret tried against the key, and what the registry
//! holds (added cameras, the account, the mail server, the forget-password flows still going) for a
//! caller to compare with what it knows. Never creates the key or the database, never migrates; the
//! connection is query-only.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::account::{DEFAULT_CAMERA_PASSWORD, TOTP_SECRET};
use super::cameras::pending_camera_password;
use super::mail_server::MAIL_PASSWORD;
use super::recovery::{password_context, token_context};
use super::secret::{Sealer, camera_password};
use super::{AuditTamper, DATABASE_FILE, SCHEMA_VERSION, StoreError, Tx};
use super::{StoredAccount, StoredCamera, StoredFlow, StoredMailServer};
use crate::model::{AuditEntry, CameraId, RecoveryId};

/// How many audit entries an inspection reads back.
pub const AUDIT_ENTRIES_READ: usize = 100_000;

/// What a state directory holds, and whether it holds together.
#[derive(Debug)]
pub struct Inspection {
    /// SQLite's integrity check: `Ok` when it says "ok", else its first complaints.
    pub integrity: Result<(), String>,
    /// The audit chain: how many entries, when every one verifies.
    pub audit: Result<usize, AuditTamper>,
    /// The newest [`AUDIT_ENTRIES_READ`] audit entries, newest first, to check a change against its
    /// entry.
    pub audit_entries: Vec<AuditEntry>,
    /// How many sealed values the registry holds; every one was tried.
    pub sealed_values: usize,
    /// The sealed values that do not open with the key, by what they are ("camera 3 password"),
    /// never by what they hold.
    pub undecryptable: Vec<String>,
    /// The added cameras, by id.
    pub cameras: Vec<StoredCamera>,
    /// The recorder's account, once activated.
    pub account: Option<StoredAccount>,
    /// The recorder's mail server, when one is set.
    pub mail_server: Option<StoredMailServer>,
    /// The forget-password flows still going.
    pub active_recoveries: Vec<StoredFlow>,
}

impl Inspection {
    /// Whether nothing is wrong: the integrity check, the audit chain and every sealed value.
    pub fn holds_together(&self) -> bool {
        self.integrity.is_ok() && self.audit.is_ok() && self.undecryptable.is_empty()
    }
}

/// Inspects the registry in `state_dir` as vigild left it. Refused when the key file or the database
/// is missing, or the database is not at this build's schema version.
pub fn inspect(state_dir: &Path) -> Result<Inspection, StoreError> {
    let path = state_dir.join(DATABASE_FILE);
    let sealer = Sealer::load_existing(state_dir)?;
    // Read-write without create: SQLite may need to recover a WAL a crash left; query_only keeps
    // every statement from writing.
    let mut conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "query_only", "ON")?;
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < SCHEMA_VERSION {
        return Err(StoreError::StateDir {
            path: path.display().to_string(),
            source: std::io::Error::other(format!(
                "schema version {version}, older than {SCHEMA_VERSION}: vigild upgrades it when it opens it"
            )),
        });
    }
    let integrity = integrity_check(&conn)?;
    let tx = Tx {
        tx: conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?,
        sealer: &sealer,
    };
    let (sealed_values, undecryptable) = tx.try_every_sealed_value()?;
    let inspection = Inspection {
        integrity,
        audit: tx.verify_audit()?,
        audit_entries: tx.audit_entries(AUDIT_ENTRIES_READ)?,
        sealed_values,
        undecryptable,
        cameras: tx.load_added_cameras()?,
        account: tx.nvr_account()?,
        mail_server: tx.nvr_mail_server()?,
        active_recoveries: tx.load_active_recovery_flows()?,
    };
    tx.tx.rollback()?;
    Ok(inspection)
}

/// `PRAGMA integrity_check`, its first ten complaints joined when it finds any.
fn integrity_check(conn: &Connection) -> Result<Result<(), String>, StoreError> {
    let mut statement = conn.prepare("PRAGMA integrity_check(10)")?;
    let lines = statement
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match lines.as_slice() {
        [only] if only == "ok" => Ok(()),
        [] => Err("no report".to_owned()),
        complaints => Err(complaints.join("; ")),
    })
}

/// A sealed column's value, when set.
type Sealed = Option<Vec<u8>>;

impl Tx<'_> {
    /// Tries every sealed value in the registry with its context; how many there are, and what the
    /// ones that do not open are.
    fn try_every_sealed_value(&self) -> Result<(usize, Vec<String>), StoreError> {
        let mut values: Vec<(String, String, Vec<u8>)> = Vec::new();
        let mut statement = self.tx.prepare(
            "SELECT id, username, password_sealed, pending_password_sealed FROM added_camera ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let (id, username): (i64, String) = (row.get(0)?, row.get(1)?);
            values.push((
                format!("camera {id} password"),
                camera_password(&username),
                row.get(2)?,
            ));
            if let Some(sealed) = row.get::<_, Sealed>(3)? {
                values.push((
                    format!("camera {id} new password on its way"),
                    pending_camera_password(CameraId(id), &username),
                    sealed,
                ));
            }
        }
        let account: Option<(Sealed, Sealed)> = self
            .tx
            .query_row(
                "SELECT default_camera_password, totp_secret FROM nvr_account WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((default_password, totp)) = account {
            if let Some(sealed) = default_password {
                values.push((
                    "default camera password".into(),
                    DEFAULT_CAMERA_PASSWORD.into(),
                    sealed,
                ));
            }
            if let Some(sealed) = totp {
                values.push(("two-factor secret".into(), TOTP_SECRET.into(), sealed));
            }
        }
        let mail: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT password FROM nvr_mail_server WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if let Some(sealed) = mail {
            values.push(("mail server password".into(), MAIL_PASSWORD.into(), sealed));
        }
        let mut statement = self.tx.prepare(
            "SELECT id, reset_token_sealed, new_password_sealed FROM recovery_flow ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let id = RecoveryId(row.get(0)?);
            if let Some(sealed) = row.get::<_, Option<Vec<u8>>>(1)? {
                values.push((
                    format!("password reset {id} token"),
                    token_context(id),
                    sealed,
                ));
            }
            if let Some(sealed) = row.get::<_, Option<Vec<u8>>>(2)? {
                values.push((
                    format!("password reset {id} new password"),
                    password_context(id),
                    sealed,
                ));
            }
        }
        let undecryptable = values
            .iter()
            .filter(|(_, context, sealed)| self.sealer.unseal(context, sealed).is_err())
            .map(|(what, _, _)| what.clone())
            .collect();
        Ok((values.len(), undecryptable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix_secs;
    use crate::model::{CameraStatus, Credentials, DeviceAddress, DeviceIdentity};
    use crate::store::secret::KEY_FILE;
    use crate::store::{NewAccount, NewCamera, Store};
    use secrecy::SecretString;

    /// A registry with one sealed value of each kind but the recovery ones: a camera password, the
    /// default camera password, the two-factor secret and the mail server's password; and two audit
    /// entries.
    fn populated(dir: &Path) {
        let store = Store::open(dir).unwrap();
        let at = from_unix_secs(1_790_000_000);
        let secret = |s: &str| SecretString::from(s.to_owned());
        store
            .write(|tx| {
                tx.insert_added_camera(&NewCamera {
                    address: &DeviceAddress::new("127.79.0.1", 80).unwrap(),
                    endpoint_ref: None,
                    identity: &DeviceIdentity {
                        manufacturer: "Acme".into(),
                        model: "X".into(),
                        firmware: "1".into(),
                        serial: "S1".into(),
                        mac: None,
                    },
                    credentials: &Credentials::new("admin", "Harbor-Lamp-62"),
                    status: &CameraStatus::certified_since(at),
                    clock_offset_secs: 0,
                    added_at: at,
                    channels: 16,
                    protocol: crate::model::Protocol::Onvif,
                })?;
                tx.create_nvr_account(&NewAccount {
                    username: "admin",
                    password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
                    reserved_email: "owner@example.com",
                    default_camera_password: Some(&secret("Quiet-Falcon-83")),
                    activated_at: at,
                })?;
                tx.set_nvr_totp(&secret("JBSWY3DPEHPK3PXP"), 1, &[])?;
                tx.set_nvr_mail_server(&StoredMailServer {
                    host: "127.79.255.1".into(),
                    port: 2525,
                    security: crate::mail::SmtpSecurity::StartTls,
                    username: Some("nvr".into()),
                    password: Some(secret("Mail-Pass-41")),
                    from: "nvr@example.com".into(),
                    trusted_certificate: None,
                })?;
                tx.append_audit(
                    at,
                    "system",
                    crate::model::AuditAction::CameraAdded,
                    "S1",
                    "ok",
                )?;
                tx.append_audit(
                    at,
                    "system",
                    crate::model::AuditAction::CameraRemoved,
                    "S1",
                    "ok",
                )?;
                Ok(())
            })
            .unwrap();
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_sound_registry_holds_together_and_every_sealed_value_is_tried() {
        let dir = tempfile::tempdir().unwrap();
        populated(dir.path());
        let inspection = inspect(dir.path()).unwrap();
        assert!(inspection.holds_together(), "{inspection:?}");
        assert_eq!(inspection.audit, Ok(2));
        assert_eq!(
            inspection.audit_entries[0].action,
            crate::model::AuditAction::CameraRemoved,
            "newest first"
        );
        assert_eq!(inspection.sealed_values, 4);
        assert_eq!(inspection.cameras.len(), 1);
        assert!(inspection.cameras[0].credentials.is_some());
        assert!(inspection.account.as_ref().unwrap().totp_enabled);
        assert_eq!(inspection.mail_server.as_ref().unwrap().port, 2525);
        assert!(inspection.active_recoveries.is_empty());
    }

    #[test]
    fn a_damaged_value_a_broken_chain_and_a_foreign_key_are_each_named() {
        let dir = tempfile::tempdir().unwrap();
        populated(dir.path());
        let db = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        db.execute(
            "UPDATE added_camera SET password_sealed = substr(password_sealed, 1, 30)",
            [],
        )
        .unwrap();
        db.execute("UPDATE audit_log SET outcome = 'edited' WHERE id = 2", [])
            .unwrap();
        drop(db);
        let inspection = inspect(dir.path()).unwrap();
        assert!(!inspection.holds_together());
        assert_eq!(inspection.undecryptable, vec!["camera 1 password"]);
        assert_eq!(inspection.audit, Err(AuditTamper { entry: 2 }));
        assert!(inspection.cameras[0].credentials.is_none());

        // Another key: nothing opens, and the chain does not verify from its first entry.
        std::fs::write(dir.path().join(KEY_FILE), [7u8; 32]).unwrap();
        let inspection = inspect(dir.path()).unwrap();
        assert_eq!(inspection.undecryptable.len(), inspection.sealed_values);
        assert_eq!(inspection.audit, Err(AuditTamper { entry: 1 }));
        assert_eq!(inspection.integrity, Ok(()), "the file itself is sound");
    }

    #[test]
    fn a_missing_key_or_database_is_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        assert!(inspect(dir.path()).is_err());
        assert!(files(dir.path()).is_empty(), "no key, no database made");
        populated(dir.path());
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let before = files(dir.path());
        assert!(matches!(inspect(dir.path()), Err(StoreError::Secret(_))));
        assert_eq!(files(dir.path()), before, "the key is not replaced");
    }
}
