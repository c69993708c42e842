//! The NVR's persistent registry, and the only place with SQL: a SQLite file (WAL, synchronous=FULL)
//! in a 0700 state directory, built from the numbered files in `migrations/` (`schema.sql` shows the
//! result), with camera passwords sealed by [`secret::Sealer`].
//!
//! Invariants: every change is one transaction, so a crash leaves the registry as it was before or
//! after a change; a database newer than this build is refused, never downgraded; files are 0600.

mod account;
mod audit;
mod cameras;
mod mail_server;
mod recovery;
pub mod secret;
mod settings;

pub use account::{NewAccount, StoredAccount, StoredTotp};
pub use mail_server::StoredMailServer;
pub use settings::NvrSetting;

pub use audit::{AuditTamper, GENESIS_HASH};
pub use recovery::StoredFlow;

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension};

use crate::model::{AddedCamera, CameraId, CameraStatus};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity};
use secret::{Sealer, SecretError};

/// The database file's name in the state directory.
pub const DATABASE_FILE: &str = "vigil.db";

/// The numbered migrations, in order. Version N is the database after applying the first N.
pub const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("migrations/0001_added_cameras.sql")),
    (2, include_str!("migrations/0002_recovery_and_audit.sql")),
    (3, include_str!("migrations/0003_keyed_audit_chain.sql")),
    (4, include_str!("migrations/0004_nvr_settings.sql")),
    (5, include_str!("migrations/0005_nvr_account.sql")),
    (6, include_str!("migrations/0006_nvr_mail_server.sql")),
    (
        7,
        include_str!("migrations/0007_mail_server_certificate.sql"),
    ),
];

/// The schema this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The current schema, for reading and for the migration test.
pub const SCHEMA_SQL: &str = include_str!("schema.sql");

/// Which uniqueness rule a new camera broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateOf {
    /// Same host and port.
    Address,
    /// Same manufacturer and serial number.
    Serial,
    /// Same WS-Discovery endpoint reference.
    EndpointRef,
    /// The camera already has a forget-password flow going.
    ActiveRecovery,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or database file could not be prepared.
    #[error("state directory {path}: {source}")]
    StateDir {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer vigild.
    #[error(
        "the database is schema version {found}, newer than this vigild understands ({supported}); refusing to touch it"
    )]
    TooNew {
        /// Its version.
        found: u32,
        /// Ours.
        supported: u32,
    },
    /// The change would make a duplicate camera.
    #[error("a camera with the same {0:?} is already added")]
    Duplicate(DuplicateOf),
    /// No such camera.
    #[error("no added camera with id {0}")]
    NotFound(CameraId),
    /// The key file is unusable.
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// An added camera as stored: the public view plus its credentials, when they decrypt.
#[derive(Debug)]
pub struct StoredCamera {
    /// The public view.
    pub camera: AddedCamera,
    /// The credentials, or `None` when the stored password no longer decrypts (key replaced).
    pub credentials: Option<Credentials>,
}

/// A camera about to be added.
#[derive(Debug)]
pub struct NewCamera<'a> {
    /// Where it is.
    pub address: &'a DeviceAddress,
    /// Its endpoint reference, when discovered.
    pub endpoint_ref: Option<&'a str>,
    /// What it said it is.
    pub identity: &'a DeviceIdentity,
    /// The credentials that just certified.
    pub credentials: &'a Credentials,
    /// Its status.
    pub status: &'a CameraStatus,
    /// Measured clock offset.
    pub clock_offset_secs: i64,
    /// When.
    pub added_at: SystemTime,
}

/// The registry.
pub struct Store {
    /// Why a mutex: one connection, used from blocking tasks one at a time; SQLite serializes writers
    /// anyway and the registry is small.
    conn: Mutex<Connection>,
    /// A second, query-only connection for [`Store::read`]: with WAL, long reads (the whole audit log)
    /// run beside writes instead of queueing behind them, and never hold up a status write.
    read_conn: Mutex<Connection>,
    sealer: Sealer,
    path: PathBuf,
}

