//! The simulated recovery extension's rules, checked without sockets.

use std::sync::Arc;

use super::*;

#[test]
fn codes_have_the_documented_shape_and_depend_on_everything() {
    let secret = [7u8; 32];
    let nonce = [1u8; 16];
    let code = challenge_code(&secret, &nonce, 1_800_000_000);
    assert_eq!(code.len(), 8);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(code, challenge_code(&secret, &nonce, 1_800_000_000));
    assert_ne!(code, challenge_code(&[8u8; 32], &nonce, 1_800_000_000));
    assert_ne!(code, challenge_code(&secret, &[2u8; 16], 1_800_000_000));
    assert_ne!(code, challenge_code(&secret, &nonce, 1_800_000_001));
    let support = support_code(&secret, "VS1", "2026-11-23");
    assert_eq!(support.len(), 10);
    assert_ne!(support, support_code(&secret, "VS1", "2026-11-24"));
    assert_ne!(support, support_code(&secret, "VS2", "2026-11-23"));
}

#[test]
fn qr_payloads_round_trip_and_carry_no_secret() {
    let expires = crate::clock::from_unix_secs(1_800_000_000);
    let nonce = [9u8; 16];
    let payload = qr_payload("VS 1&2", &B64URL.encode(nonce), expires);
    let parsed = parse_qr_payload(&payload).unwrap();
    assert_eq!(parsed.device, "VS 1&2");
    assert_eq!(parsed.nonce, nonce);
    assert_eq!(parsed.expires_unix, 1_800_000_000);
    assert!(parse_qr_payload("vigil-recovery:v1?d=x").is_none());
    assert!(parse_qr_payload("http://example.com").is_none());
}

#[test]
fn a_reset_token_resets_once_however_many_try_at_the_same_moment() {
    use crate::clock::SimulatedClock;
    use crate::sim::camera::{CameraIdentity, CameraPolicy};
    let clock = Arc::new(SimulatedClock::starting_now());
    let camera = Arc::new(SimCamera::new(
        CameraIdentity {
            index: 0,
            endpoint_ref: "urn:uuid:00000000-0000-0000-0000-000000000007".into(),
            manufacturer: "Vigil".into(),
            model: "SIM-1".into(),
            firmware: "1.0".into(),
            serial: "S7".into(),
            hardware_id: "H7".into(),
            mac: "02:00:00:00:00:07".into(),
            http_addr: "127.0.0.1:1".parse().unwrap(),
            wsd_addr: "127.0.0.1:2".parse().unwrap(),
            persona: crate::sim::persona::Persona::Vigil,
        },
        CameraPolicy::default(),
        clock.clone(),
        Some(("admin", "Harbor-Lamp-62")),
        0,
    ));
    const RACERS: usize = 8;
    for round in 0..40 {
        let code = camera.vendor_support_code(&date_of(camera.camera_now()));
        let (token, _) = camera.verify_support_code(&code).unwrap();
        let start = Arc::new(std::sync::Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let (camera, start, token) = (camera.clone(), start.clone(), token.clone());
                std::thread::spawn(move || {
                    start.wait();
                    camera
                        .reset_password(&token, "admin", &format!("New-Pass-{round}-{i}"))
                        .is_ok()
                })
            })
            .collect();
        let resets = racers
            .into_iter()
            .map(|r| r.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(resets, 1, "round {round}: one token, one reset");
        // Tomorrow brings a new support code.
        clock.advance(Duration::from_secs(24 * 60 * 60));
    }
    assert_eq!(camera.recovery_stats().resets, 40);
}
