//! The simulator against ONVIF tooling written by others in another language: onvif-zeep, which builds
//! requests from the official ONVIF WSDLs and checks every reply against the ONVIF schemas. The Python
//! side is `tests/interop/onvif_zeep_client.py`; `.ci/test` installs it and sets VIGIL_PYTHON.

use crate::support::{CAMERA_PASSWORD, simulator};

/// Runs a test peer (`script` and its `args`) in the Python test environment and reads the one JSON
/// value it prints; fails the test with the peer's own words when it fails.
async fn run_peer(python: &str, args: &[&str], peer: &str) -> serde_json::Value {
    let output = tokio::process::Command::new(python)
        .args(args)
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "{peer} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON value")
}

#[tokio::test]
async fn onvif_zeep_reads_and_manages_a_simulated_camera() {
    let Some(python) = crate::mailbox::python_or_skip("the onvif-zeep interop test") else {
        return;
    };
    let sim = simulator(1, |_| {}).await;
    let camera = sim.cameras()[0].clone();
    let addr = camera.identity().http_addr;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/onvif_zeep_client.py"
    );
    let seen: serde_json::Value = run_peer(
        &python,
        &[
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            "admin",
            CAMERA_PASSWORD,
        ],
        "onvif-zeep",
    )
    .await;
    let id = camera.identity();
    assert_eq!(seen["serial"], id.serial.as_str());
    assert_eq!(seen["model"], id.model.as_str());
    assert_eq!(seen["firmware"], id.firmware.as_str());
    assert_eq!(seen["mac"], id.mac.as_str());
    assert!(seen["scopes"].to_string().contains("Profile/Q/Operational"));
    assert_eq!(
        seen["users_with_zeep"],
        serde_json::json!([["admin", "Administrator"], ["zeepuser", "Operator"]])
    );
    assert_eq!(seen["level_after_set_user"], serde_json::json!(["User"]));
    let clash = seen["clash"].as_str().unwrap();
    assert!(
        clash.contains("{http://www.onvif.org/ver10/error}UsernameClash"),
        "{clash}"
    );
    let missing = seen["delete_missing"].as_str().unwrap();
    assert!(
        missing.contains("{http://www.onvif.org/ver10/error}UsernameMissing"),
        "{missing}"
    );
    assert_eq!(seen["users_after"], serde_json::json!(["admin"]));
    assert_eq!(
        camera.stats().failed_logins,
        0,
        "its UsernameTokens all verified"
    );
    sim.shutdown().await;
}

/// hiktools, a SADP client written by others, asks the Hikvision persona who is there and reads every
/// camera from its replies with its own parser.
#[tokio::test]
async fn hiktools_finds_the_hikvision_cameras_and_reads_their_replies() {
    let Some(python) = crate::mailbox::python_or_skip("the hiktools interop test") else {
        return;
    };
    let sim = crate::support::simulator(3, |c| {
        c.persona = vigil::sim::persona::PersonaMix::All(vigil::sim::persona::Persona::Hikvision);
        c.address_per_camera = false;
        c.base_port = 18400;
        c.sadp_port = 37220;
        c.inactive = 1;
    })
    .await;
    let host = sim.cameras()[0].identity().http_addr.ip().to_string();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/hiktools_probe.py"
    );
    let seen: Vec<serde_json::Value> =
        serde_json::from_value(run_peer(&python, &[script, &host, "37220"], "hiktools").await)
            .expect("a JSON list");
    assert_eq!(seen.len(), 3, "{seen:?}");
    for camera in sim.cameras() {
        let id = camera.identity();
        let reply = seen
            .iter()
            .find(|r| r["DeviceSN"] == id.serial.as_str())
            .unwrap_or_else(|| panic!("hiktools found {}", id.serial));
        assert_eq!(reply["kind"], "DiscoveryPacket");
        assert_eq!(
            reply["MAC"],
            id.mac.replace(':', "-").to_uppercase().as_str()
        );
        assert_eq!(reply["IPv4Address"], host.as_str());
        assert_eq!(reply["HttpPort"], id.http_addr.port().to_string().as_str());
        assert_eq!(reply["DeviceDescription"], id.model.as_str());
        let activated = if camera.is_inactive() {
            "false"
        } else {
            "true"
        };
        assert_eq!(reply["Activated"], activated);
    }
    sim.shutdown().await;
}

