//! Added cameras: adding one (by address or from the discovered list, only once its credentials
//! certify), removing it, and the rules that keep one camera from being added
//! twice. Each added camera gets a monitor (`camera::monitor`) that keeps its status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::camera::client::Certification;
use crate::camera::monitor::{self, MonitoredCamera, StatusSink};
use crate::model::{
    AddedCamera, CameraId, CameraState, CameraStatus, IdentityMatch, NvrEvent, compare_identities,
};
use crate::model::{AuditAction, Caller, camera_key, camera_label};
use crate::model::{Credentials, DeviceAddress, DeviceIdentity, Protocol};
use crate::store::{DuplicateOf, NewCamera, StoreError, Tx};

use super::audit::AuditNote;
use super::error::address_error;
use super::monitor::MonitorSink;
use super::{
    AddedEntry, ArgumentProblem, CredentialsAre, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, Nvr,
    NvrError, camera_error, lock,
};

/// The audit outcome of an installer's add.
const ADDED: &str = "added; its password works";

/// A request to add a camera by address.
#[derive(Clone)]
pub struct AddCamera {
    /// Host name or IP address.
    pub host: String,
    /// HTTP port of the device service (usually 80).
    pub port: u16,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for AddCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddCamera")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Checks a user name and password given for a camera.
pub fn check_credentials(username: &str, password: &str) -> Result<Credentials, NvrError> {
    let invalid = |field, problem| NvrError::InvalidArgument { field, problem };
    if username.trim().is_empty() {
        return Err(invalid("username", ArgumentProblem::Empty));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid(
            "username",
            ArgumentProblem::TooLong {
                max: MAX_USERNAME_CHARS,
            },
        ));
    }
    if username.chars().any(char::is_control) || username.trim() != username {
        return Err(invalid("username", ArgumentProblem::BadCharacters));
    }
    if password.is_empty() {
        return Err(invalid("password", ArgumentProblem::Empty));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            ArgumentProblem::TooLong {
                max: MAX_PASSWORD_CHARS,
            },
        ));
    }
    if password.chars().any(char::is_control) {
        return Err(invalid("password", ArgumentProblem::BadCharacters));
    }
    Ok(Credentials::new(username, password))
}

pub(super) fn duplicate_word(of: DuplicateOf) -> &'static str {
    match of {
        DuplicateOf::Address => "address",
        DuplicateOf::Serial => "serial number",
        DuplicateOf::EndpointRef => "endpoint",
        DuplicateOf::ActiveRecovery => "password recovery in progress",
        DuplicateOf::Channel => "channel",
    }
}

impl Nvr {
    /// How long until a Locked camera is tried again; None when it is not locked or the time is up.
    pub fn lock_time_left(&self, camera: &AddedCamera) -> Option<Duration> {
        if camera.status.state != CameraState::Locked {
            return None;
        }
        let lock_ends = camera.status.since + self.settings().monitor.locked_retry;
        lock_ends
            .duration_since(self.inner.clock.now())
            .ok()
            .filter(|left| !left.is_zero())
    }

    /// Every added camera, by id.
    pub fn added_cameras(&self) -> Vec<AddedCamera> {
        lock(&self.inner.added)
            .values()
            .map(|e| e.camera.clone())
            .collect()
    }

    /// Maps every added camera (by id) without copying the records.
    pub fn map_added_cameras<T>(&self, map: impl Fn(&AddedCamera) -> T) -> Vec<T> {
        lock(&self.inner.added)
            .values()
            .map(|e| map(&e.camera))
            .collect()
    }

    /// Reads one field of an added camera without copying the whole record; `None` when it is gone.
    pub fn with_added_camera<T>(
        &self,
        id: CameraId,
        read: impl FnOnce(&AddedCamera) -> T,
    ) -> Option<T> {
        lock(&self.inner.added).get(&id).map(|e| read(&e.camera))
    }

    /// How many added cameras stand in each state.
    pub fn status_counts(&self) -> BTreeMap<CameraState, usize> {
        let mut counts = BTreeMap::new();
        for entry in lock(&self.inner.added).values() {
            *counts.entry(entry.camera.status.state).or_insert(0) += 1;
        }
        counts
    }

    /// One added camera.
    pub fn added_camera(&self, id: CameraId) -> Result<AddedCamera, NvrError> {
        lock(&self.inner.added)
            .get(&id)
            .map(|e| e.camera.clone())
            .ok_or(NvrError::CameraNotFound(id))
    }

