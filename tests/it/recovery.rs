//! The forget-password and activation flows end to end: the service API against simulated cameras over
//! real sockets, codes delivered as real email through an SMTP server on loopback, the QR path decoded
//! from the generated image, and the audit log checked and tampered with.

use std::sync::Arc;
use std::time::Duration;

use vigil::clock::{Clock, SimulatedClock};
use vigil::model::{Actor, AuditAction, Caller, CameraState};
use vigil::model::{RecoveryFlow, RecoveryStep};
use vigil::rules::policy::PolicyRule;
use vigil::service::{NvrError, RecoveryStart};
use vigil::sim::SimConfig;

use crate::mailbox::{SmtpServer, python_or_skip};
use crate::support::{CAMERA_PASSWORD, Harness, installer, simulator, test_settings};

const PERIOD: Duration = Duration::from_millis(300);
const NEW_PASSWORD: &str = "Quiet-Falcon-83";

struct Rig {
    h: Harness,
    smtp: SmtpServer,
}

/// A service over `count` cameras that email through a real SMTP server, with discovery already run.
async fn rig(count: usize, adjust: impl FnOnce(&mut SimConfig)) -> Option<Rig> {
    rig_with_clock(count, adjust, None).await
}

async fn rig_with_clock(
    count: usize,
    adjust: impl FnOnce(&mut SimConfig),
    camera_clock: Option<Arc<dyn Clock>>,
) -> Option<Rig> {
    let python = python_or_skip("the recovery tests (they need a real SMTP server)")?;
    let smtp = SmtpServer::start(&python);
    let settings = smtp.settings("camera-noreply@example.com");
    let configure = |c: &mut SimConfig| {
        c.smtp = Some(settings);
        adjust(c);
    };
    let sim = match camera_clock {
        None => simulator(count, configure).await,
        Some(clock) => crate::support::simulator_with_clock(count, configure, clock).await,
    };
    let h = Harness::start(sim, PERIOD).await;
    h.discover().await;
    Some(Rig { h, smtp })
}

impl Rig {
    fn key(&self, index: usize) -> String {
        self.h.sim.cameras()[index].identity().endpoint_ref.clone()
    }

    async fn code_from_mail(&self, n: usize) -> String {
        let mail = self.smtp.nth_message(n).await;
        assert_eq!(mail.to, "owner@example.com");
        assert!(
            mail.subject.starts_with("Verification code for camera VS"),
            "{}",
            mail.subject
        );
        mail.code(8).expect("an 8-digit code in the email")
    }

    /// Logs into camera `index` with `password`, as any ONVIF client would.
    async fn camera_accepts(&self, index: usize, password: &str) -> bool {
        let url = self.h.sim.cameras()[index].device_service_url();
        oxvif::OnvifClient::new(url)
            .with_credentials("admin", password)
            .get_device_info()
            .await
            .is_ok()
    }

    async fn finish(self) {
        self.h.stop().await;
    }
}

fn assert_no_secrets(entries: &[vigil::model::AuditEntry], secrets: &[&str]) {
    for entry in entries {
        for secret in secrets {
            assert!(
                !entry.outcome.contains(secret) && !entry.camera.contains(secret),
                "audit entry {} holds a secret",
                entry.id
            );
        }
    }
}

