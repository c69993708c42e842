//! The recorder's own admin account through the service API on a real SQLite file: activation, the
//! login lockout on a simulated clock, the lock kept across a restart, sessions that end when idle, and
//! the audit log.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use vigil::clock::SimulatedClock;
use vigil::model::{Actor, AuditAction, Caller};
use vigil::service::{AddCamera, LoginStep, Nvr, NvrError, PasswordField, Session};

use crate::support::{CAMERA_PASSWORD, Harness, simulator, test_settings};

const PASSWORD: &str = "Quiet-Falcon-83";

fn installer() -> Actor {
    Actor::Gui {
        user: "installer".into(),
    }
}

/// Logs in with the password alone (two-factor off).
async fn login(nvr: &Nvr, user: &str, password: &str) -> Result<Session, NvrError> {
    match nvr.login(user, password).await? {
        LoginStep::Done(session) => Ok(session),
        LoginStep::CodeNeeded(_) => panic!("two-factor login is off"),
    }
}

async fn harness() -> (Harness, Arc<SimulatedClock>) {
    // Whole seconds, as the registry keeps times.
    let clock = Arc::new(SimulatedClock::new(vigil::clock::from_unix_secs(
        1_800_000_000,
    )));
    let sim = simulator(1, |_| {}).await;
    let settings = test_settings(&sim, Duration::from_secs(60));
    let state = tempfile::tempdir().unwrap();
    let h = Harness::start_with_clock(sim, settings, state, clock.clone()).await;
    (h, clock)
}

#[tokio::test]
async fn activation_takes_a_policy_password_and_a_reserved_email_once() {
    let (h, _) = harness().await;
    let nvr = &h.nvr;
    assert!(!nvr.account_status().await.unwrap().activated);
    assert_eq!(
        login(nvr, "admin", PASSWORD).await.map(drop),
        Err(NvrError::NvrNotActivated)
    );
    let weak_admin = nvr
        .activate_nvr(
            "admin123",
            "admin123",
            "owner@example.com",
            None,
            &installer(),
        )
        .await;
    assert!(matches!(
        weak_admin,
        Err(NvrError::PolicyViolation {
            field: PasswordField::Password,
            ..
        })
    ));
    let text = weak_admin.unwrap_err().to_string();
    assert!(
        text.starts_with("the password does not meet the policy"),
        "{text}"
    );
    assert_eq!(
        nvr.activate_nvr(
            PASSWORD,
            "Quiet-Falcon-84",
            "owner@example.com",
            None,
            &installer()
        )
        .await,
        Err(NvrError::PasswordMismatch)
    );
    assert!(matches!(
        nvr.activate_nvr(PASSWORD, PASSWORD, "owner at example", None, &installer())
            .await,
        Err(NvrError::InvalidArgument {
            field: "reserved email",
            ..
        })
    ));
    let weak_default = nvr
        .activate_nvr(
            PASSWORD,
            PASSWORD,
            "owner@example.com",
            Some("12345678"),
            &installer(),
        )
        .await;
    assert!(
        matches!(
            weak_default,
            Err(NvrError::PolicyViolation {
                field: PasswordField::DefaultCameraPassword,
                ..
            })
        ),
        "the refusal names the default camera password, not the admin's: {weak_default:?}"
    );
    let text = weak_default.unwrap_err().to_string();
    assert!(
        text.starts_with("the default camera password does not meet the policy"),
        "{text}"
    );
    assert!(
        !nvr.account_status().await.unwrap().activated,
        "refusals store nothing"
    );
    nvr.activate_nvr(
        PASSWORD,
        PASSWORD,
        "owner@example.com",
        Some("Harbour-Kite-71"),
        &installer(),
    )
    .await
    .unwrap();
    assert_eq!(
        nvr.activate_nvr(PASSWORD, PASSWORD, "other@example.com", None, &installer())
            .await,
        Err(NvrError::NvrAlreadyActivated)
    );
    let status = nvr.account_status().await.unwrap();
    assert!(status.activated && !status.totp_enabled);
    assert_eq!(status.username.as_deref(), Some("admin"));
    let session = login(nvr, "admin", PASSWORD).await.unwrap();
    assert_eq!(nvr.session_user(&session.token).unwrap(), "admin");

    let audit = nvr.audit_log(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == AuditAction::NvrActivation && e.actor == "gui:installer")
    );
    let db = std::fs::read(h.state.path().join("vigil.db")).unwrap();
    for secret in [PASSWORD, "Harbour-Kite-71"] {
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is not stored in clear"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn five_wrong_passwords_lock_for_thirty_minutes_even_across_a_restart() {
    let (h, clock) = harness().await;
    h.nvr
        .activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &installer())
        .await
        .unwrap();
    for attempts_left in [4, 3, 2, 1] {
        assert_eq!(
            login(&h.nvr, "admin", "Wrong-Guess-11").await.map(drop),
            Err(NvrError::LoginFailed { attempts_left })
        );
    }
    // A wrong user name counts the same and says nothing about which was wrong.
    assert_eq!(
        login(&h.nvr, "root", PASSWORD).await.map(drop),
        Err(NvrError::AccountLocked {
            retry_after: Some(Duration::from_secs(30 * 60))
        })
    );
    // The login dialog shows the serial number and the date for the support path; both stay put.
    let support = h.nvr.support_identity().await.unwrap();
    assert!(
        support.serial.starts_with("VGL") && support.serial.len() == 12,
        "{support:?}"
    );
    assert_eq!(
        support.date, "2027-01-15",
        "the date on the recorder's clock"
    );
    let h = h.restart().await;
    assert_eq!(
        h.nvr.support_identity().await.unwrap().serial,
        support.serial
    );
    clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        login(&h.nvr, "admin", PASSWORD).await.map(drop),
        Err(NvrError::AccountLocked {
            retry_after: Some(Duration::from_secs(60))
        }),
        "the lock survives a restart, and even the right password waits"
    );
    assert_eq!(
        h.nvr.account_status().await.unwrap().locked_for,
        Some(Duration::from_secs(60))
    );
    clock.advance(Duration::from_secs(61));
    assert!(login(&h.nvr, "admin", PASSWORD).await.is_ok());
    assert_eq!(
        login(&h.nvr, "admin", "Wrong-Guess-11").await.map(drop),
        Err(NvrError::LoginFailed { attempts_left: 4 }),
        "a good login starts the count again"
    );
    let actions: Vec<AuditAction> = h
        .nvr
        .audit_log(10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&AuditAction::NvrLocked), "{actions:?}");
    h.stop().await;
}

