//! Cameras of the big vendors in their own protocols, against the simulator's personas over real
//! sockets: a mixed fleet (ONVIF, Vigil, Hikvision with ONVIF on and off) is one discovered list with
//! each camera's protocols; a Hikvision camera in factory state is activated over ISAPI, added and
//! certified without ONVIF; a refused password reaches a Hikvision camera once, and its lock is read.

use std::time::Duration;

use vigil::model::{CameraState, Protocol, Protocols};
use vigil::service::NvrError;
use vigil::sim::persona::{Persona, PersonaMix};

use crate::support::{CAMERA_PASSWORD, Harness, simulator, system, test_settings};

const NEW_PASSWORD: &str = "Quartz-Wren-58";

/// Six cameras: ONVIF, Vigil, Hikvision, ONVIF, Vigil (factory state), Hikvision (factory state). The
/// active Hikvision camera has ONVIF turned on, so it answers WS-Discovery and SADP both.
async fn mixed_fleet() -> Harness {
    let sim = simulator(6, |c| {
        c.persona = PersonaMix::Mixed(vec![Persona::Onvif, Persona::Vigil, Persona::Hikvision]);
        c.inactive = 2;
    })
    .await;
    sim.cameras()[2].set_onvif_enabled(true);
    let mut settings = test_settings(&sim, Duration::from_millis(300));
    settings.discovery.vendor_ports = vec![(Protocol::Hikvision, 37020)];
    Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await
}

fn key_of(h: &Harness, index: usize) -> String {
    let serial = h.sim.cameras()[index].identity().serial.clone();
    h.nvr
        .discovered_devices()
        .into_iter()
        .find(|d| d.identity.serial == serial)
        .unwrap_or_else(|| panic!("camera {index} ({serial}) is listed"))
        .key
}

