//! Upgrading a registry to this build's schema, one numbered step at a time. Each step is a SQL file
//! in `migrations/`, run in its own transaction with the version it reaches; a step that must also
//! compute something (schema 3 anchors the audit chain kept so far under the recorder's key) names its
//! Rust part here. `schema.sql` shows the result; a test checks every step's result against it.

use rusqlite::Connection;

use super::StoreError;
use super::audit;
use super::cameras;
use super::secret::Sealer;

/// The Rust part of a step, run in the step's transaction after its SQL.
pub type Compute = fn(&rusqlite::Transaction<'_>, &Sealer) -> Result<(), StoreError>;

/// One upgrade step: the version it reaches, its SQL, and what it computes besides, if anything.
pub struct Step {
    /// The schema version after this step.
    pub version: u32,
    /// The SQL it runs.
    pub sql: &'static str,
    /// The Rust part of the step, if any.
    pub compute: Option<Compute>,
}

/// Every step, in order.
pub const STEPS: &[Step] = &[
    Step {
        version: 1,
        sql: include_str!("migrations/0001_added_cameras.sql"),
        compute: None,
    },
    Step {
        version: 2,
        sql: include_str!("migrations/0002_recovery_and_audit.sql"),
        compute: None,
    },
    Step {
        version: 3,
        sql: include_str!("migrations/0003_keyed_audit_chain.sql"),
        compute: Some(audit::anchor_legacy_chain),
    },
    Step {
        version: 4,
        sql: include_str!("migrations/0004_nvr_settings.sql"),
        compute: None,
    },
    Step {
        version: 5,
        sql: include_str!("migrations/0005_nvr_account.sql"),
        compute: None,
    },
    Step {
        version: 6,
        sql: include_str!("migrations/0006_nvr_mail_server.sql"),
        compute: None,
    },
    Step {
        version: 7,
        sql: include_str!("migrations/0007_mail_server_certificate.sql"),
        compute: None,
    },
    Step {
        version: 8,
        sql: include_str!("migrations/0008_status_reason_kind.sql"),
        compute: Some(cameras::reasons_from_sentences),
    },
    Step {
        version: 9,
        sql: include_str!("migrations/0009_channels_and_names.sql"),
        compute: Some(cameras::channels_in_order_added),
    },
    Step {
        version: 10,
        sql: include_str!("migrations/0010_plug_and_play.sql"),
        compute: None,
    },
    Step {
        version: 11,
        sql: include_str!("migrations/0011_camera_protocol.sql"),
        compute: None,
    },
    Step {
        version: 12,
        sql: include_str!("migrations/0012_pending_camera_password.sql"),
        compute: None,
    },
];

/// The schema this build writes.
pub const SCHEMA_VERSION: u32 = STEPS[STEPS.len() - 1].version;

/// Brings the database up to [`SCHEMA_VERSION`], refusing one that is newer.
pub(super) fn migrate(conn: &mut Connection, sealer: &Sealer) -> Result<(), StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for step in STEPS.iter().filter(|s| s.version > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(step.sql)?;
        if let Some(compute) = step.compute {
            compute(&tx, sealer)?;
        }
        tx.pragma_update(None, "user_version", step.version)?;
        tx.commit()?;
        tracing::info!(version = step.version, "database schema upgraded");
    }
    Ok(())
}

/// Applies the SQL of the steps up to `version` to an empty database; for tests that build old
/// databases.
pub fn build_schema_version(conn: &mut Connection, version: u32) -> Result<(), StoreError> {
    for step in STEPS.iter().filter(|s| s.version <= version) {
        let tx = conn.transaction()?;
        tx.execute_batch(step.sql)?;
        tx.pragma_update(None, "user_version", step.version)?;
        tx.commit()?;
    }
    Ok(())
}
