//! The service API's security commands: the camera forget-password flow (remove first, recovery info,
//! send code or QR or support code, verify, new password under the policy, reset, certify, add again),
//! changing passwords of certified cameras with their current one (one or many), activating cameras
//! in factory state, and the audit log every one of them writes to.
//!
//! Invariants: a flow is stored before it is announced; operations on one flow run one at a time; a
//! camera has at most one active flow (memory check plus a unique index); the reset token and a new
//! password in flight are sealed in the store and never leave this module except to the camera; audit
//! outcomes never hold a code or a password.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;

use super::{Nvr, NvrError, camera_error, lock};
use crate::camera::CameraError;
use crate::camera::recovery_client::{RecoveryError, RecoveryInfo, ResetToken};
use crate::mail::is_email_address;
use crate::model::RecoveryMethod;
use crate::model::{
    Actor, AddedCamera, AuditAction, AuditEntry, CameraId, DiscoveredDevice, NvrEvent,
};
use crate::model::{Credentials, DeviceAddress};
use crate::model::{
    FlowChallenge, RecoveryFlow, RecoveryId, RecoveryStep, RemovedCamera, camera_key, camera_label,
    camera_to_local,
};
use crate::rules::policy;
use crate::store::{DuplicateOf, StoreError, StoredFlow, Tx};

/// A flow's secrets: the reset token (with its expiry on the NVR's clock) and a new password in flight.
#[derive(Clone, Default)]
struct FlowSecrets {
    token: Option<(SecretString, SystemTime)>,
    new_password: Option<SecretString>,
}

impl FlowSecrets {
    fn token(token: SecretString, expires: SystemTime) -> Self {
        Self {
            token: Some((token, expires)),
            new_password: None,
        }
    }
}

/// An audit entry to write in the same transaction as the change it records, so the change is not
/// stored without its entry.
#[derive(Debug, Clone)]
struct AuditNote {
    actor: String,
    action: AuditAction,
    camera: String,
    outcome: String,
}

impl AuditNote {
    fn new(actor: &Actor, action: AuditAction, camera: &str, outcome: &str) -> Self {
        Self {
            actor: actor.to_string(),
            action,
            camera: camera.to_owned(),
            outcome: outcome.to_owned(),
        }
    }

    fn append(&self, tx: &Tx<'_>, at: SystemTime) -> Result<AuditEntry, StoreError> {
        tx.append_audit(at, &self.actor, self.action, &self.camera, &self.outcome)
    }