#[tokio::test]
async fn an_administrator_clears_a_lockout() {
    let (h, _) = harness().await;
    h.nvr
        .activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &installer())
        .await
        .unwrap();
    for _ in 0..5 {
        let _ = login(&h.nvr, "admin", "Wrong-Guess-11").await;
    }
    assert!(h.nvr.account_status().await.unwrap().locked_for.is_some());
    h.nvr
        .clear_account_lockout(&Actor::Dbus { uid: 0 })
        .await
        .unwrap();
    assert_eq!(h.nvr.account_status().await.unwrap().locked_for, None);
    assert!(login(&h.nvr, "admin", PASSWORD).await.is_ok());
    h.stop().await;
}

#[tokio::test]
async fn sessions_end_after_ten_idle_minutes_and_at_logout() {
    let (h, clock) = harness().await;
    h.nvr
        .activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &installer())
        .await
        .unwrap();
    let session = login(&h.nvr, "admin", PASSWORD).await.unwrap();
    assert!(!format!("{session:?}").contains(secrecy::ExposeSecret::expose_secret(&session.token)));
    clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(h.nvr.session_user(&session.token).unwrap(), "admin");
    clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(
        h.nvr.session_user(&session.token).unwrap(),
        "admin",
        "use keeps it alive"
    );
    clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(
        h.nvr.session_user(&session.token),
        Err(NvrError::SessionExpired)
    );
    let other = login(&h.nvr, "admin", PASSWORD).await.unwrap();
    h.nvr.logout(&other.token);
    assert_eq!(
        h.nvr.session_user(&other.token),
        Err(NvrError::SessionExpired)
    );
    assert_eq!(
        h.nvr
            .session_user(&SecretString::from("made-up".to_owned())),
        Err(NvrError::SessionExpired)
    );
    h.stop().await;
}

fn unix(clock: &SimulatedClock) -> u64 {
    use vigil::clock::Clock;
    vigil::clock::unix_secs(clock.now()) as u64
}

