//! Flows after a restart and over time: a reset interrupted between the camera taking the new password
//! and the registry recording it is finished (or failed with a reason) when the camera answers; flows
//! left waiting expire; ended flows leave the list after a while.
use std::time::{Duration, SystemTime};

use super::super::audit::AuditNote;
use super::super::{Nvr, NvrError, lock};
use super::{FlowEntry, FlowSecrets, recovery_error};
use crate::camera::CameraError;
use crate::camera::recovery_client::{RecoveryError, ResetToken};
use crate::model::Credentials;
use crate::model::{Actor, AuditAction, NvrEvent};
use crate::model::{RecoveryFlow, RecoveryId, RecoveryStep};

/// The first wait before an interrupted reset is tried again; it doubles up to [`RESUME_MAX_WAIT`].
pub(super) const RESUME_FIRST_WAIT: Duration = Duration::from_secs(2);

/// The longest wait between tries of an interrupted reset.
pub(super) const RESUME_MAX_WAIT: Duration = Duration::from_secs(300);

/// An interrupted reset whose camera has not answered for this long fails.
pub(super) const RESUME_GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How often an interrupted reset is sent again at most.
pub(super) const MAX_RESUMED_RESETS: u32 = 2;

/// What to do next with an interrupted reset.
pub(super) enum Resume {
    /// It finished or failed.
    Settled,
    /// Check again at once.
    Again,
    /// Check again after a while (the camera's hint, or the backoff).
    Wait(Option<Duration>),
}

/// Why a flow is abandoned at `now`, when it is: waiting for a code that ran out over `grace` ago with
/// nothing done since (until then a new code can still be asked for), or holding a permission to reset
/// that ran out (nothing can revive it). A flow in Resetting is never abandoned: its resume task owns it.
pub(super) fn abandonment(
    entry: &FlowEntry,
    now: SystemTime,
    grace: Duration,
) -> Option<&'static str> {
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
pub(super) fn ended_long_ago(entry: &FlowEntry, now: SystemTime, retention: Duration) -> bool {
    !entry.flow.step.is_active()
        && now
            .duration_since(entry.flow.updated_at)
            .is_ok_and(|d| d >= retention)
}

impl Nvr {
    /// Loads the flows that were going when vigild stopped: resumes them, finishes an interrupted reset,
    /// or marks them clearly expired.
    pub(in crate::service) async fn resume_recoveries(&self) -> Result<(), NvrError> {
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

    /// Starts the sweep that keeps the flow list honest while vigild runs: every
    /// `recovery.sweep_interval`, abandoned flows expire (so they stop holding their camera) and
    /// flows that ended longer than `recovery.ended_retention` ago are forgotten (their D-Bus objects
    /// go with them; their records stay in the registry). Decisions use the service's clock.
    pub(in crate::service) fn start_recovery_sweep(&self) {
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
    pub(super) async fn sweep_recoveries(&self) {
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

    pub(super) async fn expire_abandoned(&self, id: RecoveryId, now: SystemTime) {
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

    pub(super) fn spawn_resume_reset(&self, id: RecoveryId) {
        let nvr = self.clone();
        self.inner
            .tasks
            .spawn(async move { nvr.resume_reset(id).await });
    }

    /// Settles a reset that was interrupted (by a restart, or a store failure): the new password is
    /// recorded. Once the camera answers, the flow finishes if the camera takes the password; if not
    /// and the permission to reset is still valid, the reset is sent again. A camera that is only
    /// offline (a power cut took NVR and cameras down together) is waited for, with backoff.
    pub(super) async fn resume_reset(&self, id: RecoveryId) {
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

    pub(super) async fn resume_reset_once(&self, id: RecoveryId, resets_sent: &mut u32) -> Resume {
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
            r = self.inner.connector.driver(flow.protocol.managed_as()).certify(&flow.address, &credentials) => r,
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
                let reset_email = self.reset_email_for_a_fresh_set_up().await;
                match self
                    .inner
                    .connector
                    .driver(flow.protocol.managed_as())
                    .reset_password(
                        &flow.address,
                        &camera_token,
                        &flow.reset_user,
                        &password,
                        &reset_email,
                    )
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

    pub(super) async fn fail_resumed(&self, mut flow: RecoveryFlow, why: &str) {
        flow.step = RecoveryStep::Failed;
        flow.failure = Some(why.to_owned());
        if let Err(error) = self.save_flow(flow, Some(FlowSecrets::default())).await {
            tracing::error!(%error, "failed reset not saved");
        }
    }
}
