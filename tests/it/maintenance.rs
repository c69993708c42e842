//! An installer's maintenance of a camera, over real sockets to the simulator: Edit IP (checked before
//! anything is sent; the stored address follows and the camera certifies there, across a restart),
//! reboot, soft and hard factory defaults, the cameras' clocks kept in UTC or pointed at NTP, and a
//! rejection of the stored credentials on the way holding them at once.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vigil::model::{AuditAction, CameraState, FactoryDefault, NetworkChange};
use vigil::service::{ArgumentProblem, MaintainedCamera, NvrError};

use crate::support::{Harness, eventually, simulator, system, test_settings};

/// The address `last` in the same /24 as camera `index`.
fn neighbour(h: &Harness, index: usize, last: u8) -> Ipv4Addr {
    let IpAddr::V4(ip) = h.sim.cameras()[index].http_addr().ip() else {
        panic!("the simulator listens on IPv4");
    };
    let [a, b, c, _] = ip.octets();
    Ipv4Addr::new(a, b, c, last)
}

fn static_change(address: Ipv4Addr, prefix_len: u8, gateway: Option<Ipv4Addr>) -> NetworkChange {
    NetworkChange {
        address,
        prefix_len,
        gateway,
        dhcp: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_ip_refuses_bad_settings_before_sending_anything_then_moves_the_camera() {
    let sim = simulator(1, |_| {}).await;
    let h = Harness::start(sim, Duration::from_secs(60)).await;
    let camera = h.add(0).await;
    let target = MaintainedCamera::Added(camera.id);

    let network = h.nvr.camera_network(&target, &system()).await.unwrap();
    assert_eq!(
        IpAddr::V4(network.address),
        h.sim.cameras()[0].http_addr().ip()
    );
    assert_eq!(network.prefix_len, 24);
    assert!(!network.dhcp);

    let before = h.sim.cameras()[0].stats().requests;
    let refused = |change: NetworkChange| {
        let nvr = h.nvr.clone();
        let target = target.clone();
        async move { nvr.set_camera_network(&target, &change, &system()).await }
    };
    // Outside the subnet the recorder reaches the camera on (loopback is 127.0.0.0/8).
    let outside = refused(static_change(Ipv4Addr::new(10, 0, 0, 5), 8, None)).await;
    assert!(
        matches!(
            outside,
            Err(NvrError::InvalidArgument {
                field: "address",
                problem: ArgumentProblem::OutsideSubnet { ref subnet }
            }) if subnet == "127.0.0.0/8"
        ),
        "{outside:?}"
    );
    // A gateway outside the camera's new subnet.
    let mut far_gateway = neighbour(&h, 0, 1).octets();
    far_gateway[2] = far_gateway[2].wrapping_add(1);
    let gateway = refused(static_change(
        neighbour(&h, 0, 50),
        24,
        Some(Ipv4Addr::from(far_gateway)),
    ))
    .await;
    assert!(
        matches!(
            gateway,
            Err(NvrError::InvalidArgument {
                field: "gateway",
                ..
            })
        ),
        "{gateway:?}"
    );
    // The subnet's broadcast address.
    let broadcast = refused(static_change(neighbour(&h, 0, 255), 24, None)).await;
    assert!(
        matches!(
            broadcast,
            Err(NvrError::InvalidArgument {
                field: "address",
                problem: ArgumentProblem::NotHostAddress
            })
        ),
        "{broadcast:?}"
    );
    assert_eq!(
        h.sim.cameras()[0].stats().requests,
        before,
        "nothing is sent for settings that are refused"
    );

    let new_address = neighbour(&h, 0, 50);
    let gateway = neighbour(&h, 0, 254);
    let changed = h
        .nvr
        .set_camera_network(
            &target,
            &static_change(new_address, 24, Some(gateway)),
            &system(),
        )
        .await
        .expect("the camera takes the new settings");
    assert!(!changed.rebooted);
    assert_eq!(changed.network.address, new_address);
    assert_eq!(
        h.nvr.added_camera(camera.id).unwrap().address.host,
        new_address.to_string()
    );
    eventually(
        Duration::from_secs(5),
        "the camera to listen at its new address",
        || async { h.sim.cameras()[0].http_addr().ip() == IpAddr::V4(new_address) },
    )
    .await;
    assert_eq!(h.sim.cameras()[0].network().gateway, Some(gateway));
    // The monitor follows it there and it stays certified.
    let failed_before = h.sim.cameras()[0].stats().failed_logins;
    let id = camera.id;
    let nvr = h.nvr.clone();
    let requests_before = h.sim.cameras()[0].stats().requests;
    eventually(Duration::from_secs(5), "a check at the new address", || {
        let sim_requests = h.sim.cameras()[0].stats().requests;
        async move { sim_requests > requests_before + 1 }
    })
    .await;
    assert_eq!(
        nvr.added_camera(id).unwrap().status.state,
        CameraState::Online
    );
    assert_eq!(h.sim.cameras()[0].stats().failed_logins, failed_before);
    let audit = h.nvr.audit_log(20).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == AuditAction::NetworkChanged)
        .expect("the change is audited");
    assert!(
        entry.outcome.contains(&format!("to {new_address}/24")),
        "{entry:?}"
    );

    // Kept across a restart.
    let h = h.restart().await;
    assert_eq!(
        h.nvr.added_camera(id).unwrap().address.host,
        new_address.to_string()
    );
    h.wait_for_state(id, CameraState::Online, Duration::from_secs(5))
        .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_needs_a_reboot_for_new_settings_gets_one_and_is_found_there() {
    let sim = simulator(1, |config| {
        config.policy.network_change_needs_reboot = true;
    })
    .await;
    let h = Harness::start(sim, Duration::from_millis(300)).await;
    let camera = h.add(0).await;
    let new_address = neighbour(&h, 0, 60);
    let changed = h
        .nvr
        .set_camera_network(
            &MaintainedCamera::Added(camera.id),
            &static_change(new_address, 24, None),
            &system(),
        )
        .await
        .unwrap();
    assert!(
        changed.rebooted,
        "the camera asked for a reboot and got one"
    );
    eventually(
        Duration::from_secs(5),
        "the camera back at its new address",
        || async {
            h.sim.cameras()[0].is_online()
                && h.sim.cameras()[0].http_addr().ip() == IpAddr::V4(new_address)
        },
    )
    .await;
    h.wait_for_state(camera.id, CameraState::Online, Duration::from_secs(5))
        .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_and_factory_defaults_reach_the_camera_and_are_audited() {
    let sim = simulator(1, |_| {}).await;
    let h = Harness::start(sim, Duration::from_millis(300)).await;
    let camera = h.add(0).await;
    let target = MaintainedCamera::Added(camera.id);
    let sim_camera = h.sim.cameras()[0].clone();

    let message = h.nvr.reboot_camera(&target, &system()).await.unwrap();
    assert!(message.contains("Rebooting"), "{message}");
    eventually(
        Duration::from_secs(3),
        "the camera to go down for its reboot",
        || {
            let online = sim_camera.is_online();
            async move { !online }
        },
    )
    .await;
    eventually(Duration::from_secs(5), "the camera to come back", || {
        let online = sim_camera.is_online();
        async move { online }
    })
    .await;
    h.wait_for_state(camera.id, CameraState::Online, Duration::from_secs(5))
        .await;

    // Soft: the gateway goes, the users and address stay, so it stays certified.
    sim_camera.set_gateway(Some(neighbour(&h, 0, 254)));
    h.nvr
        .restore_factory_defaults(&target, FactoryDefault::Soft, &system())
        .await
        .unwrap();
    assert_eq!(sim_camera.network().gateway, None);
    assert!(!sim_camera.is_inactive());

    // Hard: everything goes, so the camera comes back inactive and the recorder says it cannot use it.
    h.nvr
        .restore_factory_defaults(&target, FactoryDefault::Hard, &system())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "the camera back in factory state",
        || {
            let inactive = sim_camera.is_online() && sim_camera.is_inactive();
            async move { inactive }
        },
    )
    .await;
    h.wait_for_state(camera.id, CameraState::NotCertified, Duration::from_secs(5))
        .await;
    assert_eq!(
        h.nvr
            .added_camera(camera.id)
            .unwrap()
            .status
            .last_error
            .map(|r| r.kind),
        Some(vigil::model::ReasonKind::FactoryState)
    );
    let audit = h.nvr.audit_log(20).await.unwrap();
    let outcomes: Vec<(AuditAction, &str)> = audit
        .iter()
        .map(|e| (e.action, e.outcome.as_str()))
        .collect();
    for expected in [
        (AuditAction::CameraRebooted, "rebooted"),
        (
            AuditAction::FactoryDefaults,
            "soft factory defaults restored",
        ),
        (
            AuditAction::FactoryDefaults,
            "hard factory defaults restored",
        ),
    ] {
        assert!(outcomes.contains(&expected), "{expected:?} in {outcomes:?}");
    }
    // Now it is not certified: maintenance says so instead of logging in.
    let refused = h.nvr.reboot_camera(&target, &system()).await;
    assert!(
        matches!(refused, Err(NvrError::SettingsNeedCertified { .. })),
        "{refused:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_clock_is_set_in_utc_when_added_and_its_offset_is_shown() {
    // Every camera's clock is an hour fast.
    let sim = simulator(2, |config| config.clock_offset_secs = 3600).await;
    let mut settings = test_settings(&sim, Duration::from_secs(60));
    settings.camera_time.drift_limit = Duration::from_secs(10);
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    let camera = h.add(0).await;
    eventually(
        Duration::from_secs(5),
        "the clock set after the add",
        || async {
            h.nvr
                .added_camera(camera.id)
                .is_ok_and(|c| c.clock_offset_secs.abs() <= 2)
        },
    )
    .await;
    assert!(h.sim.cameras()[0].summary().clock_offset_secs.abs() <= 2);
    assert!(!h.nvr.clock_drifted(&h.nvr.added_camera(camera.id).unwrap()));
    h.stop().await;

    // With setting off, the offset is shown and flagged; the installer may set it at once.
    let sim = simulator(1, |config| config.clock_offset_secs = 3600).await;
    let mut settings = test_settings(&sim, Duration::from_secs(60));
    settings.camera_time.sync = vigil::config::TimeSync::Off;
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    let camera = h.add(0).await;
    let shown = h.nvr.added_camera(camera.id).unwrap();
    assert!((shown.clock_offset_secs - 3600).abs() <= 2, "{shown:?}");
    assert!(h.nvr.clock_drifted(&shown));
    let offset = h.nvr.set_camera_clock(camera.id, &system()).await.unwrap();
    assert!(offset.abs() <= 2, "{offset}");
    assert!(!h.nvr.clock_drifted(&h.nvr.added_camera(camera.id).unwrap()));
    let audit = h.nvr.audit_log(5).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == AuditAction::ClockSet),
        "{audit:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ntp_chosen_cameras_are_pointed_at_the_recorders_server() {
    let sim = simulator(1, |config| config.clock_offset_secs = -900).await;
    let mut settings = test_settings(&sim, Duration::from_secs(60));
    settings.camera_time.sync = vigil::config::TimeSync::Ntp("127.0.0.1".into());
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    let camera = h.add(0).await;
    eventually(
        Duration::from_secs(5),
        "the camera pointed at NTP",
        || async {
            let network = h.sim.cameras()[0].network();
            network.time_from_ntp && network.ntp_server.as_deref() == Some("127.0.0.1")
        },
    )
    .await;
    eventually(
        Duration::from_secs(5),
        "the synced offset shown",
        || async {
            h.nvr
                .added_camera(camera.id)
                .is_ok_and(|c| c.clock_offset_secs.abs() <= 2)
        },
    )
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_during_maintenance_holds_the_credentials_at_once() {
    let sim = simulator(1, |_| {}).await;
    let mut settings = test_settings(&sim, Duration::from_secs(60));
    // No clock setting after the add: this test counts the logins the reboot alone sends.
    settings.camera_time.sync = vigil::config::TimeSync::Off;
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    let camera = h.add(0).await;
    // Someone changes the password on the camera's own web page.
    h.sim.cameras()[0].set_password_directly("admin", "Another-Pass-93");
    let failed_before = h.sim.cameras()[0].stats().failed_logins;
    let refused = h
        .nvr
        .reboot_camera(&MaintainedCamera::Added(camera.id), &system())
        .await;
    assert_eq!(refused, Err(NvrError::CredentialsRejected));
    let shown = h.nvr.added_camera(camera.id).unwrap();
    assert_eq!(shown.status.state, CameraState::NotCertified);
    assert!(shown.status.credentials_rejected);
    // Held: nothing more is sent with them, not by a second command nor by the monitor.
    let again = h
        .nvr
        .camera_network(&MaintainedCamera::Added(camera.id), &system())
        .await;
    assert!(
        matches!(again, Err(NvrError::SettingsNeedCertified { .. })),
        "{again:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.sim.cameras()[0].stats().failed_logins, failed_before + 1);
    h.stop().await;
}

/// The same operations against a camera written by others: oxvif's own mock ONVIF server, with
/// WS-Security required. Each of Vigil's requests must be one it accepts and acts on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxvif_mock_server_accepts_every_maintenance_request() {
    use oxvif::mock::{AckOnlyOperation, MockServer};
    // The mock insists on an address this host has: 127.0.0.1, on a port of its own choosing.
    let bind = Ipv4Addr::LOCALHOST;
    let server = MockServer::builder()
        .bind_ip(bind)
        .enforce_auth(true)
        // Reboot and factory defaults are answered (after the mock checks the request's action and
        // body) but not carried out: the mock has no state to reset.
        .with_acknowledgment_only(AckOnlyOperation::DeviceReboot)
        .with_acknowledgment_only(AckOnlyOperation::DeviceFactoryDefault)
        .start()
        .await
        .expect("oxvif mock server starts");
    // The harness keeps a simulator; its one camera is not used here.
    let sim = simulator(1, |_| {}).await;
    let mut settings = test_settings(&sim, Duration::from_secs(60));
    settings.camera_time.sync = vigil::config::TimeSync::Utc;
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    let camera = h
        .nvr
        .add_camera(
            vigil::service::AddCamera {
                host: bind.to_string(),
                port: server.port(),
                username: crate::oxvif_fleet::FLEET_ADMIN.into(),
                password: crate::oxvif_fleet::FLEET_PASSWORD.into(),
            },
            &system(),
        )
        .await
        .expect("the mock camera adds");
    let target = MaintainedCamera::Added(camera.id);

    // The clock: set in UTC after the add (the mock keeps the zone it is given).
    eventually(
        Duration::from_secs(5),
        "the mock's zone set to UTC",
        || async { server.device().read().timezone == "UTC0" },
    )
    .await;
    assert!(h.nvr.set_camera_clock(camera.id, &system()).await.is_ok());

    // NTP, once the recorder is told to use it.
    let mut ntp = h.nvr.settings().as_ref().clone();
    ntp.camera_time.sync = vigil::config::TimeSync::Ntp("127.0.0.1".into());
    h.nvr.apply_settings(ntp, &[]);
    h.nvr
        .set_camera_clock(camera.id, &system())
        .await
        .expect("the mock takes NTP");
    assert_eq!(
        server.device().read().ntp.servers,
        vec!["127.0.0.1".to_owned()]
    );

    // Reboot and both factory defaults are accepted.
    h.nvr
        .reboot_camera(&target, &system())
        .await
        .expect("the mock reboots");
    for kind in [FactoryDefault::Soft, FactoryDefault::Hard] {
        h.nvr
            .restore_factory_defaults(&target, kind, &system())
            .await
            .unwrap_or_else(|e| panic!("the mock takes {kind:?} factory defaults: {e}"));
    }

    // Edit IP last (the recorder then looks for the camera at its new address): read, then set; the
    // mock reports what it was given.
    let network = h.nvr.camera_network(&target, &system()).await.unwrap();
    assert!(!network.interface_token.is_empty());
    let new_address = Ipv4Addr::new(bind.octets()[0], bind.octets()[1], bind.octets()[2], 77);
    let gateway = Ipv4Addr::new(bind.octets()[0], bind.octets()[1], bind.octets()[2], 254);
    let changed = h
        .nvr
        .set_camera_network(
            &target,
            &NetworkChange {
                address: new_address,
                prefix_len: 24,
                gateway: Some(gateway),
                dhcp: false,
            },
            &system(),
        )
        .await
        .expect("the mock takes the new settings");
    assert!(!changed.rebooted);
    {
        let state = server.device().read();
        assert_eq!(state.interface.ipv4_address, new_address.to_string());
        assert_eq!(state.interface.ipv4_prefix_length, 24);
        assert_eq!(state.gateway_ipv4, vec![gateway.to_string()]);
    }
    assert_eq!(
        h.nvr.added_camera(camera.id).unwrap().address.host,
        new_address.to_string()
    );
    h.stop().await;
    server.shutdown().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovered_camera_with_its_clock_off_is_reached_with_one_login() {
    let sim = simulator(1, |config| config.clock_offset_secs = 600).await;
    let h = Harness::start(sim, Duration::from_secs(60)).await;
    h.discover().await;
    let key = h.sim.cameras()[0].identity().endpoint_ref.clone();
    let network = h
        .nvr
        .camera_network(
            &MaintainedCamera::Discovered {
                key,
                username: "admin".into(),
                password: crate::support::CAMERA_PASSWORD.into(),
            },
            &system(),
        )
        .await
        .expect("read with the camera's clock");
    assert_eq!(
        IpAddr::V4(network.address),
        h.sim.cameras()[0].http_addr().ip()
    );
    assert_eq!(h.sim.cameras()[0].stats().failed_logins, 0);
    h.stop().await;
}

/// DHCP gives an added camera a new address: discovery finds it there by its serial number and MAC
/// address, its stored address follows, it certifies there with one login, and the move is audited.
/// A camera that still answers where it is stays put.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_dhcp_moved_is_found_and_followed() {
    let sim = simulator(2, |_| {}).await;
    let h = Harness::start(sim, Duration::from_millis(300)).await;
    let camera = h.add(0).await;
    let new_address = neighbour(&h, 0, 120);
    assert!(h.sim.move_camera(0, IpAddr::V4(new_address)));
    h.wait_for_state(camera.id, CameraState::Offline, Duration::from_secs(5))
        .await;
    let logins_before = h.sim.cameras()[0].stats().login_attempts;
    h.discover().await;
    eventually(
        Duration::from_secs(5),
        "the stored address to follow",
        || async {
            h.nvr
                .added_camera(camera.id)
                .is_ok_and(|c| c.address.host == new_address.to_string())
        },
    )
    .await;
    h.wait_for_state(camera.id, CameraState::Online, Duration::from_secs(5))
        .await;
    assert_eq!(h.sim.cameras()[0].stats().failed_logins, 0);
    assert!(
        h.sim.cameras()[0].stats().login_attempts > logins_before,
        "certified at its new address"
    );
    let audit = h.nvr.audit_log(10).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == AuditAction::NetworkChanged
            && e.actor == "system"
            && e.outcome
                .contains(&format!("found at its new address {new_address}:"))),
        "{audit:?}"
    );
    // The discovered list shows it added, at its new address.
    let listed = h
        .nvr
        .discovered_device_of(camera.id)
        .expect("listed as added");
    assert_eq!(listed.address.host, new_address.to_string());
    h.stop().await;
}

/// Plug and play: cameras that appear on the camera-side interface are taken in without a click. A
/// factory-state camera is activated with the recorder's default camera password and reserved email
/// and ends added, certified and on a channel; an active one with the default password is added; one
/// with another password is tried once and stays listed for the installer. Every step is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plug_and_play_takes_in_cameras_on_the_camera_network() {
    let sim = simulator(3, |config| config.inactive = 1).await;
    let mut settings = test_settings(&sim, Duration::from_millis(300));
    // The simulator's cameras are on loopback: here, the camera network.
    settings.discovery.plug_and_play_interfaces = vec!["lo".into()];
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    h.nvr
        .activate_nvr(
            "Brisk-Otter-47",
            "Brisk-Otter-47",
            "owner@example.com",
            Some(crate::support::CAMERA_PASSWORD),
            &vigil::model::Actor::System,
        )
        .await
        .expect("the recorder activates with a default camera password");
    // Camera 1's password is not the default.
    h.sim.cameras()[1].set_password_directly("admin", "Another-Pass-93");
    let factory = h.sim.cameras()[2].clone();
    assert!(factory.is_inactive());

    h.discover().await;
    let nvr = h.nvr.clone();
    eventually(Duration::from_secs(10), "two cameras taken in", || {
        let nvr = nvr.clone();
        async move {
            let cameras = nvr.added_cameras();
            cameras.len() == 2 && cameras.iter().all(|c| c.status.certified())
        }
    })
    .await;
    let added = h.nvr.added_cameras();
    let factory_serial = factory.identity().serial.clone();
    let activated = added
        .iter()
        .find(|c| c.identity.serial == factory_serial)
        .expect("the factory-state camera added");
    assert!(activated.channel.is_some());
    assert!(!factory.is_inactive(), "activated");
    assert_eq!(factory.stats().failed_logins, 0);
    // The camera with another password: one try, never again, and listed.
    assert_eq!(h.sim.cameras()[1].stats().login_attempts, 1);
    assert_eq!(h.sim.cameras()[1].stats().failed_logins, 1);
    h.discover().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.sim.cameras()[1].stats().login_attempts,
        1,
        "never retried"
    );
    let listed = h.nvr.discovered_devices();
    assert!(listed.iter().any(
        |d| d.identity.serial == h.sim.cameras()[1].identity().serial && d.added_as.is_none()
    ));
    let audit = h.nvr.audit_log(30).await.unwrap();
    let plug: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == AuditAction::PlugAndPlay)
        .map(|e| e.outcome.as_str())
        .collect();
    assert_eq!(plug.len(), 3, "{plug:?}");
    assert!(
        plug.iter()
            .any(|o| o.contains("activated with the default camera password and added on D"))
    );
    assert!(plug.iter().any(|o| o.contains("tried once, not again")));
    assert!(
        audit
            .iter()
            .all(|e| e.action != AuditAction::PlugAndPlay || e.actor == "system")
    );
    // Not after a restart of vigild either: the registry keeps which cameras were tried.
    let h = h.restart().await;
    h.discover().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.sim.cameras()[1].stats().login_attempts,
        1,
        "never retried, even after a restart"
    );
    h.stop().await;
}

