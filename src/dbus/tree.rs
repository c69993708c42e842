//! `org.freedesktop.DBus.ObjectManager` at `/org/vigil/Nvr1`: GetManagedObjects answered from one
//! snapshot of the service, serialized straight to the wire, and authorized like every other read.
//!
//! zbus recognises an ObjectManager by its interface name, so it still announces objects added
//! under this path with InterfacesAdded and InterfacesRemoved; only the listing is ours. zbus's own
//! listing asks every property getter of every object through owned variants and hash maps, which
//! made GetManagedObjects cost ~10 µs of vigild's CPU per camera.

use std::collections::HashMap;

use serde::ser::{Serialize, SerializeMap, Serializer};
use zbus::message::Header;
use zbus::object_server::{Interface, SignalEmitter};
use zbus::zvariant::Type;
use zbus::{ObjectPath, OwnedObjectPath, OwnedVariant, Signature, Variant, interface};

use crate::dbus::auth::Access;
use crate::dbus::auth::authorized;
use crate::dbus::error::DbusError;
use crate::dbus::read_only::ReadOnly;
use crate::dbus::{Shared, camera, camera_path, recovery, recovery_path};
use crate::model::AddedCamera;

/// The ObjectManager object.
pub struct ObjectTree {
    shared: Shared,
}

impl ObjectTree {
    /// The tree over the shared service.
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

#[interface(name = "org.freedesktop.DBus.ObjectManager")]
impl ObjectTree {
    /// Every camera and recovery flow with its properties, as GetAll would give them.
    async fn get_managed_objects(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(object_server)] server: &zbus::ObjectServer,
        #[zbus(connection)] connection: &zbus::Connection,
    ) -> Result<ManagedObjects, DbusError> {
        authorized(&self.shared, &header, Access::Read, async |_| {
            let cameras = self.shared.nvr.added_cameras();
            let mut flows = Vec::new();
            for flow in self.shared.nvr.recoveries() {
                let path = recovery_path(flow.id);
                // A flow that ended a moment ago may already be off the bus: leave it out.
                let Ok(object) = server
                    .interface::<_, ReadOnly<recovery::Recovery>>(&path)
                    .await
                else {
                    continue;
                };
                let emitter = SignalEmitter::new(connection, path.clone())
                    .map_err(|e| DbusError::Failed(e.to_string()))?;
                let properties = object
                    .get()
                    .await
                    .get_all(server, connection, None, &emitter)
                    .await
                    .map_err(|e| DbusError::Failed(e.to_string()))?;
                flows.push((path, properties));
            }
            Ok(ManagedObjects {
                cameras,
                drift_limit: self.shared.nvr.settings().camera_time.drift_limit,
                flows,
            })
        })
        .await
    }

    /// An object, or interfaces of one, appeared. zbus emits it when an object is put on the bus.
    #[zbus(signal)]
    async fn interfaces_added(
        emitter: &SignalEmitter<'_>,
        object_path: ObjectPath<'_>,
        interfaces_and_properties: HashMap<&str, HashMap<&str, Variant<'_>>>,
    ) -> zbus::Result<()>;

    /// An object, or interfaces of one, went away. zbus emits it when an object is taken off the bus.
    #[zbus(signal)]
    async fn interfaces_removed(
        emitter: &SignalEmitter<'_>,
        object_path: ObjectPath<'_>,
        interfaces: Vec<&str>,
    ) -> zbus::Result<()>;
}

/// GetManagedObjects' reply: `a{oa{sa{sv}}}`.
pub struct ManagedObjects {
    cameras: Vec<AddedCamera>,
    /// The recorder's clock drift limit, for each camera's ClockDrift.
    drift_limit: std::time::Duration,
    flows: Vec<(OwnedObjectPath, HashMap<String, OwnedVariant>)>,
}

impl Type for ManagedObjects {
    const SIGNATURE: &'static Signature = <HashMap<
        OwnedObjectPath,
        HashMap<String, HashMap<String, OwnedVariant>>,
    > as Type>::SIGNATURE;
}

impl Serialize for ManagedObjects {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut objects = serializer.serialize_map(Some(self.cameras.len() + self.flows.len()))?;
        for added in &self.cameras {
            objects.serialize_entry(
                &camera_path(added.id),
                &OneInterface(camera::INTERFACE, CameraProperties(added, self.drift_limit)),
            )?;
        }
        for (path, properties) in &self.flows {
            objects.serialize_entry(path, &OneInterface(recovery::INTERFACE, properties))?;
        }
        objects.end()
    }
}

/// `a{sa{sv}}` with one interface.
struct OneInterface<P>(&'static str, P);

impl<P: Serialize> Serialize for OneInterface<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut interfaces = serializer.serialize_map(Some(1))?;
        interfaces.serialize_entry(self.0, &self.1)?;
        interfaces.end()
    }
}

/// A camera's properties as `a{sv}`, borrowed from the snapshot.
struct CameraProperties<'a>(&'a AddedCamera, std::time::Duration);

impl Serialize for CameraProperties<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut properties = serializer.serialize_map(Some(camera::PROPERTIES.len()))?;
        for name in camera::PROPERTIES {
            if let Some(value) = camera::property_value(self.0, name, self.1) {
                properties.serialize_entry(name, &value)?;
            }
        }
        properties.end()
    }
}