#[tokio::test]
async fn two_factor_login_with_codes_and_recovery_codes() {
    use secrecy::ExposeSecret;
    use vigil::rules::totp::{self, TotpSecret};
    let (h, clock) = harness().await;
    let nvr = &h.nvr;
    nvr.activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &installer())
        .await
        .unwrap();
    let session = login(nvr, "admin", PASSWORD).await.unwrap();
    let enrolment = nvr.begin_totp(&session.token).await.unwrap();
    assert!(
        enrolment.uri.starts_with("otpauth://totp/"),
        "{}",
        enrolment.uri
    );
    assert!(!format!("{enrolment:?}").contains(enrolment.secret_base32.expose_secret()));
    let secret = TotpSecret::from_base32(enrolment.secret_base32.expose_secret()).unwrap();
    assert!(matches!(
        nvr.confirm_totp(&session.token, "000000", &installer())
            .await,
        Err(NvrError::CodeInvalid { .. })
    ));
    assert!(
        !nvr.account_status().await.unwrap().totp_enabled,
        "not on until confirmed"
    );
    let recovery = nvr
        .confirm_totp(
            &session.token,
            &totp::code_at(&secret, unix(&clock)),
            &installer(),
        )
        .await
        .expect("the first good code turns it on");
    assert_eq!(recovery.len(), totp::RECOVERY_CODE_COUNT);
    assert!(nvr.account_status().await.unwrap().totp_enabled);

    // The password alone is not a session now.
    clock.advance(Duration::from_secs(60));
    let LoginStep::CodeNeeded(pending) = nvr.login("admin", PASSWORD).await.unwrap() else {
        panic!("a code is needed");
    };
    assert_eq!(
        nvr.session_user(&pending.token),
        Err(NvrError::SessionExpired)
    );
    assert!(matches!(
        nvr.login_code(&pending.token, "123456").await,
        Err(NvrError::LoginFailed { attempts_left: 4 })
    ));
    let code = totp::code_at(&secret, unix(&clock));
    let session = nvr.login_code(&pending.token, &code).await.unwrap();
    assert_eq!(nvr.session_user(&session.token).unwrap(), "admin");
    assert_eq!(
        nvr.login_code(&pending.token, &code).await.map(drop),
        Err(NvrError::SessionExpired),
        "a pending login is spent once used"
    );

    // The same code cannot be used twice in its window.
    let LoginStep::CodeNeeded(pending) = nvr.login("admin", PASSWORD).await.unwrap() else {
        panic!("a code is needed");
    };
    assert!(matches!(
        nvr.login_code(&pending.token, &code).await,
        Err(NvrError::LoginFailed { .. })
    ));
    // A recovery code works once, typed in capitals.
    let upper = recovery[0].to_uppercase();
    assert!(nvr.login_code(&pending.token, &upper).await.is_ok());
    let LoginStep::CodeNeeded(pending) = nvr.login("admin", PASSWORD).await.unwrap() else {
        panic!("a code is needed");
    };
    assert!(matches!(
        nvr.login_code(&pending.token, &recovery[0]).await,
        Err(NvrError::LoginFailed { .. })
    ));

    // Turning it off needs the password and a code.
    clock.advance(Duration::from_secs(30));
    assert!(matches!(
        nvr.disable_totp(
            &session.token,
            "Wrong-Guess-11",
            &totp::code_at(&secret, unix(&clock)),
            &installer()
        )
        .await,
        Err(NvrError::LoginFailed { .. })
    ));
    assert!(nvr.account_status().await.unwrap().totp_enabled);
    clock.advance(Duration::from_secs(30));
    nvr.disable_totp(
        &session.token,
        PASSWORD,
        &totp::code_at(&secret, unix(&clock)),
        &installer(),
    )
    .await
    .unwrap();
    assert!(!nvr.account_status().await.unwrap().totp_enabled);
    assert!(login(nvr, "admin", PASSWORD).await.is_ok());
    let actions: Vec<AuditAction> = nvr
        .audit_log(20)
        .await
        .unwrap()
        .iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&AuditAction::NvrTotpOn) && actions.contains(&AuditAction::NvrTotpOff)
    );
    h.stop().await;
}

