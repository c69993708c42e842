//! The D-Bus face: `org.vigil.Nvr1` on the system bus (or a development bus), a thin adapter over the
//! service API. One module per object: [`manager`] (`/org/vigil/Nvr1`, with the ObjectManager),
//! [`devices`] (discovered cameras' maintenance, on the same path), [`camera`]
//! (`/org/vigil/Nvr1/camera/<id>`), [`recovery`] (`/org/vigil/Nvr1/recovery/<id>`).
//! Every call is authorized ([`auth`]) from the caller's credentials as the bus reports them, and
//! refused with a named error ([`error`]). No secret is ever a property, a signal or error text.
//!
//! A task follows the service's events and keeps the object tree and its PropertiesChanged signals in
//! step; object properties are read from the service when asked, never copied.

pub mod auth;
pub mod camera;
pub mod devices;
pub mod error;
pub mod manager;
pub mod proxy;
pub mod read_only;
pub mod recovery;
pub mod tree;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use zbus::OwnedObjectPath;

use crate::clock::unix_secs;
use crate::config::BusChoice;
use crate::dbus::read_only::ReadOnly;
use crate::model::RecoveryId;
use crate::model::{AddedCamera, CameraId, DiscoveredDevice, NvrEvent};
use crate::service::Nvr;
use auth::{AccessGroups, Authorizer};

/// The well-known bus name.
pub const BUS_NAME: &str = "org.vigil.Nvr1";
/// The manager object's path.
pub const MANAGER_PATH: &str = "/org/vigil/Nvr1";
/// Calls handled at once; more wait their turn, so a flood cannot crowd out the camera monitors.
const CALLS_IN_FLIGHT: usize = 32;

/// What every object shares: the service, the authorizer and the call gate.
#[derive(Clone)]
pub struct Shared {
    /// The service API.
    pub nvr: Nvr,
    /// Who may call.
    pub auth: Arc<Authorizer>,
    /// Bounds calls in flight.
    pub gate: Arc<Semaphore>,
}

/// The camera and flow objects this face has registered. Kept by the task that follows the service, so
/// it knows what to take down after missed events without asking the bus.
#[derive(Debug, Default)]
struct Registered {
    cameras: BTreeSet<CameraId>,
    flows: BTreeSet<RecoveryId>,
}

/// A running D-Bus face.
pub struct DbusService {
    connection: zbus::Connection,
    tree: tokio::task::JoinHandle<()>,
}

impl DbusService {
    /// The bus connection.
    pub fn connection(&self) -> &zbus::Connection {
        &self.connection
    }

    /// Releases the name and closes the connection. (Not a graceful shutdown: the objects hold
    /// clones of the connection, so waiting for every clone to drop would never end.)
    pub async fn stop(self) {
        self.tree.abort();
        let _ = self.tree.await;
        let _ = self.connection.release_name(BUS_NAME).await;
        let _ = self.connection.close().await;
    }
}

/// Object path of an added camera.
pub fn camera_path(id: CameraId) -> OwnedObjectPath {
    OwnedObjectPath::try_from(format!("{MANAGER_PATH}/camera/{}", id.0))
        .unwrap_or_else(|_| OwnedObjectPath::try_from(MANAGER_PATH).unwrap_or_default())
}

/// Puts an added camera's object on the bus now, so the path a method returns works at once: the
/// task that follows the service's events may not have got to it yet. A second add is a no-op.
pub(crate) async fn publish_camera(server: &zbus::ObjectServer, shared: &Shared, id: CameraId) {
    if shared.nvr.added_camera(id).is_err() {
        return;
    }
    if let Err(error) = server
        .at(
            camera_path(id),
            ReadOnly(camera::Camera::new(shared.clone(), id)),
        )
        .await
    {
        tracing::warn!(camera = %id, %error, "cannot put the camera on the bus");
    }
}

