//! A camera's forget-password flow, as the service runs it: remove first (when the camera is added but
//! not certified), recovery info, then a code ([`code`]), then the new password and the reset, with the
//! camera certified and added again ([`reset`]). A flow interrupted by a restart is finished or failed
//! with a reason ([`resume`]).
//!
//! Invariants: a flow is stored before it is announced; operations on one flow run one at a time; a
//! camera has at most one active flow (memory check plus a unique index); the reset token and a new
//! password in flight are sealed in the store and never leave this module except to the camera; audit
//! outcomes never hold a code or a password.

mod code;
mod reset;
mod resume;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;

use super::audit::AuditNote;
use super::{Nvr, NvrError, camera_error, lock};
use crate::camera::recovery_client::{RecoveryError, RecoveryInfo};
use crate::model::{Actor, AuditAction, Caller, CameraId, DiscoveredDevice, NvrEvent};
use crate::model::{
    CameraState, DeviceAddress, Protocol, Protocols, RecoveryMethod, RecoveryTarget,
};
use crate::model::{
    FlowChallenge, RecoveryFlow, RecoveryId, RecoveryStep, RemovedCamera, camera_key, camera_label,
    camera_to_local,
};
use crate::store::{DuplicateOf, StoreError, StoredFlow};

/// What starting Forget Password led to; the faces show the next step from this, never from an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryStart {
    /// The flow began; it is at its first step.
    Started(Box<RecoveryFlow>),
    /// The camera is added and not certified: it is removed first (offer
    /// [`Nvr::remove_and_start_recovery`], "Remove and continue"); it is added again after the reset.
    RemoveFirst {
        /// The added camera.
        camera: CameraId,
    },
    /// The camera is added and its stored password works: change its password instead (Change
    /// Password on the added camera); nothing was started.
    ChangePasswordInstead {
        /// The added camera.
        camera: CameraId,
    },
}

impl RecoveryStart {
    /// The flow, when one began.
    pub fn started(self) -> Option<RecoveryFlow> {
        match self {
            Self::Started(flow) => Some(*flow),
            _ => None,
        }
    }
}

/// A flow's secrets: the reset token (with its expiry on the NVR's clock) and a new password in flight.
#[derive(Clone, Default)]
pub(super) struct FlowSecrets {
    token: Option<(SecretString, SystemTime)>,
    new_password: Option<SecretString>,
}

impl FlowSecrets {
    pub(super) fn token(token: SecretString, expires: SystemTime) -> Self {
        Self {
            token: Some((token, expires)),
            new_password: None,
        }
    }
}

/// How long a reset token lasts when the camera does not say.
pub(super) const TOKEN_LIFETIME_UNSTATED: Duration = Duration::from_secs(300);

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
pub(super) enum CodeKind {
    /// From the email: 8 digits.
    Verification,
    /// From the vendor's support desk: 10 digits.
    Support,
}

impl CodeKind {
    pub(super) fn digits(self) -> usize {
        match self {
            CodeKind::Verification => 8,
            CodeKind::Support => 10,
        }
    }
}