/// The vendor's side, played by `vigil-camsim vendor-code` from the device secret file alone.
fn vendor_code(secret: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-camsim"))
        .arg("vendor-code")
        .arg("--device-secret")
        .arg(secret)
        .args(args)
        .output()
        .expect("vigil-camsim runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn forgot_password_by_the_phone_app_qr_code_and_by_support_code() {
    let clock = Arc::new(SimulatedClock::new(std::time::SystemTime::now()));
    let sim = simulator(1, |_| {}).await;
    let mut settings = test_settings(&sim, Duration::from_secs(60));
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("device.secret");
    settings.account.device_secret_file = Some(secret.clone());
    let state = tempfile::tempdir().unwrap();
    let h = Harness::start_with_clock(sim, settings, state, clock.clone()).await;
    let nvr = &h.nvr;
    nvr.activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &installer())
        .await
        .unwrap();

    // No secret from the vendor: neither path is offered, and asking says why.
    let methods = nvr.account_recovery_methods().await.unwrap();
    assert!(!methods.device_secret && methods.email.is_none());
    assert_eq!(
        nvr.start_account_recovery_qr().await.map(drop),
        Err(NvrError::NoDeviceSecret)
    );
    vigil::rules::device_secret::DeviceSecret::provision(&secret).unwrap();
    let methods = nvr.account_recovery_methods().await.unwrap();
    assert!(methods.device_secret);
    let identity = nvr.support_identity().await.unwrap();
    assert_eq!(methods.identity, identity);

    // QR: the app's code works once, after a wrong one; a newer QR code voids the older code.
    let first = nvr.start_account_recovery_qr().await.unwrap();
    assert!(first.payload.starts_with("vigil-recovery:v1?"));
    assert!(first.payload.contains(&identity.serial));
    let old_code = vendor_code(&secret, &["--qr", &first.payload]);
    let qr = nvr.start_account_recovery_qr().await.unwrap();
    let code = vendor_code(&secret, &["--qr", &qr.payload]);
    assert_eq!(code.len(), 8);
    assert_ne!(code, old_code);
    assert_eq!(
        nvr.verify_account_recovery_code(&old_code).await.map(drop),
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    );
    let ticket = nvr.verify_account_recovery_code(&code).await.unwrap();
    assert_eq!(
        nvr.verify_account_recovery_code(&code).await.map(drop),
        Err(NvrError::CodeExpired),
        "single use"
    );
    nvr.reset_account_password(&ticket, "Brisk-Otter-47", "Brisk-Otter-47")
        .await
        .unwrap();
    login(nvr, "admin", "Brisk-Otter-47").await.unwrap();

    // At most ten QR codes an hour (two made above).
    for _ in 0..8 {
        nvr.start_account_recovery_qr().await.unwrap();
    }
    assert!(matches!(
        nvr.start_account_recovery_qr().await,
        Err(NvrError::ChallengeLimit {
            retry_after: Some(_)
        })
    ));

    // Support code: today's, from the serial and date the login dialog shows; once.
    let support = vendor_code(
        &secret,
        &["--support", &identity.serial, "--date", &identity.date],
    );
    assert_eq!(support.len(), 10);
    assert_eq!(
        nvr.verify_account_support_code("0000000000")
            .await
            .map(drop),
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    );
    let ticket = nvr.verify_account_support_code(&support).await.unwrap();
    nvr.reset_account_password(&ticket, PASSWORD, PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        nvr.verify_account_support_code(&support).await.map(drop),
        Err(NvrError::CodeUsed)
    );
    login(nvr, "admin", PASSWORD).await.unwrap();

    // Yesterday's code is no good tomorrow, and five wrong entries close the path for the day.
    clock.advance(Duration::from_secs(24 * 60 * 60));
    assert!(matches!(
        nvr.verify_account_support_code(&support).await,
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    ));
    for _ in 0..3 {
        assert!(nvr.verify_account_support_code("1234567890").await.is_err());
    }
    assert_eq!(
        nvr.verify_account_support_code("1234567890")
            .await
            .map(drop),
        Err(NvrError::SupportLocked)
    );
    let tomorrow = nvr.support_identity().await.unwrap();
    let right = vendor_code(
        &secret,
        &["--support", &tomorrow.serial, "--date", &tomorrow.date],
    );
    assert_eq!(
        nvr.verify_account_support_code(&right).await.map(drop),
        Err(NvrError::SupportLocked),
        "even the right code, until tomorrow"
    );
    h.stop().await;
}

