//! The service API end to end against the simulator over real sockets: discovery, adding and
//! certification, status monitoring, and that bad input stores nothing.

use std::time::Duration;

use vigil::model::{Actor, AuditAction, Caller, CameraState, NvrEvent, ReasonKind};
use vigil::service::{AddCamera, NvrError};

use crate::support::{CAMERA_PASSWORD, Harness, simulator, system};

const PERIOD: Duration = Duration::from_millis(300);
/// Generous bound for "by the next check": one period plus slack for a loaded machine.
const NEXT_CHECK: Duration = Duration::from_secs(5);

#[tokio::test]
async fn unicast_discovery_lists_every_camera_with_identity_and_inactive_marker() {
    let h = Harness::start(simulator(12, |c| c.inactive = 3).await, PERIOD).await;
    let mut events = h.nvr.subscribe();
    let found = h.discover().await;
    assert_eq!(found, 12);
    let devices = h.nvr.discovered_devices();
    assert_eq!(devices.len(), 12);
    for device in &devices {
        let camera = h
            .sim
            .cameras()
            .iter()
            .find(|c| c.identity().serial == device.identity.serial)
            .expect("a real camera");
        assert_eq!(device.key, camera.identity().endpoint_ref);
        assert_eq!(device.identity.model, camera.identity().model);
        assert_eq!(device.identity.firmware, camera.identity().firmware);
        assert_eq!(
            device.identity.mac.as_deref(),
            Some(camera.identity().mac.as_str())
        );
        assert_eq!(device.inactive, camera.is_inactive());
        assert_eq!(device.added_as, None);
    }
    assert_eq!(devices.iter().filter(|d| d.inactive).count(), 3);
    let mut discovered_events = 0;
    loop {
        match events.recv().await.unwrap() {
            NvrEvent::DeviceDiscovered { .. } => discovered_events += 1,
            NvrEvent::DiscoveryFinished { devices } => {
                assert_eq!(devices, 12);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(
        discovered_events, 12,
        "one event per device, as each is identified"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_second_run_merges_duplicates_and_marks_added_cameras() {
    let h = Harness::start(simulator(4, |_| {}).await, PERIOD).await;
    let added = h.add(2).await;
    h.discover().await;
    h.discover().await;
    let devices = h.nvr.discovered_devices();
    assert_eq!(
        devices.len(),
        4,
        "repeats and a second run do not duplicate"
    );
    let marked: Vec<_> = devices.iter().filter_map(|d| d.added_as).collect();
    assert_eq!(marked, vec![added.id]);
    let key = devices
        .iter()
        .find(|d| d.added_as.is_some())
        .unwrap()
        .key
        .clone();
    assert!(matches!(
        h.nvr.add_discovered(&key, "admin", CAMERA_PASSWORD, &system()).await,
        Err(NvrError::Duplicate { existing, .. }) if existing == added.id
    ));
    h.nvr.remove_camera(added.id, &system()).await.unwrap();
    assert!(
        h.nvr
            .discovered_devices()
            .iter()
            .all(|d| d.added_as.is_none())
    );
    h.stop().await;
}

#[tokio::test]
async fn adding_verifies_at_once_and_bad_input_stores_nothing() {
    let h = Harness::start(simulator(2, |_| {}).await, PERIOD).await;
    let (host, port) = h.address(0);
    let request = |host: &str, port: u16, password: &str| AddCamera {
        host: host.to_owned(),
        port,
        username: "admin".into(),
        password: password.to_owned(),
    };
    let field = |r: Result<_, NvrError>| match r {
        Err(NvrError::InvalidArgument { field, .. }) => field,
        other => panic!("expected InvalidArgument, got {other:?}"),
    };
    assert_eq!(
        field(
            h.nvr
                .add_camera(request("", port, CAMERA_PASSWORD), &system())
                .await
        ),
        "host"
    );
    assert_eq!(
        field(
            h.nvr
                .add_camera(request("not a host!", port, CAMERA_PASSWORD), &system())
                .await
        ),
        "host"
    );
    assert_eq!(
        field(
            h.nvr
                .add_camera(request(&host, 0, CAMERA_PASSWORD), &system())
                .await
        ),
        "port"
    );
    assert_eq!(
        field(h.nvr.add_camera(request(&host, port, ""), &system()).await),
        "password"
    );
    let unreachable = h
        .nvr
        .add_camera(request(&host, port + 1000, CAMERA_PASSWORD), &system())
        .await;
    assert!(
        matches!(unreachable, Err(NvrError::Unreachable { .. })),
        "{unreachable:?}"
    );
    let wrong = h
        .nvr
        .add_camera(request(&host, port, "Wrong#Pass9"), &system())
        .await;
    assert_eq!(wrong, Err(NvrError::CredentialsRejected));
    assert!(h.nvr.added_cameras().is_empty());

    let mut events = h.nvr.subscribe();
    let camera = h.add(0).await;
    assert_eq!(camera.status.state, CameraState::Online);
    assert!(camera.status.certified());
    assert_eq!(camera.identity.serial, h.sim.cameras()[0].identity().serial);
    assert!(
        matches!(events.recv().await.unwrap(), NvrEvent::CameraAdded { camera: c } if c.id == camera.id)
    );
    let again = h
        .nvr
        .add_camera(request(&host, port, CAMERA_PASSWORD), &system())
        .await;
    assert!(matches!(again, Err(NvrError::Duplicate { existing, .. }) if existing == camera.id));

    let h = h.restart().await;
    let loaded = h.nvr.added_cameras();
    assert_eq!(loaded.len(), 1, "only the good add was stored");
    assert_eq!(loaded[0].id, camera.id);
    assert_eq!(loaded[0].identity, camera.identity);
    h.stop().await;
}

#[tokio::test]
async fn a_password_changed_behind_the_nvrs_back_shows_not_certified_and_is_never_retried() {
    let h = Harness::start(simulator(1, |_| {}).await, PERIOD).await;
    let camera = h.add(0).await;
    let sim_camera = h.sim.cameras()[0].clone();
    sim_camera.set_password_directly("admin", "Changed#Elsewhere1");
    h.wait_for_state(camera.id, CameraState::NotCertified, NEXT_CHECK)
        .await;
    let status = h.nvr.added_camera(camera.id).unwrap().status;
    assert!(status.credentials_rejected);
    let reason = status.last_error.clone().unwrap();
    assert_eq!(reason.kind, ReasonKind::CredentialsRejected);
    assert!(reason.to_string().contains("Edit the credentials"));
    assert!(status.last_error_at.is_some());
    let attempts = sim_camera.stats().login_attempts;
    assert_eq!(
        sim_camera.stats().failed_logins,
        1,
        "exactly one failed login"
    );

    // Several more periods, and a restart of the service: no further login attempts at all.
    tokio::time::sleep(PERIOD * 5).await;
    let h = h.restart().await;
    tokio::time::sleep(PERIOD * 5).await;
    assert_eq!(
        sim_camera.stats().login_attempts,
        attempts,
        "the old password is never tried again"
    );
    assert!(
        sim_camera.stats().requests > 3,
        "but the camera is still checked for reachability"
    );
    assert_eq!(
        h.nvr.added_camera(camera.id).unwrap().status.state,
        CameraState::NotCertified
    );

    let wrong = h
        .nvr
        .edit_credentials(camera.id, "admin", "Still#Wrong2", &system())
        .await;
    assert_eq!(wrong, Err(NvrError::CredentialsRejected));
    let edited = h
        .nvr
        .edit_credentials(camera.id, "admin", "Changed#Elsewhere1", &system())
        .await
        .unwrap();
    assert_eq!(edited.status.state, CameraState::Online);
    assert!(!edited.status.credentials_rejected);
    let before = sim_camera.stats().successful_logins;
    let nvr = h.nvr.clone();
    crate::support::eventually(NEXT_CHECK, "monitor to use the new password", || {
        let cam = sim_camera.clone();
        async move { cam.stats().successful_logins > before }
    })
    .await;
    assert_eq!(
        nvr.added_camera(camera.id).unwrap().status.state,
        CameraState::Online
    );
    h.stop().await;
}

#[tokio::test]
async fn a_camera_lockout_shows_locked() {
    let h = Harness::start(simulator(1, |_| {}).await, PERIOD).await;
    let camera = h.add(0).await;
    // Someone else guesses at the camera until it locks the admin user.
    let url = h.sim.cameras()[0].device_service_url();
    let guesser = oxvif::OnvifClient::new(&url).with_credentials("admin", "Guess#Wrong1");
    // Five failures in a row lock the user; a monitor check landing in between resets the count, as a
    // successful login does on real cameras, so guess until the camera reports the lock.
    let sim_camera = h.sim.cameras()[0].clone();
    for _ in 0..50 {
        if sim_camera
            .summary()
            .locked_users
            .contains(&"admin".to_owned())
        {
            break;
        }
        assert!(guesser.get_device_info().await.is_err());
    }
    assert!(
        sim_camera
            .summary()
            .locked_users
            .contains(&"admin".to_owned())
    );
    h.wait_for_state(camera.id, CameraState::Locked, NEXT_CHECK)
        .await;
    let status = h.nvr.added_camera(camera.id).unwrap().status;
    assert!(
        !status.credentials_rejected,
        "a lock is not a wrong password"
    );
    let reason = status.last_error.clone().unwrap();
    assert_eq!(reason.kind, ReasonKind::Locked);
    assert!(
        reason.to_string().contains("unlocks in about 30 min"),
        "{status:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn offline_and_back_online() {
    let h = Harness::start(simulator(2, |_| {}).await, PERIOD).await;
    let camera = h.add(1).await;
    let mut events = h.nvr.subscribe();
    let mut next_state = async move || loop {
        let event = tokio::time::timeout(NEXT_CHECK, events.recv()).await;
        if let Ok(Ok(NvrEvent::CameraStatusChanged { id, status })) = event {
            assert_eq!(id, camera.id);
            return status;
        }
        assert!(event.is_ok(), "no status change within {NEXT_CHECK:?}");
    };
    assert!(h.sim.cameras()[1].set_online(false).await);
    let offline = next_state().await;
    assert_eq!(offline.state, CameraState::Offline);
    let reason = offline.last_error.clone().unwrap();
    assert_eq!(reason.kind, ReasonKind::Offline);
    assert!(reason.to_string().contains("No answer"));
    assert!(h.sim.cameras()[1].set_online(true).await);
    let online = next_state().await;
    assert_eq!(
        online.state,
        CameraState::Online,
        "straight back, nothing in between"
    );
    assert_eq!(h.nvr.added_camera(camera.id).unwrap().status, online);
    h.stop().await;
}

#[tokio::test]
async fn cameras_an_hour_off_either_way_still_certify() {
    let sim = simulator(2, |_| {}).await;
    sim.cameras()[0].set_clock_offset(3600);
    sim.cameras()[1].set_clock_offset(-3600);
    let h = Harness::start(sim, PERIOD).await;
    let ahead = h.add(0).await;
    let behind = h.add(1).await;
    assert!(
        (ahead.clock_offset_secs - 3600).abs() <= 2,
        "{}",
        ahead.clock_offset_secs
    );
    assert!(
        (behind.clock_offset_secs + 3600).abs() <= 2,
        "{}",
        behind.clock_offset_secs
    );
    let checks = h.sim.cameras()[0].stats().successful_logins;
    crate::support::eventually(NEXT_CHECK, "a few monitor checks", || {
        let cam = h.sim.cameras()[0].clone();
        async move { cam.stats().successful_logins >= checks + 3 }
    })
    .await;
    for camera in [&ahead, &behind] {
        assert_eq!(
            h.nvr.added_camera(camera.id).unwrap().status.state,
            CameraState::Online
        );
    }
    assert_eq!(h.sim.cameras()[0].stats().stale_timestamps, 0);
    h.stop().await;
}

#[tokio::test]
async fn a_camera_that_wants_credentials_for_its_clock_is_listed_and_certifies() {
    let h = Harness::start(
        simulator(1, |c| c.policy.anonymous_clock = false).await,
        PERIOD,
    )
    .await;
    let camera = h.sim.cameras()[0].clone();
    let found = h.discover().await;
    assert_eq!(found, 1, "listed although its clock needs credentials");
    let device = &h.nvr.discovered_devices()[0];
    assert_eq!(device.identity.serial, camera.identity().serial);

    let (host, port) = h.address(0);
    let wrong = h
        .nvr
        .add_camera(
            AddCamera {
                host: host.clone(),
                port,
                username: "admin".into(),
                password: "Wrong#Pass9".into(),
            },
            &system(),
        )
        .await;
    assert_eq!(wrong, Err(NvrError::CredentialsRejected));
    assert_eq!(camera.stats().failed_logins, 1, "one attempt, one failure");

    let added = h.add(0).await;
    assert!(added.status.certified());
    assert_eq!(added.identity.serial, camera.identity().serial);
    let logins = camera.stats().successful_logins;
    crate::support::eventually(NEXT_CHECK, "a few monitor checks", || {
        let camera = camera.clone();
        async move { camera.stats().successful_logins >= logins + 4 }
    })
    .await;
    assert_eq!(
        h.nvr.added_camera(added.id).unwrap().status.state,
        CameraState::Online,
        "the monitor keeps it certified"
    );
    assert_eq!(camera.stats().failed_logins, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_factory_state_camera_is_listed_inactive_and_not_added_until_activated() {
    let h = Harness::start(simulator(2, |c| c.inactive = 1).await, PERIOD).await;
    h.discover().await;
    let inactive: Vec<_> = h
        .nvr
        .discovered_devices()
        .into_iter()
        .filter(|d| d.inactive)
        .collect();
    assert_eq!(inactive.len(), 1);
    assert_eq!(
        inactive[0].identity.serial,
        h.sim.cameras()[1].identity().serial
    );
    assert_eq!(
        h.nvr
            .add_discovered(&inactive[0].key, "admin", CAMERA_PASSWORD, &system())
            .await,
        Err(NvrError::CameraInactive)
    );
    assert!(h.nvr.added_cameras().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn removing_a_camera_stops_its_monitor() {
    let h = Harness::start(simulator(1, |_| {}).await, PERIOD).await;
    let camera = h.add(0).await;
    h.nvr.remove_camera(camera.id, &system()).await.unwrap();
    assert!(matches!(
        h.nvr.added_camera(camera.id),
        Err(NvrError::CameraNotFound(_))
    ));
    assert_eq!(
        h.nvr.remove_camera(camera.id, &system()).await,
        Err(NvrError::CameraNotFound(camera.id))
    );
    tokio::time::sleep(PERIOD).await;
    let requests = h.sim.cameras()[0].stats().requests;
    tokio::time::sleep(PERIOD * 4).await;
    assert_eq!(
        h.sim.cameras()[0].stats().requests,
        requests,
        "no more checks"
    );
    let h = h.restart().await;
    assert!(h.nvr.added_cameras().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_replaced_key_file_marks_cameras_not_certified_without_trying_them() {
    let h = Harness::start(simulator(1, |_| {}).await, PERIOD).await;
    let camera = h.add(0).await;
    let sim_camera = h.sim.cameras()[0].clone();
    // Lose the key file (a restore from a partial backup) and start again.
    std::fs::remove_file(h.state.path().join(vigil::store::secret::KEY_FILE)).unwrap();
    let h = h.restart().await;
    let attempts = sim_camera.stats().login_attempts;
    h.wait_for_state(camera.id, CameraState::NotCertified, NEXT_CHECK)
        .await;
    tokio::time::sleep(PERIOD * 3).await;
    assert_eq!(
        sim_camera.stats().login_attempts,
        attempts,
        "no login with an unreadable password"
    );
    let status = h.nvr.added_camera(camera.id).unwrap().status;
    let reason = status.last_error.unwrap();
    assert_eq!(reason.kind, ReasonKind::PasswordUnreadable);
    assert!(reason.to_string().contains("Enter the credentials again"));
    let fixed = h
        .nvr
        .edit_credentials(camera.id, "admin", CAMERA_PASSWORD, &system())
        .await
        .unwrap();
    assert_eq!(fixed.status.state, CameraState::Online);
    h.stop().await;
}

#[tokio::test]
async fn cameras_sharing_one_mac_address_are_two_cameras() {
    // Cheap cameras (and oxvif's mock fleet) all report one MAC; their serial numbers differ.
    let h = Harness::start(
        simulator(2, |c| c.shared_mac = Some("00:11:22:33:44:55".into())).await,
        PERIOD,
    )
    .await;
    let first = h.add(0).await;
    let second = h.add(1).await;
    assert_ne!(first.id, second.id);
    assert_eq!(first.identity.mac, second.identity.mac);
    assert_ne!(first.identity.serial, second.identity.serial);
    h.discover().await;
    let mut added_as: Vec<_> = h
        .nvr
        .discovered_devices()
        .iter()
        .map(|d| d.added_as)
        .collect();
    added_as.sort();
    assert_eq!(added_as, vec![Some(first.id), Some(second.id)]);
    h.stop().await;
}

#[tokio::test]
async fn two_cameras_claiming_one_serial_number_are_a_conflict_shown_not_merged() {
    // The same seed gives the same serial numbers; the second simulator's cameras have another MAC.
    let original = simulator(1, |c| c.seed = 77).await;
    let impostor = simulator(1, |c| {
        c.seed = 77;
        c.shared_mac = Some("02:00:00:00:00:99".into());
    })
    .await;
    let mut settings = crate::support::test_settings(&original, PERIOD);
    settings
        .discovery
        .unicast_targets
        .extend(crate::support::probe_targets(&impostor));
    let h = Harness::start_with(original, settings, tempfile::tempdir().unwrap()).await;
    assert_eq!(h.discover().await, 2, "both are listed");
    let devices = h.nvr.discovered_devices();
    let original_address = h.sim.cameras()[0].identity().http_addr;
    let impostor_address = impostor.cameras()[0].identity().http_addr;
    for device in &devices {
        let other = if device.address.port == original_address.port()
            && device.address.host == original_address.ip().to_string()
        {
            impostor_address
        } else {
            original_address
        };
        assert_eq!(
            device.conflict_with.as_ref().map(ToString::to_string),
            Some(other.to_string()),
            "{device:?}"
        );
    }
    let added = h.add(0).await;
    let refused = h
        .nvr
        .add_camera(
            AddCamera {
                host: impostor_address.ip().to_string(),
                port: impostor_address.port(),
                username: "admin".into(),
                password: CAMERA_PASSWORD.into(),
            },
            &system(),
        )
        .await;
    assert!(
        matches!(refused, Err(NvrError::SerialConflict { existing, .. }) if existing == added.id),
        "{refused:?}"
    );
    assert_eq!(h.nvr.added_cameras().len(), 1);
    h.stop().await;
    impostor.shutdown().await;
}

#[tokio::test]
async fn a_factory_state_camera_added_by_address_is_refused_as_inactive_whatever_the_login() {
    let h = Harness::start(simulator(1, |c| c.inactive = 1).await, PERIOD).await;
    let (host, port) = h.address(0);
    for (username, password) in [("whoever", "Any-Thing-123"), ("admin", CAMERA_PASSWORD)] {
        let refused = h
            .nvr
            .add_camera(
                AddCamera {
                    host: host.clone(),
                    port,
                    username: username.into(),
                    password: password.into(),
                },
                &system(),
            )
            .await;
        assert_eq!(refused, Err(NvrError::CameraInactive), "{username}");
    }
    assert!(h.nvr.added_cameras().is_empty());
    let camera = &h.sim.cameras()[0];
    assert!(camera.is_inactive(), "still in factory state");
    assert!(
        camera.users().is_empty(),
        "no user was made by the attempts"
    );
    h.stop().await;
}

/// Every change to the camera registry is audited with who made it, in the same transaction as the
/// change: adding (by address and from the list), editing the credentials, starting a password reset
/// and removing. A refused command changes nothing and writes no entry.
#[tokio::test]
async fn every_registry_change_is_audited_with_its_actor() {
    let h = Harness::start(simulator(2, |_| {}).await, PERIOD).await;
    h.discover().await;
    let program = Caller::from(Actor::Dbus { uid: 1000 });
    let (host, port) = h.address(0);
    let by_address = h
        .nvr
        .add_camera(
            AddCamera {
                host,
                port,
                username: "admin".into(),
                password: CAMERA_PASSWORD.into(),
            },
            &program,
        )
        .await
        .unwrap();
    let second_key = h.sim.cameras()[1].identity().endpoint_ref.clone();
    let from_list = h
        .nvr
        .add_discovered(&second_key, "admin", CAMERA_PASSWORD, &program)
        .await
        .unwrap();
    let refused = h
        .nvr
        .edit_credentials(by_address.id, "admin", "Wrong-Guess-1", &program)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    h.nvr
        .edit_credentials(by_address.id, "admin", CAMERA_PASSWORD, &program)
        .await
        .unwrap();
    h.nvr.remove_camera(from_list.id, &program).await.unwrap();
    let started = h
        .nvr
        .start_recovery(&second_key, &program)
        .await
        .unwrap()
        .started()
        .expect("the removed camera's reset starts");

    let audit = h.nvr.audit_log(50).await.unwrap();
    let mut seen: Vec<(AuditAction, &str)> = audit
        .iter()
        .rev()
        .map(|e| (e.action, e.actor.as_str()))
        .collect();
    seen.dedup();
    assert_eq!(
        seen,
        [
            (AuditAction::CameraAdded, "dbus:uid=1000"),
            (AuditAction::CredentialsEdited, "dbus:uid=1000"),
            (AuditAction::CameraRemoved, "dbus:uid=1000"),
            (AuditAction::RecoveryStarted, "dbus:uid=1000"),
        ],
        "{audit:?}"
    );
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == AuditAction::CameraAdded)
            .count(),
        2
    );
    let serial = &h.sim.cameras()[1].identity().serial;
    assert!(
        audit
            .iter()
            .filter(|e| e.action != AuditAction::CameraAdded
                && e.action != AuditAction::CredentialsEdited)
            .all(|e| e.camera.contains(serial.as_str())),
        "the entries name their camera: {audit:?}"
    );
    assert!(
        audit.iter().all(|e| !e.outcome.contains(CAMERA_PASSWORD)),
        "no password in the log"
    );
    assert_eq!(h.nvr.verify_audit().await, Ok(audit.len()));
    h.nvr.cancel_recovery(started.id, &system()).await.unwrap();
    h.stop().await;
}

/// A camera replaced at its address: the added camera goes away and another (same password, another
/// serial number) answers there. The monitor does not take it for the added one: the status says
/// another camera answers, with its serial number, and the password is not sent to it again.
#[tokio::test]
async fn another_camera_at_an_added_cameras_address_is_not_taken_for_it() {
    let sim = simulator(2, |_| {}).await;
    let h = Harness::start(sim, Duration::from_millis(200)).await;
    h.discover().await;
    let added = h.add(0).await;
    let (first, second) = (h.sim.cameras()[0].clone(), h.sim.cameras()[1].clone());
    let address = first.http_addr().ip();
    first.set_online(false).await;
    second
        .set_network_interface("eth0", Some(false), Some((address, 24)))
        .expect("the second camera takes the first one's address");
    h.wait_for_state(added.id, CameraState::NotCertified, Duration::from_secs(10))
        .await;
    let camera = h.nvr.added_camera(added.id).unwrap();
    let reason = camera.status.last_error.expect("a reason");
    assert_eq!(reason.kind, ReasonKind::AnotherCamera);
    assert_eq!(reason.words, second.identity().serial);
    assert_eq!(
        camera.identity.serial,
        first.identity().serial,
        "the added camera keeps its own identity"
    );
    let logins = second.stats().login_attempts;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        second.stats().login_attempts,
        logins,
        "the other camera gets no more logins"
    );
    h.stop().await;
}
