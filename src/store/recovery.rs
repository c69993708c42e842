//! Forget-password flows' SQL: one row per flow, at most one active per camera (a unique index), the
//! reset token and a new password in flight sealed like camera passwords.

use std::time::SystemTime;

use rusqlite::params;
use secrecy::SecretString;

use super::{DuplicateOf, StoreError, Tx};
use crate::clock::{from_unix_secs, unix_secs};
use crate::model::CameraId;
use crate::model::{DeviceAddress, DeviceIdentity};
use crate::model::{FlowChallenge, RecoveryFlow, RecoveryId, RecoveryStep, RemovedCamera};
use crate::model::{Protocol, RecoveryMethod};

/// A flow as stored, with its secrets when they decrypt.
#[derive(Debug)]
pub struct StoredFlow {
    /// The flow.
    pub flow: RecoveryFlow,
    /// The reset token and its expiry (NVR clock), once a code was verified.
    pub reset_token: Option<(SecretString, SystemTime)>,
    /// The new password, while a reset is in progress.
    pub new_password: Option<SecretString>,
}

pub(super) fn token_context(id: RecoveryId) -> String {
    format!("recovery-token/v1/{id}")
}

pub(super) fn password_context(id: RecoveryId) -> String {
    format!("recovery-new-password/v1/{id}")
}

fn method_word(method: RecoveryMethod) -> &'static str {
    match method {
        RecoveryMethod::SendCode => "send_code",
        RecoveryMethod::AppQr => "app_qr",
        RecoveryMethod::SupportCode => "support_code",
    }
}

fn parse_method(word: &str) -> Option<RecoveryMethod> {
    Some(match word {
        "send_code" => RecoveryMethod::SendCode,
        "app_qr" => RecoveryMethod::AppQr,
        "support_code" => RecoveryMethod::SupportCode,
        _ => return None,
    })
}

const COLUMNS: &str = "id, device_key, camera_key, host, port, service_path, manufacturer, model, firmware, serial,
    mac, reset_user, masked_email, internet, methods, camera_date, clock_offset_secs, challenge_nonce,
    challenge_expires, qr_payload, attempts_left, step, code_sent_to, removed_camera_id, removed_username,
    add_after_reset, actor, result_camera_id, failure, started_at, updated_at, reset_token_sealed,
    token_expires, new_password_sealed, protocol";