    /// Adds a camera by address: checks the input, verifies the credentials against the camera at once,
    /// and stores it only if they work. Bad input stores nothing.
    pub async fn add_camera(
        &self,
        request: AddCamera,
        caller: &Caller,
    ) -> Result<AddedCamera, NvrError> {
        let actor = self.acting_as(caller)?;
        let address = DeviceAddress::new(&request.host, request.port).map_err(address_error)?;
        let credentials = check_credentials(&request.username, &request.password)?;
        self.add_verified(
            address,
            None,
            Protocol::Onvif,
            credentials,
            &actor.to_string(),
            ADDED,
        )
        .await
    }

    /// Adds a device from the discovered list.
    pub async fn add_discovered(
        &self,
        key: &str,
        username: &str,
        password: &str,
        caller: &Caller,
    ) -> Result<AddedCamera, NvrError> {
        let actor = self.acting_as(caller)?;
        let device = self.discovered_device(key)?;
        if let Some(existing) = device.added_as {
            return Err(NvrError::Duplicate {
                existing,
                what: "device",
            });
        }
        if device.inactive {
            return Err(NvrError::CameraInactive);
        }
        let credentials = check_credentials(username, password)?;
        self.add_verified(
            device.address,
            Some(device.key),
            device.protocols.managing(),
            credentials,
            &actor.to_string(),
            ADDED,
        )
        .await
    }

    /// Adds several discovered devices with one user name and password: one login attempt each (a
    /// refused password is never retried), at most 16 at a time, every outcome in the order given.
    /// No keys means every discovered device that is active and not added yet.
    pub async fn add_discovered_many(
        &self,
        keys: &[String],
        username: &str,
        password: &str,
        caller: &Caller,
    ) -> Result<Vec<(String, Result<AddedCamera, NvrError>)>, NvrError> {
        self.acting_as(caller)?;
        let _command = self.begin_command()?;
        check_credentials(username, password)?;
        let keys: Vec<String> = if keys.is_empty() {
            let mut devices: Vec<_> = self
                .discovered_devices()
                .into_iter()
                .filter(|d| !d.inactive && d.added_as.is_none())
                .collect();
            devices.sort_by(|a, b| a.address.host.cmp(&b.address.host));
            devices.into_iter().map(|d| d.key).collect()
        } else {
            let mut seen = std::collections::BTreeSet::new();
            keys.iter().filter(|k| seen.insert(*k)).cloned().collect()
        };
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut tasks = tokio::task::JoinSet::new();
        for (order, key) in keys.into_iter().enumerate() {
            let nvr = self.clone();
            let (username, password, caller) =
                (username.to_owned(), password.to_owned(), caller.clone());
            let slots = slots.clone();
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let result = nvr
                    .add_discovered(&key, &username, &password, &caller)
                    .await;
                (order, key, result)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(outcome) = joined {
                outcomes.push(outcome);
            }
        }
        outcomes.sort_by_key(|(order, _, _)| *order);
        let added: Vec<CameraId> = outcomes
            .iter()
            .filter_map(|(_, _, result)| result.as_ref().ok().map(|c| c.id))
            .collect();
        let renumbered = self.channels_in_list_order(&added).await?;
        Ok(outcomes
            .into_iter()
            .map(|(_, key, result)| {
                let result = result.map(|camera| {
                    renumbered
                        .iter()
                        .find(|c| c.id == camera.id)
                        .cloned()
                        .unwrap_or(camera)
                });
                (key, result)
            })
            .collect())
    }