/// One transaction. Every SQL statement runs on one of these; [`Store::write`] and [`Store::read`]
/// make it.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    sealer: &'a Sealer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating on first run) the registry in `state_dir`, upgrading its schema.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        prepare_state_dir(state_dir)?;
        let path = state_dir.join(DATABASE_FILE);
        let dir_error = |source| StoreError::StateDir {
            path: path.display().to_string(),
            source,
        };
        // Create the file 0600 ourselves so SQLite never makes it with the process umask; its -wal and
        // -shm files take the database file's mode.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(dir_error)?;
        let mode = fs::metadata(&path).map_err(dir_error)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(dir_error)?;
        }
        let sealer = Sealer::load_or_create(state_dir)?;
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, &sealer)?;
        let read_conn = Connection::open(&path)?;
        read_conn.busy_timeout(std::time::Duration::from_secs(5))?;
        read_conn.pragma_update(None, "query_only", "ON")?;
        Ok(Self {
            conn: Mutex::new(conn),
            read_conn: Mutex::new(read_conn),
            sealer,
            path,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` in one read-only (deferred) transaction on the reading connection: it sees the
    /// registry as last committed, waits for no writer, and cannot change anything.
    pub fn read<T>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.read_conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        let tx = Tx {
            tx,
            sealer: &self.sealer,
        };
        let out = work(&tx)?;
        // Nothing to keep: a read-only transaction ends the same either way.
        tx.tx.rollback()?;
        Ok(out)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` in one immediate transaction and commits it; nothing is written if it fails.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let tx = Tx {
            tx,
            sealer: &self.sealer,
        };
        let out = work(&tx)?;
        tx.tx.commit()?;
        Ok(out)
    }

    /// Every added camera, by id.
    pub fn load_added_cameras(&self) -> Result<Vec<StoredCamera>, StoreError> {
        self.write(|tx| tx.load_added_cameras())
    }

    /// Adds a camera in one transaction and returns its id.
    pub fn insert_added_camera(&self, new: &NewCamera<'_>) -> Result<CameraId, StoreError> {
        self.write(|tx| tx.insert_added_camera(new))
    }

    /// Replaces a camera's credentials (see [`Tx::update_credentials`]).
    pub fn update_credentials(
        &self,
        id: CameraId,
        credentials: &Credentials,
        identity: &DeviceIdentity,
        status: &CameraStatus,
        clock_offset_secs: i64,
    ) -> Result<(), StoreError> {
        self.write(|tx| tx.update_credentials(id, credentials, identity, status, clock_offset_secs))
    }

    /// Records a camera's new status (and, when known, its clock offset).
    pub fn update_status(
        &self,
        id: CameraId,
        status: &CameraStatus,
        clock_offset_secs: Option<i64>,
    ) -> Result<(), StoreError> {
        self.write(|tx| tx.update_status(id, status, clock_offset_secs))
    }

    /// Removes a camera. Says whether it was there.
    pub fn remove_added_camera(&self, id: CameraId) -> Result<bool, StoreError> {
        self.write(|tx| tx.remove_added_camera(id))
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// SQLite's own consistency check; `Ok(())` when it reports "ok".
    pub fn integrity_check(&self) -> Result<(), String> {
        let report: Option<String> = self
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .optional()
            .map_err(|e| e.to_string())?;
        match report.as_deref() {
            Some("ok") => Ok(()),
            other => Err(other.unwrap_or("no report").to_owned()),
        }
    }
}

/// Makes sure `dir` is a private directory of this user: created 0700 when missing; refused when it
/// is a symbolic link (never followed), not a directory, owned by another user, or writable by group
/// or others (a directory someone else prepared, as in a shared `/tmp`); read access for others is
/// taken away.
fn prepare_state_dir(dir: &Path) -> Result<(), StoreError> {
    let error = |source| StoreError::StateDir {
        path: dir.display().to_string(),
        source,
    };
    let refuse = |problem: String| error(std::io::Error::other(problem));
    let metadata = match fs::symlink_metadata(dir) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(error)?;
            fs::symlink_metadata(dir).map_err(error)?
        }
        Err(e) => return Err(error(e)),
    };
    if metadata.file_type().is_symlink() {
        return Err(refuse(
            "is a symbolic link; vigild does not follow it (give the real directory)".to_owned(),
        ));
    }
    if !metadata.is_dir() {
        return Err(error(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if metadata.uid() != me {
        return Err(refuse(format!(
            "is owned by uid {}, not by this user (uid {me}); remove it or choose another state directory",
            metadata.uid()
        )));
    }
    let mode = metadata.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(refuse(format!(
            "is writable by group or others (mode {:o}); remove it or make it 0700",
            mode & 0o7777
        )));
    }
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(error)?;
    }
    Ok(())
}

/// Brings a database up to [`SCHEMA_VERSION`], one migration per transaction. A step that needs more
/// than SQL (the keyed audit anchor of version 3) runs in the same transaction.
fn migrate(conn: &mut Connection, sealer: &Sealer) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if *version == 3 {
            audit::anchor_legacy_chain(&tx, sealer)?;
        }
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "database schema upgraded");
    }
    Ok(())
}