#[tokio::test]
async fn online_path_send_code_verify_new_password_and_add() {
    let Some(rig) = rig(2, |_| {}).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    assert_eq!(flow.step, RecoveryStep::AwaitingCode);
    assert_eq!(flow.masked_email.as_deref(), Some("o***@e***.com"));
    assert!(flow.internet);
    assert_eq!(flow.attempts_left(), 5);
    let left = flow.time_left(std::time::SystemTime::now());
    assert!(
        left > Duration::from_secs(29 * 60) && left <= Duration::from_secs(30 * 60),
        "{left:?}"
    );
    assert_eq!(
        nvr.start_recovery(&rig.key(0), &installer()).await,
        Err(NvrError::RecoveryInProgress { flow: flow.id }),
        "two clients never run a flow on one camera"
    );

    let sent = nvr.send_code(flow.id, &installer()).await.unwrap();
    assert_eq!(sent.code_sent_to.as_deref(), Some("o***@e***.com"));
    let code = rig.code_from_mail(1).await;

    assert!(matches!(
        nvr.complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
            .await,
        Err(NvrError::RecoveryWrongStep(_))
    ));
    let verified = nvr.verify_code(flow.id, &code, &installer()).await.unwrap();
    assert_eq!(verified.step, RecoveryStep::CodeVerified);

    let weak = nvr
        .complete_reset(flow.id, "admin1234", "admin1234", &installer())
        .await;
    let Err(NvrError::PolicyViolation { unmet, .. }) = &weak else {
        panic!("{weak:?}")
    };
    assert_eq!(
        unmet,
        &vec![
            PolicyRule::ContainsUserName,
            PolicyRule::CommonPassword,
            PolicyRule::SequentialCharacters
        ]
    );
    let message = weak.unwrap_err().to_string();
    assert!(
        message.contains("user name") && message.contains("1234"),
        "{message}"
    );
    assert_eq!(
        nvr.complete_reset(flow.id, NEW_PASSWORD, "Quiet-Falcon-84", &installer())
            .await,
        Err(NvrError::PasswordMismatch)
    );

    let done = nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(done.step, RecoveryStep::Completed);
    let camera = nvr
        .added_camera(done.result_camera.expect("added"))
        .unwrap();
    assert_eq!(camera.status.state, CameraState::Online);
    assert_eq!(
        camera.identity.serial,
        rig.h.sim.cameras()[0].identity().serial
    );
    assert!(rig.camera_accepts(0, NEW_PASSWORD).await);
    assert!(!rig.camera_accepts(0, CAMERA_PASSWORD).await);

    let audit = nvr.audit_log(50).await.unwrap();
    let actions: Vec<AuditAction> = audit.iter().rev().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::RecoveryStarted,
            AuditAction::CodeSent,
            AuditAction::CameraAdded,
            AuditAction::Reset
        ]
    );
    assert!(audit.iter().all(|e| e.actor == "gui:installer"));
    assert_no_secrets(&audit, &[&code, NEW_PASSWORD]);
    rig.finish().await;
}

/// Decodes the QR image the NVR would show, as the phone app does.
fn scan(flow: &RecoveryFlow) -> String {
    let payload = &flow.challenge.as_ref().expect("a challenge").qr_payload;
    let image = vigil::qr::render(payload, 8).unwrap();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width as usize,
        image.height as usize,
        |x, y| image.rgba[(y * image.width as usize + x) * 4],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("decodes").1
}

#[tokio::test]
async fn offline_camera_qr_path_through_the_phone_app() {
    let Some(rig) = rig(1, |c| c.internet = false).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    assert!(!flow.internet);
    assert!(
        !flow
            .methods
            .contains(&vigil::model::RecoveryMethod::SendCode)
    );
    assert_eq!(
        nvr.send_code(flow.id, &installer()).await,
        Err(NvrError::NoInternet)
    );
    let explained = NvrError::NoInternet.to_string();
    assert!(explained.contains("QR"), "{explained}");

    let scanned = scan(&flow);
    assert!(scanned.starts_with("vigil-recovery:v1?"), "{scanned}");
    let reply = rig.h.sim.app_scan(&scanned).await.unwrap();
    assert_eq!(reply, "o***@e***.com");
    let code = rig.code_from_mail(1).await;
    nvr.verify_code(flow.id, &code, &installer()).await.unwrap();
    let done = nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(done.step, RecoveryStep::Completed);
    assert!(rig.camera_accepts(0, NEW_PASSWORD).await);
    rig.finish().await;
}

