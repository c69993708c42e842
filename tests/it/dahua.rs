//! Dahua cameras set up and recovered in their own RPC, against the simulator's Dahua persona over
//! real sockets, with the codes going through a real SMTP server: a camera in factory state is
//! initialized (the envelope in each variant the fleet offers), added and certified; Forget Password
//! runs by emailed code, by the vendor's app scanning the QR code, and by the support desk's password
//! of the day; wrong codes are counted.

use std::time::Duration;

use vigil::model::{Actor, CameraState, Protocol, RecoveryMethod, RecoveryStep};
use vigil::service::NvrError;
use vigil::sim::persona::{Persona, PersonaMix};

use crate::mailbox::{SmtpServer, python_or_skip};
use crate::support::{CAMERA_PASSWORD, Harness, installer, simulator, system, test_settings};

const NEW_PASSWORD: &str = "Amber-Heron-64";
const RESET_EMAIL: &str = "owner@example.com";

struct Rig {
    h: Harness,
    smtp: SmtpServer,
}

/// `count` Dahua cameras, the last `inactive` in factory state, emailing through a real SMTP server;
/// discovery (WS-Discovery and DHIP) already run.
async fn rig(count: usize, inactive: usize) -> Option<Rig> {
    let python = python_or_skip("the Dahua recovery tests (they need a real SMTP server)")?;
    let smtp = SmtpServer::start(&python);
    let settings = smtp.settings("camera-noreply@example.com");
    let sim = simulator(count, |c| {
        c.persona = PersonaMix::All(Persona::Dahua);
        c.inactive = inactive;
        c.smtp = Some(settings);
        c.reset_email = Some(RESET_EMAIL.to_owned());
    })
    .await;
    let mut config = test_settings(&sim, Duration::from_millis(300));
    config.discovery.vendor_ports = vec![(Protocol::Dahua, 37810)];
    let h = Harness::start_with(sim, config, tempfile::tempdir().unwrap()).await;
    assert_eq!(h.discover().await, count);
    Some(Rig { h, smtp })
}

impl Rig {
    fn key(&self, index: usize) -> String {
        let serial = &self.h.sim.cameras()[index].identity().serial;
        self.h
            .nvr
            .discovered_devices()
            .into_iter()
            .find(|d| &d.identity.serial == serial)
            .map(|d| d.key)
            .unwrap_or_else(|| panic!("camera {index} is listed"))
    }

    async fn code_from_mail(&self, n: usize) -> String {
        let mail = self.smtp.nth_message(n).await;
        assert_eq!(mail.to, RESET_EMAIL);
        mail.code(8).expect("an 8-digit code in the email")
    }
}

#[tokio::test]
async fn a_dahua_camera_in_factory_state_is_initialized_in_each_envelope_and_added() {
    // Three cameras in factory state: the fleet offers RPAC-256, AES-128 and AES-128-ECB in turn.
    let Some(rig) = rig(3, 3).await else {
        return;
    };
    for index in 0..3 {
        let device = rig
            .h
            .nvr
            .discovered_devices()
            .into_iter()
            .find(|d| d.key == rig.key(index))
            .unwrap();
        assert!(device.inactive, "camera {index} is listed as inactive");
        assert!(device.protocols.contains(Protocol::Dahua));
        let activation = rig
            .h
            .nvr
            .activate_camera(
                &rig.key(index),
                NEW_PASSWORD,
                NEW_PASSWORD,
                RESET_EMAIL,
                true,
                &system(),
            )
            .await
            .unwrap_or_else(|e| panic!("camera {index} initializes: {e}"));
        assert!(activation.reset_email_set);
        let camera = activation.camera.expect("added");
        assert_eq!(camera.protocol, Protocol::Dahua);
        assert_eq!(camera.status.state, CameraState::Online);
        let sim = &rig.h.sim.cameras()[index];
        assert!(!sim.is_inactive());
        assert!(sim.password_is("admin", NEW_PASSWORD));
        assert_eq!(sim.reset_email().as_deref(), Some(RESET_EMAIL));
        assert_eq!(sim.stats().failed_logins, 0);
    }
    // A second initialization is refused by the camera, and said so.
    let again = rig
        .h
        .nvr
        .activate_camera(
            &rig.key(0),
            NEW_PASSWORD,
            NEW_PASSWORD,
            RESET_EMAIL,
            false,
            &system(),
        )
        .await;
    assert!(again.is_err(), "{again:?}");
    rig.h.stop().await;
}