/// Plug and play is off by default: a discovered camera waits for the installer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_plug_and_play_nothing_is_taken_in() {
    let sim = simulator(1, |config| config.inactive = 1).await;
    let h = Harness::start(sim, Duration::from_millis(300)).await;
    assert!(
        h.nvr
            .settings()
            .discovery
            .plug_and_play_interfaces
            .is_empty()
    );
    h.nvr
        .activate_nvr(
            "Brisk-Otter-47",
            "Brisk-Otter-47",
            "owner@example.com",
            Some(crate::support::CAMERA_PASSWORD),
            &vigil::model::Actor::System,
        )
        .await
        .unwrap();
    h.discover().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(h.nvr.added_cameras().is_empty());
    assert!(h.sim.cameras()[0].is_inactive());
    h.stop().await;
}

/// A camera that moves between two checks (it says Hello from its new address before the monitor
/// notices it is gone) is followed all the same: the recorder asks the stored address first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_moved_between_checks_is_followed() {
    let sim = simulator(2, |_| {}).await;
    let h = Harness::start(sim, Duration::from_secs(60)).await;
    let camera = h.add(0).await;
    let other = h.add(1).await;
    let new_address = neighbour(&h, 0, 121);
    assert!(h.sim.move_camera(0, IpAddr::V4(new_address)));
    eventually(
        Duration::from_secs(5),
        "the camera at its new address",
        || async { h.sim.cameras()[0].http_addr().ip() == IpAddr::V4(new_address) },
    )
    .await;
    assert_eq!(
        h.nvr.added_camera(camera.id).unwrap().status.state,
        CameraState::Online,
        "the monitor has not looked yet"
    );
    h.discover().await;
    eventually(
        Duration::from_secs(5),
        "the stored address to follow",
        || async {
            h.nvr
                .added_camera(camera.id)
                .is_ok_and(|c| c.address.host == new_address.to_string())
        },
    )
    .await;
    // The camera that did not move stays where it is.
    assert_eq!(h.nvr.added_camera(other.id).unwrap().address, other.address);
    h.stop().await;
}
