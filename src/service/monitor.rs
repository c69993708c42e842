//! Where the camera monitors report: a result is applied only if the monitor that made it still owns the
//! camera (generation check), stored before it is announced, and logged as a status change only when the
//! state changed.

use async_trait::async_trait;

use crate::camera::monitor::{Observation, StatusSink};
use crate::model::DeviceIdentity;
use crate::model::{CameraId, CameraState, CameraStatus, NvrEvent};
use crate::store::StoreError;

use super::{Nvr, WeakNvr, lock};

/// Where one monitor task reports.
pub(super) struct MonitorSink {
    /// The service, without keeping it alive.
    pub(super) nvr: WeakNvr,
    /// The monitor's generation: a result from an older monitor is dropped.
    pub(super) generation: u64,
}

#[async_trait]
impl StatusSink for MonitorSink {
    async fn observed(&self, id: CameraId, observation: Observation) {
        let Some(nvr) = self.nvr.upgrade() else {
            return;
        };
        let offset = observation.clock_offset_secs;
        // Under the commit lock, new credentials cannot be stored between the generation check and
        // this write, so an observation made with the old ones never lands over them.
        let _commit = nvr.inner.commit.lock().await;
        let Some(status) = nvr.on_observation(id, self.generation, observation) else {
            return;
        };
        let stored_status = status.clone();
        let saved = nvr
            .with_store(move |store| store.write(|tx| tx.update_status(id, &stored_status, offset)))
            .await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(StoreError::NotFound(_))) => return,
            // Stored before announced: a status that was not stored is neither kept nor announced;
            // the next check tries again.
            Ok(Err(error)) => {
                tracing::error!(camera = %id, %error, "camera status not saved");
                return;
            }
            Err(error) => {
                tracing::error!(camera = %id, %error, "camera status not saved");
                return;
            }
        }
        if nvr.set_observed_status(id, self.generation, &status) {
            nvr.emit(NvrEvent::CameraStatusChanged { id, status });
        }
    }
}

impl Nvr {
    /// Applies a monitor result: stores and announces a status change, keeps the clock offset current.
    pub(super) fn on_observation(
        &self,
        id: CameraId,
        generation: u64,
        observation: Observation,
    ) -> Option<CameraStatus> {
        let now = self.inner.clock.now();
        let mut added = lock(&self.inner.added);
        let entry = added.get_mut(&id).filter(|e| e.generation == generation)?;
        if let Some(offset) = observation.clock_offset_secs {
            entry.camera.clock_offset_secs = offset;
        }
        if let Some(identity) = observation.identity {
            entry.camera.identity = DeviceIdentity {
                mac: identity.mac.or(entry.camera.identity.mac.take()),
                ..identity
            };
        }
        let old = &entry.camera.status;
        let changed = old.state != observation.state
            || old.last_error != observation.error
            || old.credentials_rejected != observation.credentials_rejected;
        if !changed {
            return None;
        }
        let status = CameraStatus {
            state: observation.state,
            credentials_rejected: observation.credentials_rejected,
            last_error_at: match &observation.error {
                Some(_) => Some(now),
                None => old.last_error_at,
            },
            last_error: observation.error.or_else(|| {
                // Keep the last error on record after recovery; it says what happened.
                if observation.state == CameraState::Online {
                    old.last_error.clone()
                } else {
                    None
                }
            }),
            since: if old.state == observation.state {
                old.since
            } else {
                now
            },
        };
        if status == *old {
            return None;
        }
        Some(status)
    }

    /// Puts a status that was just stored into memory, if the same monitor still owns the camera.
    pub(super) fn set_observed_status(
        &self,
        id: CameraId,
        generation: u64,
        status: &CameraStatus,
    ) -> bool {
        let mut added = lock(&self.inner.added);
        let Some(entry) = added.get_mut(&id).filter(|e| e.generation == generation) else {
            return false;
        };
        if entry.camera.status.state == status.state {
            tracing::debug!(
                camera = %id,
                address = %entry.camera.address,
                state = status.state.as_str(),
                reason = status.last_error.as_ref().map_or("", |r| r.kind.as_str()),
                words = status.last_error.as_ref().map_or("", |r| r.words.as_str()),
                "camera check reported"
            );
        } else {
            tracing::info!(
                camera = %id,
                address = %entry.camera.address,
                from = entry.camera.status.state.as_str(),
                to = status.state.as_str(),
                "camera status changed"
            );
        }
        entry.camera.status = status.clone();
        true
    }
}
