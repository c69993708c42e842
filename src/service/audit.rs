//! The audit log as the service writes it: one entry per security action (who, what, which camera,
//! how it ended), written in the same transaction as the change it records where there is one, and the
//! chain of keyed digests that shows it untouched.

use std::time::SystemTime;

use super::{Nvr, NvrError};
use crate::model::{Actor, AuditAction, AuditEntry};
use crate::store::{StoreError, Tx};

/// An audit entry to write in the same transaction as the change it records, so the change is not
/// stored without its entry.
#[derive(Debug, Clone)]
pub(super) struct AuditNote {
    /// Who, as the log writes it.
    pub(super) actor: String,
    /// What.
    pub(super) action: AuditAction,
    /// Which camera: serial and address.
    pub(super) camera: String,
    /// How it ended; a step may add to it before it is written.
    pub(super) outcome: String,
}

impl AuditNote {
    pub(super) fn new(actor: &Actor, action: AuditAction, camera: &str, outcome: &str) -> Self {
        Self {
            actor: actor.to_string(),
            action,
            camera: camera.to_owned(),
            outcome: outcome.to_owned(),
        }
    }

    /// An entry for an actor already written as text (a flow keeps who started it that way).
    pub(super) fn by(actor: &str, action: AuditAction, camera: &str, outcome: &str) -> Self {
        Self {
            actor: actor.to_owned(),
            action,
            camera: camera.to_owned(),
            outcome: outcome.to_owned(),
        }
    }

    pub(super) fn append(&self, tx: &Tx<'_>, at: SystemTime) -> Result<AuditEntry, StoreError> {
        tx.append_audit(at, &self.actor, self.action, &self.camera, &self.outcome)
    }

    /// The journal's copy of an entry the store refused.
    pub(super) fn log_unwritten(&self, error: &NvrError) {
        tracing::error!(
            actor = %self.actor,
            action = self.action.as_str(),
            camera = %self.camera,
            outcome = %self.outcome,
            %error,
            "audit entry not written"
        );
    }
}

impl Nvr {
    /// Stores a change and its audit entry, when there is one, in one transaction: neither is kept
    /// without the other (a kill or a full disk between two writes would keep a change unaudited).
    pub(super) async fn write_audited<T: Send + 'static>(
        &self,
        note: Option<AuditNote>,
        change: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<Result<T, StoreError>, NvrError> {
        let at = self.inner.clock.now();
        self.with_store(move |store| {
            store.write(|tx| {
                let changed = change(tx)?;
                if let Some(note) = &note {
                    note.append(tx, at)?;
                }
                Ok(changed)
            })
        })
        .await
    }

    /// The newest `limit` audit entries, newest first. Read beside writes, never in their way.
    pub async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, NvrError> {
        Ok(self
            .with_store(move |store| store.read(|tx| tx.audit_entries(limit)))
            .await??)
    }

    /// Verifies the audit log's hash chain; the number of entries when it holds. Read beside writes,
    /// never in their way.
    pub async fn verify_audit(&self) -> Result<usize, NvrError> {
        match self
            .with_store(|store| store.read(|tx| tx.verify_audit()))
            .await??
        {
            Ok(count) => Ok(count),
            Err(tamper) => {
                tracing::error!(entry = tamper.entry, "audit log hash chain broken");
                Err(NvrError::AuditTampered {
                    entry: tamper.entry,
                })
            }
        }
    }

    /// Writes an audit entry on its own, for an outcome no store failure can change: an action that
    /// already happened on the camera (which must then be recorded as done, whatever comes next), or
    /// a refusal that changed nothing. The command's result stands; an entry the store refused is
    /// logged in full (it holds no secret), so the journal keeps what the log could not. A change the
    /// NVR stores is audited in its own transaction instead ([`Nvr::save_flow_audited`]).
    pub(super) async fn audit(
        &self,
        actor: &Actor,
        action: AuditAction,
        camera: &str,
        outcome: &str,
    ) {
        let note = AuditNote::new(actor, action, camera, outcome);
        let at = self.inner.clock.now();
        let entry = note.clone();
        let written = self
            .with_store(move |store| store.write(|tx| entry.append(tx, at).map(drop)))
            .await
            .and_then(|r| r.map_err(NvrError::from));
        if let Err(error) = &written {
            note.log_unwritten(error);
        }
    }
}
