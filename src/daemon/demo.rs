//! Demo mode (`vigild --demo`): starts simulated cameras in-process on loopback, points discovery at
//! them, and adds most of them, so a newcomer sees discovered and added cameras, and each status, at
//! once. Nothing leaves loopback: no multicast, unicast probes only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::DirBuilderExt;
use std::time::Duration;

use crate::config::Settings;
use crate::model::{Actor, Caller, DiscoveredDevice};
use crate::service::Nvr;
use crate::sim::persona::{Persona, PersonaMix};
use crate::sim::{SimConfig, SimError, Simulator};

/// The first demo camera's address; camera i is at 127.77.0.(1+i).
pub const DEMO_FIRST_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 1);
/// Where vigild listens for the demo cameras' Hello and Bye.
pub const DEMO_ANNOUNCEMENTS: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 77, 1, 1)), 3702);
/// The demo cameras' administrator password, published in the README on purpose.
pub const DEMO_PASSWORD: &str = "Harbor-Lamp-62";

/// What demo mode starts.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How many simulated cameras.
    pub cameras: usize,
    /// Where the demo cameras' emails (verification codes) are written, one file each.
    pub mail_dir: std::path::PathBuf,
    /// The cameras' control socket, so `vigil-camsim app-scan` and `support-code` can play the
    /// vendor's phone app and support desk for them.
    pub control_socket: std::path::PathBuf,
}

/// Starts the simulated cameras and rewrites `settings` so discovery finds them on loopback only.
pub async fn start_cameras(
    options: &DemoOptions,
    settings: &mut Settings,
) -> Result<Simulator, SimError> {
    let inactive = if options.cameras >= 4 { 2 } else { 0 };
    // The two cameras in factory state are a Dahua one (DHIP finds it, its RPC initializes it) and,
    // last, a Hikvision one with ONVIF off (only SADP finds it, ISAPI activates it), as on a real site
    // with a mixed fleet.
    let mut personas = vec![Persona::Vigil; options.cameras];
    if inactive > 0 {
        let count = personas.len();
        personas[count - 1] = Persona::Hikvision;
        personas[count - 2] = Persona::Dahua;
    }
    let simulator = Simulator::start(SimConfig {
        count: options.cameras,
        bind: IpAddr::V4(DEMO_FIRST_ADDRESS),
        base_port: 8080,
        address_per_camera: true,
        announce_to: vec![DEMO_ANNOUNCEMENTS],
        inactive,
        admin_password: DEMO_PASSWORD.to_owned(),
        persona: PersonaMix::Mixed(personas),
        mail_sender: Some(std::sync::Arc::new(crate::mail::DirectoryMailSender::new(
            options.mail_dir.clone(),
        ))),
        ..SimConfig::default()
    })
    .await?;
    // One camera an hour ahead, to show that certification survives a wrong camera clock.
    if let Some(camera) = simulator.camera(0) {
        camera.set_clock_offset(3600);
    }
    // The camera whose password `populate` changes behind the NVR's back has no internet either: its
    // Forget Password is the QR path (remove first, then the phone app).
    if let Some(camera) = simulator.camera(1) {
        camera.set_internet(false);
    }
    tracing::info!(dir = %options.mail_dir.display(), "demo cameras write their emails (verification codes) here");
    // The demo recorder's own device secret, as a factory would write it, so its login dialog offers
    // the phone-app QR code and the support code; `vigil-camsim vendor-code` plays the vendor.
    let secret = options.mail_dir.join("device.secret");
    let provisioned = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&options.mail_dir)
        .and_then(
            |()| match crate::rules::device_secret::DeviceSecret::provision(&secret) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            },
        );
    match provisioned {
        Ok(()) => {
            tracing::info!(
                file = %secret.display(),
                "demo device secret: play the vendor with `vigil-camsim vendor-code --device-secret FILE --support SERIAL` or `--qr PAYLOAD`"
            );
            settings.account.device_secret_file = Some(secret);
        }
        Err(error) => {
            tracing::warn!(%error, "cannot write the demo device secret; the QR and support paths are off")
        }
    }
    let discovery = &mut settings.discovery;

    discovery.multicast = false;
    discovery.unicast_targets = simulator
        .cameras()
        .iter()
        .map(|c| c.identity().wsd_addr)
        .collect();
    discovery.announcement_address = Some(DEMO_ANNOUNCEMENTS);
    discovery.on_start = true;
    // A channel for every demo camera, however many were asked for.
    settings.channels = settings
        .channels
        .max(u16::try_from(options.cameras).unwrap_or(256).min(256));
    // A lively demo: statuses change within seconds rather than the production ten.
    settings.monitor.period = settings.monitor.period.min(Duration::from_secs(3));
    Ok(simulator)
}

/// Serves the demo cameras' control socket until the simulator stops.
pub fn serve_control(simulator: std::sync::Arc<Simulator>, path: std::path::PathBuf) {
    tokio::spawn(async move {
        tracing::info!(socket = %path.display(), "demo cameras' control socket: `vigil-camsim app-scan --control SOCKET SERIAL` plays the phone app, `vigil-camsim support-code --control SOCKET SERIAL` the support desk");
        if let Err(error) = crate::sim::control::serve(simulator, &path).await {
            tracing::warn!(socket = %path.display(), %error, "the demo cameras' control socket is not served");
        }
    });
}

/// Adds the active demo cameras except one (left for the Discovered list), then changes one camera's
/// password behind the NVR's back and takes another offline, so every status shows.
pub async fn populate(nvr: &Nvr, simulator: &Simulator) {
    let run = match nvr.refresh_discovery(&[]).await {
        Ok(run) => run,
        Err(error) => {
            tracing::warn!(%error, "demo discovery did not run");
            return;
        }
    };
    run.finished().await;
    let mut candidates: Vec<DiscoveredDevice> = nvr
        .discovered_devices()
        .into_iter()
        .filter(|d| !d.inactive && d.added_as.is_none())
        .collect();
    candidates.sort_by(|a, b| a.address.host.cmp(&b.address.host));
    let keep_discovered = candidates.pop();
    for device in &candidates {
        match nvr
            .add_discovered(
                &device.key,
                "admin",
                DEMO_PASSWORD,
                &Caller::from(Actor::System),
            )
            .await
        {
            Ok(camera) => {
                tracing::info!(camera = %camera.id, address = %camera.address, "demo camera added")
            }
            Err(error) => {
                tracing::info!(address = %device.address, %error, "demo camera not added")
            }
        }
    }
    if let Some(device) = keep_discovered {
        tracing::info!(address = %device.address, "demo camera left in Discovered Devices for you to add");
    }
    if nvr.added_cameras().len() >= 3 {
        if let Some(camera) = simulator.camera(1) {
            camera.set_password_directly("admin", "Changed#Elsewhere1");
            tracing::info!(serial = %camera.identity().serial, "demo: password changed at the camera; it will show Not certified");
        }
        if let Some(camera) = simulator.camera(2) {
            camera.set_online(false).await;
            tracing::info!(serial = %camera.identity().serial, "demo: camera unplugged; it will show Offline");
        }
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}
