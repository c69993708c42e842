//! The audit log's SQL and its hash chain: each entry's hash is SHA-256 over the previous entry's hash
//! and its own fields (length-prefixed), so editing or deleting an entry breaks every hash after it.
//! The chain cannot show that entries were cut off the end; a check reports how many it verified.

use std::time::SystemTime;

use rusqlite::params;
use sha2::{Digest, Sha256};

use super::{StoreError, Tx};
use crate::clock::{from_unix_secs, unix_secs};
use crate::model::{AuditAction, AuditEntry};

/// The "previous hash" of the first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "audit log entry {entry} does not match the hash chain: it was changed, or an entry before it was removed"
)]
pub struct AuditTamper {
    /// The first entry that does not verify.
    pub entry: i64,
}

fn entry_hash(
    prev: &[u8],
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    camera: &str,
    outcome: &str,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(id.to_be_bytes());
    hasher.update(at.to_be_bytes());
    for field in [actor, action, camera, outcome] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

impl Tx<'_> {
    /// Appends an entry to the chain.
    pub fn append_audit(
        &self,
        at: SystemTime,
        actor: &str,
        action: AuditAction,
        camera: &str,
        outcome: &str,
    ) -> Result<AuditEntry, StoreError> {
        let last: Option<(i64, Vec<u8>)> = self
            .tx
            .query_row(
                "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        let (id, prev) = match last {
            Some((id, hash)) => (id + 1, hash),
            None => (1, GENESIS_HASH.to_vec()),
        };
        let at_secs = unix_secs(at);
        let hash = entry_hash(&prev, id, at_secs, actor, action.as_str(), camera, outcome);
        self.tx.execute(
            "INSERT INTO audit_log (id, at, actor, action, camera, outcome, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                at_secs,
                actor,
                action.as_str(),
                camera,
                outcome,
                prev,
                hash.to_vec()
            ],
        )?;
        Ok(AuditEntry {
            id,
            at: from_unix_secs(at_secs),
            actor: actor.to_owned(),
            action,
            camera: camera.to_owned(),
            outcome: outcome.to_owned(),
        })
    }

    /// The newest `limit` entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut statement = self.tx.prepare(
            "SELECT id, at, actor, action, camera, outcome FROM audit_log ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut entries = Vec::new();
        for row in rows {
            let (id, at, actor, action, camera, outcome) = row?;
            let Some(action) = AuditAction::parse(&action) else {
                continue;
            };
            entries.push(AuditEntry {
                id,
                at: from_unix_secs(at),
                actor,
                action,
                camera,
                outcome,
            });
        }
        Ok(entries)
    }

    /// Walks the whole chain. `Ok(Ok(n))`: all `n` entries verify.
    pub fn verify_audit(&self) -> Result<Result<usize, AuditTamper>, StoreError> {
        let mut statement = self.tx.prepare(
            "SELECT id, at, actor, action, camera, outcome, prev_hash, hash FROM audit_log ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        let mut expected_prev = GENESIS_HASH.to_vec();
        let mut expected_id = 1;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let prev: Vec<u8> = row.get(6)?;
            let hash: Vec<u8> = row.get(7)?;
            let recomputed = entry_hash(
                &prev,
                id,
                row.get(1)?,
                &row.get::<_, String>(2)?,
                &row.get::<_, String>(3)?,
                &row.get::<_, String>(4)?,
                &row.get::<_, String>(5)?,
            );
            if id != expected_id || prev != expected_prev || hash != recomputed {
                return Ok(Err(AuditTamper { entry: id }));
            }
            expected_prev = hash;
            expected_id += 1;
            count += 1;
        }
        Ok(Ok(count))
    }
}