#[tokio::test]
async fn wrong_support_codes_are_counted_across_a_restart() {
    let clock = Arc::new(SimulatedClock::new(std::time::SystemTime::now()));
    let sim = simulator(1, |_| {}).await;
    let mut settings = test_settings(&sim, Duration::from_secs(60));
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("device.secret");
    settings.account.device_secret_file = Some(secret.clone());
    vigil::rules::device_secret::DeviceSecret::provision(&secret).unwrap();
    let h = Harness::start_with_clock(sim, settings, tempfile::tempdir().unwrap(), clock).await;
    h.nvr
        .activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &installer())
        .await
        .unwrap();
    for left in [4, 3, 2] {
        assert_eq!(
            h.nvr
                .verify_account_support_code("1234567890")
                .await
                .map(drop),
            Err(NvrError::CodeInvalid {
                attempts_left: left
            })
        );
    }
    // A restart does not give five more tries.
    let h = h.restart().await;
    assert_eq!(
        h.nvr
            .verify_account_support_code("1234567890")
            .await
            .map(drop),
        Err(NvrError::CodeInvalid { attempts_left: 1 })
    );
    assert_eq!(
        h.nvr
            .verify_account_support_code("1234567890")
            .await
            .map(drop),
        Err(NvrError::SupportLocked)
    );
    let identity = h.nvr.support_identity().await.unwrap();
    let right = vendor_code(
        &secret,
        &["--support", &identity.serial, "--date", &identity.date],
    );
    let h = h.restart().await;
    assert_eq!(
        h.nvr.verify_account_support_code(&right).await.map(drop),
        Err(NvrError::SupportLocked),
        "still closed for the day after another restart"
    );
    h.stop().await;
}

/// Camera commands from the menu carry its login session. Once the session has ended (idle past the
/// limit, or never issued) the service refuses them and changes nothing; with a live one they run
/// and the audit log names the menu's user.
#[tokio::test]
async fn menu_camera_commands_need_a_live_session() {
    let (h, clock) = harness().await;
    let nvr = &h.nvr;
    nvr.activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &installer())
        .await
        .unwrap();
    let menu = |session: &Session| Caller::Menu {
        session: session.token.clone(),
    };
    let session = login(nvr, "admin", PASSWORD).await.unwrap();
    let (host, port) = h.address(0);
    let camera = nvr
        .add_camera(
            AddCamera {
                host,
                port,
                username: "admin".into(),
                password: CAMERA_PASSWORD.into(),
            },
            &menu(&session),
        )
        .await
        .unwrap();

    clock.advance(nvr.settings().account.session_idle + Duration::from_secs(1));
    assert_eq!(
        nvr.remove_camera(camera.id, &menu(&session)).await,
        Err(NvrError::SessionExpired)
    );
    assert_eq!(
        nvr.edit_credentials(camera.id, "admin", CAMERA_PASSWORD, &menu(&session))
            .await
            .map(drop),
        Err(NvrError::SessionExpired)
    );
    assert_eq!(
        nvr.change_camera_passwords(&[camera.id], PASSWORD, PASSWORD, &menu(&session))
            .await
            .map(drop),
        Err(NvrError::SessionExpired)
    );
    let key = h.sim.cameras()[0].identity().endpoint_ref.clone();
    h.discover().await;
    assert_eq!(
        nvr.start_recovery(&key, &menu(&session)).await.map(drop),
        Err(NvrError::SessionExpired)
    );
    let never_issued = Caller::Menu {
        session: SecretString::from("not-a-session".to_owned()),
    };
    assert_eq!(
        nvr.remove_camera(camera.id, &never_issued).await,
        Err(NvrError::SessionExpired)
    );
    assert!(nvr.added_camera(camera.id).is_ok(), "nothing was removed");

    let session = login(nvr, "admin", PASSWORD).await.unwrap();
    nvr.remove_camera(camera.id, &menu(&session)).await.unwrap();
    let audit = nvr.audit_log(20).await.unwrap();
    for action in [AuditAction::CameraAdded, AuditAction::CameraRemoved] {
        assert!(
            audit
                .iter()
                .any(|e| e.action == action && e.actor == "gui:admin"),
            "{action:?} by the menu's user: {audit:?}"
        );
    }
}
