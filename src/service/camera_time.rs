//! Keeping the cameras' clocks right: each added camera's clock is set in UTC from the recorder's (or
//! pointed at the recorder's NTP server) when it is added and on a schedule, as `[cameras] time_sync`
//! says; an installer may set one at once. The offset the monitor measures is shown with every camera,
//! and one past `clock_drift_limit_secs` is flagged.

use super::{Nvr, NvrError, lock};
use crate::config::TimeSync;
use crate::model::{AddedCamera, AuditAction, Caller, CameraId, NvrEvent};

/// Cameras whose clocks are set at once on a schedule.
const CLOCK_CONCURRENCY: usize = 8;

impl Nvr {
    /// Whether an added camera's clock is off by more than the limit the recorder allows.
    pub fn clock_drifted(&self, camera: &AddedCamera) -> bool {
        camera.clock_drifted(self.settings().camera_time.drift_limit)
    }

    /// Sets the camera's clock now, as `time_sync` says (NTP when that is chosen, else UTC from the
    /// recorder's clock, even when scheduled setting is off), and returns its offset measured after.
    pub async fn set_camera_clock(&self, id: CameraId, caller: &Caller) -> Result<i64, NvrError> {
        let actor = self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let reached = self.reach(&super::MaintainedCamera::Added(id)).await?;
        let result = self.set_clock_of(id, &reached).await;
        let outcome = match &result {
            Ok(offset) => format!("clock set; now {offset:+} s from the recorder's"),
            Err(error) => format!("failed: {error}"),
        };
        self.audit(&actor, AuditAction::ClockSet, &reached.label, &outcome)
            .await;
        result
    }

    async fn set_clock_of(
        &self,
        id: CameraId,
        reached: &super::maintenance::Reached,
    ) -> Result<i64, NvrError> {
        let set = match &self.settings().camera_time.sync {
            TimeSync::Ntp(server) => reached.session.use_ntp(server).await,
            TimeSync::Utc | TimeSync::Off => {
                reached.session.set_clock(self.inner.clock.now()).await
            }
        };
        if let Err(error) = set {
            return Err(self.maintenance_failed(reached, error).await);
        }
        let offset = reached
            .session
            .clock_offset()
            .await
            .map_err(|error| super::camera_error(error, &reached.address))?;
        self.keep_clock_offset(id, offset).await?;
        Ok(offset)
    }

    /// Stores a newly measured clock offset and announces it.
    async fn keep_clock_offset(&self, id: CameraId, offset: i64) -> Result<(), NvrError> {
        let _commit = self.inner.commit.lock().await;
        let status = self.added_camera(id)?.status;
        self.with_store(move |store| store.write(|tx| tx.update_status(id, &status, Some(offset))))
            .await??;
        {
            let mut added = lock(&self.inner.added);
            let entry = added.get_mut(&id).ok_or(NvrError::CameraNotFound(id))?;
            entry.camera.clock_offset_secs = offset;
        }
        // Only the clock changed: D-Bus signals ClockOffset and ClockDrift, not the status again.
        self.emit(NvrEvent::CameraClockChanged { id });
        Ok(())
    }

    /// Sets a newly added camera's clock, in the background, unless `time_sync` is off.
    pub(super) fn set_clock_after_add(&self, id: CameraId) {
        if self.settings().camera_time.sync == TimeSync::Off {
            return;
        }
        let nvr = self.downgrade();
        self.inner.tasks.spawn(async move {
            let Some(nvr) = nvr.upgrade() else { return };
            nvr.set_clock_quietly(id).await;
        });
    }

    /// Sets one certified camera's clock for the schedule: failures are logged, and a rejection holds
    /// the credentials as always.
    async fn set_clock_quietly(&self, id: CameraId) {
        let Ok(reached) = self.reach(&super::MaintainedCamera::Added(id)).await else {
            return;
        };
        match self.set_clock_of(id, &reached).await {
            Ok(offset) => {
                tracing::debug!(camera = %id, offset, "camera clock set");
            }
            // Not an installer's action, so not audited: a rejection shows in the camera's status.
            Err(error) => tracing::warn!(camera = %id, %error, "camera clock not set"),
        }
    }

    /// Sets every certified camera's clock every `time_sync_interval_secs`, unless `time_sync` is off.
    pub(super) fn start_clock_schedule(&self) {
        let nvr = self.downgrade();
        let shutdown = self.inner.shutdown.clone();
        self.inner.tasks.spawn(async move {
            loop {
                let interval = match nvr.upgrade() {
                    Some(nvr) => nvr.settings().camera_time.interval,
                    None => return,
                };
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                let Some(nvr) = nvr.upgrade() else { return };
                if nvr.settings().camera_time.sync == TimeSync::Off {
                    continue;
                }
                let certified: Vec<CameraId> = nvr
                    .added_cameras()
                    .into_iter()
                    .filter(|c| c.status.certified())
                    .map(|c| c.id)
                    .collect();
                let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(CLOCK_CONCURRENCY));
                let mut setting = tokio::task::JoinSet::new();
                for id in certified {
                    let nvr = nvr.clone();
                    let slots = slots.clone();
                    setting.spawn(async move {
                        let _slot = slots.acquire_owned().await;
                        nvr.set_clock_quietly(id).await;
                    });
                }
                drop(nvr);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = async { while setting.join_next().await.is_some() {} } => {}
                }
            }
        });
    }
}