    /// Certifies `credentials` at `address` and stores the camera with its audit entry (by `actor`,
    /// as the log writes it, with `outcome`), in one transaction.
    pub(super) async fn add_verified(
        &self,
        address: DeviceAddress,
        endpoint_ref: Option<String>,
        protocol: Protocol,
        credentials: Credentials,
        actor: &str,
        outcome: &str,
    ) -> Result<AddedCamera, NvrError> {
        let _command = self.begin_command()?;
        if let Some(existing) = self.added_at_address(&address) {
            return Err(NvrError::Duplicate {
                existing,
                what: "address",
            });
        }
        // No login to a camera that could not be given a channel.
        let channels = self.settings().channels;
        if self
            .with_store(move |store| store.read(|tx| tx.free_channel(channels)))
            .await??
            .is_none()
        {
            return Err(NvrError::NoFreeChannel { channels });
        }
        let certification = self.certify(protocol, &address, &credentials).await?;
        let endpoint_ref =
            endpoint_ref.or_else(|| self.endpoint_for(&certification.identity, &address));
        let _commit = self.inner.commit.lock().await;
        let _command = self.begin_command()?;
        self.find_duplicate(&address, endpoint_ref.as_deref(), &certification.identity)?;
        let now = self.inner.clock.now();
        let status = CameraStatus::certified_since(now);
        let (id, channel) = {
            let stored_address = address.clone();
            let stored_endpoint = endpoint_ref.clone();
            let identity = certification.identity.clone();
            let credentials = credentials.clone();
            let status = status.clone();
            let offset = certification.clock_offset_secs;
            let note = AuditNote::by(
                actor,
                AuditAction::CameraAdded,
                &camera_label(&identity, &stored_address),
                outcome,
            );
            self.with_store(move |store| {
                store.write(|tx| {
                    let id = tx.insert_added_camera(&NewCamera {
                        address: &stored_address,
                        endpoint_ref: stored_endpoint.as_deref(),
                        identity: &identity,
                        credentials: &credentials,
                        status: &status,
                        clock_offset_secs: offset,
                        added_at: now,
                        channels,
                        protocol,
                    })?;
                    note.append(tx, now)?;
                    Ok(id)
                })
            })
            .await?
            .map_err(|e| match e {
                StoreError::Duplicate(DuplicateOf::ActiveRecovery) => {
                    let key = camera_key(
                        &certification.identity,
                        endpoint_ref.as_deref().unwrap_or_default(),
                    );
                    match self.active_flow_for(&key) {
                        Some(flow) => NvrError::RecoveryInProgress { flow },
                        None => NvrError::Storage(
                            "a password reset for this camera is in progress".into(),
                        ),
                    }
                }
                StoreError::Duplicate(of) => {
                    match self.find_duplicate(
                        &address,
                        endpoint_ref.as_deref(),
                        &certification.identity,
                    ) {
                        Err(duplicate) => duplicate,
                        Ok(()) => NvrError::Storage(format!(
                            "the registry already holds a camera with this {}",
                            duplicate_word(of)
                        )),
                    }
                }
                StoreError::NoFreeChannel(channels) => NvrError::NoFreeChannel { channels },
                other => other.into(),
            })?
        };
        let camera = AddedCamera {
            id,
            address,
            endpoint_ref,
            identity: certification.identity,
            username: credentials.username.clone(),
            status,
            clock_offset_secs: certification.clock_offset_secs,
            added_at: now,
            channel: Some(channel),
            name: String::new(),
            protocol,
        };
        tracing::info!(camera = %id, channel, address = %camera.address, model = %camera.identity.model, "camera added");
        self.install(
            camera.clone(),
            Some(credentials),
            self.settings().monitor.period,
            CredentialsAre::New,
        );
        self.emit(NvrEvent::CameraAdded {
            camera: camera.clone(),
        });
        self.announce_discovered_matching(&camera);
        self.set_clock_after_add(id);
        Ok(camera)
    }

    /// Removes an added camera, with its audit entry. Its monitor stops at once.
    pub async fn remove_camera(&self, id: CameraId, caller: &Caller) -> Result<(), NvrError> {
        let actor = self.acting_as(caller)?;
        let camera = self.added_camera(id)?;
        let note = AuditNote::new(
            &actor,
            AuditAction::CameraRemoved,
            &camera_label(&camera.identity, &camera.address),
            "removed",
        );
        let at = self.inner.clock.now();
        self.remove_camera_with(id, move |tx| note.append(tx, at).map(drop))
            .await
    }

    /// Removes an added camera, doing `also` (such as an audit entry) in the same transaction: if
    /// `also` fails, nothing is removed.
    pub(crate) async fn remove_camera_with<T: Send + 'static>(
        &self,
        id: CameraId,
        also: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, NvrError> {
        let _command = self.begin_command()?;
        let _commit = self.inner.commit.lock().await;
        let camera = self.added_camera(id)?;
        let removed = self
            .with_store(move |store| {
                store.write(|tx| {
                    if tx.remove_added_camera(id)? {
                        also(tx).map(Some)
                    } else {
                        Ok(None)
                    }
                })
            })
            .await??;
        if let Some(entry) = lock(&self.inner.added).remove(&id) {
            entry.monitor.cancel();
        }
        let Some(removed) = removed else {
            return Err(NvrError::CameraNotFound(id));
        };
        tracing::info!(camera = %id, address = %camera.address, "camera removed");
        self.emit(NvrEvent::CameraRemoved { id });
        self.announce_discovered_matching(&camera);
        Ok(removed)
    }

