//! The NVR's persistent registry, and the only place with SQL: a SQLite file (WAL, synchronous=FULL)
//! in a 0700 state directory, built by the numbered steps of [`upgrade`] (`schema.sql` shows the
//! result), with camera passwords sealed by [`secret::Sealer`].
//!
//! Invariants: every change is one transaction, so a crash leaves the registry as it was before or
//! after a change; a database newer than this build is refused, never downgraded; files are 0600.

mod account;
mod audit;
mod cameras;
mod inspect;
mod mail_server;
mod plug_and_play;
mod recovery;
pub mod secret;
mod settings;
mod upgrade;

pub use account::{NewAccount, StoredAccount, StoredTotp};
pub use inspect::{AUDIT_ENTRIES_READ, Inspection, inspect};
pub use mail_server::StoredMailServer;
pub use settings::NvrSetting;

pub use audit::{AuditTamper, GENESIS_HASH};
pub use recovery::StoredFlow;
pub use upgrade::{SCHEMA_VERSION, STEPS, build_schema_version};

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
    /// Another camera is on that channel.
    Channel,
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
    /// Every channel up to the recorder's channel count holds a camera.
    #[error("all {0} channels hold a camera")]
    NoFreeChannel(u16),
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
    /// A new password on its way to the camera for the same user when vigild stopped (sealed before
    /// the camera was told, cleared once stored as the camera's), when it decrypts.
    pub pending_password: Option<secrecy::SecretString>,
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
    /// The recorder's channel count: the camera takes the lowest free channel up to it.
    pub channels: u16,
    /// The protocol it is managed with.
    pub protocol: crate::model::Protocol,
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
        upgrade::migrate(&mut conn, &sealer)?;
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
        if message.contains("added_camera.channel") {
            return StoreError::Duplicate(DuplicateOf::Channel);
        }
    }
    StoreError::Sqlite(error)
}

#[cfg(test)]
mod tests;
