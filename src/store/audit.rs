//! The audit log's SQL and its hash chain: each entry's hash is HMAC-SHA256, under the audit key
//! derived from the credentials key ([`Sealer::audit_mac`]), over the previous entry's hash and its
//! own fields (length-prefixed), so editing or deleting an entry breaks every hash after it, and only
//! a holder of the key can compute a hash at all.
//!
//! Entries written before schema 3 were hashed with plain SHA-256. They still verify as such, but only
//! as the first `legacy_entries` of the log, as the keyed anchor written by the upgrade says; so they
//! cannot be rewritten, and keyed entries cannot be turned into plain ones. The chain cannot show that
//! keyed entries were cut off the end; a check reports how many it verified. A replaced key file makes
//! every keyed entry fail to verify.

use std::time::SystemTime;

use hmac::Mac;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::secret::{AuditMac, Sealer};
use super::{StoreError, Tx};
use crate::clock::{from_unix_secs, unix_secs};
use crate::model::{AuditAction, AuditEntry};

/// The "previous hash" of the first entry.
pub const GENESIS_HASH: [u8; 32] = [0; 32];
/// Domain label of a keyed entry hash.
const ENTRY_LABEL: &[u8] = b"vigil/audit-entry/v2";
/// Domain label of the anchor's tag.
const ANCHOR_LABEL: &[u8] = b"vigil/audit-anchor/v1";

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "audit log entry {entry} does not match the hash chain: it was changed, or an entry before it was removed"
)]
pub struct AuditTamper {
    /// The first entry that does not verify.
    pub entry: i64,
}

/// One entry's fields, as hashed.
struct Fields<'a> {
    id: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    camera: &'a str,
    outcome: &'a str,
}

impl Fields<'_> {
    fn feed(&self, prev: &[u8], mut update: impl FnMut(&[u8])) {
        update(prev);
        update(&self.id.to_be_bytes());
        update(&self.at.to_be_bytes());
        for field in [self.actor, self.action, self.camera, self.outcome] {
            update(&(field.len() as u64).to_be_bytes());
            update(field.as_bytes());
        }
    }

    /// The plain SHA-256 of entries written before schema 3.
    fn legacy_hash(&self, prev: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        self.feed(prev, |bytes| hasher.update(bytes));
        hasher.finalize().into()
    }

    /// The keyed hash of every entry written since.
    fn keyed(&self, sealer: &Sealer, prev: &[u8]) -> AuditMac {
        let mut mac = sealer.audit_mac();
        mac.update(ENTRY_LABEL);
        self.feed(prev, |bytes| mac.update(bytes));
        mac
    }
}

fn anchor_mac(sealer: &Sealer, legacy_entries: i64, legacy_hash: &[u8]) -> AuditMac {
    let mut mac = sealer.audit_mac();
    mac.update(ANCHOR_LABEL);
    mac.update(&legacy_entries.to_be_bytes());
    mac.update(legacy_hash);
    mac
}

