//! Keeps each added camera's status current: one light task per camera that checks it every period,
//! backs off while it is offline or failing, and fails safe: after the first refusal of its
//! credentials — rejected, or refused in any way that is not a lock or a passing server error,
//! including words the NVR cannot classify — it stops using them (only unauthenticated reachability
//! checks) until new ones are given, because cameras lock out an NVR that keeps retrying. The rule is
//! written out in docs/camera-dialects.md. What it finds goes to a [`StatusSink`]; storing and
//! announcing is the caller's job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::camera::CameraError;
use crate::camera::client::CameraConnector;
use crate::model::{CameraId, CameraState, ReasonKind, StatusReason};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity, Protocol};

/// How often and how patiently cameras are checked.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    /// Time between checks of a camera that answers.
    pub period: Duration,
    /// The longest wait between checks of an offline camera (the wait doubles up to this).
    pub offline_backoff_max: Duration,
    /// After a camera reports a lockout, how long before the credentials are tried again.
    pub locked_retry: Duration,
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Where the camera stands.
    pub state: CameraState,
    /// Whether the credentials are now known to be rejected.
    pub credentials_rejected: bool,
    /// What went wrong, as a kind and the camera's words; `None` when all is well.
    pub error: Option<StatusReason>,
    /// The camera's clock offset, when it answered.
    pub clock_offset_secs: Option<i64>,
    /// What the camera said it is, when it was asked.
    pub identity: Option<DeviceIdentity>,
}

/// Receives what the monitor finds.
#[async_trait]
pub trait StatusSink: Send + Sync + 'static {
    /// Called after every check.
    async fn observed(&self, id: CameraId, observation: Observation);
}

/// One camera to watch.
#[derive(Debug, Clone)]
pub struct MonitoredCamera {
    /// Its id.
    pub id: CameraId,
    /// Where it is.
    pub address: DeviceAddress,
    /// The protocol it is managed with.
    pub protocol: Protocol,
    /// The serial number it was added with; another one answering at the address is another camera.
    pub serial: String,
    /// Its credentials, or `None` when they could not be read back.
    pub credentials: Option<Credentials>,
    /// Where it stood when the watch began (its stored state).
    pub last_state: CameraState,
    /// Whether the camera already refused these credentials (they are held: not sent again).
    pub credentials_rejected: bool,
    /// The stored reason, shown again while the credentials stay held after a restart.
    pub last_error: Option<StatusReason>,
    /// How long a lock the camera reported before this watch began still lasts: the credentials are
    /// not sent until then, across restarts and reloads too.
    pub locked_for: Option<Duration>,
    /// The camera's clock offset as last measured, for a login that must go before the clock can be
    /// read (a camera that wants credentials even for its clock).
    pub clock_offset_secs: i64,
    /// Set the moment the credentials are held, before the result is stored, and shared with the
    /// watch that replaces this one for the same credentials (a reload), so a hold is never lost.
    pub held: Arc<AtomicBool>,
}

/// Unreadable answers to the login in a row before the credentials are held.
pub const UNREADABLE_STRIKES: u32 = 3;

