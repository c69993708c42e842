//! A simulated camera's rules, checked without sockets.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::clock::SimulatedClock;

fn identity() -> CameraIdentity {
    CameraIdentity {
        index: 0,
        endpoint_ref: "urn:uuid:00000000-0000-0000-0000-000000000001".into(),
        manufacturer: "Vigil".into(),
        model: "SIM-1".into(),
        firmware: "1.0".into(),
        serial: "S1".into(),
        hardware_id: "H1".into(),
        mac: "02:00:00:00:00:01".into(),
        http_addr: "127.0.0.1:1".parse().unwrap(),
        wsd_addr: "127.0.0.1:2".parse().unwrap(),
        persona: crate::sim::persona::Persona::Vigil,
    }
}

fn token(camera: &SimCamera, user: &str, password: &str, created: SystemTime) -> Credential {
    let nonce: [u8; 16] = rand::random();
    let created = crate::clock::rfc3339(created);
    let digest = oxvif::soap::security::compute_digest(&nonce, &created, password);
    let _ = camera;
    Credential::UsernameToken {
        username: user.into(),
        password: PasswordProof::Digest(BASE64.encode(digest)),
        nonce_b64: Some(BASE64.encode(nonce)),
        created: Some(created),
    }
}

fn camera(clock: Arc<SimulatedClock>) -> SimCamera {
    SimCamera::new(
        identity(),
        CameraPolicy::default(),
        clock,
        Some(("admin", "Secret123")),
        0,
    )
}

#[test]
fn five_failures_lock_the_user_for_the_configured_time_then_it_clears() {
    let clock = Arc::new(SimulatedClock::starting_now());
    let cam = camera(clock.clone());
    for _ in 0..4 {
        let bad = token(&cam, "admin", "wrong-pass", clock.now());
        let fault = cam.authenticate(Some(&bad), "/").unwrap_err();
        assert!(!fault.is_locked());
    }
    let bad = token(&cam, "admin", "wrong-pass", clock.now());
    assert!(cam.authenticate(Some(&bad), "/").unwrap_err().is_locked());
    // Even the right password is refused while locked, and it does not count as a failure.
    let good = token(&cam, "admin", "Secret123", clock.now());
    assert!(cam.authenticate(Some(&good), "/").unwrap_err().is_locked());
    assert_eq!(cam.stats().failed_logins, 5);
    assert_eq!(cam.stats().locked_rejections, 1);
    clock.advance(Duration::from_secs(30 * 60 + 1));
    let good = token(&cam, "admin", "Secret123", clock.now());
    assert_eq!(
        cam.authenticate(Some(&good), "/"),
        Ok(Caller::User {
            name: "admin".into(),
            level: UserLevel::Administrator
        })
    );
}

#[test]
fn failed_logins_are_counted_per_real_user_and_made_up_names_share_one_count() {
    let clock = Arc::new(SimulatedClock::starting_now());
    let cam = camera(clock.clone());
    for n in 0..200 {
        let name = format!("{n}-{}", "x".repeat(1000));
        let made_up = token(&cam, &name, "wrong-pass", clock.now());
        assert!(cam.authenticate(Some(&made_up), "/").is_err());
    }
    let bad = token(&cam, "admin", "wrong-pass", clock.now());
    assert!(cam.authenticate(Some(&bad), "/").is_err());
    let by_user = cam.stats().failed_logins_by_user;
    assert_eq!(
        by_user,
        BTreeMap::from([(UNKNOWN_USERNAME.to_owned(), 200), ("admin".to_owned(), 1)])
    );
    assert_eq!(cam.stats().failed_logins, 201);
}

#[test]
fn secrets_compare_equal_only_when_equal() {
    assert!(constant_time_eq(b"Harbor-Lamp-62", b"Harbor-Lamp-62"));
    assert!(!constant_time_eq(b"Harbor-Lamp-62", b"Harbor-Lamp-63"));
    assert!(!constant_time_eq(b"Harbor-Lamp-62", b"Harbor-Lamp-6"));
    assert!(!constant_time_eq(b"", b"x"));
    assert!(constant_time_eq(b"", b""));
}

#[test]
fn replayed_nonce_and_stale_created_are_refused() {
    let clock = Arc::new(SimulatedClock::starting_now());
    let cam = camera(clock.clone());
    let good = token(&cam, "admin", "Secret123", clock.now());
    assert!(cam.authenticate(Some(&good), "/").is_ok());
    assert!(cam.authenticate(Some(&good), "/").is_err());
    assert_eq!(cam.stats().replayed_nonces, 1);
    let stale = token(
        &cam,
        "admin",
        "Secret123",
        clock.now() - Duration::from_secs(3600),
    );
    assert!(cam.authenticate(Some(&stale), "/").is_err());
    assert_eq!(cam.stats().stale_timestamps, 1);
}

#[test]
fn clock_offset_moves_the_freshness_window() {
    let clock = Arc::new(SimulatedClock::starting_now());
    let cam = camera(clock.clone());
    cam.set_clock_offset(3600);
    let naive = token(&cam, "admin", "Secret123", clock.now());
    assert!(cam.authenticate(Some(&naive), "/").is_err());
    let adjusted = token(
        &cam,
        "admin",
        "Secret123",
        clock.now() + Duration::from_secs(3600),
    );
    assert!(cam.authenticate(Some(&adjusted), "/").is_ok());
}

#[test]
fn factory_state_is_open_until_an_administrator_exists() {
    let clock = Arc::new(SimulatedClock::starting_now());
    let cam = SimCamera::new(identity(), CameraPolicy::default(), clock, None, 0);
    assert!(cam.is_inactive());
    assert_eq!(cam.authenticate(None, "/"), Ok(Caller::FactoryState));
    let operator_only = [UserChange {
        username: "op".into(),
        password: Some("Operator1".into()),
        level: Some(UserLevel::Operator),
    }];
    assert!(cam.create_users(&operator_only).is_err());
    let admin = [UserChange {
        username: "admin".into(),
        password: Some("Secret123".into()),
        level: Some(UserLevel::Administrator),
    }];
    cam.create_users(&admin).unwrap();
    assert!(!cam.is_inactive());
    assert_eq!(cam.authenticate(None, "/"), Ok(Caller::Anonymous));
    assert!(
        cam.create_users(&admin)
            .unwrap_err()
            .to_string()
            .contains("UsernameClash")
    );
}

#[test]
fn levels_are_enforced_and_the_last_administrator_stays() {
    let clock = Arc::new(SimulatedClock::starting_now());
    let cam = camera(clock);
    let user = Caller::User {
        name: "viewer".into(),
        level: UserLevel::User,
    };
    assert!(cam.authorize(&user, AccessClass::ReadSystem).is_ok());
    assert!(cam.authorize(&user, AccessClass::ReadSystemSecret).is_err());
    assert!(
        cam.authorize(&Caller::Anonymous, AccessClass::WriteSystem)
            .unwrap_err()
            .http_status
            == 401
    );
    assert!(cam.delete_users(&["admin".into()]).is_err());
    assert!(cam.delete_users(&["nobody".into()]).is_err());
}