#[tokio::test]
async fn support_code_from_serial_and_date() {
    let Some(rig) = rig(1, |c| c.reset_email = None).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    assert_eq!(flow.masked_email, None);
    assert_eq!(
        flow.methods,
        vec![vigil::model::RecoveryMethod::SupportCode]
    );
    assert_eq!(
        nvr.send_code(flow.id, &installer()).await,
        Err(NvrError::NoResetEmail)
    );
    let serial = flow.identity.serial.clone();
    assert_eq!(serial, rig.h.sim.cameras()[0].identity().serial);
    let code = rig.h.sim.support_code(&serial, &flow.camera_date).unwrap();
    assert_eq!(code.len(), 10);
    let yesterday = rig.h.sim.support_code(&serial, "2001-01-01").unwrap();
    assert_eq!(
        nvr.verify_support_code(flow.id, &yesterday, &installer())
            .await,
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    );
    nvr.verify_support_code(flow.id, &code, &installer())
        .await
        .unwrap();
    let done = nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(done.step, RecoveryStep::Completed);
    assert!(rig.camera_accepts(0, NEW_PASSWORD).await);
    assert!(
        rig.smtp.messages().is_empty(),
        "no email on the support path"
    );
    rig.finish().await;
}

#[tokio::test]
async fn five_wrong_codes_kill_the_challenge() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    nvr.send_code(flow.id, &installer()).await.unwrap();
    let code = rig.code_from_mail(1).await;
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for left in (1..5).rev() {
        assert_eq!(
            nvr.verify_code(flow.id, wrong, &installer()).await,
            Err(NvrError::CodeInvalid {
                attempts_left: left
            })
        );
        assert_eq!(nvr.recovery(flow.id).unwrap().attempts_left(), left);
    }
    assert_eq!(
        nvr.verify_code(flow.id, wrong, &installer()).await,
        Err(NvrError::CodeAttemptsExhausted)
    );
    assert_eq!(
        nvr.verify_code(flow.id, &code, &installer()).await,
        Err(NvrError::CodeAttemptsExhausted),
        "even the right code is refused now"
    );
    assert!(matches!(
        nvr.verify_code(flow.id, "12ab", &installer()).await,
        Err(NvrError::InvalidArgument { field: "code", .. })
    ));

    let fresh = nvr.new_challenge(flow.id, &installer()).await.unwrap();
    assert_eq!(fresh.attempts_left(), 5);
    nvr.send_code(flow.id, &installer()).await.unwrap();
    let new_code = rig.code_from_mail(2).await;
    nvr.verify_code(flow.id, &new_code, &installer())
        .await
        .unwrap();
    let wrong_entries = nvr
        .audit_log(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::WrongCode)
        .count();
    assert_eq!(wrong_entries, 5);
    rig.finish().await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let camera_clock = Arc::new(SimulatedClock::starting_now());
    let Some(rig) = rig_with_clock(1, |_| {}, Some(camera_clock.clone())).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    nvr.send_code(flow.id, &installer()).await.unwrap();
    let code = rig.code_from_mail(1).await;
    camera_clock.advance(Duration::from_secs(30 * 60 + 1));
    assert_eq!(
        nvr.verify_code(flow.id, &code, &installer()).await,
        Err(NvrError::CodeExpired)
    );
    rig.finish().await;
}

#[tokio::test]
async fn the_camera_sends_three_codes_in_ten_minutes_at_most() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    for _ in 0..3 {
        nvr.send_code(flow.id, &installer()).await.unwrap();
    }
    let refused = nvr.send_code(flow.id, &installer()).await;
    let Err(NvrError::SendLimit {
        retry_after: Some(wait),
    }) = refused
    else {
        panic!("{refused:?}")
    };
    assert!(
        wait > Duration::from_secs(9 * 60) && wait <= Duration::from_secs(600),
        "{wait:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("minutes"));
    rig.smtp.nth_message(3).await;
    assert_eq!(rig.smtp.messages().len(), 3);
    rig.finish().await;
}