#[tokio::test]
async fn a_dahua_cameras_password_is_reset_by_emailed_code_with_wrong_codes_counted() {
    let Some(rig) = rig(2, 0).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    // A camera not added yet: reset, then added with the new password.
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .expect("a flow on a camera that is not added");
    assert_eq!(flow.protocol, Protocol::Dahua);
    assert_eq!(flow.masked_email.as_deref(), Some("o***@e***.com"));
    assert!(flow.methods.contains(&RecoveryMethod::SendCode));
    assert!(flow.methods.contains(&RecoveryMethod::AppQr));
    assert!(
        flow.methods.contains(&RecoveryMethod::SupportCode),
        "the support desk, too"
    );
    assert_eq!(flow.attempts_left(), 5);
    assert!(
        flow.challenge
            .as_ref()
            .is_some_and(|c| !c.qr_payload.is_empty()),
        "the description is shown as the QR code"
    );

    let sent = nvr.send_code(flow.id, &installer()).await.unwrap();
    assert_eq!(sent.code_sent_to.as_deref(), Some("o***@e***.com"));
    let code = rig.code_from_mail(1).await;
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    assert_eq!(
        nvr.verify_code(flow.id, wrong, &installer()).await,
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    );
    assert_eq!(nvr.recovery(flow.id).unwrap().attempts_left(), 4);
    let verified = nvr.verify_code(flow.id, &code, &installer()).await.unwrap();
    assert_eq!(verified.step, RecoveryStep::CodeVerified);
    let done = nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(done.step, RecoveryStep::Completed);
    let sim = &rig.h.sim.cameras()[0];
    assert!(sim.password_is("admin", NEW_PASSWORD));
    assert!(!sim.password_is("admin", CAMERA_PASSWORD));
    let camera = nvr
        .added_camera(done.result_camera.expect("added"))
        .unwrap();
    assert_eq!(camera.protocol, Protocol::Dahua);
    assert_eq!(camera.status.state, CameraState::Online);

    // No secrets in the audit.
    for entry in nvr.audit_log(50).await.unwrap() {
        for secret in [code.as_str(), NEW_PASSWORD] {
            assert!(!entry.outcome.contains(secret), "{entry:?}");
        }
    }
    rig.h.stop().await;
}

#[tokio::test]
async fn a_dahua_camera_without_internet_is_reset_through_the_vendors_app() {
    let Some(rig) = rig(1, 0).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    rig.h.sim.cameras()[0].set_internet(false);
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    // The camera cannot email: its own words say so, and the QR path remains.
    let refused = nvr.send_code(flow.id, &installer()).await;
    match &refused {
        Err(NvrError::MailFailed(detail)) => assert!(detail.contains("internet"), "{detail}"),
        other => panic!("expected the camera's refusal, got {other:?}"),
    }
    let payload = flow.challenge.as_ref().unwrap().qr_payload.clone();
    let image = vigil::qr::render(&payload, 8).expect("the description fits a QR code");
    assert!(image.width > 0);
    // The vendor's app scans it; the vendor's service emails the code to the reset email.
    assert_eq!(rig.h.sim.app_scan(&payload).await.unwrap(), "o***@e***.com");
    let code = rig.code_from_mail(1).await;
    nvr.verify_code(flow.id, &code, &installer()).await.unwrap();
    let done = nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(done.step, RecoveryStep::Completed);
    assert!(rig.h.sim.cameras()[0].password_is("admin", NEW_PASSWORD));
    rig.h.stop().await;
}