fn duplicate_or(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(code, Some(message)) = &error
        && code.code == rusqlite::ErrorCode::ConstraintViolation
    {
        if message.contains("added_camera.host") {
            return StoreError::Duplicate(DuplicateOf::Address);
        }
        if message.contains("added_camera.serial") || message.contains("added_camera.manufacturer")
        {
            return StoreError::Duplicate(DuplicateOf::Serial);
        }
        if message.contains("added_camera.endpoint_ref") {
            return StoreError::Duplicate(DuplicateOf::EndpointRef);
        }
    }
    StoreError::Sqlite(error)
}

/// Applies the first `version` migrations to an empty database; for tests that build old databases.
pub fn build_schema_version(conn: &mut Connection, version: u32) -> Result<(), StoreError> {
    for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", v)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix_secs;
    use crate::model::CameraState;
    use secrecy::ExposeSecret;
    use std::sync::Arc;

    fn status() -> CameraStatus {
        CameraStatus {
            state: CameraState::Online,
            credentials_rejected: false,
            last_error: None,
            last_error_at: None,
            since: from_unix_secs(1_790_000_000),
        }
    }

    fn insert(store: &Store, host: &str, serial: &str) -> Result<CameraId, StoreError> {
        let address = DeviceAddress::new(host, 80).unwrap();
        let identity = DeviceIdentity {
            manufacturer: "Acme".into(),
            model: "X".into(),
            firmware: "1".into(),
            serial: serial.into(),
            mac: None,
        };
        store.insert_added_camera(&NewCamera {
            address: &address,
            endpoint_ref: None,
            identity: &identity,
            credentials: &Credentials::new("admin", "Harbor-Lamp-62"),
            status: &status(),
            clock_offset_secs: 0,
            added_at: from_unix_secs(1_790_000_000),
        })
    }

    /// The tables and indexes of a database, with whitespace normalized, for comparing schemas.
    fn schema_of(conn: &Connection) -> Vec<(String, String, String)> {
        let mut statement = conn
            .prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name")
            .unwrap();
        statement
            .query_map([], |r| {
                let sql: String = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    sql.split_whitespace().collect::<Vec<_>>().join(" "),
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Rows a database of `version` would hold, written with that version's own columns.
    fn seed_fixture(conn: &Connection, version: u32) {
        if version >= 1 {
            conn.execute_batch(
                "INSERT INTO added_camera (host, port, service_path, manufacturer, model, serial, username,
                     password_sealed, state, state_since, added_at)
                 VALUES ('10.0.0.9', 80, '/onvif/device_service', 'Acme', 'X', 'OLD1', 'admin', x'00', 'online',
                     1700000000, 1700000000)",
            )
            .unwrap();
        }
    }

    #[test]
    fn schema_sql_is_what_the_migrations_build() {
        let mut conn = Connection::open_in_memory().unwrap();
        build_schema_version(&mut conn, SCHEMA_VERSION).unwrap();
        let reference = Connection::open_in_memory().unwrap();
        reference.execute_batch(SCHEMA_SQL).unwrap();
        assert_eq!(schema_of(&conn), schema_of(&reference));
    }

    #[test]
    fn every_earlier_version_upgrades_to_the_current_schema_keeping_its_rows() {
        let reference = Connection::open_in_memory().unwrap();
        reference.execute_batch(SCHEMA_SQL).unwrap();
        for from in 0..SCHEMA_VERSION {
            let dir = tempfile::tempdir().unwrap();
            {
                let mut conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
                build_schema_version(&mut conn, from).unwrap();
                seed_fixture(&conn, from);
            }
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(
                store.schema_version().unwrap(),
                SCHEMA_VERSION,
                "from version {from}"
            );
            assert_eq!(
                schema_of(&store.conn()),
                schema_of(&reference),
                "from version {from}"
            );
            let cameras = store.load_added_cameras().unwrap();
            if from >= 1 {
                assert_eq!(cameras.len(), 1, "rows survive the upgrade from {from}");
                assert_eq!(cameras[0].camera.identity.serial, "OLD1");
                assert!(
                    cameras[0].credentials.is_none(),
                    "an undecryptable password is not invented"
                );
            }
        }
    }

    #[test]
    fn files_are_private_and_passwords_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let store = Store::open(&state).unwrap();
        insert(&store, "10.0.0.1", "S1").unwrap();
        assert_eq!(
            fs::metadata(&state).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for file in [DATABASE_FILE, secret::KEY_FILE] {
            let mode = fs::metadata(state.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        drop(store);
        for entry in fs::read_dir(&state).unwrap() {
            let bytes = fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(14).any(|w| w == b"Harbor-Lamp-62"),
                "password in clear on disk"
            );
        }
        let reopened = Store::open(&state).unwrap();
        let cameras = reopened.load_added_cameras().unwrap();
        let creds = cameras[0].credentials.as_ref().unwrap();
        assert_eq!(creds.password.expose_secret(), "Harbor-Lamp-62");
    }

    #[test]
    fn a_state_dir_that_is_a_link_shared_or_someone_elses_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let message = |path: &Path| match Store::open(path) {
            Err(error @ StoreError::StateDir { .. }) => error.to_string(),
            other => panic!("{} was accepted: {other:?}", path.display()),
        };

        // A symbolic link to a directory is not followed, even to a good one.
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let refused = message(&link);
        assert!(refused.contains(&link.display().to_string()), "{refused}");
        assert!(refused.contains("symbolic link"), "{refused}");
        assert!(
            fs::read_dir(&real).unwrap().next().is_none(),
            "nothing written through the link"
        );

        // A directory others may write to is refused, not taken over.
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let refused = message(&shared);
        assert!(refused.contains(&shared.display().to_string()), "{refused}");
        assert!(refused.contains("writable by group or others"), "{refused}");
        assert_eq!(
            fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
            0o777,
            "left as it was"
        );

        // A directory of another user (only root can make one to test with).
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let theirs = dir.path().join("theirs");
            fs::create_dir(&theirs).unwrap();
            fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
            let refused = message(&theirs);
            assert!(refused.contains(&theirs.display().to_string()), "{refused}");
            assert!(refused.contains("owned by uid 4242"), "{refused}");
        }

        // The real directory itself is fine, and a group-readable one is made private.
        fs::set_permissions(&real, fs::Permissions::from_mode(0o750)).unwrap();
        Store::open(&real).unwrap();
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn reads_run_beside_an_open_write_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        insert(&store, "10.0.0.1", "S1").unwrap();
        let (started_tx, started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                store.write(|tx| {
                    let id = tx.insert_added_camera(&NewCamera {
                        address: &DeviceAddress::new("10.0.0.2", 80).unwrap(),
                        endpoint_ref: None,
                        identity: &DeviceIdentity::default(),
                        credentials: &Credentials::new("admin", "Harbor-Lamp-62"),
                        status: &status(),
                        clock_offset_secs: 0,
                        added_at: from_unix_secs(1_790_000_000),
                    })?;
                    started_tx.send(()).unwrap();
                    released.recv().unwrap();
                    Ok(id)
                })
            })
        };
        started.recv().unwrap();
        // The write transaction is open: a read neither waits for it nor sees its uncommitted row.
        let (done_tx, done) = std::sync::mpsc::channel();
        {
            let store = store.clone();
            std::thread::spawn(move || {
                done_tx.send(store.read(|tx| tx.load_added_cameras()).map(|c| c.len()))
            });
        }
        let seen = done
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the read finished while the write was open");
        assert_eq!(seen.unwrap(), 1);
        release.send(()).unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(store.read(|tx| tx.load_added_cameras()).unwrap().len(), 2);
        assert!(
            store
                .read(|tx| tx.remove_added_camera(CameraId(1)))
                .is_err(),
            "the reading connection cannot write"
        );
        assert_eq!(store.load_added_cameras().unwrap().len(), 2);
    }

    #[test]
    fn duplicates_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        insert(&store, "10.0.0.1", "S1").unwrap();
        assert!(matches!(
            insert(&store, "10.0.0.1", "S2"),
            Err(StoreError::Duplicate(DuplicateOf::Address))
        ));
        assert!(matches!(
            insert(&store, "10.0.0.2", "S1"),
            Err(StoreError::Duplicate(DuplicateOf::Serial))
        ));
        assert_eq!(store.load_added_cameras().unwrap().len(), 1);
    }

    #[test]
    fn a_newer_database_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::TooNew { .. })
        ));
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION + 1);
    }

    #[test]
    fn status_updates_persist_and_removal_reports_absence() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = insert(&store, "10.0.0.1", "S1").unwrap();
        let rejected = CameraStatus {
            state: CameraState::NotCertified,
            credentials_rejected: true,
            last_error: Some("rejected".into()),
            last_error_at: Some(from_unix_secs(1_790_000_100)),
            since: from_unix_secs(1_790_000_100),
        };
        store.update_status(id, &rejected, Some(7)).unwrap();
        let loaded = store.load_added_cameras().unwrap();
        assert_eq!(loaded[0].camera.status, rejected);
        assert_eq!(loaded[0].camera.clock_offset_secs, 7);
        assert!(store.remove_added_camera(id).unwrap());
        assert!(!store.remove_added_camera(id).unwrap());
        assert!(matches!(
            store.update_status(id, &rejected, None),
            Err(StoreError::NotFound(_))
        ));
    }
}
