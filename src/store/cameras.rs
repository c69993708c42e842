//! The added-camera registry's SQL: load, insert, credentials, status, removal.

use rusqlite::params;

use super::secret::camera_password;
use super::{NewCamera, StoreError, StoredCamera, Tx, duplicate_or};
use crate::clock::{from_unix_secs, unix_secs};
use crate::model::{AddedCamera, CameraId, CameraState, CameraStatus};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity};

impl Tx<'_> {
    /// Every added camera, by id.
    pub fn load_added_cameras(&self) -> Result<Vec<StoredCamera>, StoreError> {
        let mut statement = self.tx.prepare(
            "SELECT id, host, port, service_path, endpoint_ref, manufacturer, model, firmware, serial, mac,
                    username, password_sealed, credentials_rejected, state, state_since, last_error,
                    last_error_at, clock_offset_secs, added_at
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
                last_error,
                last_error_at,
                clock_offset_secs,
                added_at,
            ) = row?;
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
                },
                credentials,
            });
        }
        Ok(cameras)
    }

    /// Adds a camera in one transaction and returns its id.
    pub fn insert_added_camera(&self, new: &NewCamera<'_>) -> Result<CameraId, StoreError> {
        let sealed = self.sealer.seal(
            &camera_password(&new.credentials.username),
            &new.credentials.password,
        );
        let result = self.tx.execute(
            "INSERT INTO added_camera (host, port, service_path, endpoint_ref, manufacturer, model, firmware,
                 serial, mac, username, password_sealed, credentials_rejected, state, state_since, last_error,
                 last_error_at, clock_offset_secs, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
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
                new.status.last_error,
                new.status.last_error_at.map(unix_secs),
                new.clock_offset_secs,
                unix_secs(new.added_at),
            ],
        );
        match result {
            Ok(_) => Ok(CameraId(self.tx.last_insert_rowid())),
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
                     state_since = ?11, last_error = ?12, last_error_at = ?13, clock_offset_secs = ?14
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
                    status.last_error,
                    status.last_error_at.map(unix_secs),
                    clock_offset_secs,
                ],
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
            "UPDATE added_camera SET credentials_rejected = ?2, state = ?3, state_since = ?4, last_error = ?5,
                 last_error_at = ?6, clock_offset_secs = coalesce(?7, clock_offset_secs)
             WHERE id = ?1",
            params![
                id.0,
                status.credentials_rejected,
                status.state.as_str(),
                unix_secs(status.since),
                status.last_error,
                status.last_error_at.map(unix_secs),
                clock_offset_secs,
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