/// As [`publish_camera`], for a recovery flow.
pub(crate) async fn publish_recovery(server: &zbus::ObjectServer, shared: &Shared, id: RecoveryId) {
    if shared.nvr.recovery(id).is_err() {
        return;
    }
    if let Err(error) = server
        .at(
            recovery_path(id),
            ReadOnly(recovery::Recovery::new(shared.clone(), id)),
        )
        .await
    {
        tracing::warn!(flow = %id, %error, "cannot put the password reset on the bus");
    }
}

/// Object path of a recovery flow.
pub fn recovery_path(id: RecoveryId) -> OwnedObjectPath {
    OwnedObjectPath::try_from(format!("{MANAGER_PATH}/recovery/{}", id.0))
        .unwrap_or_else(|_| OwnedObjectPath::try_from(MANAGER_PATH).unwrap_or_default())
}

/// The camera id in a camera object path.
pub fn camera_id_of(path: &str) -> Option<CameraId> {
    path.strip_prefix(&format!("{MANAGER_PATH}/camera/"))?
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(CameraId)
}

/// The "no object" path.
pub fn no_object() -> OwnedObjectPath {
    OwnedObjectPath::try_from("/").unwrap_or_default()
}

/// Seconds since the epoch, 0 for none.
pub fn epoch(time: Option<SystemTime>) -> i64 {
    time.map(unix_secs).unwrap_or(0)
}

/// One added camera in ListCameras: `(oxsbbssssssssxqss)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, zbus::Type)]
pub struct CameraRow {
    /// Its object path.
    pub path: OwnedObjectPath,
    /// Its id.
    pub id: i64,
    /// `online`, `not_certified`, `locked` or `offline`.
    pub status: String,
    /// Whether the stored credentials authenticate.
    pub certified: bool,
    /// Whether the camera rejected the stored credentials.
    pub credentials_rejected: bool,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware version.
    pub firmware: String,
    /// MAC address, or empty.
    pub mac: String,
    /// `host:port`.
    pub address: String,
    /// The user name the NVR logs in with.
    pub username: String,
    /// The last error in English, with what to do next, or empty.
    pub last_error: String,
    /// When it happened (seconds since the epoch), or 0.
    pub last_error_at: i64,
    /// Its channel (1 for D1, ...), or 0 when it has none.
    pub channel: u16,
    /// Its name: the installer's, or its model and the end of its serial number.
    pub name: String,
    /// The protocol the recorder manages it with: `onvif`, `hikvision` or `dahua`.
    pub protocol: String,
}

impl CameraRow {
    /// The row for a camera.
    pub fn of(camera: &AddedCamera) -> Self {
        Self {
            path: camera_path(camera.id),
            id: camera.id.0,
            status: camera.status.state.as_str().to_owned(),
            certified: camera.status.certified(),
            credentials_rejected: camera.status.credentials_rejected,
            manufacturer: camera.identity.manufacturer.clone(),
            model: camera.identity.model.clone(),
            serial: camera.identity.serial.clone(),
            firmware: camera.identity.firmware.clone(),
            mac: camera.identity.mac.clone().unwrap_or_default(),
            address: camera.address.to_string(),
            username: camera.username.clone(),
            last_error: camera::last_error_sentence(camera),
            last_error_at: epoch(camera.status.last_error_at),
            channel: camera.channel.unwrap_or(0),
            name: camera.display_name(),
            protocol: camera.protocol.as_str().to_owned(),
        }
    }
}

/// One discovered device in ListDiscovered and DeviceDiscovered: `(ssqssssssbboxsss)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, zbus::Type)]
pub struct DeviceRow {
    /// Its key (endpoint reference), for AddDiscovered, ActivateCamera and StartRecovery.
    pub key: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `host:port`.
    pub address: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware version.
    pub firmware: String,
    /// MAC address, or empty.
    pub mac: String,
    /// Factory state: it needs activation.
    pub inactive: bool,
    /// Whether it answered GetDeviceInformation (else some fields are empty).
    pub information_complete: bool,
    /// The added camera it is, or "/".
    pub added_as: OwnedObjectPath,
    /// When it was last seen (seconds since the epoch).
    pub last_seen: i64,
    /// `host:port` of another camera that claims the same serial number with a different MAC
    /// address, or empty.
    pub conflict_with: String,
    /// The protocols it was seen speaking, space-separated, a vendor's own first: `hikvision onvif`,
    /// `onvif vigil`, `onvif`.
    pub protocols: String,
    /// Its address and prefix as it reported them (`192.168.1.64/24`) when that is outside every
    /// subnet the recorder is on (only SetNetwork reaches it, through its vendor's discovery), or
    /// empty.
    pub other_subnet: String,
}