/// vigilctl, as a member of the admin group, resets a Dahua camera's password over D-Bus: the camera
/// cannot email (no internet), so it shows the QR code for DMSS; the vendor's app scans it, the code
/// comes by email, and the camera takes the new password and is added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigilctl_resets_a_dahua_cameras_password_through_dmss() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::process::Stdio;
    if let Err(why) = crate::bus::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the D-Bus tests: {why}"
        );
        eprintln!("SKIPPED D-Bus test: {why}");
        return;
    }
    let Some(rig) = rig(1, 0).await else {
        return;
    };
    rig.h.sim.cameras()[0].set_internet(false);
    let key = rig.key(0);
    let smtp = rig.smtp;
    let bus = crate::dbus::serve(rig.h).await;
    let mut child = crate::bus::command_as(crate::bus::As::Admin, crate::dbus::VIGILCTL)
        .arg(format!("--address={}", bus.bus.address))
        .args(["forget-password", &key, "--yes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (qr_tx, qr_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(payload) = line.strip_prefix("(The QR code holds: ") {
                let _ = qr_tx.send(payload.trim_end_matches(')').to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let payload = tokio::task::spawn_blocking(move || qr_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    let Ok(payload) = payload else {
        let _ = child.kill();
        panic!(
            "vigilctl showed no QR code:\n{}",
            reader.join().unwrap_or_default()
        );
    };
    // The vendor's app and service: the code goes to the reset email.
    assert_eq!(bus.h.sim.app_scan(&payload).await.unwrap(), "o***@e***.com");
    let code = smtp.nth_message(1).await.code(8).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{code}").unwrap();
    writeln!(stdin, "{NEW_PASSWORD}").unwrap();
    writeln!(stdin, "{NEW_PASSWORD}").unwrap();
    drop(stdin);
    let status = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let out = reader.join().unwrap();
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "{out}\n{err}");
    assert!(out.contains("over Dahua"), "{out}");
    assert!(
        out.contains("internet"),
        "the camera's refusal to email is shown: {out}"
    );
    assert!(out.contains("Scan this with the DMSS phone app"), "{out}");
    assert!(
        out.contains("Re-added camera") && out.contains("online"),
        "{out}"
    );
    assert!(!out.contains(&code) && !out.contains(NEW_PASSWORD) && !err.contains(NEW_PASSWORD));
    assert!(bus.h.sim.cameras()[0].password_is("admin", NEW_PASSWORD));
    bus.finish().await;
}

/// The support path of Lorex's FAQ: the wizard shows the serial number and the camera's own date; the
/// support desk's password of the day (played by the simulator's vendor) logs in once, a wrong one is
/// counted by the camera, the camera is restored to factory defaults, and the new password initializes
/// it; it is then added.
#[tokio::test]
async fn the_support_desks_password_restores_a_dahua_camera_and_the_new_password_sets_it_up() {
    let Some(rig) = rig(1, 0).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    nvr.activate_nvr(
        "Recorder-Pass-93",
        "Recorder-Pass-93",
        "desk@example.com",
        None,
        &Actor::System,
    )
    .await
    .expect("the recorder activates");
    let sim = rig.h.sim.cameras()[0].clone();
    sim.set_clock_offset(-86_400);
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    assert!(flow.methods.contains(&RecoveryMethod::SupportCode));
    // The camera's own date (a day behind), not the recorder's.
    let camera_date: String = vigil::clock::rfc3339(sim.camera_now())
        .chars()
        .take(10)
        .collect();
    assert_eq!(flow.camera_date, camera_date);
    let desk = sim.vendor_support_code(&flow.camera_date);
    let wrong = if desk == "0000000000" {
        "1111111111"
    } else {
        "0000000000"
    };
    assert_eq!(
        nvr.verify_support_code(flow.id, wrong, &installer()).await,
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    );
    let verified = nvr
        .verify_support_code(flow.id, &desk, &installer())
        .await
        .unwrap();
    assert_eq!(verified.step, RecoveryStep::CodeVerified);
    assert!(sim.is_inactive(), "restored to factory defaults");
    let done = nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(done.step, RecoveryStep::Completed);
    assert!(!sim.is_inactive());
    assert!(sim.password_is("admin", NEW_PASSWORD));
    let camera = nvr
        .added_camera(done.result_camera.expect("added"))
        .unwrap();
    assert_eq!(camera.protocol, Protocol::Dahua);
    assert_eq!(camera.status.state, CameraState::Online);
    for entry in nvr.audit_log(50).await.unwrap() {
        assert!(!entry.outcome.contains(&desk), "{entry:?}");
    }
    rig.h.stop().await;
}