#[tokio::test]
async fn a_mixed_fleet_is_one_list_and_every_inactive_camera_is_activated_added_and_certified() {
    let h = mixed_fleet().await;
    assert_eq!(h.discover().await, 6, "six cameras, each listed once");
    let listed = h.nvr.discovered_devices();
    let protocols_of = |index: usize| {
        let serial = &h.sim.cameras()[index].identity().serial;
        listed
            .iter()
            .find(|d| &d.identity.serial == serial)
            .map(|d| (d.protocols, d.inactive))
            .unwrap()
    };
    assert_eq!(protocols_of(0), (Protocols::only(Protocol::Onvif), false));
    // Seen by WS-Discovery and SADP: one device that speaks both, keyed by its endpoint reference.
    let both = Protocols::only(Protocol::Onvif).with(Protocol::Hikvision);
    assert_eq!(protocols_of(2), (both, false));
    assert!(key_of(&h, 2).starts_with("urn:uuid:"));
    // ONVIF off in factory state: only SADP finds it.
    assert_eq!(
        protocols_of(5),
        (Protocols::only(Protocol::Hikvision), true)
    );
    assert!(
        protocols_of(4).1,
        "the Vigil camera in factory state is inactive"
    );
    let hikvision = listed
        .iter()
        .find(|d| d.identity.serial == h.sim.cameras()[5].identity().serial)
        .unwrap();
    assert_eq!(hikvision.identity.manufacturer, "Hikvision");
    assert_eq!(
        hikvision.identity.mac.as_deref(),
        Some(h.sim.cameras()[5].identity().mac.as_str())
    );

    // The Hikvision camera in factory state: activated over ISAPI, added and certified over ISAPI.
    let activation = h
        .nvr
        .activate_camera(
            &key_of(&h, 5),
            NEW_PASSWORD,
            NEW_PASSWORD,
            "site@example.com",
            true,
            &system(),
        )
        .await
        .expect("the Hikvision camera activates");
    assert!(activation.reset_email_set, "its reserved email is set");
    let camera = activation.camera.expect("and is added");
    assert_eq!(camera.protocol, Protocol::Hikvision);
    assert_eq!(camera.identity.serial, h.sim.cameras()[5].identity().serial);
    assert_eq!(camera.status.state, CameraState::Online);
    let summary = h.sim.cameras()[5].summary();
    assert!(!summary.inactive);
    assert!(
        !h.sim.cameras()[5].onvif_enabled(),
        "certified with ONVIF still off"
    );

    // The Vigil camera in factory state, as before.
    let activation = h
        .nvr
        .activate_camera(
            &key_of(&h, 4),
            NEW_PASSWORD,
            NEW_PASSWORD,
            "site@example.com",
            true,
            &system(),
        )
        .await
        .expect("the Vigil camera activates");
    assert_eq!(activation.camera.unwrap().protocol, Protocol::Onvif);

    // The active Hikvision camera is managed in its own protocol though it speaks ONVIF too; the
    // plain ONVIF camera in ONVIF.
    let hik = h
        .nvr
        .add_discovered(&key_of(&h, 2), "admin", CAMERA_PASSWORD, &system())
        .await
        .unwrap();
    assert_eq!(hik.protocol, Protocol::Hikvision);
    assert_eq!(hik.status.state, CameraState::Online);
    let onvif = h
        .nvr
        .add_discovered(&key_of(&h, 0), "admin", CAMERA_PASSWORD, &system())
        .await
        .unwrap();
    assert_eq!(onvif.protocol, Protocol::Onvif);

    // The monitor keeps the Hikvision cameras certified over ISAPI; the protocol survives a restart.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let h = h.restart().await;
    for id in [camera.id, hik.id] {
        h.wait_for_state(id, CameraState::Online, Duration::from_secs(10))
            .await;
        assert_eq!(
            h.nvr.added_camera(id).unwrap().protocol,
            Protocol::Hikvision
        );
    }
    assert_eq!(h.sim.cameras()[5].stats().failed_logins, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_refused_password_reaches_a_hikvision_camera_once_and_its_lock_is_read() {
    let h = mixed_fleet().await;
    h.discover().await;
    let key = key_of(&h, 2);
    let camera = h.sim.cameras()[2].clone();
    let refused = h
        .nvr
        .add_discovered(&key, "admin", "Wrong-Guess-11", &system())
        .await;
    assert!(
        matches!(refused, Err(NvrError::CredentialsRejected)),
        "{refused:?}"
    );
    assert_eq!(camera.stats().failed_logins, 1, "one login, never retried");

    // Added with the right password, then changed behind the recorder's back: the monitor is refused
    // once and holds the credentials.
    let added = h
        .nvr
        .add_discovered(&key, "admin", CAMERA_PASSWORD, &system())
        .await
        .unwrap();
    camera.set_password_directly("admin", "Changed-Behind-99");
    h.wait_for_state(added.id, CameraState::NotCertified, Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        camera.stats().failed_logins,
        2,
        "the monitor's one refusal, then no more"
    );
    assert!(
        h.nvr
            .added_camera(added.id)
            .unwrap()
            .status
            .credentials_rejected
    );

    h.stop().await;
}

#[tokio::test]
async fn a_hikvision_cameras_lock_is_read_and_nothing_is_sent_into_it() {
    let h = mixed_fleet().await;
    h.discover().await;
    let key = key_of(&h, 2);
    let camera = h.sim.cameras()[2].clone();
    // Seven wrong logins lock Hikvision's admin for 30 minutes (each a separate try by an installer).
    for _ in 0..7 {
        let refused = h
            .nvr
            .add_discovered(&key, "admin", "Wrong-Guess-12", &system())
            .await;
        assert!(refused.is_err());
    }
    assert!(camera.summary().locked_users.contains(&"admin".to_owned()));
    // The right password now meets the lock: the recorder says so, with how long it lasts.
    let locked = h
        .nvr
        .add_discovered(&key, "admin", CAMERA_PASSWORD, &system())
        .await;
    match locked {
        Err(NvrError::CameraLocked {
            retry_after: Some(left),
        }) => {
            assert!(left > Duration::from_secs(25 * 60), "{left:?}");
        }
        other => panic!("expected the camera's lock, got {other:?}"),
    }
    h.stop().await;
}

#[tokio::test]
async fn a_hikvision_cameras_password_is_changed_over_isapi_and_forget_password_says_it_is_not_offered()
 {
    let h = mixed_fleet().await;
    h.discover().await;
    let camera = h.sim.cameras()[2].clone();
    // ONVIF off, as a new Hikvision camera has it: everything goes over ISAPI.
    camera.set_onvif_enabled(false);
    let added = h
        .nvr
        .add_discovered(&key_of(&h, 2), "admin", CAMERA_PASSWORD, &system())
        .await
        .unwrap();
    let outcomes = h
        .nvr
        .change_camera_passwords(&[added.id], NEW_PASSWORD, NEW_PASSWORD, &system())
        .await
        .unwrap();
    let changed = outcomes[0].result.as_ref().expect("the password changes");
    assert_eq!(changed.status.state, CameraState::Online);
    assert!(
        camera.password_is("admin", NEW_PASSWORD),
        "the camera has it"
    );
    assert_eq!(camera.stats().failed_logins, 0);

    // Hikvision's reset request is not public: Forget Password says the camera does not offer it,
    // before anything is sent or removed (docs/vendors.md).
    camera.set_password_directly("admin", "Changed-Behind-99");
    h.wait_for_state(added.id, CameraState::NotCertified, Duration::from_secs(10))
        .await;
    let requests_before = camera.stats().requests;
    let refused = h
        .nvr
        .start_recovery(vigil::model::RecoveryTarget::Added(added.id), &system())
        .await;
    assert!(
        matches!(refused, Err(NvrError::RecoveryNotSupported)),
        "{refused:?}"
    );
    let refused = h
        .nvr
        .remove_and_start_recovery(vigil::model::RecoveryTarget::Added(added.id), &system())
        .await;
    assert!(
        matches!(refused, Err(NvrError::RecoveryNotSupported)),
        "{refused:?}"
    );
    assert!(h.nvr.added_camera(added.id).is_ok(), "still added");
    assert!(
        camera.stats().requests - requests_before <= 2,
        "nothing but the monitor's checks"
    );
    h.stop().await;
}

/// IP and maintenance of a Hikvision camera with ONVIF off, over ISAPI: its settings read, a new
/// address taken and followed, its clock set in UTC, a reboot, soft factory defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hikvision_camera_with_onvif_off_is_maintained_over_isapi() {
    use std::net::{IpAddr, Ipv4Addr};
    use vigil::model::{FactoryDefault, NetworkChange};
    use vigil::service::MaintainedCamera;
    let h = mixed_fleet().await;
    h.discover().await;
    let camera = h.sim.cameras()[2].clone();
    camera.set_onvif_enabled(false);
    camera.set_clock_offset(900);
    let added = h
        .nvr
        .add_discovered(&key_of(&h, 2), "admin", CAMERA_PASSWORD, &system())
        .await
        .unwrap();
    let target = MaintainedCamera::Added(added.id);
    let network = h.nvr.camera_network(&target, &system()).await.unwrap();
    assert_eq!(IpAddr::V4(network.address), camera.http_addr().ip());
    assert_eq!(network.prefix_len, 24);

    let IpAddr::V4(now) = camera.http_addr().ip() else {
        panic!("IPv4")
    };
    let [a, b, c, _] = now.octets();
    let new_address = Ipv4Addr::new(a, b, c, 60);
    let changed = h
        .nvr
        .set_camera_network(
            &target,
            &NetworkChange {
                address: new_address,
                prefix_len: 24,
                gateway: Some(Ipv4Addr::new(a, b, c, 254)),
                dhcp: false,
            },
            &system(),
        )
        .await
        .expect("the camera takes its new address");
    assert_eq!(changed.network.address, new_address);
    assert_eq!(
        h.nvr.added_camera(added.id).unwrap().address.host,
        new_address.to_string()
    );
    assert_eq!(camera.network().gateway, Some(Ipv4Addr::new(a, b, c, 254)));

    // Set time now: the camera's clock is the recorder's, in UTC.
    let offset = h.nvr.set_camera_clock(added.id, &system()).await.unwrap();
    assert!(offset.abs() <= 2, "{offset}");
    let camera_now = vigil::clock::unix_secs(camera.camera_now());
    let true_now = vigil::clock::unix_secs(std::time::SystemTime::now());
    assert!((camera_now - true_now).abs() <= 2);

    h.nvr.reboot_camera(&target, &system()).await.unwrap();
    crate::support::eventually(
        Duration::from_secs(3),
        "the camera down for its reboot",
        || {
            let online = camera.is_online();
            async move { !online }
        },
    )
    .await;
    crate::support::eventually(
        Duration::from_secs(10),
        "the camera back from its reboot",
        || {
            let back = camera.is_online() && camera.stats().requests > 0;
            async move { back }
        },
    )
    .await;
    let requests = camera.stats().requests;
    crate::support::eventually(
        Duration::from_secs(10),
        "the monitor to check it again",
        || {
            let checked = camera.stats().requests > requests + 1;
            async move { checked }
        },
    )
    .await;
    h.wait_for_state(added.id, CameraState::Online, Duration::from_secs(10))
        .await;
    h.nvr
        .restore_factory_defaults(&target, FactoryDefault::Soft, &system())
        .await
        .unwrap();
    assert_eq!(
        camera.network().gateway,
        None,
        "soft defaults drop the gateway"
    );
    assert!(!camera.is_inactive(), "and keep the users");
    assert_eq!(camera.stats().failed_logins, 0);
    h.stop().await;
}

/// A Hikvision camera added by its address over ONVIF, then with ONVIF turned off: once discovery sees
/// it in SADP, edited credentials certify it over ISAPI and it is managed so from then on. Reset to
/// factory state while added, Activate gives it its password back on the same channel.
#[tokio::test]
async fn an_added_camera_follows_its_vendor_protocol_and_is_activated_in_place() {
    let h = mixed_fleet().await;
    let camera = h.sim.cameras()[2].clone();
    let added = h.add(2).await;
    assert_eq!(
        added.protocol,
        Protocol::Onvif,
        "added by address, over ONVIF"
    );
    camera.set_onvif_enabled(false);
    h.wait_for_state(added.id, CameraState::NotCertified, Duration::from_secs(10))
        .await;
    h.discover().await;
    let edited = h
        .nvr
        .edit_credentials(added.id, "admin", CAMERA_PASSWORD, &system())
        .await
        .expect("certified over ISAPI");
    assert_eq!(edited.protocol, Protocol::Hikvision);
    assert_eq!(edited.status.state, CameraState::Online);

    h.sim.factory_reset(2).await;
    h.discover().await;
    let key = key_of(&h, 2);
    assert!(h.nvr.discovered_device(&key).unwrap().inactive);
    let activation = h
        .nvr
        .activate_camera(
            &key,
            NEW_PASSWORD,
            NEW_PASSWORD,
            "site@example.com",
            true,
            &system(),
        )
        .await
        .expect("activated");
    assert_eq!(activation.add_error, None);
    let camera_now = activation
        .camera
        .expect("the added camera, with its new password");
    assert_eq!(camera_now.id, added.id);
    assert_eq!(camera_now.channel, added.channel);
    assert_eq!(camera_now.status.state, CameraState::Online);
    let h = h.restart().await;
    h.wait_for_state(added.id, CameraState::Online, Duration::from_secs(10))
        .await;
    assert_eq!(
        h.nvr.added_camera(added.id).unwrap().protocol,
        Protocol::Hikvision
    );
    h.stop().await;
}

/// Plug and play takes in Hikvision cameras too: one in factory state, with ONVIF off, is activated
/// over ISAPI with the recorder's default camera password and added; an active one whose password is
/// another is tried once, over ISAPI, and left listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plug_and_play_takes_in_a_hikvision_camera() {
    let sim = simulator(2, |c| {
        c.persona = PersonaMix::All(Persona::Hikvision);
        c.inactive = 1;
    })
    .await;
    let mut settings = test_settings(&sim, Duration::from_millis(300));
    settings.discovery.plug_and_play_interfaces = vec!["lo".into()];
    settings.discovery.vendor_ports = vec![(Protocol::Hikvision, 37020)];
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    h.nvr
        .activate_nvr(
            "Brisk-Otter-47",
            "Brisk-Otter-47",
            "owner@example.com",
            Some(CAMERA_PASSWORD),
            &vigil::model::Actor::System,
        )
        .await
        .expect("the recorder activates with a default camera password");
    h.sim.cameras()[0].set_password_directly("admin", "Another-Pass-93");
    let factory = h.sim.cameras()[1].clone();
    h.discover().await;
    let nvr = h.nvr.clone();
    crate::support::eventually(
        Duration::from_secs(10),
        "the factory camera taken in",
        || {
            let nvr = nvr.clone();
            async move {
                let cameras = nvr.added_cameras();
                cameras.len() == 1 && cameras[0].status.certified()
            }
        },
    )
    .await;
    let added = &h.nvr.added_cameras()[0];
    assert_eq!(added.identity.serial, factory.identity().serial);
    assert_eq!(added.protocol, Protocol::Hikvision);
    assert!(!factory.is_inactive());
    assert!(!factory.onvif_enabled(), "all over ISAPI");
    assert_eq!(h.sim.cameras()[0].stats().failed_logins, 1, "tried once");
    h.discover().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.sim.cameras()[0].stats().failed_logins, 1, "never again");
    h.stop().await;
}