impl Tx<'_> {
    /// Stores a new flow. Refused when the camera already has an active flow.
    pub fn insert_recovery_flow(&self, flow: &RecoveryFlow) -> Result<RecoveryId, StoreError> {
        let result = self.tx.execute(
            "INSERT INTO recovery_flow (device_key, camera_key, host, port, service_path, manufacturer, model,
                 firmware, serial, mac, reset_user, masked_email, internet, methods, camera_date, clock_offset_secs,
                 step, add_after_reset, actor, started_at, updated_at, protocol)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
            params![
                flow.device_key,
                flow.camera_key(),
                flow.address.host,
                flow.address.port,
                flow.address.path,
                flow.identity.manufacturer,
                flow.identity.model,
                flow.identity.firmware,
                flow.identity.serial,
                flow.identity.mac,
                flow.reset_user,
                flow.masked_email,
                flow.internet,
                methods_text(&flow.methods),
                flow.camera_date,
                flow.clock_offset_secs,
                flow.step.as_str(),
                flow.add_after_reset,
                flow.actor,
                unix_secs(flow.started_at),
                unix_secs(flow.updated_at),
                flow.protocol.as_str(),
            ],
        );
        match result {
            Ok(_) => {
                let id = RecoveryId(self.tx.last_insert_rowid());
                self.update_recovery_flow(&RecoveryFlow { id, ..flow.clone() })?;
                Ok(id)
            }
            Err(rusqlite::Error::SqliteFailure(code, Some(message)))
                if code.code == rusqlite::ErrorCode::ConstraintViolation
                    && message.contains("camera_key") =>
            {
                Err(StoreError::Duplicate(DuplicateOf::ActiveRecovery))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Writes a flow's changing fields.
    pub fn update_recovery_flow(&self, flow: &RecoveryFlow) -> Result<(), StoreError> {
        let challenge = flow.challenge.as_ref();
        let changed = self.tx.execute(
            "UPDATE recovery_flow SET masked_email = ?2, internet = ?3, methods = ?4, camera_date = ?5,
                 clock_offset_secs = ?6, challenge_nonce = ?7, challenge_expires = ?8, qr_payload = ?9,
                 attempts_left = ?10, step = ?11, code_sent_to = ?12, removed_camera_id = ?13,
                 removed_username = ?14, add_after_reset = ?15, result_camera_id = ?16, failure = ?17,
                 updated_at = ?18
             WHERE id = ?1",
            params![
                flow.id.0,
                flow.masked_email,
                flow.internet,
                methods_text(&flow.methods),
                flow.camera_date,
                flow.clock_offset_secs,
                challenge.map(|c| c.nonce.as_str()),
                challenge.map(|c| unix_secs(c.expires)),
                challenge.map(|c| c.qr_payload.as_str()),
                challenge.map(|c| c.attempts_left),
                flow.step.as_str(),
                flow.code_sent_to,
                flow.removed_camera.as_ref().map(|r| r.id.0),
                flow.removed_camera.as_ref().map(|r| r.username.as_str()),
                flow.add_after_reset,
                flow.result_camera.map(|c| c.0),
                flow.failure,
                unix_secs(flow.updated_at),
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows));
        }
        Ok(())
    }

    /// Seals (or, with `None`, clears) a flow's reset token and new password.
    pub fn set_recovery_secrets(
        &self,
        id: RecoveryId,
        reset_token: Option<(&SecretString, SystemTime)>,
        new_password: Option<&SecretString>,
    ) -> Result<(), StoreError> {
        let token = reset_token.map(|(t, _)| self.sealer.seal(&token_context(id), t));
        let password = new_password.map(|p| self.sealer.seal(&password_context(id), p));
        self.tx.execute(
            "UPDATE recovery_flow SET reset_token_sealed = ?2, token_expires = ?3, new_password_sealed = ?4
             WHERE id = ?1",
            params![id.0, token, reset_token.map(|(_, e)| unix_secs(e)), password],
        )?;
        Ok(())
    }

    /// Every flow that is still going.
    pub fn load_active_recovery_flows(&self) -> Result<Vec<StoredFlow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recovery_flow
             WHERE step IN ('awaiting_code', 'code_verified', 'resetting') ORDER BY id"
        );
        let mut statement = self.tx.prepare(&sql)?;
        let mut rows = statement.query([])?;
        let mut flows = Vec::new();
        while let Some(row) = rows.next()? {
            let id = RecoveryId(row.get(0)?);
            let step: String = row.get(21)?;
            let challenge = match (
                row.get::<_, Option<String>>(17)?,
                row.get::<_, Option<i64>>(18)?,
            ) {
                (Some(nonce), Some(expires)) => Some(FlowChallenge {
                    nonce,
                    expires: from_unix_secs(expires),
                    qr_payload: row.get::<_, Option<String>>(19)?.unwrap_or_default(),
                    attempts_left: row.get::<_, Option<u32>>(20)?.unwrap_or(0),
                }),
                _ => None,
            };
            let removed_camera = match (
                row.get::<_, Option<i64>>(23)?,
                row.get::<_, Option<String>>(24)?,
            ) {
                (Some(id), Some(username)) => Some(RemovedCamera {
                    id: CameraId(id),
                    username,
                }),
                _ => None,
            };
            let methods: String = row.get(14)?;
            let flow = RecoveryFlow {
                id,
                device_key: row.get(1)?,
                address: DeviceAddress {
                    host: row.get(3)?,
                    port: row.get(4)?,
                    path: row.get(5)?,
                },
                identity: DeviceIdentity {
                    manufacturer: row.get(6)?,
                    model: row.get(7)?,
                    firmware: row.get(8)?,
                    serial: row.get(9)?,
                    mac: row.get(10)?,
                },
                reset_user: row.get(11)?,
                masked_email: row.get(12)?,
                internet: row.get(13)?,
                methods: methods
                    .split_whitespace()
                    .filter_map(parse_method)
                    .collect(),
                camera_date: row.get(15)?,
                clock_offset_secs: row.get(16)?,
                challenge,
                step: RecoveryStep::parse(&step).unwrap_or(RecoveryStep::Failed),
                code_sent_to: row.get(22)?,
                removed_camera,
                add_after_reset: row.get(25)?,
                actor: row.get(26)?,
                result_camera: row.get::<_, Option<i64>>(27)?.map(CameraId),
                failure: row.get(28)?,
                started_at: from_unix_secs(row.get(29)?),
                updated_at: from_unix_secs(row.get(30)?),
                protocol: Protocol::parse(&row.get::<_, String>(34)?).unwrap_or(Protocol::Vigil),
            };
            let reset_token = match (
                row.get::<_, Option<Vec<u8>>>(31)?,
                row.get::<_, Option<i64>>(32)?,
            ) {
                (Some(sealed), Some(expires)) => self
                    .sealer
                    .unseal(&token_context(id), &sealed)
                    .ok()
                    .map(|t| (t, from_unix_secs(expires))),
                _ => None,
            };
            let new_password = row
                .get::<_, Option<Vec<u8>>>(33)?
                .and_then(|sealed| self.sealer.unseal(&password_context(id), &sealed).ok());
            flows.push(StoredFlow {
                flow,
                reset_token,
                new_password,
            });
        }
        Ok(flows)
    }
}

fn methods_text(methods: &[RecoveryMethod]) -> String {
    methods
        .iter()
        .map(|m| method_word(*m))
        .collect::<Vec<_>>()
        .join(" ")
}