/// Checks `camera` until `cancel`, reporting every result to `sink`. The first check happens after
/// `first_check_after`.
pub async fn watch(
    camera: MonitoredCamera,
    connector: CameraConnector,
    settings: MonitorSettings,
    sink: Arc<dyn StatusSink>,
    first_check_after: Duration,
    cancel: CancellationToken,
) {
    let mut rejected = camera.credentials_rejected
        || camera.credentials.is_none()
        || camera.held.load(Ordering::SeqCst);
    // Why the credentials are held, shown on every reachability check while they are.
    let mut held_reason = if camera.credentials.is_none() {
        StatusReason::bare(ReasonKind::PasswordUnreadable)
    } else {
        camera
            .last_error
            .clone()
            .filter(|_| rejected)
            .unwrap_or_else(|| StatusReason::bare(ReasonKind::CredentialsRejected))
    };
    // The lock the camera reported last, repeated while it is waited out.
    let mut lock_reason = camera
        .last_error
        .clone()
        .filter(|reason| reason.kind == ReasonKind::Locked)
        .unwrap_or_else(|| StatusReason::locked(None));
    let mut last_state = camera.last_state;
    let mut locked_until: Option<Instant> = camera
        .locked_for
        .and_then(|left| Instant::now().checked_add(left));
    // Whether the last login was answered with a lock: a second lock at the first try after it holds.
    let mut locked_before = locked_until.is_some();
    let mut offset = camera.clock_offset_secs;
    let mut unreadable_strikes = 0u32;
    let mut backoff_wait = settings.period;
    let mut wait = first_check_after;
    let hold = |reason: StatusReason, held_reason: &mut StatusReason, rejected: &mut bool| {
        camera.held.store(true, Ordering::SeqCst);
        *rejected = true;
        *held_reason = reason;
        reachable_only(CameraState::NotCertified, true, Some(held_reason.clone()))
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let credentials = camera.credentials.as_ref().filter(|_| !rejected);
        let locked_now = locked_until.is_some_and(|until| Instant::now() < until);
        // Set when the camera answered with something passing: wait longer before the next try.
        let mut back_off = false;
        let observation = match credentials {
            Some(credentials) if !locked_now => {
                // Back from offline, the camera may have been reset to factory state, which lets
                // anyone in: the full certification asks first, without credentials.
                let outcome = tokio::select! {
                    _ = cancel.cancelled() => return,
                    outcome = async {
                        let driver = connector.driver(camera.protocol);
                        if last_state == CameraState::Offline {
                            driver.certify(&camera.address, credentials).await
                        } else {
                            driver.recheck(&camera.address, credentials, offset).await
                        }
                    } => outcome,
                };
                let was_locked = std::mem::replace(&mut locked_before, false);
                let strikes = std::mem::replace(&mut unreadable_strikes, 0);
                match outcome {
                    // A different camera at the address (replaced, or its address given to another):
                    // its answer proves nothing about this one, and it gets no more of its password.
                    Ok(certified) if another_camera(&camera.serial, &certified.identity.serial) => {
                        tracing::warn!(camera = %camera.id, address = %camera.address, answered = %certified.identity.serial, "another camera answers at the address; credentials held");
                        hold(
                            StatusReason::with_words(
                                ReasonKind::AnotherCamera,
                                certified.identity.serial.clone(),
                            ),
                            &mut held_reason,
                            &mut rejected,
                        )
                    }
                    Ok(certified) => {
                        locked_until = None;
                        offset = certified.clock_offset_secs;
                        Observation {
                            state: CameraState::Online,
                            credentials_rejected: false,
                            error: None,
                            clock_offset_secs: Some(certified.clock_offset_secs),
                            identity: Some(certified.identity),
                        }
                    }
                    // Locked again at the first try after a lock: whatever the camera calls it,
                    // trying on every lock's end would keep it locked. Hold.
                    Err(CameraError::Locked { .. }) if was_locked => {
                        tracing::warn!(camera = %camera.id, address = %camera.address, "camera locked again at the first try after a lock; credentials held");
                        hold(
                            StatusReason::bare(ReasonKind::LockedAgain),
                            &mut held_reason,
                            &mut rejected,
                        )
                    }
                    Err(CameraError::Locked { retry_after }) => {
                        let wait_out = retry_after
                            .map_or(settings.locked_retry, |r| r.max(settings.locked_retry));
                        locked_until = Instant::now().checked_add(wait_out);
                        locked_before = true;
                        lock_reason = StatusReason::locked(retry_after);
                        reachable_only(CameraState::Locked, false, Some(lock_reason.clone()))
                    }
                    Err(CameraError::Offline(detail)) => reachable_only(
                        CameraState::Offline,
                        false,
                        Some(StatusReason::with_words(ReasonKind::Offline, detail)),
                    ),
                    // Reset to factory state: any login would "work", so none proves anything.
                    Err(CameraError::Inactive) => {
                        tracing::warn!(camera = %camera.id, address = %camera.address, "camera is back in factory state; credentials held until it is activated");
                        hold(
                            StatusReason::bare(ReasonKind::FactoryState),
                            &mut held_reason,
                            &mut rejected,
                        )
                    }
                    // A passing server error is not a refusal: nothing was verified, nothing refuted.
                    // A camera certified at the last check stays so; the wait backs off meanwhile.
                    Err(CameraError::Unavailable(detail)) => {
                        back_off = true;
                        reachable_only(
                            passing_state(last_state),
                            false,
                            Some(StatusReason::with_words(ReasonKind::ServerError, detail)),
                        )
                    }
                    // Something unreadable, or the device failing: perhaps passing (a firmware
                    // upgrade serves odd pages for a minute), perhaps a refusal in a form the NVR
                    // cannot read. Tried again with back-off, at most three checks in a row.
                    Err(CameraError::BadReply(words) | CameraError::DeviceFault(words))
                        if strikes + 1 < UNREADABLE_STRIKES =>
                    {
                        unreadable_strikes = strikes + 1;
                        back_off = true;
                        reachable_only(
                            passing_state(last_state),
                            false,
                            Some(StatusReason::with_words(ReasonKind::ServerError, words)),
                        )
                    }
                    Err(CameraError::BadReply(words) | CameraError::DeviceFault(words)) => {
                        tracing::warn!(camera = %camera.id, address = %camera.address, reply = %words, "camera answered the login unreadably three checks in a row; credentials held");
                        hold(
                            StatusReason::with_words(ReasonKind::UnreadableReplies, words),
                            &mut held_reason,
                            &mut rejected,
                        )
                    }
                    // Every other answer to a login refuses it: a wrong password, a clock the
                    // camera will not accept, or words the NVR cannot classify. Fail safe: hold the
                    // credentials until new ones are given.
                    Err(refusal) => {
                        tracing::warn!(camera = %camera.id, address = %camera.address, %refusal, "camera refused the stored credentials; they will not be used again until changed");
                        let reason = match refusal {
                            CameraError::CredentialsRejected | CameraError::CredentialsRequired => {
                                StatusReason::bare(ReasonKind::CredentialsRejected)
                            }
                            CameraError::ClockRejected(words) => {
                                StatusReason::with_words(ReasonKind::ClockRejected, words)
                            }
                            CameraError::Refused { reason, .. } => {
                                StatusReason::with_words(ReasonKind::Refused, reason)
                            }
                            other => {
                                StatusReason::with_words(ReasonKind::Refused, other.to_string())
                            }
                        };
                        hold(reason, &mut held_reason, &mut rejected)
                    }
                }
            }
            _ => {
                // Credentials held, unreadable, or locked: only ask whether the camera is there.
                let reachability = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = connector.driver(camera.protocol).reach(&camera.address) => r,
                };
                let (state, error) = if locked_now {
                    (CameraState::Locked, Some(lock_reason.clone()))
                } else {
                    (CameraState::NotCertified, Some(held_reason.clone()))
                };
                match reachability {
                    Ok(measured) => {
                        offset = measured;
                        Observation {
                            clock_offset_secs: Some(measured),
                            ..reachable_only(state, rejected, error)
                        }
                    }
                    Err(CameraError::Offline(detail)) => reachable_only(
                        CameraState::Offline,
                        rejected,
                        Some(StatusReason::with_words(ReasonKind::Offline, detail)),
                    ),
                    Err(_) => reachable_only(state, rejected, error),
                }
            }
        };
        wait = if observation.state == CameraState::Offline || back_off {
            let this_wait = backoff_wait;
            backoff_wait =
                (backoff_wait * 2).min(settings.offline_backoff_max.max(settings.period));
            this_wait
        } else {
            backoff_wait = settings.period;
            settings.period
        };
        last_state = observation.state;
        sink.observed(camera.id, observation).await;
    }
}

