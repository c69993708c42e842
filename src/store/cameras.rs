//! The added-camera registry's SQL: load, insert, credentials, address, channel, name, status, removal.

use rusqlite::params;
use secrecy::SecretString;

use super::secret::camera_password;
use super::{NewCamera, StoreError, StoredCamera, Tx, duplicate_or};
use crate::clock::{from_unix_secs, unix_secs};
use crate::model::{AddedCamera, CameraId, CameraState, CameraStatus, ReasonKind, StatusReason};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity, Protocol};

/// The sealing context of a password on its way to a camera: bound to the camera and its user.
pub(super) fn pending_camera_password(id: CameraId, username: &str) -> String {
    format!("camera-pending-password/v1/{id}/{username}")
}

impl Tx<'_> {
    /// Every added camera, by id.
    pub fn load_added_cameras(&self) -> Result<Vec<StoredCamera>, StoreError> {
        let mut statement = self.tx.prepare(
            "SELECT id, host, port, service_path, endpoint_ref, manufacturer, model, firmware, serial, mac,
                    username, password_sealed, credentials_rejected, state, state_since, last_error_words,
                    last_error_at, clock_offset_secs, added_at, last_error_kind, channel, name, protocol,
                    pending_password_sealed
             FROM added_camera ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                DeviceAddress {
                    host: row.get(1)?,
                    port: row.get(2)?,
                    path: row.get(3)?,
                },
                row.get::<_, Option<String>>(4)?,
                DeviceIdentity {
                    manufacturer: row.get(5)?,
                    model: row.get(6)?,
                    firmware: row.get(7)?,
                    serial: row.get(8)?,
                    mac: row.get(9)?,
                },
                row.get::<_, String>(10)?,
                row.get::<_, Vec<u8>>(11)?,
                row.get::<_, bool>(12)?,
                row.get::<_, String>(13)?,
                row.get::<_, i64>(14)?,
                row.get::<_, Option<String>>(15)?,
                row.get::<_, Option<i64>>(16)?,
                row.get::<_, i64>(17)?,
                row.get::<_, i64>(18)?,
                row.get::<_, Option<String>>(19)?,
                row.get::<_, Option<u16>>(20)?,
                row.get::<_, String>(21)?,
                row.get::<_, String>(22)?,
                row.get::<_, Option<Vec<u8>>>(23)?,
            ))
        })?;
        let mut cameras = Vec::new();
        for row in rows {
            let (
                id,
                address,
                endpoint_ref,
                identity,
                username,
                sealed,
                credentials_rejected,
                state,
                state_since,
                last_error_words,
                last_error_at,
                clock_offset_secs,
                added_at,
                last_error_kind,
                channel,
                name,
                protocol,
                pending,
            ) = row?;
            let protocol = Protocol::parse(&protocol).unwrap_or_else(|| {
                tracing::warn!(
                    camera = id,
                    protocol,
                    "unknown protocol in the registry; ONVIF assumed"
                );
                Protocol::Onvif
            });
            let last_error = last_error_kind.and_then(|kind| {
                let reason = ReasonKind::parse(&kind).map(|kind| {
                    StatusReason::with_words(kind, last_error_words.unwrap_or_default())
                });
                if reason.is_none() {
                    tracing::warn!(
                        camera = id,
                        kind,
                        "unknown last error kind in the registry; ignored"
                    );
                }
                reason
            });
            let credentials = match self.sealer.unseal(&camera_password(&username), &sealed) {
                Ok(password) => Some(Credentials {
                    username: username.clone(),
                    password,
                }),
                Err(_) => {
                    tracing::warn!(
                        camera = id,
                        "stored password does not decrypt with this key; new credentials are needed"
                    );
                    None
                }
            };
            let pending_password = pending.and_then(|sealed| {
                self.sealer
                    .unseal(&pending_camera_password(CameraId(id), &username), &sealed)
                    .ok()
            });
            cameras.push(StoredCamera {
                camera: AddedCamera {
                    id: CameraId(id),
                    address,
                    endpoint_ref,
                    identity,
                    username,
                    status: CameraStatus {
                        state: CameraState::parse(&state).unwrap_or(CameraState::Offline),
                        credentials_rejected,
                        last_error,
                        last_error_at: last_error_at.map(from_unix_secs),
                        since: from_unix_secs(state_since),
                    },
                    clock_offset_secs,
                    added_at: from_unix_secs(added_at),
                    channel,
                    name,
                    protocol,
                },
                credentials,
                pending_password,
            });
        }
        Ok(cameras)
    }

    /// Adds a camera on the lowest free channel up to `new.channels`, and returns its id and channel.
    pub fn insert_added_camera(&self, new: &NewCamera<'_>) -> Result<(CameraId, u16), StoreError> {
        let channel = self
            .free_channel(new.channels)?
            .ok_or(StoreError::NoFreeChannel(new.channels))?;
        let sealed = self.sealer.seal(
            &camera_password(&new.credentials.username),
            &new.credentials.password,
        );
        let result = self.tx.execute(
            "INSERT INTO added_camera (host, port, service_path, endpoint_ref, manufacturer, model, firmware,
                 serial, mac, username, password_sealed, credentials_rejected, state, state_since, last_error_words,
                 last_error_at, clock_offset_secs, added_at, last_error_kind, channel, protocol)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
            params![
                new.address.host,
                new.address.port,
                new.address.path,
                new.endpoint_ref,
                new.identity.manufacturer,
                new.identity.model,
                new.identity.firmware,
                new.identity.serial,
                new.identity.mac,
                new.credentials.username,
                sealed,
                new.status.credentials_rejected,
                new.status.state.as_str(),
                unix_secs(new.status.since),
                words_of(new.status),
                new.status.last_error_at.map(unix_secs),
                new.clock_offset_secs,
                unix_secs(new.added_at),
                kind_of(new.status),
                channel,
                new.protocol.as_str(),
            ],
        );
        match result {
            Ok(_) => Ok((CameraId(self.tx.last_insert_rowid()), channel)),
            Err(error) => Err(duplicate_or(error)),
        }
    }

    /// Replaces a camera's credentials and clears the rejected mark, with the identity and status
    /// that the new credentials just earned. One transaction.
    pub fn update_credentials(
        &self,
        id: CameraId,
        credentials: &Credentials,
        identity: &DeviceIdentity,
        status: &CameraStatus,
        clock_offset_secs: i64,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(
            &camera_password(&credentials.username),
            &credentials.password,
        );
        let changed = self
            .tx
            .execute(
                "UPDATE added_camera SET username = ?2, password_sealed = ?3, manufacturer = ?4, model = ?5,
                     firmware = ?6, serial = ?7, mac = ?8, credentials_rejected = ?9, state = ?10,
                     state_since = ?11, last_error_words = ?12, last_error_at = ?13, clock_offset_secs = ?14,
                     last_error_kind = ?15, pending_password_sealed = NULL
                 WHERE id = ?1",
                params![
                    id.0,
                    credentials.username,
                    sealed,
                    identity.manufacturer,
                    identity.model,
                    identity.firmware,
                    identity.serial,
                    identity.mac,
                    status.credentials_rejected,
                    status.state.as_str(),
                    unix_secs(status.since),
                    words_of(status),
                    status.last_error_at.map(unix_secs),
                    clock_offset_secs,
                    kind_of(status),
                ],
            )
            .map_err(duplicate_or)?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Seals `password` as the one on its way to camera `id` for `username` (before the camera is
    /// told), or with `None` forgets it (the camera refused it). Storing the camera's credentials
    /// forgets it too.
    pub fn set_pending_password(
        &self,
        id: CameraId,
        username: &str,
        password: Option<&SecretString>,
    ) -> Result<(), StoreError> {
        let sealed = password.map(|password| {
            self.sealer
                .seal(&pending_camera_password(id, username), password)
        });
        let changed = self.tx.execute(
            "UPDATE added_camera SET pending_password_sealed = ?2 WHERE id = ?1",
            params![id.0, sealed],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// The protocol a camera is managed with, after credentials certified in another (a camera
    /// replaced at its address by one of another make, or one whose vendor protocol was seen since).
    pub fn set_protocol(&self, id: CameraId, protocol: Protocol) -> Result<(), StoreError> {
        let changed = self.tx.execute(
            "UPDATE added_camera SET protocol = ?2 WHERE id = ?1",
            params![id.0, protocol.as_str()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// The lowest channel up to `channels` no camera holds, if any.
    pub fn free_channel(&self, channels: u16) -> Result<Option<u16>, StoreError> {
        let mut statement = self.tx.prepare(
            "SELECT channel FROM added_camera WHERE channel IS NOT NULL ORDER BY channel",
        )?;
        let taken: Vec<u16> = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok((1..=channels).find(|c| taken.binary_search(c).is_err()))
    }

    /// Moves a camera to another channel; another camera there is a `DuplicateOf::Channel`.
    pub fn set_camera_channel(&self, id: CameraId, channel: u16) -> Result<(), StoreError> {
        let changed = self
            .tx
            .execute(
                "UPDATE added_camera SET channel = ?2 WHERE id = ?1",
                params![id.0, channel],
            )
            .map_err(duplicate_or)?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Gives cameras the channels listed, in one step (a swap among them never meets the one camera
    /// per channel rule half done).
    pub fn assign_channels(&self, channels: &[(CameraId, u16)]) -> Result<(), StoreError> {
        for (id, _) in channels {
            self.tx.execute(
                "UPDATE added_camera SET channel = NULL WHERE id = ?1",
                params![id.0],
            )?;
        }
        for (id, channel) in channels {
            self.set_camera_channel(*id, *channel)?;
        }
        Ok(())
    }

    /// Names a camera (empty: the default name).
    pub fn set_camera_name(&self, id: CameraId, name: &str) -> Result<(), StoreError> {
        let changed = self.tx.execute(
            "UPDATE added_camera SET name = ?2 WHERE id = ?1",
            params![id.0, name],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Moves a camera to a new device service address (it was given a new IP address, or DHCP gave it
    /// one); another added camera already there is a `DuplicateOf::Address`.
    pub fn set_camera_address(
        &self,
        id: CameraId,
        address: &DeviceAddress,
    ) -> Result<(), StoreError> {
        let changed = self
            .tx
            .execute(
                "UPDATE added_camera SET host = ?2, port = ?3, service_path = ?4 WHERE id = ?1",
                params![id.0, address.host, address.port, address.path],
            )
            .map_err(duplicate_or)?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Records a camera's new status (and, when known, its clock offset).
    pub fn update_status(
        &self,
        id: CameraId,
        status: &CameraStatus,
        clock_offset_secs: Option<i64>,
    ) -> Result<(), StoreError> {
        let changed = self.tx.execute(
            "UPDATE added_camera SET credentials_rejected = ?2, state = ?3, state_since = ?4,
                 last_error_words = ?5, last_error_at = ?6, clock_offset_secs = coalesce(?7, clock_offset_secs),
                 last_error_kind = ?8
             WHERE id = ?1",
            params![
                id.0,
                status.credentials_rejected,
                status.state.as_str(),
                unix_secs(status.since),
                words_of(status),
                status.last_error_at.map(unix_secs),
                clock_offset_secs,
                kind_of(status),
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(id));
        }
        Ok(())
    }

    /// Removes a camera. Says whether it was there.
    pub fn remove_added_camera(&self, id: CameraId) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .execute("DELETE FROM added_camera WHERE id = ?1", params![id.0])?
            > 0)
    }
}

fn kind_of(status: &CameraStatus) -> Option<&'static str> {
    status
        .last_error
        .as_ref()
        .map(|reason| reason.kind.as_str())
}

fn words_of(status: &CameraStatus) -> Option<&str> {
    status
        .last_error
        .as_ref()
        .map(|reason| reason.words.as_str())
}

/// Schema 9's Rust part: the cameras added so far take channels 1, 2, ... in the order they were
/// added; past 256 they have none.
pub(super) fn channels_in_order_added(
    tx: &rusqlite::Transaction<'_>,
    _sealer: &super::secret::Sealer,
) -> Result<(), StoreError> {
    let ids: Vec<i64> = {
        let mut statement = tx.prepare("SELECT id FROM added_camera ORDER BY id LIMIT 256")?;
        statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    for (channel, id) in (1u16..).zip(ids) {
        tx.execute(
            "UPDATE added_camera SET channel = ?2 WHERE id = ?1",
            params![id, channel],
        )?;
    }
    Ok(())
}

/// Schema 8's Rust part: reads each English sentence earlier builds stored as a camera's last error
/// into a reason kind and the words inside it. A sentence no build wrote keeps its text as the words
/// of a refusal (a held camera) or of a server error, so nothing is lost.
pub(super) fn reasons_from_sentences(
    tx: &rusqlite::Transaction<'_>,
    _sealer: &super::secret::Sealer,
) -> Result<(), StoreError> {
    let rows: Vec<(i64, String, bool)> = {
        let mut statement = tx.prepare(
            "SELECT id, last_error_words, credentials_rejected FROM added_camera
             WHERE last_error_words IS NOT NULL",
        )?;
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<_, _>>()?
    };
    for (id, sentence, rejected) in rows {
        let reason = reason_from_sentence(&sentence, rejected);
        tx.execute(
            "UPDATE added_camera SET last_error_kind = ?2, last_error_words = ?3 WHERE id = ?1",
            params![id, reason.kind.as_str(), reason.words],
        )?;
    }
    Ok(())
}

/// The text between `open` and the last `close` after it, when `sentence` starts with `open`.
fn inside<'s>(sentence: &'s str, open: &str, close: &str) -> Option<&'s str> {
    let rest = sentence.strip_prefix(open)?;
    rest.rfind(close).map(|end| &rest[..end])
}

fn reason_from_sentence(sentence: &str, rejected: bool) -> StatusReason {
    use ReasonKind as K;
    let bare = |kind| StatusReason::bare(kind);
    let words = |kind, text: &str| StatusReason::with_words(kind, text);
    if sentence.starts_with("The camera rejected the stored user name or password") {
        bare(K::CredentialsRejected)
    } else if sentence.starts_with("The stored password cannot be read") {
        bare(K::PasswordUnreadable)
    } else if sentence.contains("again at the first try after the lock ended") {
        bare(K::LockedAgain)
    } else if sentence.contains("The NVR waits and will not retry the password") {
        bare(K::Locked)
    } else if sentence.starts_with("The camera took the new password but did not confirm it") {
        bare(K::PasswordUnconfirmed)
    } else if let Some(detail) = inside(sentence, "No answer from the camera (", "). Check") {
        words(K::Offline, detail)
    } else if let Some(detail) = inside(
        sentence,
        "The camera answered with a server error (",
        "). The NVR",
    ) {
        words(K::ServerError, detail)
    } else if let Some(detail) = inside(
        sentence,
        "The camera refused the login because its clock is off (",
        "). Set",
    ) {
        words(K::ClockRejected, detail)
    } else if let Some(detail) = inside(
        sentence,
        "The camera answered the login with something the NVR cannot read, three checks in a row (",
        "). The NVR",
    ) {
        words(K::UnreadableReplies, detail)
    } else if let Some(detail) = inside(
        sentence,
        "The camera refused the stored credentials: \"",
        "\". The NVR",
    ) {
        words(K::Refused, detail)
    } else if rejected {
        words(K::Refused, sentence)
    } else {
        words(K::ServerError, sentence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_earlier_builds_stored_reads_back_as_its_kind_and_words() {
        use ReasonKind as K;
        // The sentences as the monitor wrote them before schema 8.
        let earlier = [
            (
                "The camera rejected the stored user name or password. Edit the credentials, or use Forget Password in Discovered Devices.",
                true,
                K::CredentialsRejected,
                "",
            ),
            (
                "The stored password cannot be read (the NVR's key file changed). Enter the credentials again.",
                true,
                K::PasswordUnreadable,
                "",
            ),
            (
                "The camera has locked this user after failed logins; it unlocks in about 5 min. The NVR waits and will not retry the password until then.",
                false,
                K::Locked,
                "",
            ),
            (
                "The camera has locked this user after failed logins, again at the first try after the lock ended. The NVR stopped using the password so the lock cannot go on; edit the credentials or use Forget Password.",
                true,
                K::LockedAgain,
                "",
            ),
            (
                "No answer from the camera (connection refused). Check its power and network cable.",
                false,
                K::Offline,
                "connection refused",
            ),
            (
                "The camera answered with a server error (HTTP 503). The NVR checks again shortly.",
                false,
                K::ServerError,
                "HTTP 503",
            ),
            (
                "The camera refused the login because its clock is off (Timestamp (too) old). Set the camera's date and time or turn on NTP, then edit the credentials to try again. The NVR will not retry them until then.",
                true,
                K::ClockRejected,
                "Timestamp (too) old",
            ),
            (
                "The camera answered the login with something the NVR cannot read, three checks in a row (the camera sent a reply that could not be read: <html>). The NVR stopped using the password to be safe; edit the credentials to try again.",
                true,
                K::UnreadableReplies,
                "the camera sent a reply that could not be read: <html>",
            ),
            (
                "The camera refused the stored credentials: \"Sender not allowed\". The NVR will not retry them until they are edited, so the camera cannot lock it out.",
                true,
                K::Refused,
                "Sender not allowed",
            ),
            (
                "The camera took the new password but did not confirm it yet. The NVR checks again shortly.",
                false,
                K::PasswordUnconfirmed,
                "",
            ),
            (
                "Something no build wrote",
                true,
                K::Refused,
                "Something no build wrote",
            ),
            (
                "Something no build wrote",
                false,
                K::ServerError,
                "Something no build wrote",
            ),
        ];
        for (sentence, rejected, kind, words) in earlier {
            assert_eq!(
                reason_from_sentence(sentence, rejected),
                StatusReason::with_words(kind, words),
                "{sentence}"
            );
        }
    }
}