#[tokio::test]
async fn an_uncertified_added_camera_is_removed_first_and_added_again() {
    let Some(rig) = rig(2, |_| {}).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let certified = rig.h.add(1).await;
    assert_eq!(
        nvr.start_recovery(&rig.key(1), &installer()).await,
        Ok(RecoveryStart::ChangePasswordInstead {
            camera: certified.id
        })
    );
    assert_eq!(
        nvr.remove_and_start_recovery(&rig.key(1), &installer())
            .await,
        Ok(RecoveryStart::ChangePasswordInstead {
            camera: certified.id
        }),
        "a certified camera is never removed to reset it"
    );
    assert!(nvr.added_camera(certified.id).is_ok());
    let camera = rig.h.add(0).await;
    rig.h.sim.cameras()[0].set_password_directly("admin", "Forgotten-Pass-19");
    rig.h
        .wait_for_state(camera.id, CameraState::NotCertified, Duration::from_secs(5))
        .await;
    assert_eq!(
        nvr.start_recovery(&rig.key(0), &installer()).await,
        Ok(RecoveryStart::RemoveFirst { camera: camera.id })
    );
    assert!(
        nvr.added_camera(camera.id).is_ok(),
        "asking to remove first removes nothing"
    );

    let flow = nvr
        .remove_and_start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    assert!(nvr.added_camera(camera.id).is_err(), "removed");
    assert_eq!(flow.removed_camera.as_ref().map(|r| r.id), Some(camera.id));
    nvr.send_code(flow.id, &installer()).await.unwrap();
    let code = rig.code_from_mail(1).await;
    nvr.verify_code(flow.id, &code, &installer()).await.unwrap();
    let done = nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    let readded = nvr
        .added_camera(done.result_camera.expect("added again"))
        .unwrap();
    assert_ne!(readded.id, camera.id);
    assert_eq!(readded.identity.serial, camera.identity.serial);
    assert_eq!(readded.status.state, CameraState::Online);
    let device = nvr.discovered_device(&rig.key(0)).unwrap();
    assert_eq!(device.added_as, Some(readded.id));
    let actions: Vec<AuditAction> = nvr
        .audit_log(10)
        .await
        .unwrap()
        .iter()
        .rev()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::CameraAdded,
            AuditAction::CameraAdded,
            AuditAction::RemovalBeforeReset,
            AuditAction::RecoveryStarted,
            AuditAction::CodeSent,
            AuditAction::CameraAdded,
            AuditAction::Reset
        ]
    );
    rig.finish().await;
}

#[tokio::test]
async fn an_inactive_camera_is_activated_and_added() {
    let Some(rig) = rig(2, |c| c.inactive = 1).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let key = rig.key(1);
    assert!(nvr.discovered_device(&key).unwrap().inactive);
    assert_eq!(
        nvr.activate_camera(
            &rig.key(0),
            NEW_PASSWORD,
            NEW_PASSWORD,
            "me@example.com",
            true,
            &installer()
        )
        .await,
        Err(NvrError::AlreadyActive)
    );
    assert!(matches!(
        nvr.activate_camera(&key, "short", "short", "me@example.com", true, &installer())
            .await,
        Err(NvrError::PolicyViolation { .. })
    ));
    assert!(matches!(
        nvr.activate_camera(
            &key,
            NEW_PASSWORD,
            NEW_PASSWORD,
            "not-an-email",
            true,
            &installer()
        )
        .await,
        Err(NvrError::InvalidArgument {
            field: "reset email",
            ..
        })
    ));
    assert!(
        rig.h.sim.cameras()[1].is_inactive(),
        "bad input changes nothing"
    );
    assert!(matches!(
        nvr.start_recovery(&key, &installer()).await,
        Err(NvrError::CameraInactive)
    ));

    let activation = nvr
        .activate_camera(
            &key,
            NEW_PASSWORD,
            NEW_PASSWORD,
            "site.owner@example.com",
            true,
            &installer(),
        )
        .await
        .unwrap();
    assert!(activation.reset_email_set);
    let camera = activation.camera.expect("added");
    assert_eq!(camera.status.state, CameraState::Online);
    let sim_camera = &rig.h.sim.cameras()[1];
    assert!(!sim_camera.is_inactive());
    assert_eq!(
        sim_camera.reset_email().as_deref(),
        Some("site.owner@example.com")
    );
    assert!(!nvr.discovered_device(&key).unwrap().inactive);
    let audit = nvr.audit_log(10).await.unwrap();
    assert_eq!(
        (audit[0].action, audit[0].outcome.as_str()),
        (AuditAction::CameraAdded, "added after its activation")
    );
    assert_eq!(audit[1].action, AuditAction::Activation);
    assert!(
        audit[1].outcome.contains("s***@e***.com"),
        "{}",
        audit[1].outcome
    );
    assert_no_secrets(&audit, &[NEW_PASSWORD, "site.owner@example.com"]);
    rig.finish().await;
}