    /// The journal's copy of an entry the store refused.
    fn log_unwritten(&self, error: &NvrError) {
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

/// The first wait before an interrupted reset is tried again; it doubles up to [`RESUME_MAX_WAIT`].
const RESUME_FIRST_WAIT: Duration = Duration::from_secs(2);
/// The longest wait between tries of an interrupted reset.
const RESUME_MAX_WAIT: Duration = Duration::from_secs(300);
/// An interrupted reset whose camera has not answered for this long fails.
const RESUME_GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a reset token lasts when the camera does not say.
const TOKEN_LIFETIME_UNSTATED: Duration = Duration::from_secs(300);
/// Cameras changed at once in a password push.
const PUSH_CONCURRENCY: usize = 16;
/// How often an interrupted reset is sent again at most.
const MAX_RESUMED_RESETS: u32 = 2;

/// What to do next with an interrupted reset.
enum Resume {
    /// It finished or failed.
    Settled,
    /// Check again at once.
    Again,
    /// Check again after a while (the camera's hint, or the backoff).
    Wait(Option<Duration>),
}

/// A flow in memory: the public view, its secrets, and a lock that makes its steps run one at a time.
pub(super) struct FlowEntry {
    flow: RecoveryFlow,
    token: Option<(SecretString, SystemTime)>,
    new_password: Option<SecretString>,
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl FlowEntry {
    pub(super) fn from_stored(stored: StoredFlow) -> Self {
        Self {
            flow: stored.flow,
            token: stored.reset_token,
            new_password: stored.new_password,
            busy: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

/// Which code the installer typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    /// From the email: 8 digits.
    Verification,
    /// From the vendor's support desk: 10 digits.
    Support,
}

impl CodeKind {
    fn digits(self) -> usize {
        match self {
            CodeKind::Verification => 8,
            CodeKind::Support => 10,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CodeKind::Verification => "verification code",
            CodeKind::Support => "support code",
        }
    }
}

/// How an activation went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The camera, when it was added afterwards.
    pub camera: Option<AddedCamera>,
    /// Why the camera, activated, was not added when that was asked (add it by hand then).
    pub add_error: Option<NvrError>,
    /// Whether the reset email was set (cameras without the recovery extension cannot take one).
    pub reset_email_set: bool,
}

/// One camera's outcome in a password push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPushOutcome {
    /// The camera.
    pub camera: CameraId,
    /// The camera as it is now, or why it was not changed.
    pub result: Result<AddedCamera, NvrError>,
}

fn recovery_error(error: RecoveryError, address: &DeviceAddress) -> NvrError {
    match error {
        RecoveryError::NotSupported => NvrError::RecoveryNotSupported,
        RecoveryError::Camera(error) => camera_error(error, address),
        RecoveryError::NoInternet => NvrError::NoInternet,
        RecoveryError::NoResetEmail => NvrError::NoResetEmail,
        RecoveryError::SendLimit { retry_after } => NvrError::SendLimit { retry_after },
        RecoveryError::ChallengeLimit { retry_after } => NvrError::ChallengeLimit { retry_after },
        RecoveryError::NoChallenge => NvrError::ChallengeReplaced,
        RecoveryError::CodeInvalid { attempts_left } => NvrError::CodeInvalid { attempts_left },
        RecoveryError::ChallengeDead => NvrError::CodeAttemptsExhausted,
        RecoveryError::CodeExpired => NvrError::CodeExpired,
        RecoveryError::CodeUsed => NvrError::CodeUsed,
        RecoveryError::SupportLocked => NvrError::SupportLocked,
        RecoveryError::TokenInvalid => NvrError::RecoveryExpired,
        RecoveryError::MailFailed(detail) => NvrError::MailFailed(detail),
        RecoveryError::AlreadyActive => NvrError::AlreadyActive,
    }
}

/// Checks a new password and its confirmation against the policy for `username`.
pub fn check_new_password(
    password: &str,
    confirmation: &str,
    username: &str,
) -> Result<SecretString, NvrError> {
    if password != confirmation {
        return Err(NvrError::PasswordMismatch);
    }
    let assessment = policy::assess(password, username);
    if !assessment.acceptable() {
        return Err(NvrError::PolicyViolation {
            unmet: assessment.unmet,
        });
    }
    Ok(SecretString::from(password.to_owned()))
}

impl Nvr {
    // ── Queries ────────────────────────────────────────────────────────────────────────────────

    /// How a candidate new password for the camera account `username` fares against the policy,
    /// for a live meter while it is typed: whether it is acceptable, how strong it looks, and every
    /// rule it breaks. The commands that set passwords apply the same verdict. Nothing is stored.
    pub fn assess_new_password(&self, password: &str, username: &str) -> policy::Assessment {
        policy::assess(password, username)
    }

    /// Every forget-password flow still going, and those that ended within the last
    /// `recovery.ended_retention` (see [`Nvr::start_recovery_sweep`]).
    pub fn recoveries(&self) -> Vec<RecoveryFlow> {
        lock(&self.inner.flows)
            .values()
            .map(|e| e.flow.clone())
            .collect()
    }

    /// Reads part of a flow without copying it; `None` when there is no such flow.
    pub fn with_recovery<T>(
        &self,
        id: RecoveryId,
        read: impl FnOnce(&RecoveryFlow) -> T,
    ) -> Option<T> {
        lock(&self.inner.flows).get(&id).map(|e| read(&e.flow))
    }

    /// One flow.
    pub fn recovery(&self, id: RecoveryId) -> Result<RecoveryFlow, NvrError> {
        lock(&self.inner.flows)
            .get(&id)
            .map(|e| e.flow.clone())
            .ok_or(NvrError::RecoveryNotFound(id))
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

    // ── Forget password ───────────────────────────────────────────────────────────────────────

    /// Starts Forget Password on a discovered camera. Refused with [`NvrError::UseModify`] when the
    /// camera is added and certified, and with [`NvrError::RemoveFirst`] when it is added and not
    /// certified (see [`Nvr::remove_and_start_recovery`]).
    pub async fn start_recovery(
        &self,
        device_key: &str,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let _command = self.begin_command()?;
        let device = self.discovered_device(device_key)?;
        if let Some(id) = device.added_as {
            let camera = self.added_camera(id)?;
            if camera.status.certified() {
                return Err(NvrError::UseModify { camera: id });
            }
            if self.settings().recovery.remove_first {
                return Err(NvrError::RemoveFirst { camera: id });
            }
        }
        self.refuse_second_flow(&camera_key(&device.identity, &device.key))?;
        let info = self.fresh_recovery_info(&device.address, false).await?;
        let flow = self.new_flow(device, info, None, actor).await?;
        let id = {
            let stored = flow.clone();
            self.with_store(move |store| store.write(|tx| tx.insert_recovery_flow(&stored)))
                .await?
                .map_err(|e| self.flow_insert_error(e, &flow.camera_key()))?
        };
        Ok(self.register_flow(flow, id))
    }

    /// The one-step "Remove and continue": removes the added, not certified camera (audited) and starts
    /// Forget Password on it; it is added again once the new password certifies. The removal, its
    /// audit entry and the new flow are stored in one transaction, so the camera is never gone
    /// without a flow that adds it back.
    pub async fn remove_and_start_recovery(
        &self,
        device_key: &str,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let _command = self.begin_command()?;
        let device = self.discovered_device(device_key)?;
        let Some(id) = device.added_as else {
            return self.start_recovery(device_key, actor).await;
        };
        let camera = self.added_camera(id)?;
        if camera.status.certified() {
            return Err(NvrError::UseModify { camera: id });
        }
        self.refuse_second_flow(&camera_key(&device.identity, &device.key))?;
        // Ask the camera first: a camera that cannot be recovered is not removed.
        let info = self.fresh_recovery_info(&device.address, false).await?;
        let removed = RemovedCamera {
            id,
            username: camera.username.clone(),
        };
        let flow = self.new_flow(device, info, Some(removed), actor).await?;
        let label = camera_label(&camera.identity, &camera.address);
        let at = self.inner.clock.now();
        let actor_text = actor.to_string();
        let stored = flow.clone();
        let flow_id = self
            .remove_camera_with(id, move |tx| {
                tx.append_audit(
                    at,
                    &actor_text,
                    AuditAction::RemovalBeforeReset,
                    &label,
                    "removed to reset its password; it is added again afterwards",
                )?;
                tx.insert_recovery_flow(&stored)
            })
            .await
            .map_err(|e| match e {
                NvrError::Storage(_) | NvrError::Duplicate { .. } => {
                    match self.active_flow_for(&flow.camera_key()) {
                        Some(existing) => NvrError::RecoveryInProgress { flow: existing },
                        None => e,
                    }
                }
                other => other,
            })?;
        Ok(self.register_flow(flow, flow_id))
    }

    /// The active flow for a camera, by [`camera_key`].
    pub(super) fn active_flow_for(&self, key: &str) -> Option<RecoveryId> {
        lock(&self.inner.flows)
            .values()
            .find(|e| e.flow.step.is_active() && e.flow.camera_key() == key)
            .map(|e| e.flow.id)
    }

    fn refuse_second_flow(&self, key: &str) -> Result<(), NvrError> {
        match self.active_flow_for(key) {
            Some(existing) => Err(NvrError::RecoveryInProgress { flow: existing }),
            None => Ok(()),
        }
    }

    /// What a failed flow insert means: another flow for the camera won the race, or storage failed.
    fn flow_insert_error(&self, error: StoreError, key: &str) -> NvrError {
        match error {
            StoreError::Duplicate(DuplicateOf::ActiveRecovery) => match self.active_flow_for(key) {
                Some(existing) => NvrError::RecoveryInProgress { flow: existing },
                None => NvrError::Storage(
                    "another password reset for this camera was started at the same moment".into(),
                ),
            },
            other => other.into(),
        }
    }

    async fn fresh_recovery_info(
        &self,
        address: &DeviceAddress,
        keep_challenge: bool,
    ) -> Result<RecoveryInfo, NvrError> {
        let info = self
            .inner
            .connector
            .recovery_info(address, keep_challenge)
            .await
            .map_err(|e| recovery_error(e, address))?;
        if info.inactive {
            return Err(NvrError::CameraInactive);
        }
        Ok(info)
    }

    /// A new flow for `device`, not yet stored. Refused when the camera (now known by its serial)
    /// already has one.
    async fn new_flow(
        &self,
        device: DiscoveredDevice,
        info: RecoveryInfo,
        removed_camera: Option<RemovedCamera>,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let clock_offset_secs = self
            .inner
            .connector
            .clock_offset(&device.address)
            .await
            .unwrap_or(0);
        let now = self.inner.clock.now();
        let mut identity = device.identity.clone();
        if identity.serial.is_empty() {
            identity.serial = info.serial.clone();
        }
        let mut flow = RecoveryFlow {
            id: RecoveryId(0),
            device_key: device.key.clone(),
            address: device.address.clone(),
            identity,
            reset_user: removed_camera
                .as_ref()
                .map_or_else(|| info.reset_user.clone(), |r| r.username.clone()),
            masked_email: None,
            internet: false,
            methods: Vec::new(),
            camera_date: String::new(),
            clock_offset_secs,
            challenge: None,
            step: RecoveryStep::AwaitingCode,
            code_sent_to: None,
            removed_camera,
            add_after_reset: self.settings().recovery.add_after_reset,
            actor: actor.to_string(),
            started_at: now,
            updated_at: now,
            result_camera: None,
            failure: None,
        };
        apply_info(&mut flow, &info);
        self.refuse_second_flow(&flow.camera_key())?;
        Ok(flow)
    }

    /// Keeps and announces a flow that was just stored as `id`.
    fn register_flow(&self, mut flow: RecoveryFlow, id: RecoveryId) -> RecoveryFlow {
        flow.id = id;
        tracing::info!(flow = %id, camera = %flow.camera_label(), "forget-password flow started");
        lock(&self.inner.flows).insert(
            id,
            FlowEntry {
                flow: flow.clone(),
                token: None,
                new_password: None,
                busy: Arc::new(tokio::sync::Mutex::new(())),
            },
        );
        self.emit(NvrEvent::RecoveryChanged {
            flow: Box::new(flow.clone()),
        });
        flow
    }

    /// Holds a flow's step lock and returns the flow as it is now.
    async fn lock_flow(
        &self,
        id: RecoveryId,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, RecoveryFlow), NvrError> {
        let _command = self.begin_command()?;
        let busy = lock(&self.inner.flows)
            .get(&id)
            .map(|e| e.busy.clone())
            .ok_or(NvrError::RecoveryNotFound(id))?;
        let guard = busy.lock_owned().await;
        Ok((guard, self.recovery(id)?))
    }

    /// Stores and announces a flow's new state; `secrets` replaces the sealed token and password.
    async fn save_flow(
        &self,
        flow: RecoveryFlow,
        secrets: Option<FlowSecrets>,
    ) -> Result<RecoveryFlow, NvrError> {
        self.save_flow_audited(flow, secrets, None).await
    }

    /// As [`Nvr::save_flow`], writing `note` to the audit log in the same transaction: the new state
    /// is stored with its entry or not at all (and then the entry is logged in full).
    async fn save_flow_audited(
        &self,
        mut flow: RecoveryFlow,
        secrets: Option<FlowSecrets>,
        note: Option<AuditNote>,
    ) -> Result<RecoveryFlow, NvrError> {
        let now = self.inner.clock.now();
        flow.updated_at = now;
        {
            let flow = flow.clone();
            let secrets = secrets.clone();
            let entry = note.clone();
            let saved = self
                .with_store(move |store| {
                    store.write(|tx| {
                        tx.update_recovery_flow(&flow)?;
                        if let Some(secrets) = &secrets {
                            tx.set_recovery_secrets(
                                flow.id,
                                secrets.token.as_ref().map(|(t, e)| (t, *e)),
                                secrets.new_password.as_ref(),
                            )?;
                        }
                        if let Some(entry) = &entry {
                            entry.append(tx, now)?;
                        }
                        Ok(())
                    })
                })
                .await
                .and_then(|r| r.map_err(NvrError::from));
            if let Err(error) = saved {
                if let Some(note) = &note {
                    note.log_unwritten(&error);
                }
                return Err(error);
            }
        }
        if let Some(entry) = lock(&self.inner.flows).get_mut(&flow.id) {
            entry.flow = flow.clone();
            if let Some(secrets) = secrets {
                entry.token = secrets.token;
                entry.new_password = secrets.new_password;
            }
        }
        self.emit(NvrEvent::RecoveryChanged {
            flow: Box::new(flow.clone()),
        });
        Ok(flow)
    }

    fn require_step(
        flow: &RecoveryFlow,
        step: RecoveryStep,
        wrong: &'static str,
    ) -> Result<(), NvrError> {
        if flow.step == step {
            return Ok(());
        }
        Err(match flow.step {
            RecoveryStep::Expired => NvrError::RecoveryExpired,
            RecoveryStep::Completed | RecoveryStep::Failed | RecoveryStep::Cancelled => {
                NvrError::RecoveryWrongStep(
                    "this password reset has ended; start Forget Password again",
                )
            }
            _ => NvrError::RecoveryWrongStep(wrong),
        })
    }

    /// Send Code: the camera emails the code to its reset email. Only with internet; otherwise the
    /// error says to scan the QR code.
    pub async fn send_code(&self, id: RecoveryId, actor: &Actor) -> Result<RecoveryFlow, NvrError> {
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::AwaitingCode,
            "a code was already accepted; set the new password",
        )?;
        if !flow.internet {
            return Err(NvrError::NoInternet);
        }
        let nonce = flow
            .challenge
            .as_ref()
            .map(|c| c.nonce.clone())
            .ok_or(NvrError::ChallengeReplaced)?;
        let label = flow.camera_label();
        match self.inner.connector.send_code(&flow.address, &nonce).await {
            Ok((reported, _)) => {
                let masked = crate::mail::ensure_masked(&reported);
                let note = AuditNote::new(
                    actor,
                    AuditAction::CodeSent,
                    &label,
                    &format!("sent to {masked}"),
                );
                flow.code_sent_to = Some(masked);
                flow.failure = None;
                self.save_flow_audited(flow, None, Some(note)).await
            }
            Err(error) => {
                let error = recovery_error(error, &flow.address);
                let outcome = format!("not sent: {error}");
                if error == NvrError::NoInternet {
                    flow.internet = false;
                    flow.methods.retain(|m| *m != RecoveryMethod::SendCode);
                    let note = AuditNote::new(actor, AuditAction::CodeSent, &label, &outcome);
                    self.save_flow_audited(flow, None, Some(note)).await?;
                } else {
                    self.audit(actor, AuditAction::CodeSent, &label, &outcome)
                        .await;
                }
                Err(error)
            }
        }
    }

    /// Gets a new code: a fresh challenge from the camera (after too many wrong codes, expiry, or a
    /// camera restart). The attempts count starts again.
    pub async fn new_challenge(
        &self,
        id: RecoveryId,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::AwaitingCode,
            "a code was already accepted; set the new password",
        )?;
        let label = flow.camera_label();
        let info = match self.fresh_recovery_info(&flow.address, false).await {
            Ok(info) => info,
            Err(error) => {
                self.audit(
                    actor,
                    AuditAction::NewCode,
                    &label,
                    &format!("refused: {error}"),
                )
                .await;
                return Err(error);
            }
        };
        apply_info(&mut flow, &info);
        flow.code_sent_to = None;
        flow.failure = None;
        let note = AuditNote::new(actor, AuditAction::NewCode, &label, "new code issued");
        self.save_flow_audited(flow, None, Some(note)).await
    }

    /// Checks the code the installer typed (8 digits, from the email).
    pub async fn verify_code(
        &self,
        id: RecoveryId,
        code: &str,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        self.verify(id, code, CodeKind::Verification, actor).await
    }

    /// Checks a support code (10 digits, from the vendor's support desk).
    pub async fn verify_support_code(
        &self,
        id: RecoveryId,
        code: &str,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        self.verify(id, code, CodeKind::Support, actor).await
    }

    async fn verify(
        &self,
        id: RecoveryId,
        code: &str,
        kind: CodeKind,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let code = code.trim();
        if code.len() != kind.digits() || !code.chars().all(|c| c.is_ascii_digit()) {
            return Err(NvrError::InvalidArgument {
                field: "code",
                problem: format!("the {} is {} digits", kind.name(), kind.digits()),
            });
        }
        let support = kind == CodeKind::Support;
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::AwaitingCode,
            "a code was already accepted; set the new password",
        )?;
        let connector = &self.inner.connector;
        let result = if support {
            connector.verify_support_code(&flow.address, code).await
        } else {
            let nonce = flow
                .challenge
                .as_ref()
                .map(|c| c.nonce.clone())
                .ok_or(NvrError::ChallengeReplaced)?;
            if flow.time_left(self.inner.clock.now()).is_zero() {
                return Err(NvrError::CodeExpired);
            }
            if flow.attempts_left() == 0 {
                // Already dead: not asked again, and not another wrong entry.
                return Err(NvrError::CodeAttemptsExhausted);
            }
            connector.verify_code(&flow.address, &nonce, code).await
        };
        let label = flow.camera_label();
        match result {
            Ok(ResetToken { secret, expires }) => {
                flow.step = RecoveryStep::CodeVerified;
                flow.failure = None;
                // A camera that does not say gives the usual five minutes, counted here.
                let expires = expires.map_or_else(
                    || self.inner.clock.now() + TOKEN_LIFETIME_UNSTATED,
                    |e| camera_to_local(e, flow.clock_offset_secs),
                );
                tracing::info!(flow = %id, camera = %label, "verification code accepted");
                self.save_flow(flow, Some(FlowSecrets::token(secret, expires)))
                    .await
            }
            Err(error) => {
                let error = recovery_error(error, &flow.address);
                let kind = if support {
                    "wrong support code"
                } else {
                    "wrong code"
                };
                // The camera's verdict is the answer even when it cannot be stored: the installer
                // must see how many attempts are left. The camera keeps the count that matters.
                let saved = match &error {
                    NvrError::CodeInvalid { attempts_left } => {
                        let note = AuditNote::new(
                            actor,
                            AuditAction::WrongCode,
                            &label,
                            &format!("{kind}; {attempts_left} attempts left"),
                        );
                        if !support && let Some(challenge) = flow.challenge.as_mut() {
                            challenge.attempts_left = *attempts_left;
                        }
                        self.save_flow_audited(flow, None, Some(note))
                            .await
                            .map(drop)
                    }
                    NvrError::CodeAttemptsExhausted => {
                        let note = AuditNote::new(
                            actor,
                            AuditAction::WrongCode,
                            &label,
                            &format!("{kind}; no attempts left"),
                        );
                        if let Some(challenge) = flow.challenge.as_mut() {
                            challenge.attempts_left = 0;
                        }
                        self.save_flow_audited(flow, None, Some(note))
                            .await
                            .map(drop)
                    }
                    NvrError::SupportLocked => {
                        self.audit(
                            actor,
                            AuditAction::WrongCode,
                            &label,
                            "support code refused: too many today",
                        )
                        .await;
                        Ok(())
                    }
                    _ => Ok(()),
                };
                if let Err(storage) = saved {
                    tracing::error!(flow = %id, %storage, "wrong code not recorded");
                }
                Err(error)
            }
        }
    }

    /// Sets the new password: checks it and its confirmation against the policy, resets it on the
    /// camera, checks that it certifies, and adds the camera (again). The flow ends Completed.
    pub async fn complete_reset(
        &self,
        id: RecoveryId,
        password: &str,
        confirmation: &str,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let (_busy, mut flow) = self.lock_flow(id).await?;
        Self::require_step(
            &flow,
            RecoveryStep::CodeVerified,
            "enter the verification code first",
        )?;
        let new_password = check_new_password(password, confirmation, &flow.reset_user)?;
        let token = lock(&self.inner.flows)
            .get(&id)
            .and_then(|e| e.token.clone());
        let Some((token, token_expires)) = token.filter(|(_, e)| *e > self.inner.clock.now())
        else {
            flow.step = RecoveryStep::Expired;
            flow.failure =
                Some("The permission to reset ran out; start Forget Password again.".into());
            self.save_flow(flow, Some(FlowSecrets::default())).await?;
            return Err(NvrError::RecoveryExpired);
        };
        // Record the new password before the camera has it: a crash from here on can still finish.
        flow.step = RecoveryStep::Resetting;
        let flow = self
            .save_flow(
                flow,
                Some(FlowSecrets {
                    token: Some((token.clone(), token_expires)),
                    new_password: Some(new_password.clone()),
                }),
            )
            .await?;
        let camera_token = ResetToken {
            secret: token.clone(),
            expires: Some(token_expires),
        };
        let reset = self
            .inner
            .connector
            .reset_password(
                &flow.address,
                &camera_token,
                &flow.reset_user,
                &new_password,
            )
            .await;
        let label = flow.camera_label();
        if let Err(error) = reset {
            let error = recovery_error(error, &flow.address);
            // The camera may have taken the password and the answer got lost on the way back.
            let credentials = Credentials {
                username: flow.reset_user.clone(),
                password: new_password.clone(),
            };
            let took = self
                .inner
                .connector
                .certify(&flow.address, &credentials)
                .await
                .is_ok();
            if !took {
                let note = AuditNote::new(
                    actor,
                    AuditAction::Reset,
                    &label,
                    &format!("failed: {error}"),
                );
                let mut back = flow;
                let secrets = if error == NvrError::RecoveryExpired {
                    back.step = RecoveryStep::Expired;
                    back.failure = Some(
                        "The permission to reset ran out; start Forget Password again.".into(),
                    );
                    FlowSecrets::default()
                } else {
                    back.step = RecoveryStep::CodeVerified;
                    FlowSecrets::token(token, token_expires)
                };
                if let Err(storage) = self
                    .save_flow_audited(back, Some(secrets), Some(note))
                    .await
                {
                    // Still Resetting with the new password recorded: the resume task settles it.
                    self.spawn_resume_reset(id);
                    return Err(storage);
                }
                return Err(error);
            }
            tracing::info!(flow = %id, %error, "the reset answer was lost, but the camera took the new password");
        }
        let note = AuditNote::new(actor, AuditAction::Reset, &label, "password reset");
        self.finish_reset(flow, new_password, note).await
    }

    /// After the camera took the new password: check it certifies, add the camera, end the flow. The
    /// reset's audit entry (`note`) is stored with the flow's end, whichever it is; should vigild stop
    /// before that, the resumed flow writes it.
    async fn finish_reset(
        &self,
        mut flow: RecoveryFlow,
        new_password: SecretString,
        mut note: AuditNote,
    ) -> Result<RecoveryFlow, NvrError> {
        let credentials = Credentials {
            username: flow.reset_user.clone(),
            password: new_password,
        };
        let certification = match self
            .inner
            .connector
            .certify(&flow.address, &credentials)
            .await
        {
            Ok(c) => c,
            Err(error) => {
                flow.step = RecoveryStep::Failed;
                flow.failure = Some(format!(
                    "The password was reset, but the camera does not accept it yet ({error}). Add the camera with the new password."
                ));
                let error = camera_error(error, &flow.address);
                note.outcome
                    .push_str("; the camera does not accept the new password yet");
                self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
                    .await?;
                return Err(error);
            }
        };
        let mut result_camera = None;
        if flow.add_after_reset {
            let still_added = self
                .discovered_device(&flow.device_key)
                .ok()
                .and_then(|d| d.added_as);
            let added = match still_added {
                Some(id) => {
                    self.store_credentials(id, credentials, Some(certification))
                        .await
                }
                None => {
                    self.add_verified(
                        flow.address.clone(),
                        Some(flow.device_key.clone()),
                        credentials,
                    )
                    .await
                }
            };
            match added {
                Ok(camera) => result_camera = Some(camera.id),
                Err(error) => {
                    flow.step = RecoveryStep::Failed;
                    flow.failure = Some(format!(
                        "The password was reset and works, but the camera could not be added: {error}"
                    ));
                    note.outcome.push_str("; the camera was not added");
                    self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
                        .await?;
                    return Err(error);
                }
            }
        }
        flow.step = RecoveryStep::Completed;
        flow.result_camera = result_camera;
        flow.failure = None;
        tracing::info!(flow = %flow.id, camera = %flow.camera_label(), "password reset and camera certified");
        self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
            .await
    }

    /// Cancels a flow. A camera removed first is not added back (its password is unknown).
    pub async fn cancel_recovery(
        &self,
        id: RecoveryId,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        let (_busy, mut flow) = self.lock_flow(id).await?;
        if !flow.step.is_active() {
            return Ok(flow);
        }
        let outcome = if flow.removed_camera.is_some() {
            "cancelled; the camera removed before the reset is not added back"
        } else {
            "cancelled"
        };
        let note = AuditNote::new(
            actor,
            AuditAction::RecoveryCancelled,
            &flow.camera_label(),
            outcome,
        );
        flow.step = RecoveryStep::Cancelled;
        self.save_flow_audited(flow, Some(FlowSecrets::default()), Some(note))
            .await
    }

    /// Loads the flows that were going when vigild stopped: resumes them, finishes an interrupted reset,
    /// or marks them clearly expired.
    pub(super) async fn resume_recoveries(&self) -> Result<(), NvrError> {
        let stored = self
            .with_store(|store| store.write(|tx| tx.load_active_recovery_flows()))
            .await??;
        let now = self.inner.clock.now();
        for entry in stored {
            let id = entry.flow.id;
            lock(&self.inner.flows).insert(id, FlowEntry::from_stored(entry));
            let flow = self.recovery(id)?;
            let expired = match flow.step {
                RecoveryStep::AwaitingCode => flow.time_left(now).is_zero(),
                RecoveryStep::CodeVerified => {
                    let token = lock(&self.inner.flows)
                        .get(&id)
                        .and_then(|e| e.token.clone());
                    token.is_none_or(|(_, expires)| expires <= now)
                }
                _ => false,
            };
            if expired {
                let mut flow = flow;
                flow.step = RecoveryStep::Expired;
                flow.failure = Some(
                    "The code expired while the NVR was stopped; start Forget Password again."
                        .into(),
                );
                self.save_flow(flow, Some(FlowSecrets::default())).await?;
                tracing::info!(flow = %id, "forget-password flow expired during the restart");
            } else if flow.step == RecoveryStep::Resetting {
                self.spawn_resume_reset(id);
            } else {
                tracing::info!(flow = %id, step = flow.step.as_str(), "forget-password flow resumed");
            }
        }
        Ok(())
    }

    // ── Sweep ─────────────────────────────────────────────────────────────────────────────────

    /// Starts the sweep that keeps the flow list honest while vigild runs: every
    /// `recovery.sweep_interval`, abandoned flows expire (so they stop holding their camera) and
    /// flows that ended longer than `recovery.ended_retention` ago are forgotten (their D-Bus objects
    /// go with them; their records stay in the registry). Decisions use the service's clock.
    pub(super) fn start_recovery_sweep(&self) {
        let nvr = self.downgrade();
        let shutdown = self.inner.shutdown.clone();
        let every = self.settings().recovery.sweep_interval;
        self.inner.tasks.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let Some(nvr) = nvr.upgrade() else { return };
                nvr.sweep_recoveries().await;
            }
        });
    }

    /// One sweep (see [`Nvr::start_recovery_sweep`]). A flow a command is working on is left for the
    /// next sweep.
    async fn sweep_recoveries(&self) {
        let now = self.inner.clock.now();
        let all_settings = self.settings();
        let settings = &all_settings.recovery;
        let (abandoned, ended): (Vec<RecoveryId>, Vec<RecoveryId>) = {
            let flows = lock(&self.inner.flows);
            let abandoned = flows
                .values()
                .filter(|e| abandonment(e, now, settings.abandoned_after).is_some())
                .map(|e| e.flow.id)
                .collect();
            let ended = flows
                .values()
                .filter(|e| ended_long_ago(e, now, settings.ended_retention))
                .map(|e| e.flow.id)
                .collect();
            (abandoned, ended)
        };
        for id in abandoned {
            self.expire_abandoned(id, now).await;
        }
        for id in ended {
            let forgotten = {
                let mut flows = lock(&self.inner.flows);
                // Still ended and idle: no command holds it.
                let idle = flows.get(&id).is_some_and(|e| {
                    ended_long_ago(e, now, settings.ended_retention) && e.busy.try_lock().is_ok()
                });
                idle && flows.remove(&id).is_some()
            };
            if forgotten {
                tracing::debug!(flow = %id, "ended forget-password flow no longer listed");
                self.emit(NvrEvent::RecoveryRemoved { id });
            }
        }
    }

    async fn expire_abandoned(&self, id: RecoveryId, now: SystemTime) {
        let busy = lock(&self.inner.flows).get(&id).map(|e| e.busy.clone());
        let Some(Ok(_busy)) = busy.map(|b| b.try_lock_owned()) else {
            return;
        };
        let why = lock(&self.inner.flows)
            .get(&id)
            .and_then(|e| abandonment(e, now, self.settings().recovery.abandoned_after));
        let (Some(why), Ok(mut flow)) = (why, self.recovery(id)) else {
            return;
        };
        flow.step = RecoveryStep::Expired;
        flow.failure = Some(why.to_owned());
        match self.save_flow(flow, Some(FlowSecrets::default())).await {
            Ok(_) => tracing::info!(flow = %id, "abandoned forget-password flow expired"),
            Err(error) => tracing::warn!(flow = %id, %error, "abandoned flow not expired yet"),
        }
    }

    fn spawn_resume_reset(&self, id: RecoveryId) {
        let nvr = self.clone();
        self.inner
            .tasks
            .spawn(async move { nvr.resume_reset(id).await });
    }

    /// Settles a reset that was interrupted (by a restart, or a store failure): the new password is
    /// recorded. Once the camera answers, the flow finishes if the camera takes the password; if not
    /// and the permission to reset is still valid, the reset is sent again. A camera that is only
    /// offline (a power cut took NVR and cameras down together) is waited for, with backoff.
    async fn resume_reset(&self, id: RecoveryId) {
        let mut wait = RESUME_FIRST_WAIT;
        let mut resets_sent = 0;
        loop {
            let pause = match self.resume_reset_once(id, &mut resets_sent).await {
                Resume::Settled => return,
                Resume::Again => Duration::ZERO,
                Resume::Wait(hint) => {
                    let pause = hint.unwrap_or(wait).min(RESUME_MAX_WAIT);
                    wait = (wait * 2).min(RESUME_MAX_WAIT);
                    pause
                }
            };
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn resume_reset_once(&self, id: RecoveryId, resets_sent: &mut u32) -> Resume {
        let Ok((_busy, flow)) = self.lock_flow(id).await else {
            return Resume::Settled;
        };
        if flow.step != RecoveryStep::Resetting {
            return Resume::Settled;
        }
        let (password, token) = lock(&self.inner.flows)
            .get(&id)
            .map(|e| (e.new_password.clone(), e.token.clone()))
            .unwrap_or_default();
        let Some(password) = password else {
            self.fail_resumed(
                flow,
                "The reset was interrupted and the new password was not kept; start Forget Password again.",
            )
            .await;
            return Resume::Settled;
        };
        let credentials = Credentials {
            username: flow.reset_user.clone(),
            password: password.clone(),
        };
        let now = self.inner.clock.now();
        let certified = tokio::select! {
            _ = self.inner.shutdown.cancelled() => return Resume::Settled,
            r = self.inner.connector.certify(&flow.address, &credentials) => r,
        };
        match certified {
            Ok(_) => {
                tracing::info!(flow = %id, "interrupted reset: the camera takes the new password");
                let note = AuditNote {
                    actor: flow.actor.clone(),
                    action: AuditAction::Reset,
                    camera: flow.camera_label(),
                    outcome: "password reset (finished after an interruption)".to_owned(),
                };
                let _settled_or_logged = self.finish_reset(flow, password, note).await;
                Resume::Settled
            }
            Err(CameraError::CredentialsRejected | CameraError::CredentialsRequired) => {
                let live_token = token.filter(|(_, expires)| *expires > now);
                let Some((secret, expires)) =
                    live_token.filter(|_| *resets_sent < MAX_RESUMED_RESETS)
                else {
                    self.fail_resumed(
                        flow,
                        "The reset was interrupted and the camera does not take the new password; start Forget Password again.",
                    )
                    .await;
                    return Resume::Settled;
                };
                *resets_sent += 1;
                let camera_token = ResetToken {
                    secret,
                    expires: Some(expires),
                };
                let label = flow.camera_label();
                match self
                    .inner
                    .connector
                    .reset_password(&flow.address, &camera_token, &flow.reset_user, &password)
                    .await
                {
                    Ok(()) => {
                        self.audit(
                            &Actor::System,
                            AuditAction::Reset,
                            &label,
                            "password reset (sent again after an interruption)",
                        )
                        .await;
                        Resume::Again
                    }
                    Err(RecoveryError::Camera(CameraError::Offline(_))) => Resume::Wait(None),
                    Err(error) => {
                        let error = recovery_error(error, &flow.address);
                        self.audit(
                            &Actor::System,
                            AuditAction::Reset,
                            &label,
                            &format!("failed: {error}"),
                        )
                        .await;
                        self.fail_resumed(
                            flow,
                            &format!("The interrupted reset could not be finished ({error}); start Forget Password again."),
                        )
                        .await;
                        Resume::Settled
                    }
                }
            }
            Err(CameraError::Locked { retry_after }) => Resume::Wait(retry_after),
            Err(error) => {
                let waiting = now.duration_since(flow.updated_at).unwrap_or_default();
                if waiting > RESUME_GIVE_UP_AFTER {
                    self.fail_resumed(
                        flow,
                        &format!("The camera did not answer for a day after an interrupted reset ({error}); try its new password, or start Forget Password again."),
                    )
                    .await;
                    return Resume::Settled;
                }
                tracing::info!(flow = %id, %error, "interrupted reset: waiting for the camera");
                Resume::Wait(None)
            }
        }
    }

    async fn fail_resumed(&self, mut flow: RecoveryFlow, why: &str) {
        flow.step = RecoveryStep::Failed;
        flow.failure = Some(why.to_owned());
        if let Err(error) = self.save_flow(flow, Some(FlowSecrets::default())).await {
            tracing::error!(%error, "failed reset not saved");
        }
    }

    // ── Change password with the current one ──────────────────────────────────────────────────

    /// Pushes one new password to certified cameras, each with its current password (the Modify path).
    /// Every camera is tried; each gets its own outcome.
    pub async fn change_camera_passwords(
        &self,
        cameras: &[CameraId],
        password: &str,
        confirmation: &str,
        actor: &Actor,
    ) -> Result<Vec<PasswordPushOutcome>, NvrError> {
        let _command = self.begin_command()?;
        if cameras.is_empty() {
            return Err(NvrError::InvalidArgument {
                field: "cameras",
                problem: "no camera chosen".into(),
            });
        }
        if password != confirmation {
            return Err(NvrError::PasswordMismatch);
        }
        // Each camera once, in the order given; at most PUSH_CONCURRENCY sessions at a time.
        let mut seen = std::collections::BTreeSet::new();
        let cameras: Vec<CameraId> = cameras
            .iter()
            .copied()
            .filter(|id| seen.insert(*id))
            .collect();
        let slots = Arc::new(tokio::sync::Semaphore::new(PUSH_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (order, id) in cameras.iter().copied().enumerate() {
            let nvr = self.clone();
            let password = password.to_owned();
            let actor = actor.clone();
            let slots = slots.clone();
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await;
                (order, id, nvr.push_password(id, &password, &actor).await)
            });
        }
        let mut outcomes = Vec::with_capacity(cameras.len());
        while let Some(joined) = tasks.join_next().await {
            if let Ok(outcome) = joined {
                outcomes.push(outcome);
            }
        }
        outcomes.sort_by_key(|(order, _, _)| *order);
        Ok(outcomes
            .into_iter()
            .map(|(_, camera, result)| PasswordPushOutcome { camera, result })
            .collect())
    }

    async fn push_password(
        &self,
        id: CameraId,
        password: &str,
        actor: &Actor,
    ) -> Result<AddedCamera, NvrError> {
        let (camera, current) = {
            let added = lock(&self.inner.added);
            let entry = added.get(&id).ok_or(NvrError::CameraNotFound(id))?;
            (entry.camera.clone(), entry.credentials.clone())
        };
        let Some(current) = current.filter(|_| camera.status.certified()) else {
            return Err(NvrError::NotCertified { camera: id });
        };
        let new_password = check_new_password(password, password, &camera.username)?;
        let label = camera_label(&camera.identity, &camera.address);
        let session =
            self.inner
                .connector
                .session(&camera.address, Some(&current), camera.clock_offset_secs);
        // SetUser needs the account's level; it is sent back as the camera lists it. An account
        // that may not list users (not an Administrator) has a level the NVR cannot know, and a
        // guess could change it, so such an account is not changed from here.
        let level = match session.users().await {
            Ok(users) => users
                .into_iter()
                .find(|u| u.username == camera.username)
                .map(|u| u.level),
            Err(CameraError::CredentialsRejected | CameraError::CredentialsRequired) => None,
            Err(error) => return Err(self.push_failed(actor, &label, &camera, error).await),
        };
        let Some(level) = level else {
            let error = NvrError::CameraRefused(format!(
                "the account {} may not list the camera's users, so the NVR cannot change its password without risking its level; change it on the camera, or add the camera with an administrator account",
                camera.username
            ));
            self.audit(
                actor,
                AuditAction::PasswordPush,
                &label,
                &format!("failed: {error}"),
            )
            .await;
            return Err(error);
        };
        if let Err(error) = session
            .set_password(&camera.username, &level, &new_password)
            .await
        {
            return Err(self.push_failed(actor, &label, &camera, error).await);
        }
        // The camera has the new password now: record that first, whatever comes next.
        self.audit(actor, AuditAction::PasswordPush, &label, "password changed")
            .await;
        let credentials = Credentials {
            username: camera.username.clone(),
            password: new_password,
        };
        let certification = self
            .inner
            .connector
            .certify(&camera.address, &credentials)
            .await;
        match certification {
            Ok(certification) => {
                self.store_credentials(id, credentials, Some(certification))
                    .await
            }
            Err(error) => {
                // Keep the password the camera has, even though it could not be checked just now:
                // the monitor certifies it at its next check.
                tracing::warn!(camera = %id, %error, "new password set but not yet certified");
                self.store_credentials(id, credentials, None).await
            }
        }
    }

    async fn push_failed(
        &self,
        actor: &Actor,
        label: &str,
        camera: &AddedCamera,
        error: CameraError,
    ) -> NvrError {
        self.audit(
            actor,
            AuditAction::PasswordPush,
            label,
            &format!("failed: {error}"),
        )
        .await;
        camera_error(error, &camera.address)
    }

    // ── Activation ────────────────────────────────────────────────────────────────────────────

    /// Activates a discovered camera in factory state with an admin password (under the policy) and a
    /// reset email, in one step; then adds it when `add` is set.
    pub async fn activate_camera(
        &self,
        device_key: &str,
        password: &str,
        confirmation: &str,
        reset_email: &str,
        add: bool,
        actor: &Actor,
    ) -> Result<Activation, NvrError> {
        let _command = self.begin_command()?;
        let device = self.discovered_device(device_key)?;
        if !device.inactive {
            return Err(NvrError::AlreadyActive);
        }
        let reset_email = reset_email.trim();
        if !is_email_address(reset_email) {
            return Err(NvrError::InvalidArgument {
                field: "reset_email",
                problem: "the reset email is not an email address".into(),
            });
        }
        const ADMIN: &str = "admin";
        let new_password = check_new_password(password, confirmation, ADMIN)?;
        let credentials = Credentials {
            username: ADMIN.to_owned(),
            password: new_password.clone(),
        };
        let label = camera_label(&device.identity, &device.address);
        let connector = &self.inner.connector;
        let activated = match connector
            .activate(&device.address, &credentials, reset_email)
            .await
        {
            Ok(()) => Ok(true),
            // A plain ONVIF Profile Q camera: create the administrator; it cannot take a reset email.
            Err(RecoveryError::NotSupported) => connector
                .session(&device.address, None, 0)
                .create_user(ADMIN, "Administrator", &new_password)
                .await
                .map(|()| false)
                .map_err(|error| camera_error(error, &device.address)),
            Err(error) => Err(recovery_error(error, &device.address)),
        };
        let reset_email_set = match activated {
            Ok(reset_email_set) => reset_email_set,
            Err(error) => {
                self.audit(
                    actor,
                    AuditAction::Activation,
                    &label,
                    &format!("failed: {error}"),
                )
                .await;
                return Err(error);
            }
        };
        let outcome = if reset_email_set {
            format!(
                "activated; reset email {}",
                crate::mail::mask_email(reset_email)
            )
        } else {
            "activated; the camera takes no reset email".to_owned()
        };
        self.audit(actor, AuditAction::Activation, &label, &outcome)
            .await;
        self.mark_activated(device_key);
        // The camera is activated whatever happens next: a failed add is reported, not returned.
        let (camera, add_error) = if add {
            match self
                .add_verified(
                    device.address.clone(),
                    Some(device.key.clone()),
                    credentials,
                )
                .await
            {
                Ok(camera) => (Some(camera), None),
                Err(error) => {
                    tracing::warn!(address = %device.address, %error, "camera activated but not added");
                    (None, Some(error))
                }
            }
        } else {
            (None, None)
        };
        Ok(Activation {
            camera,
            add_error,
            reset_email_set,
        })
    }
}

/// Why a flow is abandoned at `now`, when it is: waiting for a code that ran out over `grace` ago with
/// nothing done since (until then a new code can still be asked for), or holding a permission to reset
/// that ran out (nothing can revive it). A flow in Resetting is never abandoned: its resume task owns it.
fn abandonment(entry: &FlowEntry, now: SystemTime, grace: Duration) -> Option<&'static str> {
    let flow = &entry.flow;
    let waited = |since: SystemTime| now.duration_since(since).is_ok_and(|d| d >= grace);
    match flow.step {
        RecoveryStep::AwaitingCode => {
            let ran_out = flow
                .challenge
                .as_ref()
                .map_or(flow.started_at, |c| c.expires);
            (flow.time_left(now).is_zero() && waited(ran_out) && waited(flow.updated_at)).then_some(
                "The code ran out and the reset was left unfinished; start Forget Password again.",
            )
        }
        RecoveryStep::CodeVerified => entry
            .token
            .as_ref()
            .is_none_or(|(_, expires)| *expires <= now)
            .then_some("The permission to reset ran out; start Forget Password again."),
        _ => None,
    }
}

/// Whether a flow ended more than `retention` before `now`.
fn ended_long_ago(entry: &FlowEntry, now: SystemTime, retention: Duration) -> bool {
    !entry.flow.step.is_active()
        && now
            .duration_since(entry.flow.updated_at)
            .is_ok_and(|d| d >= retention)
}

/// Copies what GetRecoveryInfo said into a flow, translating the challenge's expiry to the NVR's clock.
fn apply_info(flow: &mut RecoveryFlow, info: &RecoveryInfo) {
    flow.masked_email = info.masked_email.as_deref().map(crate::mail::ensure_masked);
    flow.internet = info.internet;
    flow.methods = info.methods.clone();
    flow.camera_date = info.date.clone();
    if flow.identity.mac.is_none() {
        flow.identity.mac = crate::model::normalize_mac(&info.mac);
    }
    flow.challenge = info.challenge.as_ref().map(|c| FlowChallenge {
        nonce: c.nonce.clone(),
        expires: camera_to_local(c.expires, flow.clock_offset_secs),
        qr_payload: c.qr_payload.clone(),
        attempts_left: c.attempts_left,
    });
}
