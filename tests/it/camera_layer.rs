//! The camera layer against the simulator over real sockets: oxvif (tooling written by others) and our
//! own client both talk to it the way they would to a real camera.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use vigil::camera::CameraError;
use vigil::camera::client::CameraConnector;
use vigil::camera::discovery::{ProbePlan, probe};
use vigil::model::{Credentials, DeviceAddress};

use crate::support::{CAMERA_PASSWORD, probe_targets, simulator};

#[tokio::test]
async fn oxvif_reads_and_manages_a_simulated_camera() {
    let sim = simulator(1, |_| {}).await;
    let url = sim.cameras()[0].device_service_url();
    let anonymous = oxvif::OnvifClient::new(&url);
    let clock = anonymous
        .get_system_date_and_time()
        .await
        .expect("no auth needed");
    assert!(clock.utc_offset_secs().abs() <= 2);
    let caps = anonymous.get_capabilities().await.expect("capabilities");
    assert_eq!(caps.device.url.as_deref(), Some(url.as_str()));
    assert!(
        anonymous.get_users().await.is_err(),
        "GetUsers needs an administrator"
    );

    let admin = oxvif::OnvifClient::new(&url).with_credentials("admin", CAMERA_PASSWORD);
    let info = admin.get_device_info().await.expect("device info");
    assert_eq!(info.serial_number, sim.cameras()[0].identity().serial);
    let interfaces = admin.get_network_interfaces().await.expect("interfaces");
    assert_eq!(interfaces[0].hw_address, sim.cameras()[0].identity().mac);
    admin
        .create_users(&[("viewer", "Viewer#2026", "User")])
        .await
        .expect("create user");
    let clash = admin
        .create_users(&[("viewer", "Viewer#2026", "User")])
        .await;
    assert!(
        format!("{clash:?}").contains("OperationProhibited"),
        "{clash:?}"
    );
    let users = admin.get_users().await.expect("users");
    assert_eq!(users.len(), 2);

    let viewer = oxvif::OnvifClient::new(&url).with_credentials("viewer", "Viewer#2026");
    assert!(viewer.get_device_info().await.is_ok(), "a User may read");
    let refused = viewer.create_users(&[("x", "Whatever#1", "User")]).await;
    assert!(
        format!("{refused:?}").contains("NotAuthorized"),
        "{refused:?}"
    );
    admin.delete_users(&["viewer"]).await.expect("delete");
    assert!(
        admin.delete_users(&["admin"]).await.is_err(),
        "the last admin stays"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn oxvif_unicast_probe_finds_a_simulated_camera() {
    let sim = simulator(1, |c| {
        c.wsd_port = 3702;
    })
    .await;
    let ip = sim.cameras()[0].identity().http_addr.ip();
    let found = oxvif::discovery::probe_unicast(ip, Duration::from_millis(400)).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].endpoint, sim.cameras()[0].identity().endpoint_ref);
    assert_eq!(found[0].xaddrs, vec![sim.cameras()[0].device_service_url()]);
    sim.shutdown().await;
}

#[tokio::test]
async fn certification_applies_the_clock_offset_and_tells_failures_apart() {
    let sim = simulator(3, |c| c.clock_offset_secs = 3600).await;
    let connector = CameraConnector::new(Duration::from_secs(2));
    let address = DeviceAddress::from_url(&sim.cameras()[0].device_service_url()).unwrap();
    let good = Credentials::new("admin", CAMERA_PASSWORD);
    let certified = connector
        .certify(&address, &good)
        .await
        .expect("certifies an hour ahead");
    assert!((certified.clock_offset_secs - 3600).abs() <= 2);
    assert_eq!(
        certified.identity.serial,
        sim.cameras()[0].identity().serial
    );
    assert_eq!(
        certified.identity.mac.as_deref(),
        Some(sim.cameras()[0].identity().mac.as_str())
    );

    let wrong = Credentials::new("admin", "Wrong#Pass1");
    assert_eq!(
        connector.certify(&address, &wrong).await,
        Err(CameraError::CredentialsRejected)
    );
    assert_eq!(
        sim.cameras()[0].stats().failed_logins,
        1,
        "one attempt, one failure"
    );
    for _ in 0..4 {
        let _ = connector.certify(&address, &wrong).await;
    }
    let locked = connector.certify(&address, &good).await;
    assert!(
        matches!(
            locked,
            Err(CameraError::Locked {
                retry_after: Some(_)
            })
        ),
        "{locked:?}"
    );

    assert!(sim.cameras()[1].set_online(false).await);
    let offline = DeviceAddress::from_url(&sim.cameras()[1].device_service_url()).unwrap();
    assert!(matches!(
        connector.certify(&offline, &good).await,
        Err(CameraError::Offline(_))
    ));
    assert!(sim.cameras()[1].set_online(true).await);
    assert!(
        connector.certify(&offline, &good).await.is_ok(),
        "back online"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unicast_discovery_streams_every_camera() {
    let sim = simulator(8, |c| c.inactive = 2).await;
    let plan = ProbePlan {
        multicast_interfaces: Vec::new(),
        multicast_port: 3702,
        unicast_targets: probe_targets(&sim),
        listen_for: Duration::from_millis(300),
        repeat_after: Duration::from_millis(100),
    };
    let mut sightings = probe(plan, CancellationToken::new()).await.expect("probe");
    let mut found = Vec::new();
    while let Some(s) = sightings.recv().await {
        found.push(s);
    }
    assert_eq!(found.len(), 8, "each camera once, repeats merged");
    let connector = CameraConnector::new(Duration::from_secs(2));
    let mut inactive = 0;
    for s in &found {
        let id = connector
            .identify(&s.addresses[0], &s.scopes)
            .await
            .expect("identify");
        assert!(id.information_complete);
        assert!(id.identity.serial.starts_with("VS"));
        inactive += usize::from(id.inactive);
    }
    assert_eq!(inactive, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn any_user_may_change_their_own_password_with_set_user_as_onvif_says() {
    let sim = simulator(1, |_| {}).await;
    let url = sim.cameras()[0].device_service_url();
    let admin = oxvif::OnvifClient::new(&url).with_credentials("admin", CAMERA_PASSWORD);
    admin
        .create_users(&[
            ("viewer", "Viewer#2026", "User"),
            ("op", "Operate#2026", "Operator"),
        ])
        .await
        .expect("create users");
    // oxvif, a client written by others, as each user changing their own password.
    for (user, old, new, level) in [
        ("viewer", "Viewer#2026", "Viewer#2027", "User"),
        ("op", "Operate#2026", "Operate#2027", "Operator"),
    ] {
        let client = oxvif::OnvifClient::new(&url).with_credentials(user, old);
        client
            .set_user(user, Some(new), level)
            .await
            .unwrap_or_else(|e| panic!("{user} changes their own password: {e:?}"));
        let renewed = oxvif::OnvifClient::new(&url).with_credentials(user, new);
        assert!(
            renewed.get_device_info().await.is_ok(),
            "{user} logs in with it"
        );
    }
    // But not someone else's, nor their own level.
    let viewer = oxvif::OnvifClient::new(&url).with_credentials("viewer", "Viewer#2027");
    let other = viewer.set_user("op", Some("Taken#2028"), "Operator").await;
    assert!(format!("{other:?}").contains("NotAuthorized"), "{other:?}");
    let promoted = viewer
        .set_user("viewer", Some("Viewer#2028"), "Administrator")
        .await;
    assert!(
        format!("{promoted:?}").contains("NotAuthorized"),
        "{promoted:?}"
    );
    sim.shutdown().await;
}