#[tokio::test]
async fn one_new_password_is_pushed_to_several_certified_cameras() {
    let sim = simulator(3, |_| {}).await;
    let h = Harness::start(sim, PERIOD).await;
    let a = h.add(0).await;
    let b = h.add(1).await;
    let c = h.add(2).await;
    h.sim.cameras()[2].set_password_directly("admin", "Changed-There-55");
    h.wait_for_state(c.id, CameraState::NotCertified, Duration::from_secs(5))
        .await;

    assert_eq!(
        h.nvr
            .change_camera_passwords(&[a.id, b.id], NEW_PASSWORD, "other", &installer())
            .await,
        Err(NvrError::PasswordMismatch)
    );
    let outcomes = h
        .nvr
        .change_camera_passwords(
            &[a.id, b.id, c.id],
            NEW_PASSWORD,
            NEW_PASSWORD,
            &installer(),
        )
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes[0].result.is_ok() && outcomes[1].result.is_ok(),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[2].result,
        Err(NvrError::NotCertified { camera: c.id })
    );
    for index in [0, 1] {
        let url = h.sim.cameras()[index].device_service_url();
        let client = oxvif::OnvifClient::new(url).with_credentials("admin", NEW_PASSWORD);
        assert!(
            client.get_device_info().await.is_ok(),
            "camera {index} has the new password"
        );
    }
    // The monitor keeps certifying them, now with the new password.
    let before = h.sim.cameras()[0].stats().successful_logins;
    crate::support::eventually(
        Duration::from_secs(5),
        "a check with the new password",
        || {
            let cam = h.sim.cameras()[0].clone();
            async move { cam.stats().successful_logins > before + 1 }
        },
    )
    .await;
    assert_eq!(
        h.nvr.added_camera(a.id).unwrap().status.state,
        CameraState::Online
    );
    let weak = h
        .nvr
        .change_camera_passwords(&[a.id], "password1", "password1", &installer())
        .await
        .unwrap();
    assert!(matches!(
        weak[0].result,
        Err(NvrError::PolicyViolation { .. })
    ));
    let pushes = h
        .nvr
        .audit_log(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::PasswordPush)
        .count();
    assert_eq!(pushes, 2);
    h.stop().await;
}

