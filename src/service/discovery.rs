//! Discovery as the service runs it: probe runs (multicast and unicast), Hello and Bye, identifying
//! each device that answers, the discovered list (one entry per camera, conflicts shown, never merged on
//! a MAC alone), and listing a camera by its address alone.

use crate::service::ArgumentProblem;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;

use crate::camera::discovery::{self, Announcement, ProbePlan, Sighting, parse_unicast_targets};
use crate::camera::vendor_discovery::VendorSighting;
use crate::model::{
    AddedCamera, CameraId, DiscoveredDevice, IdentityMatch, NvrEvent, compare_identities,
};
use crate::model::{DeviceAddress, DeviceIdentity, Protocol};

use super::discovery_run::{DiscoveryClaim, DiscoveryRun, LatestDiscoveryRun};
use super::error::address_error;
use super::{AddedEntry, Nvr, NvrError, camera_error, lock};
use tokio::sync::Semaphore;

/// Identifications running at once against one sender address.
pub(super) const IDENTIFY_PER_SENDER: usize = 16;

/// When a probe is sent a second time.
pub(super) const PROBE_REPEAT_AFTER: Duration = Duration::from_millis(100);

/// How long [`Nvr::discover_address`] waits for the camera to answer a unicast probe.
pub(super) const DIRECT_PROBE_WINDOW: Duration = Duration::from_millis(800);

/// Discovered devices kept at most.
pub(super) const MAX_DISCOVERED: usize = 8192;

/// At most this many discovered devices share one host, so one host cannot crowd out the rest.
/// A multi-channel encoder or the simulator may list many; a real LAN has far fewer per host.
pub(super) const MAX_DISCOVERED_PER_HOST: usize = 256;

/// A discovered device as it is handed out: marked with the added camera it is, if any, and with the
/// camera that claims its serial number under another MAC address, if one does.
pub(super) fn handed_out(
    device: DiscoveredDevice,
    added: &BTreeMap<CameraId, AddedEntry>,
    discovered: &BTreeMap<String, DiscoveredDevice>,
) -> DiscoveredDevice {
    handed_out_among(device, added, discovered.values())
}

/// As [`handed_out`], with only the discovered devices that may share its serial number. A device
/// that said what it is only after a login shows what the added camera it is learned then.
pub(super) fn handed_out_among<'a>(
    mut device: DiscoveredDevice,
    added: &BTreeMap<CameraId, AddedEntry>,
    others: impl Iterator<Item = &'a DiscoveredDevice>,
) -> DiscoveredDevice {
    let camera = added
        .values()
        .find(|e| same_camera(&device, &e.camera))
        .map(|e| &e.camera);
    device.added_as = camera.map(|c| c.id);
    if let Some(camera) = camera.filter(|_| !device.information_complete) {
        device.identity = camera.identity.clone();
        device.information_complete = true;
    }
    device.conflict_with = serial_conflict(&device, added, others);
    device
}

/// Where a camera claims `device`'s serial number with a different MAC address.
pub(super) fn serial_conflict<'a>(
    device: &DiscoveredDevice,
    added: &BTreeMap<CameraId, AddedEntry>,
    discovered: impl Iterator<Item = &'a DiscoveredDevice>,
) -> Option<DeviceAddress> {
    if device.identity.serial.is_empty() || device.identity.mac.is_none() {
        return None;
    }
    let conflicts = |other: &DeviceIdentity| {
        compare_identities(&device.identity, other) == IdentityMatch::Conflict
    };
    added
        .values()
        // The camera this device is may report another MAC once logged in (another interface's):
        // that is not a second camera.
        .filter(|e| Some(e.camera.id) != device.added_as && e.camera.address != device.address)
        .find(|e| conflicts(&e.camera.identity))
        .map(|e| e.camera.address.clone())
        .or_else(|| {
            discovered
                .filter(|d| d.key != device.key)
                .find(|d| conflicts(&d.identity))
                .map(|d| d.address.clone())
        })
}