pub(super) fn recovery_error(error: RecoveryError, address: &DeviceAddress) -> NvrError {
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

/// Copies what GetRecoveryInfo said into a flow, translating the challenge's expiry to the NVR's clock.
pub(super) fn apply_info(flow: &mut RecoveryFlow, info: &RecoveryInfo) {
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

impl Nvr {
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

    /// Starts Forget Password on a discovered camera. An added camera is not reset here: a
    /// certified one answers [`RecoveryStart::ChangePasswordInstead`], one that is not certified
    /// [`RecoveryStart::RemoveFirst`] (with `recovery.remove_first` on; see
    /// [`Nvr::remove_and_start_recovery`]).
    pub async fn start_recovery(
        &self,
        target: impl Into<RecoveryTarget>,
        caller: &Caller,
    ) -> Result<RecoveryStart, NvrError> {
        let actor = &self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let device = self.recovery_device(&target.into())?;
        self.refuse_unrecoverable(&device)?;
        if let Some(id) = device.added_as {
            let camera = self.added_camera(id)?;
            if camera.status.certified() {
                return Ok(RecoveryStart::ChangePasswordInstead { camera: id });
            }
            if camera.status.state == CameraState::Offline {
                // Ask before offering to remove it: an offline camera is told as offline, with what to
                // check, and stays added.
                self.fresh_recovery_info(device.protocols.managing(), &device.address, false)
                    .await?;
            }
            if self.settings().recovery.remove_first {
                return Ok(RecoveryStart::RemoveFirst { camera: id });
            }
        }
        self.refuse_second_flow(&camera_key(&device.identity, &device.key))?;
        let info = self
            .fresh_recovery_info(device.protocols.managing(), &device.address, false)
            .await?;
        let flow = self.new_flow(device, info, None, actor).await?;
        let id = {
            let stored = flow.clone();
            let note = started_note(actor, &flow);
            let at = flow.started_at;
            self.with_store(move |store| {
                store.write(|tx| {
                    let id = tx.insert_recovery_flow(&stored)?;
                    note.append(tx, at)?;
                    Ok(id)
                })
            })
            .await?
            .map_err(|e| self.flow_insert_error(e, &flow.camera_key()))?
        };
        Ok(RecoveryStart::Started(Box::new(
            self.register_flow(flow, id),
        )))
    }

    /// The one-step "Remove and continue": removes the added, not certified camera (audited) and starts
    /// Forget Password on it; it is added again once the new password certifies. The removal, its
    /// audit entry and the new flow are stored in one transaction, so the camera is never gone
    /// without a flow that adds it back. A certified camera is not removed: it answers
    /// [`RecoveryStart::ChangePasswordInstead`].
    pub async fn remove_and_start_recovery(
        &self,
        target: impl Into<RecoveryTarget>,
        caller: &Caller,
    ) -> Result<RecoveryStart, NvrError> {
        let target = target.into();
        let actor = &self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let device = self.recovery_device(&target)?;
        self.refuse_unrecoverable(&device)?;
        let Some(id) = device.added_as else {
            return self.start_recovery(target, caller).await;
        };
        let camera = self.added_camera(id)?;
        if camera.status.certified() {
            return Ok(RecoveryStart::ChangePasswordInstead { camera: id });
        }
        self.refuse_second_flow(&camera_key(&device.identity, &device.key))?;
        // Ask the camera first: a camera that cannot be recovered is not removed.
        let info = self
            .fresh_recovery_info(device.protocols.managing(), &device.address, false)
            .await?;
        let removed = RemovedCamera {
            id,
            username: camera.username.clone(),
        };
        let flow = self.new_flow(device, info, Some(removed), actor).await?;
        let label = camera_label(&camera.identity, &camera.address);
        let at = self.inner.clock.now();
        let actor_text = actor.to_string();
        let stored = flow.clone();
        let started = started_note(actor, &flow);
        let flow_id = self
            .remove_camera_with(id, move |tx| {
                tx.append_audit(
                    at,
                    &actor_text,
                    AuditAction::RemovalBeforeReset,
                    &label,
                    "removed to reset its password; it is added again afterwards",
                )?;
                let flow_id = tx.insert_recovery_flow(&stored)?;
                started.append(tx, at)?;
                Ok(flow_id)
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
        Ok(RecoveryStart::Started(Box::new(
            self.register_flow(flow, flow_id),
        )))
    }

    /// The active flow for a camera, by [`camera_key`].
    pub(super) fn active_flow_for(&self, key: &str) -> Option<RecoveryId> {
        lock(&self.inner.flows)
            .values()
            .find(|e| e.flow.step.is_active() && e.flow.camera_key() == key)
            .map(|e| e.flow.id)
    }

    pub(super) fn refuse_second_flow(&self, key: &str) -> Result<(), NvrError> {
        match self.active_flow_for(key) {
            Some(existing) => Err(NvrError::RecoveryInProgress { flow: existing }),
            None => Ok(()),
        }
    }

    /// What a failed flow insert means: another flow for the camera won the race, or storage failed.
    pub(super) fn flow_insert_error(&self, error: StoreError, key: &str) -> NvrError {
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

    /// The reset email a camera set up afresh by its reset takes (after the factory defaults of a
    /// support path): the recorder's reserved email, as Activate offers it; empty without one.
    pub(super) async fn reset_email_for_a_fresh_set_up(&self) -> String {
        self.reserved_email(&Caller::from(Actor::System))
            .await
            .unwrap_or_default()
    }

    /// Refuses, before anything is sent or removed, a camera whose protocol offers no password reset
    /// from the recorder (docs/vendors.md says which and why).
    fn refuse_unrecoverable(&self, device: &DiscoveredDevice) -> Result<(), NvrError> {
        if self
            .inner
            .connector
            .driver(device.protocols.managing())
            .offers_recovery()
        {
            Ok(())
        } else {
            Err(NvrError::RecoveryNotSupported)
        }
    }

    pub(super) async fn fresh_recovery_info(
        &self,
        protocol: Protocol,
        address: &DeviceAddress,
        keep_challenge: bool,
    ) -> Result<RecoveryInfo, NvrError> {
        let info = self
            .inner
            .connector
            .driver(protocol)
            .recovery_info(address, keep_challenge, self.inner.clock.now())
            .await
            .map_err(|e| recovery_error(e, address))?;
        if info.inactive {
            return Err(NvrError::CameraInactive);
        }
        Ok(info)
    }

    /// A new flow for `device`, not yet stored. Refused when the camera (now known by its serial)
    /// already has one.
    /// The device Forget Password works on. An added camera that discovery does not list is reached
    /// at its stored address; its key is its endpoint reference, or empty when it has none.
    fn recovery_device(&self, target: &RecoveryTarget) -> Result<DiscoveredDevice, NvrError> {
        match target {
            RecoveryTarget::Discovered(key) => self.discovered_device(key),
            RecoveryTarget::Added(id) => {
                if let Ok(device) = self.discovered_device_of(*id) {
                    return Ok(device);
                }
                let camera = self.added_camera(*id)?;
                Ok(DiscoveredDevice {
                    key: camera.endpoint_ref.clone().unwrap_or_default(),
                    address: camera.address.clone(),
                    identity: camera.identity.clone(),
                    information_complete: true,
                    inactive: false,
                    added_as: Some(*id),
                    last_seen: camera.status.since,
                    conflict_with: None,
                    protocols: Protocols::only(camera.protocol),
                    other_subnet: None,
                })
            }
        }
    }

    pub(super) async fn new_flow(
        &self,
        device: DiscoveredDevice,
        info: RecoveryInfo,
        removed_camera: Option<RemovedCamera>,
        actor: &Actor,
    ) -> Result<RecoveryFlow, NvrError> {
        // The flow runs in the camera's own protocol; ONVIF cameras reset through Vigil's extension.
        let protocol = match device.protocols.managing() {
            Protocol::Onvif => Protocol::Vigil,
            vendor => vendor,
        };
        let clock_offset_secs = self
            .inner
            .connector
            .driver(protocol)
            .reach(&device.address)
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
            protocol,
        };
        apply_info(&mut flow, &info);
        self.refuse_second_flow(&flow.camera_key())?;
        Ok(flow)
    }

    /// Keeps and announces a flow that was just stored as `id`.
    pub(super) fn register_flow(&self, mut flow: RecoveryFlow, id: RecoveryId) -> RecoveryFlow {
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
    pub(super) async fn lock_flow(
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
    pub(super) async fn save_flow(
        &self,
        flow: RecoveryFlow,
        secrets: Option<FlowSecrets>,
    ) -> Result<RecoveryFlow, NvrError> {
        self.save_flow_audited(flow, secrets, None).await
    }

    /// As [`Nvr::save_flow`], writing `note` to the audit log in the same transaction: the new state
    /// is stored with its entry or not at all (and then the entry is logged in full).
    pub(super) async fn save_flow_audited(
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

    pub(super) fn require_step(
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
}

/// The audit entry of a flow that began: its camera, and the ways to a code it offers.
fn started_note(actor: &Actor, flow: &RecoveryFlow) -> AuditNote {
    let methods: Vec<&str> = flow
        .methods
        .iter()
        .map(|method| match method {
            RecoveryMethod::SendCode => "a code by email",
            RecoveryMethod::AppQr => "the app's QR code",
            RecoveryMethod::SupportCode => "a support code",
        })
        .collect();
    AuditNote::new(
        actor,
        AuditAction::RecoveryStarted,
        &flow.camera_label(),
        &format!("started; the camera offers {}", methods.join(", ")),
    )
}
