//! An added camera's place and name on the recorder: its channel (D1, D2, ...; one camera per
//! channel, up to the recorder's channel count) and the name the installer gives it. Neither asks
//! the camera anything; both are audited with who changed them.

use super::audit::AuditNote;
use super::{ArgumentProblem, Nvr, NvrError, lock};
use crate::model::{AddedCamera, AuditAction, Caller, CameraId, NvrEvent, camera_label};
use crate::store::{DuplicateOf, StoreError};

/// The longest name a camera may be given, in characters.
pub const MAX_CAMERA_NAME_CHARS: usize = 32;

impl Nvr {
    /// The recorder's channel count.
    pub fn channel_count(&self) -> u16 {
        self.settings().channels
    }

    /// The channels camera `id` may be on: its own first, then every free one up to the channel count.
    pub fn channels_open_to(&self, id: CameraId) -> Vec<u16> {
        let cameras = self.added_cameras();
        let own = cameras.iter().find(|c| c.id == id).and_then(|c| c.channel);
        let taken: Vec<u16> = cameras
            .iter()
            .filter(|c| c.id != id)
            .filter_map(|c| c.channel)
            .collect();
        own.into_iter()
            .chain((1..=self.channel_count()).filter(|c| Some(*c) != own && !taken.contains(c)))
            .collect()
    }

    /// Moves an added camera to `channel` (1 to the recorder's channel count), which must be free.
    pub async fn set_camera_channel(
        &self,
        id: CameraId,
        channel: u16,
        caller: &Caller,
    ) -> Result<AddedCamera, NvrError> {
        let actor = self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let channels = self.settings().channels;
        if channel == 0 || channel > channels {
            return Err(NvrError::InvalidArgument {
                field: "channel",
                problem: ArgumentProblem::Other(format!("must be from 1 to {channels}")),
            });
        }
        let _commit = self.inner.commit.lock().await;
        let camera = self.added_camera(id)?;
        if camera.channel == Some(channel) {
            return Ok(camera);
        }
        if let Some(holder) = self
            .added_cameras()
            .into_iter()
            .find(|c| c.channel == Some(channel))
        {
            return Err(NvrError::ChannelTaken {
                channel,
                holder: holder.id,
            });
        }
        let note = AuditNote::new(
            &actor,
            AuditAction::ChannelMoved,
            &camera_label(&camera.identity, &camera.address),
            &format!("moved from {} to D{channel}", camera.channel_label()),
        );
        self.write_audited(Some(note), move |tx| tx.set_camera_channel(id, channel))
            .await?
            .map_err(|error| match error {
                StoreError::Duplicate(DuplicateOf::Channel) => NvrError::ChannelTaken {
                    channel,
                    holder: id,
                },
                other => other.into(),
            })?;
        self.update_added(id, |camera| camera.channel = Some(channel))
    }

    /// Names an added camera; an empty name gives it back its default (model and the end of its
    /// serial number).
    pub async fn set_camera_name(
        &self,
        id: CameraId,
        name: &str,
        caller: &Caller,
    ) -> Result<AddedCamera, NvrError> {
        let actor = self.acting_as(caller)?;
        let _command = self.begin_command()?;
        let name = name.trim().to_owned();
        if name.chars().count() > MAX_CAMERA_NAME_CHARS {
            return Err(NvrError::InvalidArgument {
                field: "name",
                problem: ArgumentProblem::TooLong {
                    max: MAX_CAMERA_NAME_CHARS,
                },
            });
        }
        if name.chars().any(char::is_control) {
            return Err(NvrError::InvalidArgument {
                field: "name",
                problem: ArgumentProblem::BadCharacters,
            });
        }
        let _commit = self.inner.commit.lock().await;
        let camera = self.added_camera(id)?;
        let note = AuditNote::new(
            &actor,
            AuditAction::CameraRenamed,
            &camera_label(&camera.identity, &camera.address),
            &if name.is_empty() {
                "named by default".to_owned()
            } else {
                format!("named \"{name}\"")
            },
        );
        let stored = name.clone();
        self.write_audited(Some(note), move |tx| tx.set_camera_name(id, &stored))
            .await??;
        self.update_added(id, |camera| camera.name = name)
    }

    /// Cameras added together take their channels in the order they were listed, not the order they
    /// answered: the channels they took, lowest first, go to them in list order.
    pub(super) async fn channels_in_list_order(
        &self,
        added: &[CameraId],
    ) -> Result<Vec<AddedCamera>, NvrError> {
        let _commit = self.inner.commit.lock().await;
        let cameras: Vec<AddedCamera> = added
            .iter()
            .filter_map(|id| self.added_camera(*id).ok())
            .collect();
        let mut channels: Vec<u16> = cameras.iter().filter_map(|c| c.channel).collect();
        channels.sort_unstable();
        if channels.len() != cameras.len()
            || cameras
                .iter()
                .zip(&channels)
                .all(|(camera, channel)| camera.channel == Some(*channel))
        {
            return Ok(cameras);
        }
        let assignment: Vec<(CameraId, u16)> = cameras
            .iter()
            .map(|c| c.id)
            .zip(channels.iter().copied())
            .collect();
        let stored = assignment.clone();
        self.with_store(move |store| store.write(|tx| tx.assign_channels(&stored)))
            .await??;
        assignment
            .into_iter()
            .map(|(id, channel)| self.update_added(id, |c| c.channel = Some(channel)))
            .collect()
    }

    /// Changes an added camera in memory as the registry now has it, and announces it.
    fn update_added(
        &self,
        id: CameraId,
        change: impl FnOnce(&mut AddedCamera),
    ) -> Result<AddedCamera, NvrError> {
        let camera = {
            let mut added = lock(&self.inner.added);
            let entry = added.get_mut(&id).ok_or(NvrError::CameraNotFound(id))?;
            change(&mut entry.camera);
            entry.camera.clone()
        };
        self.emit(NvrEvent::CameraUpdated {
            camera: camera.clone(),
        });
        Ok(camera)
    }
}