/// Where a camera stands after an answer that neither verified nor refuted its credentials: a
/// camera certified at the last check stays so; any other is not certified until a login succeeds.
fn passing_state(last_state: CameraState) -> CameraState {
    if last_state == CameraState::Online {
        CameraState::Online
    } else {
        CameraState::NotCertified
    }
}

fn reachable_only(
    state: CameraState,
    credentials_rejected: bool,
    error: Option<StatusReason>,
) -> Observation {
    Observation {
        state,
        credentials_rejected,
        error,
        clock_offset_secs: None,
        identity: None,
    }
}

/// Whether `answered` is another camera's serial number than `added`'s. Blank ones prove nothing;
/// one that holds the other (a short form some protocols give of a long one) is the same camera.
pub fn another_camera(added: &str, answered: &str) -> bool {
    let (added, answered) = (
        added.trim().to_ascii_uppercase(),
        answered.trim().to_ascii_uppercase(),
    );
    !added.is_empty()
        && !answered.is_empty()
        && !added.contains(&answered)
        && !answered.contains(&added)
}

#[cfg(test)]
mod serial_tests {
    #[test]
    fn another_serial_is_another_camera_but_a_short_form_is_not() {
        use super::another_camera;
        assert!(another_camera("VS0001000007", "8L00001PAG00007"));
        assert!(!another_camera("VS0001000007", "vs0001000007"));
        assert!(!another_camera(
            "DS-2CD2143G2-I20260101AAWRK00000001",
            "AAWRK00000001"
        ));
        assert!(!another_camera("", "8L00001PAG00007"));
        assert!(!another_camera("VS0001000007", " "));
    }
}