/// aiodahua, a DHIP client written by others, finds the Dahua persona's cameras and reads their
/// announcements with its own decoder: serial number, MAC, address, model, firmware, and the `Init`
/// that says which are in factory state.
#[tokio::test]
async fn aiodahua_finds_the_dahua_cameras_and_reads_their_announcements() {
    let Some(python) = crate::mailbox::python_or_skip("the aiodahua interop test") else {
        return;
    };
    let sim = crate::support::simulator(3, |c| {
        c.persona = vigil::sim::persona::PersonaMix::All(vigil::sim::persona::Persona::Dahua);
        c.address_per_camera = false;
        c.base_port = 18500;
        c.inactive = 1;
    })
    .await;
    let host = sim.cameras()[0].identity().http_addr.ip().to_string();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/aiodahua_discover.py"
    );
    let seen: Vec<serde_json::Value> =
        serde_json::from_value(run_peer(&python, &[script, &host], "aiodahua").await)
            .expect("a JSON list");
    // aiodahua keeps one device per MAC; the simulator's cameras each have their own.
    assert_eq!(seen.len(), 3, "{seen:?}");
    for camera in sim.cameras() {
        let id = camera.identity();
        let device = seen
            .iter()
            .find(|d| d["serial"] == id.serial.as_str())
            .unwrap_or_else(|| panic!("aiodahua found {}", id.serial));
        assert_eq!(device["mac"], id.mac.as_str());
        assert_eq!(device["ip"], host.as_str());
        assert_eq!(device["device_type"], id.model.as_str());
        assert_eq!(device["version"], id.firmware.as_str());
        assert_eq!(device["http_port"], id.http_addr.port());
        let factory = device["init"].as_u64().unwrap() & 0b11 == 1;
        assert_eq!(factory, camera.is_inactive());
    }
    sim.shutdown().await;
}

/// dahua-rpc-api, a client of Dahua's JSON RPC written by others, logs in to the Dahua persona with its
/// own two-step login (its first call carries the password in clear, which the camera answers with the
/// challenge regardless), reads the serial number, model and firmware, and is refused a wrong password
/// in the error its library maps the code to.
#[tokio::test]
async fn dahua_rpc_api_logs_in_to_the_dahua_persona() {
    let Some(python) = crate::mailbox::python_or_skip("the dahua-rpc-api interop test") else {
        return;
    };
    let sim = crate::support::simulator(1, |c| {
        c.persona = vigil::sim::persona::PersonaMix::All(vigil::sim::persona::Persona::Dahua);
    })
    .await;
    let camera = sim.cameras()[0].clone();
    let addr = camera.identity().http_addr;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/dahua_rpc_login.py"
    );
    let seen: serde_json::Value = run_peer(
        &python,
        &[
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            "admin",
            CAMERA_PASSWORD,
        ],
        "dahua-rpc-api",
    )
    .await;
    let id = camera.identity();
    assert_eq!(seen["serial"], id.serial.as_str());
    assert_eq!(seen["type"], id.model.as_str());
    assert_eq!(seen["version"]["Version"], id.firmware.as_str());
    assert_ne!(seen["wrong_password"], "accepted", "{seen}");
    assert_eq!(camera.stats().successful_logins, 1);
    assert_eq!(camera.stats().failed_logins, 1);
    sim.shutdown().await;
}

/// dahua-device-mcp's client logs in to the Dahua persona, reads who it is in clear and again through
/// `system.multiSec` (its own RSA and AES-128-ECB with zero padding, opened by the persona and answered
/// in the same key). A camera that offers AES only with PKCS#7 padding is refused by that client before
/// it sends anything encrypted, as its offer says.
#[tokio::test]
async fn dahua_device_mcp_speaks_the_encrypted_rpc_with_the_dahua_persona() {
    let Some(python) = crate::mailbox::python_or_skip("the dahua-device-mcp interop test") else {
        return;
    };
    let sim = crate::support::simulator(3, |c| {
        c.persona = vigil::sim::persona::PersonaMix::All(vigil::sim::persona::Persona::Dahua);
    })
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/dahua_device_mcp_client.py"
    );
    for (index, camera) in sim.cameras().iter().enumerate() {
        let addr = camera.identity().http_addr;
        let seen: serde_json::Value = run_peer(
            &python,
            &[
                script,
                &addr.ip().to_string(),
                &addr.port().to_string(),
                "admin",
                CAMERA_PASSWORD,
            ],
            "dahua-device-mcp",
        )
        .await;
        let id = camera.identity();
        assert_eq!(seen["serial"], id.serial.as_str(), "{seen}");
        assert_eq!(seen["type"], id.model.as_str());
        let zero_padding = seen["padding"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x == "ZERO"));
        if zero_padding {
            assert_eq!(
                seen["secure_serial"],
                id.serial.as_str(),
                "camera {index}: {seen}"
            );
        } else {
            assert_eq!(
                seen["secure_refused"], "RuntimeError",
                "camera {index}: {seen}"
            );
        }
        assert_eq!(camera.stats().failed_logins, 0);
    }
    sim.shutdown().await;
}