#[tokio::test]
async fn a_flow_survives_a_restart_and_a_stale_one_is_clearly_expired() {
    let Some(rig) = rig(2, |_| {}).await else {
        return;
    };
    let Rig { h, smtp } = rig;
    let first = h
        .nvr
        .start_recovery(&h.sim.cameras()[0].identity().endpoint_ref, &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    h.nvr.send_code(first.id, &installer()).await.unwrap();
    let code = smtp.nth_message(1).await.code(8).unwrap();

    let h = h.restart().await;
    let resumed = h.nvr.recovery(first.id).unwrap();
    assert_eq!(resumed.step, RecoveryStep::AwaitingCode);
    assert_eq!(
        resumed.challenge, first.challenge,
        "same challenge, same code"
    );
    assert_eq!(resumed.code_sent_to.as_deref(), Some("o***@e***.com"));
    h.nvr
        .verify_code(first.id, &code, &installer())
        .await
        .unwrap();

    // Stopped between the code and the new password: the sealed permission carries over.
    let h = h.restart().await;
    assert_eq!(
        h.nvr.recovery(first.id).unwrap().step,
        RecoveryStep::CodeVerified
    );
    let done = h
        .nvr
        .complete_reset(first.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(done.step, RecoveryStep::Completed);

    // A flow whose code runs out while vigild is stopped comes back clearly expired.
    let settings = test_settings(&h.sim, PERIOD);
    let nvr_clock = Arc::new(SimulatedClock::starting_now());
    let (sim, state) = h.into_parts().await;
    let h = Harness::start_with_clock(sim, settings.clone(), state, nvr_clock.clone()).await;
    h.discover().await;
    let second = h
        .nvr
        .start_recovery(&h.sim.cameras()[1].identity().endpoint_ref, &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    nvr_clock.advance(Duration::from_secs(31 * 60));
    let h = h.restart().await;
    h.discover().await;
    let stale = h.nvr.recovery(second.id).unwrap();
    assert_eq!(stale.step, RecoveryStep::Expired);
    assert!(
        stale
            .failure
            .as_deref()
            .unwrap()
            .contains("start Forget Password again")
    );
    assert_eq!(
        h.nvr.verify_code(second.id, "12345678", &installer()).await,
        Err(NvrError::RecoveryExpired)
    );
    let again = h
        .nvr
        .start_recovery(&h.sim.cameras()[1].identity().endpoint_ref, &installer())
        .await;
    assert!(
        again.is_ok(),
        "an expired flow no longer holds the camera: {again:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn abandoned_flows_expire_and_ended_ones_are_forgotten_while_vigild_runs() {
    let sim = simulator(1, |_| {}).await;
    let mut settings = test_settings(&sim, PERIOD);
    settings.recovery.sweep_interval = Duration::from_millis(50);
    let retention = settings.recovery.ended_retention;
    let grace = settings.recovery.abandoned_after;
    let nvr_clock = Arc::new(SimulatedClock::starting_now());
    let state = tempfile::tempdir().unwrap();
    let h = Harness::start_with_clock(sim, settings, state, nvr_clock.clone()).await;
    h.discover().await;
    let nvr = h.nvr.clone();
    let mut events = nvr.subscribe();
    let key = h.sim.cameras()[0].identity().endpoint_ref.clone();
    let step = |id| nvr.recovery(id).map(|f| f.step);
    let first = nvr
        .start_recovery(&key, &installer())
        .await
        .unwrap()
        .started()
        .unwrap();

    // The code ran out a minute ago: the installer may still ask for a new one, so it stays.
    nvr_clock.advance(first.time_left(nvr_clock.now()) + Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(step(first.id), Ok(RecoveryStep::AwaitingCode));

    // Left alone past the grace period, it expires by itself and no longer holds the camera.
    nvr_clock.advance(grace);
    crate::support::eventually(
        Duration::from_secs(5),
        "the abandoned flow to expire",
        || {
            let step = step(first.id);
            async move { step == Ok(RecoveryStep::Expired) }
        },
    )
    .await;
    let expired = nvr.recovery(first.id).unwrap();
    assert!(
        expired
            .failure
            .as_deref()
            .unwrap()
            .contains("start Forget Password again")
    );
    let second = nvr
        .start_recovery(&key, &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    nvr.cancel_recovery(second.id, &installer()).await.unwrap();

    // Ended flows stay listed for the retention period, then go, with an event for each.
    nvr_clock.advance(retention - Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(step(second.id), Ok(RecoveryStep::Cancelled));
    nvr_clock.advance(Duration::from_secs(61));
    crate::support::eventually(
        Duration::from_secs(5),
        "ended flows to be forgotten",
        || {
            let gone = nvr.recoveries().is_empty();
            async move { gone }
        },
    )
    .await;
    assert_eq!(
        nvr.recovery(first.id),
        Err(NvrError::RecoveryNotFound(first.id))
    );
    let mut removed = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let vigil::model::NvrEvent::RecoveryRemoved { id } = event {
            removed.push(id);
        }
    }
    removed.sort();
    assert_eq!(removed, vec![first.id, second.id]);

    // Their records stay in the registry.
    let db = h.state.path().join(vigil::store::DATABASE_FILE);
    let rows: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM recovery_flow", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
    h.stop().await;
}

#[tokio::test]
async fn the_audit_chain_verifies_and_shows_tampering() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    for _ in 0..2 {
        nvr.send_code(flow.id, &installer()).await.unwrap();
    }
    let _ = nvr.verify_code(flow.id, "00000001", &installer()).await;
    assert_eq!(nvr.verify_audit().await, Ok(4));

    let db = rig.h.state.path().join(vigil::store::DATABASE_FILE);
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute(
        "UPDATE audit_log SET outcome = 'sent to nobody' WHERE id = 2",
        [],
    )
    .unwrap();
    assert_eq!(
        nvr.verify_audit().await,
        Err(NvrError::AuditTampered { entry: 2 })
    );
    raw.execute(
        "UPDATE audit_log SET outcome = (SELECT outcome FROM audit_log WHERE id = 1) WHERE id = 2",
        [],
    )
    .unwrap();
    raw.execute("DELETE FROM audit_log WHERE id = 2", [])
        .unwrap();
    assert_eq!(
        nvr.verify_audit().await,
        Err(NvrError::AuditTampered { entry: 3 }),
        "a removed entry breaks the chain at the next one"
    );
    rig.finish().await;
}

#[tokio::test]
async fn new_codes_and_cancelling_are_audited() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    let admin = Caller::from(Actor::Dbus { uid: 1000 });
    nvr.new_challenge(flow.id, &admin).await.unwrap();
    let cancelled = nvr.cancel_recovery(flow.id, &installer()).await.unwrap();
    assert_eq!(cancelled.step, RecoveryStep::Cancelled);
    // Cancelling what has ended changes nothing and records nothing.
    nvr.cancel_recovery(flow.id, &installer()).await.unwrap();

    let audit = nvr.audit_log(10).await.unwrap();
    let entries: Vec<(AuditAction, &str, &str)> = audit
        .iter()
        .rev()
        .map(|e| (e.action, e.actor.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        entries,
        vec![
            (
                AuditAction::RecoveryStarted,
                "gui:installer",
                "started; the camera offers a code by email, the app's QR code, a support code"
            ),
            (AuditAction::NewCode, "dbus:uid=1000", "new code issued"),
            (AuditAction::RecoveryCancelled, "gui:installer", "cancelled"),
        ]
    );
    let serial = &rig.h.sim.cameras()[0].identity().serial;
    assert!(audit.iter().all(|e| e.camera.starts_with(serial.as_str())));
    assert_eq!(nvr.verify_audit().await, Ok(3));
    rig.finish().await;
}

#[tokio::test]
async fn a_wrong_code_that_cannot_be_stored_still_says_how_many_attempts_are_left() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let nvr = &rig.h.nvr;
    let flow = nvr
        .start_recovery(&rig.key(0), &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    // Another process holds the database's write lock longer than the store waits for it.
    let db = rig.h.state.path().join(vigil::store::DATABASE_FILE);
    let raw = rusqlite::Connection::open(&db).unwrap();
    let started = nvr.audit_log(10).await.unwrap().len();
    raw.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_eq!(
        nvr.verify_code(flow.id, "00000001", &installer()).await,
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    );
    raw.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        nvr.recovery(flow.id).unwrap().attempts_left(),
        5,
        "what was not stored is not shown"
    );
    assert_eq!(
        nvr.audit_log(10).await.unwrap().len(),
        started,
        "the flow change and its audit entry are stored together or not at all"
    );
    assert_eq!(
        nvr.verify_code(flow.id, "00000001", &installer()).await,
        Err(NvrError::CodeInvalid { attempts_left: 3 })
    );
    assert_eq!(nvr.recovery(flow.id).unwrap().attempts_left(), 3);
    assert_eq!(nvr.audit_log(10).await.unwrap().len(), started + 1);
    rig.finish().await;
}

#[tokio::test]
async fn a_reset_interrupted_by_a_crash_is_finished_on_restart() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let Rig { h, smtp } = rig;
    let key = h.sim.cameras()[0].identity().endpoint_ref.clone();
    let flow = h
        .nvr
        .start_recovery(&key, &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    h.nvr.send_code(flow.id, &installer()).await.unwrap();
    let code = smtp.nth_message(1).await.code(8).unwrap();
    h.nvr
        .verify_code(flow.id, &code, &installer())
        .await
        .unwrap();

    // vigild dies right after the camera took the new password, before it could add the camera: the
    // registry holds the flow in Resetting with the new password sealed, as complete_reset leaves it.
    let settings = h.settings.clone();
    let (sim, state) = h.into_parts().await;
    {
        let store = vigil::store::Store::open(state.path()).unwrap();
        store
            .write(|tx| {
                let mut stored = tx.load_active_recovery_flows()?;
                let mut interrupted = stored.remove(0).flow;
                interrupted.step = RecoveryStep::Resetting;
                tx.update_recovery_flow(&interrupted)?;
                let password = secrecy::SecretString::from(NEW_PASSWORD.to_owned());
                tx.set_recovery_secrets(interrupted.id, None, Some(&password))
            })
            .unwrap();
    }
    sim.cameras()[0].set_password_directly("admin", NEW_PASSWORD);

    let h = Harness::start_with(sim, settings, state).await;
    let nvr = h.nvr.clone();
    crate::support::eventually(
        Duration::from_secs(5),
        "the interrupted reset to finish",
        || {
            let nvr = nvr.clone();
            async move {
                nvr.recovery(flow.id)
                    .is_ok_and(|f| f.step == RecoveryStep::Completed)
            }
        },
    )
    .await;
    let done = h.nvr.recovery(flow.id).unwrap();
    let camera = h.nvr.added_camera(done.result_camera.unwrap()).unwrap();
    assert_eq!(camera.status.state, CameraState::Online);
    h.stop().await;
}

#[tokio::test]
async fn with_remove_first_off_the_flow_runs_on_the_added_camera() {
    let Some(python) = python_or_skip("the recovery tests (they need a real SMTP server)") else {
        return;
    };
    let smtp = SmtpServer::start(&python);
    let mail = smtp.settings("camera-noreply@example.com");
    let sim = simulator(1, |c| c.smtp = Some(mail)).await;
    let mut settings = test_settings(&sim, PERIOD);
    settings.recovery.remove_first = false;
    let h = Harness::start_with(sim, settings, tempfile::tempdir().unwrap()).await;
    let camera = h.add(0).await;
    h.sim.cameras()[0].set_password_directly("admin", "Forgotten-Pass-19");
    h.wait_for_state(camera.id, CameraState::NotCertified, Duration::from_secs(5))
        .await;
    h.discover().await;
    let key = h.sim.cameras()[0].identity().endpoint_ref.clone();
    let flow = h
        .nvr
        .start_recovery(&key, &installer())
        .await
        .unwrap()
        .started()
        .unwrap();
    assert_eq!(flow.removed_camera, None);
    assert!(h.nvr.added_camera(camera.id).is_ok(), "not removed");
    h.nvr.send_code(flow.id, &installer()).await.unwrap();
    let code = smtp.nth_message(1).await.code(8).unwrap();
    h.nvr
        .verify_code(flow.id, &code, &installer())
        .await
        .unwrap();
    let done = h
        .nvr
        .complete_reset(flow.id, NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert_eq!(
        done.result_camera,
        Some(camera.id),
        "the same camera, its credentials updated"
    );
    let updated = h.nvr.added_camera(camera.id).unwrap();
    assert_eq!(updated.status.state, CameraState::Online);
    assert!(!updated.status.credentials_rejected);
    h.stop().await;
}