/// Whether a discovered device and an added camera are the same camera. The address is the only
/// part the NVR checked itself (it connected there), so it must match; serial, MAC and endpoint
/// reference are the device's own claims and only tell a moved port apart from another device.
pub(super) fn same_camera(device: &DiscoveredDevice, camera: &AddedCamera) -> bool {
    device.address.host == camera.address.host
        && (device.address.port == camera.address.port
            || camera.endpoint_ref.as_deref() == Some(device.key.as_str())
            || compare_identities(&device.identity, &camera.identity) == IdentityMatch::Same)
}

impl Nvr {
    /// Starts discovery every `discovery.refresh_interval` (first at once when `run_now`), replacing
    /// the loop that ran before.
    pub(super) fn start_periodic_discovery(&self, run_now: bool) {
        let interval = self.settings().discovery.refresh_interval;
        let shutdown = self.inner.shutdown.child_token();
        let previous =
            std::mem::replace(&mut *lock(&self.inner.periodic_discovery), shutdown.clone());
        previous.cancel();
        if run_now || interval.is_some() {
            let nvr = self.downgrade();
            self.inner.tasks.spawn(async move {
                let mut first = run_now;
                loop {
                    if !first {
                        let Some(interval) = interval else { return };
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(interval) => {}
                        }
                    }
                    first = false;
                    let Some(nvr) = nvr.upgrade() else { return };
                    match nvr.refresh_discovery(&[]).await {
                        Ok(run) => {
                            drop(nvr);
                            tokio::select! {
                                _ = shutdown.cancelled() => return,
                                _ = run.finished() => {}
                            }
                        }
                        Err(error) => tracing::warn!(%error, "periodic discovery did not run"),
                    }
                }
            });
        }
    }

    /// The discovered list, each marked with the added camera it is, if any.
    pub fn discovered_devices(&self) -> Vec<DiscoveredDevice> {
        let added = lock(&self.inner.added);
        let discovered = lock(&self.inner.discovered);
        // Only devices that share a serial number can conflict: index them once.
        let mut by_serial: HashMap<&str, Vec<&DiscoveredDevice>> = HashMap::new();
        for device in discovered
            .values()
            .filter(|d| !d.identity.serial.is_empty())
        {
            by_serial
                .entry(device.identity.serial.as_str())
                .or_default()
                .push(device);
        }
        discovered
            .values()
            .map(|d| {
                let same_serial = by_serial
                    .get(d.identity.serial.as_str())
                    .into_iter()
                    .flatten()
                    .copied();
                handed_out_among(d.clone(), &added, same_serial)
            })
            .collect()
    }

    /// The discovered device an added camera is, for starting Forget Password from Added Devices;
    /// [`NvrError::DeviceNotFound`] when discovery has not seen it (refresh discovery first).
    pub fn discovered_device_of(&self, camera: CameraId) -> Result<DiscoveredDevice, NvrError> {
        self.discovered_devices()
            .into_iter()
            .find(|d| d.added_as == Some(camera))
            .ok_or_else(|| NvrError::DeviceNotFound(format!("camera {camera}")))
    }

    /// One discovered device.
    pub fn discovered_device(&self, key: &str) -> Result<DiscoveredDevice, NvrError> {
        let added = lock(&self.inner.added);
        let discovered = lock(&self.inner.discovered);
        discovered
            .get(key)
            .map(|d| handed_out(d.clone(), &added, &discovered))
            .ok_or_else(|| NvrError::DeviceNotFound(key.chars().take(80).collect()))
    }

    /// Whether a discovery run is going on.
    pub fn discovery_running(&self) -> bool {
        lock(&self.inner.discovery_run)
            .as_ref()
            .is_some_and(LatestDiscoveryRun::running)
    }

    /// A discovered camera was just activated: it is no longer inactive.
    pub(super) fn mark_activated(&self, key: &str) {
        let device = {
            let added = lock(&self.inner.added);
            let mut discovered = lock(&self.inner.discovered);
            let device = discovered.get_mut(key).map(|d| {
                d.inactive = false;
                d.clone()
            });
            device.map(|d| handed_out(d, &added, &discovered))
        };
        if let Some(device) = device {
            self.emit(NvrEvent::DeviceDiscovered { device });
        }
    }

    pub(super) fn announce_discovered_matching(&self, camera: &AddedCamera) {
        let devices: Vec<DiscoveredDevice> = {
            let added = lock(&self.inner.added);
            let discovered = lock(&self.inner.discovered);
            discovered
                .values()
                .filter(|d| {
                    same_camera(d, camera)
                        || (!camera.identity.serial.is_empty()
                            && d.identity.serial == camera.identity.serial)
                })
                .map(|d| handed_out(d.clone(), &added, &discovered))
                .collect()
        };
        for device in devices {
            self.emit(NvrEvent::DeviceDiscovered { device });
        }
    }

    /// Starts a discovery run: multicast on the configured interfaces, unicast to the configured targets
    /// and to `extra_targets` (addresses, `a-b` ranges, `net/len`). A run going on that reaches all of
    /// them is joined; one that does not (a target it was not given, an interface that came up after
    /// its probes went out) is let finish, and then this run starts.
    /// Devices stream into the discovered list and out as events as they are identified.
    pub async fn refresh_discovery(
        &self,
        extra_targets: &[String],
    ) -> Result<DiscoveryRun, NvrError> {
        let _command = self.begin_command()?;
        let mut targets = self.settings().discovery.unicast_targets.clone();
        for target in extra_targets {
            let expanded =
                parse_unicast_targets(target).map_err(|problem| NvrError::InvalidArgument {
                    field: "targets",
                    problem: ArgumentProblem::Other(problem),
                })?;
            targets.extend(expanded);
        }
        if targets.len() > discovery::MAX_UNICAST_TARGETS {
            return Err(NvrError::InvalidArgument {
                field: "targets",
                problem: ArgumentProblem::Other(format!(
                    "{} addresses in all; at most {}",
                    targets.len(),
                    discovery::MAX_UNICAST_TARGETS
                )),
            });
        }
        let all_settings = self.settings();
        let settings = &all_settings.discovery;
        let multicast_interfaces = if settings.multicast {
            self.multicast_interfaces()
        } else {
            Vec::new()
        };
        let (run, done_tx) = match self
            .claim_discovery_run(&multicast_interfaces, &targets)
            .await?
        {
            DiscoveryClaim::Join(run) => return Ok(run),
            DiscoveryClaim::Start { run, done } => (run, done),
        };
        let plan = ProbePlan {
            multicast_interfaces,
            multicast_port: settings.port,
            unicast_targets: targets,
            listen_for: settings.probe_window,
            repeat_after: PROBE_REPEAT_AFTER,
        };
        let started = self.inner.clock.now();
        let vendor_sightings = super::vendor_discovery::merged(
            self.probe_vendor_protocols(&plan.multicast_interfaces, &plan.unicast_targets)
                .await,
        );
        let sightings = match discovery::probe(plan, self.inner.shutdown.child_token()).await {
            Ok(rx) => rx,
            Err(error) => {
                done_tx.send_replace(Some(lock(&self.inner.discovered).len()));
                return Err(NvrError::Discovery(error.to_string()));
            }
        };
        self.emit(NvrEvent::DiscoveryStarted);
        let nvr = self.clone();
        self.inner.tasks.spawn(async move {
            let count = nvr
                .run_discovery(sightings, vendor_sightings, started)
                .await;
            done_tx.send_replace(Some(count));
        });
        Ok(run)
    }

    pub(super) async fn run_discovery(
        &self,
        mut sightings: tokio::sync::mpsc::Receiver<Sighting>,
        mut vendor_sightings: tokio::sync::mpsc::Receiver<VendorSighting>,
        started: SystemTime,
    ) -> usize {
        let mut seen = HashSet::new();
        let mut identifications = JoinSet::new();
        let mut vendor_open = true;
        loop {
            tokio::select! {
                sighting = sightings.recv() => {
                    let Some(sighting) = sighting else { break };
                    seen.insert(sighting.endpoint_ref.clone());
                    let nvr = self.clone();
                    identifications.spawn(async move { nvr.identify(sighting).await });
                }
                sighting = vendor_sightings.recv(), if vendor_open => {
                    match sighting {
                        Some(sighting) => {
                            let nvr = self.clone();
                            identifications.spawn(async move {
                                nvr.list_vendor_sighting(sighting).await
                            });
                        }
                        None => vendor_open = false,
                    }
                }
                Some(listed) = identifications.join_next(), if !identifications.is_empty() => {
                    if let Ok(Some(key)) = listed {
                        seen.insert(key);
                    }
                }
            }
        }
        // The WS-Discovery window is closed; vendor replies still on their way are taken.
        while vendor_open {
            match vendor_sightings.recv().await {
                Some(sighting) => {
                    let nvr = self.clone();
                    identifications.spawn(async move { nvr.list_vendor_sighting(sighting).await });
                }
                None => vendor_open = false,
            }
        }
        while let Some(listed) = identifications.join_next().await {
            if let Ok(Some(key)) = listed {
                seen.insert(key);
            }
        }
        // Devices not seen in this run (and not announced since it started) have left.
        let gone: Vec<String> = {
            let mut discovered = lock(&self.inner.discovered);
            let gone: Vec<String> = discovered
                .values()
                .filter(|d| !seen.contains(&d.key) && d.last_seen < started)
                .map(|d| d.key.clone())
                .collect();
            for key in &gone {
                discovered.remove(key);
            }
            gone
        };
        for key in gone {
            self.emit(NvrEvent::DeviceGone { key });
        }
        let devices = lock(&self.inner.discovered).len();
        tracing::info!(devices, "discovery finished");
        self.emit(NvrEvent::DiscoveryFinished { devices });
        devices
    }

    /// The identification slot for one sender: at most [`IDENTIFY_PER_SENDER`] at once per host.
    pub(super) fn sender_slot(&self, sender: IpAddr) -> Arc<Semaphore> {
        lock(&self.inner.sender_slots)
            .entry(sender)
            .or_insert_with(|| Arc::new(Semaphore::new(IDENTIFY_PER_SENDER)))
            .clone()
    }

    /// Forgets a sender's slot once nothing holds it, so spoofed source addresses cannot grow the map.
    pub(super) fn release_sender_slot(&self, sender: IpAddr, slot: Arc<Semaphore>) {
        let mut slots = lock(&self.inner.sender_slots);
        drop(slot);
        if slots
            .get(&sender)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            slots.remove(&sender);
        }
    }

    /// Identifies one sighting from a probe run: waits for a free slot. Its key in the list, when it
    /// was listed.
    pub(super) async fn identify(&self, sighting: Sighting) -> Option<String> {
        let sender = sighting.sender.ip();
        let slot = self.sender_slot(sender);
        let mut listed = None;
        if let Ok(sender_permit) = slot.clone().acquire_owned().await {
            if let Ok(permit) = self.inner.identify_slots.clone().acquire_owned().await {
                // Not listed: the reason was logged.
                listed = self.identify_with(&sighting).await.ok();
                drop(permit);
            }
            drop(sender_permit);
        }
        self.release_sender_slot(sender, slot);
        listed
    }

    /// Identifies one announced camera, unless its sender already uses every slot it may, every
    /// identification slot is busy, or the same endpoint is being identified: a flood of Hellos
    /// is dropped rather than queued (the next probe run still finds real cameras).
    pub(super) fn identify_announced(&self, sighting: Sighting) {
        let sender = sighting.sender.ip();
        let slot = self.sender_slot(sender);
        let permits = slot
            .clone()
            .try_acquire_owned()
            .ok()
            .and_then(|sender_permit| {
                let permit = self.inner.identify_slots.clone().try_acquire_owned().ok()?;
                Some((sender_permit, permit))
            });
        let fresh = permits.is_some()
            && lock(&self.inner.announced_in_flight).insert(sighting.endpoint_ref.clone());
        let Some(permits) = permits.filter(|_| fresh) else {
            tracing::debug!(%sender, endpoint = %sighting.endpoint_ref, "announcement dropped: identification already busy");
            self.release_sender_slot(sender, slot);
            return;
        };
        let nvr = self.clone();
        self.inner.tasks.spawn(async move {
            let _listed_or_logged = nvr.identify_with(&sighting).await;
            drop(permits);
            lock(&nvr.inner.announced_in_flight).remove(&sighting.endpoint_ref);
            nvr.release_sender_slot(sender, slot);
        });
    }

    /// Asks each of a sighting's addresses in turn who it is and lists the first that answers; its
    /// key in the list, or why none was listed.
    pub(super) async fn identify_with(&self, sighting: &Sighting) -> Result<String, NvrError> {
        let mut last_error = NvrError::DeviceNotFound(sighting.endpoint_ref.clone());
        for address in &sighting.addresses {
            let outcome = tokio::select! {
                _ = self.inner.shutdown.cancelled() => return Err(NvrError::ShuttingDown),
                r = self.inner.connector.identify(address, &sighting.scopes) => r,
            };
            match outcome {
                Ok(identification) => {
                    let device = DiscoveredDevice {
                        key: sighting.endpoint_ref.clone(),
                        address: address.clone(),
                        identity: identification.identity,
                        information_complete: identification.information_complete,
                        inactive: identification.inactive,
                        added_as: None,
                        last_seen: self.inner.clock.now(),
                        conflict_with: None,
                        protocols: sighting.protocols(),
                        other_subnet: None,
                    };
                    self.follow_if_moved(&device).await;
                    let key = self.upsert_discovered(device);
                    if let Ok(listed) = self.discovered_device(&key) {
                        self.plug_and_play(&listed);
                    }
                    return Ok(key);
                }
                Err(error) => {
                    tracing::debug!(address = %address, endpoint = %sighting.endpoint_ref, %error, "discovered device not identified");
                    last_error = camera_error(error, address);
                }
            }
        }
        Err(last_error)
    }

    /// Lists the camera at `host:port` by asking it directly: for a camera added by address, one that
    /// does not answer multicast discovery, or one not seen yet. A unicast probe to its WS-Discovery
    /// port comes first, for its own endpoint reference; a camera that does not answer that is listed
    /// from its device service alone. Returns the device as listed.
    pub async fn discover_address(
        &self,
        host: &str,
        port: u16,
    ) -> Result<DiscoveredDevice, NvrError> {
        let _command = self.begin_command()?;
        let address = DeviceAddress::new(host, port).map_err(address_error)?;
        let sighting = match self.probe_one(&address).await {
            Some(sighting) => sighting,
            None => Sighting {
                endpoint_ref: format!("urn:vigil:address:{address}"),
                addresses: vec![address.clone()],
                scopes: Vec::new(),
                types: Vec::new(),
                sender: std::net::SocketAddr::from((
                    address.ip().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                    0,
                )),
            },
        };
        let key = self.identify_with(&sighting).await?;
        self.discovered_device(&key)
    }

    /// A unicast WS-Discovery probe to the camera at `address`: its sighting, with only `address`
    /// kept, when it answers within [`DIRECT_PROBE_WINDOW`].
    pub(super) async fn probe_one(&self, address: &DeviceAddress) -> Option<Sighting> {
        let ip = address.ip()?;
        let plan = ProbePlan {
            multicast_interfaces: Vec::new(),
            multicast_port: discovery::WSD_PORT,
            unicast_targets: vec![std::net::SocketAddr::new(ip, discovery::WSD_PORT)],
            listen_for: DIRECT_PROBE_WINDOW,
            repeat_after: PROBE_REPEAT_AFTER,
        };
        let mut sightings = discovery::probe(plan, self.inner.shutdown.child_token())
            .await
            .ok()?;
        while let Some(mut sighting) = sightings.recv().await {
            if sighting.addresses.iter().any(|a| a.port == address.port) {
                sighting.addresses = vec![address.clone()];
                return Some(sighting);
            }
        }
        None
    }

    /// The list key of `device`, seen under its endpoint reference: that reference itself, unless
    /// another device at another address already holds it (a cloned camera answers with its
    /// original's), in which case the address tells the two apart.
    pub(super) fn discovered_key(
        discovered: &BTreeMap<String, DiscoveredDevice>,
        device: &DiscoveredDevice,
    ) -> String {
        match discovered.get(&device.key) {
            Some(holder)
                if holder.address != device.address
                    && compare_identities(&holder.identity, &device.identity)
                        != IdentityMatch::Same =>
            {
                format!("{}@{}", device.key, device.address)
            }
            _ => device.key.clone(),
        }
    }

    /// Lists `device` (keyed by its endpoint reference), or updates its entry; returns its key in
    /// the list.
    pub(super) fn upsert_discovered(&self, mut device: DiscoveredDevice) -> String {
        let mut replaced = Vec::new();
        let key;
        let announce = {
            let added = lock(&self.inner.added);
            let mut discovered = lock(&self.inner.discovered);
            device.key = Self::discovered_key(&discovered, &device);
            // The same camera under another endpoint reference (it was reset, or answers on two
            // interfaces), or seen in another protocol (WS-Discovery, SADP, DHIP), is one entry: the
            // newest sighting, speaking every protocol it was seen in. Same serial and maker, and no
            // MAC that says otherwise; a claim of another camera's serial from elsewhere is not a twin.
            if let Some(old) = discovered.get(&device.key) {
                device.protocols = device.protocols.union(old.protocols);
            }
            let seen_in_onvif = device.protocols.contains(Protocol::Onvif);
            if !device.identity.serial.is_empty() {
                let twins: Vec<String> = discovered
                    .values()
                    .filter(|d| {
                        d.key != device.key
                            && compare_identities(&d.identity, &device.identity)
                                == IdentityMatch::Same
                            && (d.address.host == device.address.host
                                || (d.identity.mac.is_some()
                                    && d.identity.mac == device.identity.mac))
                    })
                    .map(|d| d.key.clone())
                    .collect();
                let mut adopted = false;
                for twin_key in twins {
                    let Some(twin) = discovered.remove(&twin_key) else {
                        continue;
                    };
                    device.protocols = device.protocols.union(twin.protocols);
                    // A camera seen by WS-Discovery keeps its endpoint reference as its key, and its
                    // device service address, however else it is seen.
                    if !seen_in_onvif && !adopted && twin.protocols.contains(Protocol::Onvif) {
                        adopted = true;
                        device.key = twin_key;
                        if twin.address.host == device.address.host {
                            device.address = twin.address;
                        }
                        if device.identity.mac.is_none() {
                            device.identity.mac = twin.identity.mac;
                        }
                    } else {
                        replaced.push(twin_key);
                    }
                }
            }
            key = device.key.clone();
            if !discovered.contains_key(&device.key) {
                if discovered.len() >= MAX_DISCOVERED {
                    tracing::warn!("discovered list is full; device not listed");
                    return device.key;
                }
                let from_same_host = discovered
                    .values()
                    .filter(|d| d.address.host == device.address.host)
                    .count();
                if from_same_host >= MAX_DISCOVERED_PER_HOST {
                    tracing::warn!(address = %device.address, "too many devices at one address; device not listed");
                    return device.key;
                }
            }
            let changed = discovered.get(&device.key).is_none_or(|old| {
                DiscoveredDevice {
                    last_seen: old.last_seen,
                    ..device.clone()
                } != *old
            });
            discovered.insert(device.key.clone(), device.clone());
            changed.then(|| handed_out(device, &added, &discovered))
        };
        for key in replaced {
            self.emit(NvrEvent::DeviceGone { key });
        }
        if let Some(device) = announce {
            tracing::debug!(address = %device.address, serial = %device.identity.serial, inactive = device.inactive, "device discovered");
            self.emit(NvrEvent::DeviceDiscovered { device });
        }
        key
    }

    pub(super) fn on_announcement(&self, announcement: Announcement) {
        match announcement {
            Announcement::Hello(sighting) => self.identify_announced(sighting),
            Announcement::Bye {
                endpoint_ref,
                sender,
            } => {
                let removed = {
                    let mut discovered = lock(&self.inner.discovered);
                    // Only the device itself may say it is leaving.
                    let from_itself = discovered
                        .get(&endpoint_ref)
                        .is_some_and(|d| d.address.ip() == Some(sender.ip()));
                    from_itself && discovered.remove(&endpoint_ref).is_some()
                };
                if removed {
                    self.emit(NvrEvent::DeviceGone { key: endpoint_ref });
                }
            }
        }
    }

    pub(super) fn multicast_interfaces(&self) -> Vec<std::net::Ipv4Addr> {
        match discovery::multicast_interfaces(&self.settings().discovery.interfaces) {
            Ok(interfaces) => interfaces,
            Err(error) => {
                tracing::warn!(%error, "cannot list network interfaces for multicast discovery");
                Vec::new()
            }
        }
    }
}