    pub(super) async fn certify(
        &self,
        protocol: Protocol,
        address: &DeviceAddress,
        credentials: &Credentials,
    ) -> Result<Certification, NvrError> {
        let result = tokio::select! {
            _ = self.inner.shutdown.cancelled() => return Err(NvrError::ShuttingDown),
            r = self.inner.connector.driver(protocol).certify(address, credentials) => r,
        };
        result.map_err(|error| {
            tracing::info!(address = %address, %error, "credentials not verified");
            camera_error(error, address)
        })
    }

    /// Puts a camera in the in-memory registry and (re)starts its monitor.
    pub(super) fn install(
        &self,
        camera: AddedCamera,
        credentials: Option<Credentials>,
        first_check_after: Duration,
        are: CredentialsAre,
    ) {
        let generation = self
            .inner
            .next_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cancel = self.inner.shutdown.child_token();
        let held = match are {
            CredentialsAre::Same => lock(&self.inner.added)
                .get(&camera.id)
                .map(|e| e.held.clone()),
            CredentialsAre::New => None,
        }
        .unwrap_or_default();
        let monitored = MonitoredCamera {
            id: camera.id,
            address: camera.address.clone(),
            protocol: camera.protocol,
            serial: camera.identity.serial.clone(),
            credentials: credentials.clone(),
            credentials_rejected: camera.status.credentials_rejected,
            last_error: camera.status.last_error.clone(),
            last_state: camera.status.state,
            locked_for: self.lock_time_left(&camera),
            clock_offset_secs: camera.clock_offset_secs,
            held: held.clone(),
        };
        let entry = AddedEntry {
            camera,
            credentials,
            generation,
            monitor: cancel.clone(),
            held,
        };
        if let Some(old) = lock(&self.inner.added).insert(monitored.id, entry) {
            old.monitor.cancel();
        }
        let sink: Arc<dyn StatusSink> = Arc::new(MonitorSink {
            nvr: self.downgrade(),
            generation,
        });
        self.inner.tasks.spawn(monitor::watch(
            monitored,
            self.inner.connector.clone(),
            self.settings().monitor.clone(),
            sink,
            first_check_after,
            cancel,
        ));
    }

    pub(super) fn added_at_address(&self, address: &DeviceAddress) -> Option<CameraId> {
        lock(&self.inner.added)
            .values()
            .find(|e| {
                e.camera.address.host == address.host && e.camera.address.port == address.port
            })
            .map(|e| e.camera.id)
    }

    /// An added camera that this one would duplicate, and what matched; or the camera whose serial
    /// number it claims with another MAC address (a conflict, refused with both named).
    pub(super) fn find_duplicate(
        &self,
        address: &DeviceAddress,
        endpoint_ref: Option<&str>,
        identity: &DeviceIdentity,
    ) -> Result<(), NvrError> {
        let added = lock(&self.inner.added);
        for e in added.values() {
            let c = &e.camera;
            if c.address.host == address.host && c.address.port == address.port {
                return Err(NvrError::Duplicate {
                    existing: c.id,
                    what: "address",
                });
            }
            if endpoint_ref.is_some() && c.endpoint_ref.as_deref() == endpoint_ref {
                return Err(NvrError::Duplicate {
                    existing: c.id,
                    what: "endpoint",
                });
            }
            match compare_identities(identity, &c.identity) {
                IdentityMatch::Same => {
                    return Err(NvrError::Duplicate {
                        existing: c.id,
                        what: "serial number",
                    });
                }
                IdentityMatch::Conflict => {
                    return Err(NvrError::SerialConflict {
                        existing: c.id,
                        address: c.address.to_string(),
                    });
                }
                IdentityMatch::Different | IdentityMatch::Unknown => {}
            }
        }
        Ok(())
    }

    /// The endpoint reference of a discovered device that is this camera, when one is known.
    pub(super) fn endpoint_for(
        &self,
        identity: &DeviceIdentity,
        address: &DeviceAddress,
    ) -> Option<String> {
        lock(&self.inner.discovered)
            .values()
            .find(|d| {
                d.address == *address
                    || (d.address.host == address.host
                        && compare_identities(&d.identity, identity) == IdentityMatch::Same)
            })
            .map(|d| d.key.clone())
    }
}