/// The upgrade to schema 3: records, keyed, how many entries the log holds with plain SHA-256 hashes
/// and the last one's hash. Runs once, in the upgrade's transaction; nothing is rehashed, so an entry
/// that was already tampered with still shows.
pub(super) fn anchor_legacy_chain(
    tx: &rusqlite::Transaction<'_>,
    sealer: &Sealer,
) -> Result<(), StoreError> {
    let last: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((last_id, last_hash)) = last else {
        return Ok(());
    };
    let tag = anchor_mac(sealer, last_id, &last_hash)
        .finalize()
        .into_bytes()
        .to_vec();
    tx.execute(
        "INSERT INTO audit_anchor (id, legacy_entries, legacy_hash, tag) VALUES (1, ?1, ?2, ?3)",
        params![last_id, last_hash, tag],
    )?;
    Ok(())
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
            .optional()?;
        let (id, prev) = match last {
            Some((id, hash)) => (id + 1, hash),
            None => (1, GENESIS_HASH.to_vec()),
        };
        let at_secs = unix_secs(at);
        let fields = Fields {
            id,
            at: at_secs,
            actor,
            action: action.as_str(),
            camera,
            outcome,
        };
        let hash = fields
            .keyed(self.sealer, &prev)
            .finalize()
            .into_bytes()
            .to_vec();
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
                hash
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
        let anchor: Option<(i64, Vec<u8>, Vec<u8>)> = self
            .tx
            .query_row(
                "SELECT legacy_entries, legacy_hash, tag FROM audit_anchor WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        // Entries 1..=legacy_entries are plain SHA-256, and the last of them has this hash.
        let (legacy_entries, legacy_hash) = match anchor {
            None => (0, Vec::new()),
            Some((entries, hash, tag)) => {
                if anchor_mac(self.sealer, entries, &hash)
                    .verify_slice(&tag)
                    .is_err()
                {
                    return Ok(Err(AuditTamper { entry: 1 }));
                }
                (entries, hash)
            }
        };
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
            let (actor, action, camera, outcome): (String, String, String, String) =
                (row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?);
            let fields = Fields {
                id,
                at: row.get(1)?,
                actor: &actor,
                action: &action,
                camera: &camera,
                outcome: &outcome,
            };
            let hash_holds = if id <= legacy_entries {
                fields.legacy_hash(&prev)[..] == hash[..]
                    && (id != legacy_entries || hash == legacy_hash)
            } else {
                fields.keyed(self.sealer, &prev).verify_slice(&hash).is_ok()
            };
            if id != expected_id || prev != expected_prev || !hash_holds {
                return Ok(Err(AuditTamper { entry: id }));
            }
            expected_prev = hash;
            expected_id += 1;
            count += 1;
        }
        if count < legacy_entries {
            // Entries the upgrade counted are gone from the end.
            return Ok(Err(AuditTamper { entry: count + 1 }));
        }
        Ok(Ok(usize::try_from(count).unwrap_or(usize::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DATABASE_FILE, Store, build_schema_version};
    use rusqlite::Connection;

    fn entry(store: &Store, n: i64) {
        store
            .write(|tx| {
                tx.append_audit(
                    from_unix_secs(1_790_000_000 + n),
                    "gui:installer",
                    AuditAction::CodeSent,
                    "S1 (10.0.0.5:80)",
                    &format!("sent to o***@e***.com ({n})"),
                )
            })
            .unwrap();
    }

    fn verify(store: &Store) -> Result<usize, AuditTamper> {
        store.write(|tx| tx.verify_audit()).unwrap()
    }

    /// id, at, actor, action, camera, outcome, prev_hash.
    type Row = (i64, i64, String, String, String, String, Vec<u8>);

    /// What someone who can write the database but not read the key can do: rehash every entry from
    /// `from` on with plain SHA-256, keeping the chain linked.
    fn rehash_plain(conn: &Connection, from: i64) {
        let rows: Vec<Row> = conn
            .prepare("SELECT id, at, actor, action, camera, outcome, prev_hash FROM audit_log ORDER BY id")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut prev: Option<Vec<u8>> = None;
        for (id, at, actor, action, camera, outcome, stored_prev) in rows {
            let prev_hash = prev.clone().unwrap_or(stored_prev);
            if id < from {
                prev = None;
                continue;
            }
            let hash = Fields {
                id,
                at,
                actor: &actor,
                action: &action,
                camera: &camera,
                outcome: &outcome,
            }
            .legacy_hash(&prev_hash);
            conn.execute(
                "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE id = ?3",
                params![prev_hash, hash.to_vec(), id],
            )
            .unwrap();
            prev = Some(hash.to_vec());
        }
    }

    #[test]
    fn a_tampered_entry_rehashed_with_plain_sha256_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 1..=4 {
            entry(&store, n);
        }
        assert_eq!(verify(&store), Ok(4));

        let conn = store.conn();
        conn.execute(
            "UPDATE audit_log SET outcome = 'sent to nobody' WHERE id = 2",
            [],
        )
        .unwrap();
        drop(conn);
        assert_eq!(verify(&store), Err(AuditTamper { entry: 2 }));

        // Rehashing from the edited entry on, as the old unkeyed chain allowed, does not help.
        rehash_plain(&store.conn(), 2);
        assert_eq!(verify(&store), Err(AuditTamper { entry: 2 }));
        // Nor does rehashing the whole log with plain SHA-256.
        rehash_plain(&store.conn(), 1);
        assert_eq!(verify(&store), Err(AuditTamper { entry: 1 }));
    }

    #[test]
    fn the_chain_needs_this_nvrs_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        entry(&store, 1);
        entry(&store, 2);
        drop(store);
        // Another key (as after the key file was replaced) cannot vouch for the entries.
        std::fs::remove_file(dir.path().join(crate::store::secret::KEY_FILE)).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(verify(&store), Err(AuditTamper { entry: 1 }));
    }

    /// A schema 2 database whose log holds `n` entries hashed the old way.
    fn legacy_database(dir: &std::path::Path, n: i64) {
        let mut conn = Connection::open(dir.join(DATABASE_FILE)).unwrap();
        build_schema_version(&mut conn, 2).unwrap();
        let mut prev = GENESIS_HASH.to_vec();
        for id in 1..=n {
            let outcome = format!("sent to o***@e***.com ({id})");
            let hash = Fields {
                id,
                at: 1_700_000_000 + id,
                actor: "gui:installer",
                action: "code_sent",
                camera: "S1 (10.0.0.5:80)",
                outcome: &outcome,
            }
            .legacy_hash(&prev);
            conn.execute(
                "INSERT INTO audit_log (id, at, actor, action, camera, outcome, prev_hash, hash)
                 VALUES (?1, ?2, 'gui:installer', 'code_sent', 'S1 (10.0.0.5:80)', ?3, ?4, ?5)",
                params![id, 1_700_000_000 + id, outcome, prev, hash.to_vec()],
            )
            .unwrap();
            prev = hash.to_vec();
        }
    }

    #[test]
    fn a_chain_from_before_the_key_still_verifies_and_is_continued_keyed() {
        let dir = tempfile::tempdir().unwrap();
        legacy_database(dir.path(), 3);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            verify(&store),
            Ok(3),
            "the old entries verify after the upgrade"
        );
        entry(&store, 4);
        entry(&store, 5);
        assert_eq!(verify(&store), Ok(5));
        let stored_hash = |id: i64| -> Vec<u8> {
            store
                .conn()
                .query_row("SELECT hash FROM audit_log WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .unwrap()
        };
        let plain_hash_of_5 = {
            let conn = store.conn();
            let (at, outcome, prev): (i64, String, Vec<u8>) = conn
                .query_row(
                    "SELECT at, outcome, prev_hash FROM audit_log WHERE id = 5",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            Fields {
                id: 5,
                at,
                actor: "gui:installer",
                action: "code_sent",
                camera: "S1 (10.0.0.5:80)",
                outcome: &outcome,
            }
            .legacy_hash(&prev)
        };
        assert_ne!(
            stored_hash(5),
            plain_hash_of_5.to_vec(),
            "new entries are keyed"
        );

        // An old entry edited and the rest rehashed the old way: caught at the last old entry, whose
        // hash the keyed anchor holds.
        store
            .conn()
            .execute("UPDATE audit_log SET outcome = 'nothing' WHERE id = 2", [])
            .unwrap();
        rehash_plain(&store.conn(), 2);
        assert_eq!(verify(&store), Err(AuditTamper { entry: 3 }));
    }

    #[test]
    fn the_anchor_cannot_be_moved_forged_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        legacy_database(dir.path(), 2);
        let store = Store::open(dir.path()).unwrap();
        entry(&store, 3);
        entry(&store, 4);
        assert_eq!(verify(&store), Ok(4));

        // Claiming the keyed entries were plain ones, to rehash them without the key.
        rehash_plain(&store.conn(), 3);
        let last: Vec<u8> = store
            .conn()
            .query_row("SELECT hash FROM audit_log WHERE id = 4", [], |r| r.get(0))
            .unwrap();
        store
            .conn()
            .execute(
                "UPDATE audit_anchor SET legacy_entries = 4, legacy_hash = ?1",
                [last],
            )
            .unwrap();
        assert_eq!(
            verify(&store),
            Err(AuditTamper { entry: 1 }),
            "the tag does not match"
        );
        store
            .conn()
            .execute("DELETE FROM audit_anchor", [])
            .unwrap();
        assert_eq!(
            verify(&store),
            Err(AuditTamper { entry: 1 }),
            "without the anchor every entry must be keyed"
        );
    }

    #[test]
    fn old_entries_cut_off_the_end_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        legacy_database(dir.path(), 3);
        let store = Store::open(dir.path()).unwrap();
        store
            .conn()
            .execute("DELETE FROM audit_log WHERE id = 3", [])
            .unwrap();
        assert_eq!(verify(&store), Err(AuditTamper { entry: 3 }));
    }
}
