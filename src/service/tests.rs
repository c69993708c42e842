//! The service API's own tests: the discovered list's merging rules, the password meter, argument
//! checks and error texts. The behaviour over real sockets is in tests/it/.

use super::*;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::model::{Actor, DeviceAddress, DeviceIdentity};

async fn idle_service(dir: &std::path::Path) -> Nvr {
    let mut settings = Config::default().resolve("test").unwrap();
    settings.discovery.multicast = false;
    settings.discovery.announcement_address = None;
    settings.discovery.on_start = false;
    settings.discovery.refresh_interval = None;
    let store = Arc::new(Store::open(dir).unwrap());
    Nvr::start(
        settings,
        store,
        Arc::new(SystemClock),
        CancellationToken::new(),
    )
    .await
    .unwrap()
}

fn sighted(key: &str, host: &str, serial: &str) -> DiscoveredDevice {
    DiscoveredDevice {
        key: key.to_owned(),
        address: DeviceAddress::new(host, 80).unwrap(),
        identity: DeviceIdentity {
            manufacturer: "Acme".into(),
            model: "X1".into(),
            firmware: "1.0".into(),
            serial: serial.into(),
            mac: None,
        },
        information_complete: true,
        inactive: false,
        added_as: None,
        last_seen: SystemTime::now(),
        protocols: crate::model::Protocols::only(crate::model::Protocol::Onvif),
        other_subnet: None,
        conflict_with: None,
    }
}

#[tokio::test]
async fn one_camera_under_a_new_endpoint_reference_stays_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    let nvr = idle_service(dir.path()).await;
    let mut events = nvr.subscribe();
    nvr.upsert_discovered(sighted("urn:uuid:a", "10.0.0.5", "S1"));
    nvr.upsert_discovered(sighted("urn:uuid:other", "10.0.0.6", "S2"));
    // The first camera comes back under a new endpoint reference (a reset regenerated it).
    nvr.upsert_discovered(sighted("urn:uuid:b", "10.0.0.5", "S1"));
    // Seen again unchanged: no event.
    nvr.upsert_discovered(sighted("urn:uuid:b", "10.0.0.5", "S1"));
    let keys: Vec<String> = nvr
        .discovered_devices()
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys, vec!["urn:uuid:b", "urn:uuid:other"]);
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(match event {
            NvrEvent::DeviceDiscovered { device } => format!("+{}", device.key),
            NvrEvent::DeviceGone { key } => format!("-{key}"),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        seen,
        vec![
            "+urn:uuid:a",
            "+urn:uuid:other",
            "-urn:uuid:a",
            "+urn:uuid:b"
        ]
    );
}

#[tokio::test]
async fn the_password_meter_and_the_commands_agree() {
    let dir = tempfile::tempdir().unwrap();
    let nvr = idle_service(dir.path()).await;
    for (password, user) in [
        ("Quiet-Falcon-83", "admin"),
        ("admin1234", "admin"),
        ("short1A", "admin"),
        ("Operator-Tide-41", "operator"),
        ("tab\there-Pass9", "admin"),
        ("aaaabbbbcccc", "admin"),
    ] {
        let assessment = nvr.assess_new_password(password, user);
        match check_new_password(password, password, user) {
            Ok(_) => assert!(assessment.acceptable(), "{password}"),
            Err(NvrError::PolicyViolation { unmet, .. }) => {
                assert_eq!(unmet, assessment.unmet, "{password}");
                assert!(!unmet.is_empty());
            }
            Err(other) => panic!("{password}: {other}"),
        }
    }
    assert!(
        nvr.assess_new_password("Quiet-Falcon-83", "admin")
            .acceptable()
    );
    assert!(!nvr.assess_new_password("admin1234", "admin").acceptable());
}

#[test]
fn credentials_are_checked_with_the_field_named() {
    let field = |u: &str, p: &str| match check_credentials(u, p) {
        Err(NvrError::InvalidArgument { field, .. }) => field,
        _ => "ok",
    };
    assert_eq!(field("", "pw"), "username");
    assert_eq!(field(" admin", "pw"), "username");
    assert_eq!(field(&"a".repeat(33), "pw"), "username");
    assert_eq!(field("admin", ""), "password");
    assert_eq!(field("admin", "bad\npw"), "password");
    assert_eq!(field("admin", &"p".repeat(65)), "password");
    assert_eq!(field("admin", "Harbor-Lamp-62"), "ok");
}

#[test]
fn errors_never_carry_the_password_and_say_what_to_do() {
    let e = check_credentials("admin", "x\u{7}secret").unwrap_err();
    assert!(!e.to_string().contains("secret"));
    let locked = NvrError::CameraLocked {
        retry_after: Some(Duration::from_secs(1790)),
    };
    assert!(locked.to_string().contains("30 minutes"), "{locked}");
}

/// A login's password hash runs under the account's own lock: with the camera registry's commit
/// lock held (as a camera status write holds it), a login still finishes.
#[tokio::test]
async fn a_login_never_waits_for_the_camera_registry() {
    let dir = tempfile::tempdir().unwrap();
    let nvr = idle_service(dir.path()).await;
    nvr.activate_nvr(
        "Vigil-Test-2024",
        "Vigil-Test-2024",
        "owner@example.com",
        None,
        &Actor::System,
    )
    .await
    .unwrap();

    let _registry_write = nvr.inner.commit.lock().await;
    let login = tokio::time::timeout(
        Duration::from_secs(20),
        nvr.login(NVR_ADMIN, "Vigil-Test-2024"),
    )
    .await
    .expect("the login waited for the camera registry's commit lock");
    assert!(matches!(login, Ok(account::LoginStep::Done(_))));
}
