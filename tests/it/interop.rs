//! The simulator against ONVIF tooling written by others in another language: onvif-zeep, which builds
//! requests from the official ONVIF WSDLs and checks every reply against the ONVIF schemas. The Python
//! side is `tests/interop/onvif_zeep_client.py`; `.ci/test` installs it and sets VIGIL_PYTHON.

use crate::support::{CAMERA_PASSWORD, simulator};

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
    let output = tokio::process::Command::new(&python)
        .args([
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            "admin",
            CAMERA_PASSWORD,
        ])
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "onvif-zeep failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
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