/// The recorder's DHIP inquiry, through the same runner as SADP, finds the Dahua persona's cameras
/// and reads who they are and which are in factory state.
#[tokio::test]
async fn dhip_finds_the_dahua_cameras() {
    use vigil::camera::dahua::dhip::{DHIP_PORT, DhipCodec};
    use vigil::camera::vendor_discovery::{VendorPlan, probe};
    let sim = simulator(3, |c| {
        c.persona = PersonaMix::All(Persona::Dahua);
        c.inactive = 1;
    })
    .await;
    let plan = VendorPlan {
        multicast_interfaces: Vec::new(),
        port: DHIP_PORT,
        unicast_hosts: sim
            .cameras()
            .iter()
            .map(|c| c.identity().http_addr.ip())
            .collect(),
        listen_for: Duration::from_millis(500),
        repeat_after: Duration::from_millis(100),
    };
    let mut sightings = probe(
        std::sync::Arc::new(DhipCodec),
        plan,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    let mut found = Vec::new();
    while let Some(sighting) = sightings.recv().await {
        found.push(sighting);
    }
    assert_eq!(
        found.len(),
        3,
        "each camera once, though asked twice: {found:#?}"
    );
    for camera in sim.cameras() {
        let id = camera.identity();
        let sighting = found
            .iter()
            .find(|s| s.identity.serial == id.serial)
            .unwrap_or_else(|| panic!("{} found", id.serial));
        assert_eq!(sighting.protocol, Protocol::Dahua);
        assert_eq!(sighting.identity.mac.as_deref(), Some(id.mac.as_str()));
        assert_eq!(sighting.address.to_string(), id.http_addr.to_string());
        assert_eq!(sighting.inactive, camera.is_inactive());
    }
    sim.shutdown().await;
}

/// A Dahua camera seen by WS-Discovery and DHIP is one device; added, it is certified and monitored
/// over Dahua's JSON RPC (the two-step login), a wrong password reaches it once, and five wrong ones
/// lock it, which the recorder reports with the time left.
#[tokio::test]
async fn a_dahua_camera_is_certified_over_its_rpc_and_its_lock_is_read() {
    let sim = simulator(2, |c| c.persona = PersonaMix::All(Persona::Dahua)).await;
    let mut settings = test_settings(&sim, Duration::from_millis(300));
    settings.discovery.vendor_ports = vec![(Protocol::Dahua, 37810)];
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    assert_eq!(h.discover().await, 2);
    let both = Protocols::only(Protocol::Onvif).with(Protocol::Dahua);
    for device in h.nvr.discovered_devices() {
        assert_eq!(device.protocols, both, "{device:?}");
    }
    let camera = h.sim.cameras()[0].clone();
    let refused = h
        .nvr
        .add_discovered(&key_of(&h, 0), "admin", "Wrong-Guess-11", &system())
        .await;
    assert!(
        matches!(refused, Err(NvrError::CredentialsRejected)),
        "{refused:?}"
    );
    assert_eq!(camera.stats().failed_logins, 1, "one login, never retried");
    let added = h
        .nvr
        .add_discovered(&key_of(&h, 0), "admin", CAMERA_PASSWORD, &system())
        .await
        .unwrap();
    assert_eq!(added.protocol, Protocol::Dahua);
    assert_eq!(added.identity.serial, camera.identity().serial);
    assert_eq!(added.identity.model, camera.identity().model);
    let requests = camera.stats().requests;
    crate::support::eventually(
        Duration::from_secs(5),
        "the monitor's checks over the RPC",
        || {
            let checked = camera.stats().requests > requests + 3;
            async move { checked }
        },
    )
    .await;
    assert_eq!(
        h.nvr.added_camera(added.id).unwrap().status.state,
        CameraState::Online
    );
    // A new password (over ONVIF, which Dahua cameras ship with on), then certified over the RPC.
    let outcomes = h
        .nvr
        .change_camera_passwords(&[added.id], NEW_PASSWORD, NEW_PASSWORD, &system())
        .await
        .unwrap();
    let changed = outcomes[0].result.as_ref().expect("the password changes");
    assert_eq!(changed.status.state, CameraState::Online);
    assert!(camera.password_is("admin", NEW_PASSWORD));
    assert_eq!(
        camera.stats().failed_logins,
        1,
        "still only the first wrong one"
    );

    let other = h.sim.cameras()[1].clone();
    for _ in 0..5 {
        let _ = h
            .nvr
            .add_discovered(&key_of(&h, 1), "admin", "Wrong-Guess-12", &system())
            .await;
    }
    let locked = h
        .nvr
        .add_discovered(&key_of(&h, 1), "admin", CAMERA_PASSWORD, &system())
        .await;
    match locked {
        Err(NvrError::CameraLocked {
            retry_after: Some(left),
        }) => {
            assert!(left > Duration::from_secs(4 * 60), "{left:?}");
        }
        other => panic!("expected the camera's lock, got {other:?}"),
    }
    assert!(other.summary().locked_users.contains(&"admin".to_owned()));
    h.stop().await;
}