impl DeviceRow {
    /// The row for a discovered device.
    pub fn of(device: &DiscoveredDevice) -> Self {
        Self {
            key: device.key.clone(),
            host: device.address.host.clone(),
            port: device.address.port,
            address: device.address.to_string(),
            manufacturer: device.identity.manufacturer.clone(),
            model: device.identity.model.clone(),
            serial: device.identity.serial.clone(),
            firmware: device.identity.firmware.clone(),
            mac: device.identity.mac.clone().unwrap_or_default(),
            inactive: device.inactive,
            information_complete: device.information_complete,
            added_as: device.added_as.map(camera_path).unwrap_or_else(no_object),
            last_seen: unix_secs(device.last_seen),
            conflict_with: device
                .conflict_with
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            protocols: device.protocols.names(),
            other_subnet: device
                .other_subnet
                .as_ref()
                .map(|n| format!("{}/{}", n.address, n.prefix_len))
                .unwrap_or_default(),
        }
    }
}

/// Connects to `bus`, serves every object, takes the name, and keeps the tree in step with `nvr` until
/// `shutdown`. Fails when the name cannot be owned (another vigild, or no permission).
pub async fn serve(
    nvr: Nvr,
    bus: &BusChoice,
    groups: AccessGroups,
    shutdown: CancellationToken,
) -> zbus::Result<DbusService> {
    let builder = match bus {
        BusChoice::System => zbus::connection::Builder::system(),
        BusChoice::Session => zbus::connection::Builder::session(),
        BusChoice::Address(address) => zbus::connection::Builder::address(address.as_str()),
    };
    // Subscribe before the objects are registered, so no change slips between the two.
    let events = nvr.subscribe();
    let connection = builder.build().await?;
    let shared = Shared {
        nvr: nvr.clone(),
        auth: Arc::new(Authorizer::new(&connection, groups).await?),
        gate: Arc::new(Semaphore::new(CALLS_IN_FLIGHT)),
    };
    let server = connection.object_server();
    // zbus builds InterfacesAdded without asking our property getters who is listening, so that
    // signal carries no check of ours. The shipped bus policy is what guards it: only root and the
    // two groups may receive what vigild sends, and all of those may read.
    server
        .at(MANAGER_PATH, tree::ObjectTree::new(shared.clone()))
        .await?;
    server
        .at(MANAGER_PATH, devices::Devices::new(shared.clone()))
        .await?;
    server
        .at(
            MANAGER_PATH,
            ReadOnly(manager::Manager::new(shared.clone())),
        )
        .await?;
    let mut registered = Registered::default();
    for camera in nvr.added_cameras() {
        server
            .at(
                camera_path(camera.id),
                ReadOnly(camera::Camera::new(shared.clone(), camera.id)),
            )
            .await?;
        registered.cameras.insert(camera.id);
    }
    for flow in nvr.recoveries() {
        server
            .at(
                recovery_path(flow.id),
                ReadOnly(recovery::Recovery::new(shared.clone(), flow.id)),
            )
            .await?;
        registered.flows.insert(flow.id);
    }
    connection.request_name(BUS_NAME).await?;
    tracing::info!(name = BUS_NAME, "D-Bus name owned");
    let tree = tokio::spawn(follow(
        connection.clone(),
        shared,
        events,
        registered,
        shutdown,
    ));
    Ok(DbusService { connection, tree })
}

/// Keeps the object tree and its signals in step with the service's events.
async fn follow(
    connection: zbus::Connection,
    shared: Shared,
    mut events: broadcast::Receiver<NvrEvent>,
    mut registered: Registered,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = events.recv() => event,
        };
        let result = match event {
            Ok(event) => apply(&connection, &shared, &mut registered, event).await,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "D-Bus face fell behind the service; re-reading everything"
                );
                resync(&connection, &shared, &mut registered).await
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "D-Bus object tree update failed");
        }
    }
}

async fn apply(
    connection: &zbus::Connection,
    shared: &Shared,
    registered: &mut Registered,
    event: NvrEvent,
) -> zbus::Result<()> {
    let server = connection.object_server();
    match event {
        NvrEvent::CameraAdded { camera } => {
            server
                .at(
                    camera_path(camera.id),
                    ReadOnly(camera::Camera::new(shared.clone(), camera.id)),
                )
                .await?;
            registered.cameras.insert(camera.id);
        }
        NvrEvent::CameraUpdated { camera } => {
            camera::emit_all_changed(connection, camera.id).await?
        }
        NvrEvent::CameraStatusChanged { id, .. } => {
            camera::emit_status_changed(connection, id).await?
        }
        NvrEvent::CameraClockChanged { id } => camera::emit_clock_changed(connection, id).await?,
        NvrEvent::CameraRemoved { id } => {
            registered.cameras.remove(&id);
            let _ = server
                .remove::<ReadOnly<camera::Camera>, _>(camera_path(id))
                .await;
        }
        NvrEvent::RecoveryChanged { flow } => {
            let path = recovery_path(flow.id);
            if registered.flows.contains(&flow.id) {
                recovery::emit_changed(connection, flow.id).await?;
            } else {
                server
                    .at(
                        path,
                        ReadOnly(recovery::Recovery::new(shared.clone(), flow.id)),
                    )
                    .await?;
                registered.flows.insert(flow.id);
            }
        }
        NvrEvent::RecoveryRemoved { id } => {
            registered.flows.remove(&id);
            let _ = server
                .remove::<ReadOnly<recovery::Recovery>, _>(recovery_path(id))
                .await;
        }
        NvrEvent::DiscoveryStarted => manager::emit_discovery_started(connection).await?,
        NvrEvent::DeviceDiscovered { device } => {
            manager::emit_device_discovered(connection, &device).await?
        }
        NvrEvent::DeviceGone { key } => manager::emit_device_gone(connection, &key).await?,
        NvrEvent::DiscoveryFinished { devices } => {
            manager::emit_discovery_finished(connection, devices).await?
        }
    }
    Ok(())
}

/// After missed events: registers what is missing, drops what is gone, and re-announces the rest. What
/// is registered is known here; only the service is asked what exists.
async fn resync(
    connection: &zbus::Connection,
    shared: &Shared,
    registered: &mut Registered,
) -> zbus::Result<()> {
    let server = connection.object_server();
    let cameras: BTreeSet<CameraId> = shared.nvr.map_added_cameras(|c| c.id).into_iter().collect();
    for gone in registered.cameras.difference(&cameras) {
        let _ = server
            .remove::<ReadOnly<camera::Camera>, _>(camera_path(*gone))
            .await;
    }
    for id in &cameras {
        if registered.cameras.contains(id) {
            camera::emit_all_changed(connection, *id).await?;
        } else {
            server
                .at(
                    camera_path(*id),
                    ReadOnly(camera::Camera::new(shared.clone(), *id)),
                )
                .await?;
        }
    }
    registered.cameras = cameras;
    let flows: BTreeSet<RecoveryId> = shared.nvr.recoveries().iter().map(|f| f.id).collect();
    for gone in registered.flows.difference(&flows) {
        let _ = server
            .remove::<ReadOnly<recovery::Recovery>, _>(recovery_path(*gone))
            .await;
    }
    for id in &flows {
        if registered.flows.contains(id) {
            recovery::emit_changed(connection, *id).await?;
        } else {
            server
                .at(
                    recovery_path(*id),
                    ReadOnly(recovery::Recovery::new(shared.clone(), *id)),
                )
                .await?;
        }
    }
    registered.flows = flows;
    Ok(())
}
