//! Crash torture: the short form of `vigil-bench torture` against the vigild binary (kill -9 across
//! every phase, no check may fail), and regression tests of what the long runs found, each with the
//! registry put in the state a kill left it in.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use vigil::model::{AuditAction, CameraState};
use vigil::store::Store;

use crate::support::{CAMERA_PASSWORD, Harness, eventually, installer, simulator};

/// A short torture: a dozen kills, every phase at least twice, the menu worker at least once.
#[cfg(feature = "gui")]
#[test]
fn a_dozen_kills_across_every_phase_lose_nothing() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-bench"))
        .args(["torture", "--kills", "12", "--seed", "11", "--block", "1"])
        .args(["--vigild", crate::daemon::VIGILD])
        .output()
        .expect("vigil-bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let figure = |key: &str| -> u64 {
        last.split_whitespace()
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no {key} in the figures ({}): {last}\n{stderr}",
                    output.status
                )
            })
    };
    assert_eq!(figure("kills"), 12, "{stdout}\n{stderr}");
    for phase in ["cameras", "batch", "recovery", "activation", "account"] {
        assert!(
            figure(&format!("kills_{phase}")) >= 2,
            "{phase} was killed in: {last}"
        );
    }
    assert!(figure("kills_in_menu") >= 1, "{last}");
    assert_eq!(
        figure("restarts"),
        12,
        "vigild started again after every kill"
    );
    assert!(
        figure("kills_mid_operation") >= 6,
        "most kills land on an operation: {last}"
    );
    assert!(figure("operations_acknowledged") >= 100, "{last}");
    assert!(figure("checks") >= 500, "{last}");
    for failure in [
        "failures",
        "integrity_failures",
        "lost",
        "half_written",
        "undecryptable",
        "stale_credentials",
        "audit_failures",
        "audit_missing",
        "restart_failures",
        "restart_mismatches",
        "recovery_failures",
        "unexpected_exits",
    ] {
        assert_eq!(figure(failure), 0, "{failure}: {last}\n{stderr}");
    }
    assert_eq!(figure("checks_passed"), figure("checks"));
    assert!(output.status.success(), "{stderr}");
    for secret in ["Harbor-Lamp-62", "Lantern-Copper-47"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "no password in the output"
        );
    }
}

/// Found by the torture: vigild killed between a camera taking its new password (ChangePassword)
/// and the registry storing it left the old password stored, so after the restart the camera was Not
/// certified. The new password is now sealed in the registry before the camera is told, and the
/// next start finishes the change: stored when the camera takes it, forgotten when it does not.
#[tokio::test]
async fn a_password_change_a_kill_interrupted_is_finished_on_the_next_start() {
    const NEW_PASSWORD: &str = "Pebble-Orchid-58";
    let sim = simulator(2, |_| {}).await;
    let h = Harness::start(sim, Duration::from_millis(300)).await;
    let taken = h.add(0).await.id;
    let untold = h.add(1).await.id;
    let settings = h.settings.clone();
    let (sim, state) = h.into_parts().await;
    {
        // As a kill leaves it: both new passwords recorded; camera 0 took its own, camera 1 was
        // never told.
        let store = Store::open(state.path()).unwrap();
        let new = SecretString::from(NEW_PASSWORD.to_owned());
        store
            .write(|tx| {
                tx.set_pending_password(taken, "admin", Some(&new))?;
                tx.set_pending_password(untold, "admin", Some(&new))
            })
            .unwrap();
    }
    sim.cameras()[0].set_password_directly("admin", NEW_PASSWORD);

    let h = Harness::start_with(sim, settings, state).await;
    let dir = h.state.path().to_owned();
    eventually(
        Duration::from_secs(10),
        "the interrupted changes to be settled",
        || {
            let settled = vigil::store::inspect(&dir)
                .is_ok_and(|found| found.cameras.iter().all(|c| c.pending_password.is_none()));
            async move { settled }
        },
    )
    .await;
    let found = vigil::store::inspect(&dir).unwrap();
    let password_of = |id| {
        found
            .cameras
            .iter()
            .find(|c| c.camera.id == id)
            .and_then(|c| c.credentials.as_ref())
            .map(|c| c.password.expose_secret().to_owned())
    };
    assert_eq!(password_of(taken).as_deref(), Some(NEW_PASSWORD));
    assert_eq!(password_of(untold).as_deref(), Some(CAMERA_PASSWORD));
    assert!(found.holds_together(), "{found:?}");
    for id in [taken, untold] {
        h.wait_for_state(id, CameraState::Online, Duration::from_secs(5))
            .await;
        assert!(!h.nvr.added_camera(id).unwrap().status.credentials_rejected);
    }
    let finished = h.nvr.audit_log(20).await.unwrap();
    assert!(
        finished
            .iter()
            .any(|e| e.action == AuditAction::PasswordPush
                && e.outcome.contains("finished after a restart")),
        "{finished:?}"
    );
    assert!(
        !finished
            .iter()
            .any(|e| e.outcome.contains(NEW_PASSWORD) || e.outcome.contains(CAMERA_PASSWORD)),
        "no password in the audit log"
    );

    // And a change that goes through leaves nothing on its way.
    let pushed = h
        .nvr
        .change_camera_passwords(&[untold], NEW_PASSWORD, NEW_PASSWORD, &installer())
        .await
        .unwrap();
    assert!(pushed[0].result.is_ok(), "{pushed:?}");
    let found = vigil::store::inspect(&dir).unwrap();
    assert!(found.cameras.iter().all(|c| c.pending_password.is_none()));
    h.stop().await;
}

/// Found while writing the torture's audit checks: the account's changes (activation, the lock after
/// wrong passwords, clearing it, two-factor on and off, a password reset) were stored and then audited
/// in a second transaction, so a kill between the two kept the change without its entry. Each change
/// and its entry are now one transaction: when the entry cannot be written, the change is not stored.
#[tokio::test]
async fn an_account_change_is_never_stored_without_its_audit_entry() {
    const PASSWORD: &str = "Lantern-Copper-47";
    let sim = simulator(1, |_| {}).await;
    let h = Harness::start(sim, Duration::from_secs(60)).await;
    let nvr = &h.nvr;
    let actor = vigil::model::Actor::System;
    let db = rusqlite::Connection::open(h.state.path().join(vigil::store::DATABASE_FILE)).unwrap();
    // The audit log refuses every entry, as a full disk would refuse the second write.
    let refuse = || {
        db.execute_batch(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'full'); END;",
        )
        .unwrap()
    };
    let allow = || db.execute_batch("DROP TRIGGER refuse_audit;").unwrap();
    let entries = |action| async move {
        nvr.audit_log(100)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == action)
            .count()
    };

    refuse();
    assert!(
        nvr.activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &actor)
            .await
            .is_err()
    );
    assert!(!nvr.account_status().await.unwrap().activated);
    allow();
    nvr.activate_nvr(PASSWORD, PASSWORD, "owner@example.com", None, &actor)
        .await
        .unwrap();
    assert_eq!(entries(AuditAction::NvrActivation).await, 1);

    // Four wrong passwords are counted (no entry for them); the fifth would lock, with its entry.
    refuse();
    for _ in 0..4 {
        assert!(matches!(
            nvr.login("admin", "Wrong-Guess-57").await,
            Err(vigil::service::NvrError::LoginFailed { .. })
        ));
    }
    assert!(nvr.login("admin", "Wrong-Guess-57").await.is_err());
    let status = nvr.account_status().await.unwrap();
    assert_eq!((status.failed_logins, status.locked_for), (4, None));
    allow();
    assert!(matches!(
        nvr.login("admin", "Wrong-Guess-57").await,
        Err(vigil::service::NvrError::AccountLocked { .. })
    ));
    assert_eq!(entries(AuditAction::NvrLocked).await, 1);

    refuse();
    assert!(nvr.clear_account_lockout(&actor).await.is_err());
    assert!(nvr.account_status().await.unwrap().locked_for.is_some());
    allow();
    nvr.clear_account_lockout(&actor).await.unwrap();
    assert_eq!(entries(AuditAction::NvrLockoutCleared).await, 1);

    // Two-factor login: not turned on without its entry.
    let Ok(vigil::service::LoginStep::Done(session)) = nvr.login("admin", PASSWORD).await else {
        panic!("logs in with the password alone");
    };
    let enrol = || async {
        let enrolment = nvr.begin_totp(&session.token).await.unwrap();
        let secret =
            vigil::rules::totp::TotpSecret::from_base32(enrolment.secret_base32.expose_secret())
                .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        vigil::rules::totp::code_at(&secret, now)
    };
    refuse();
    let code = enrol().await;
    assert!(
        nvr.confirm_totp(&session.token, &code, &actor)
            .await
            .is_err()
    );
    assert!(!nvr.account_status().await.unwrap().totp_enabled);
    allow();
    let code = enrol().await;
    let codes = nvr
        .confirm_totp(&session.token, &code, &actor)
        .await
        .unwrap();
    assert_eq!(entries(AuditAction::NvrTotpOn).await, 1);
    refuse();
    assert!(
        nvr.disable_totp(&session.token, PASSWORD, &codes[0], &actor)
            .await
            .is_err()
    );
    assert!(nvr.account_status().await.unwrap().totp_enabled);
    allow();
    nvr.disable_totp(&session.token, PASSWORD, &codes[1], &actor)
        .await
        .unwrap();
    assert_eq!(entries(AuditAction::NvrTotpOff).await, 1);
    assert!(!nvr.account_status().await.unwrap().totp_enabled);

    // The mail server: not stored without its entry either.
    let mail_server = || vigil::service::MailServerChange {
        host: "smtp.example.com".into(),
        port: 587,
        security: vigil::mail::SmtpSecurity::StartTls,
        username: "nvr".into(),
        password: Some("Relay-Pass-61".into()),
        from: "nvr@example.com".into(),
        trusted_certificate: None,
    };
    refuse();
    assert!(
        nvr.set_mail_server(mail_server(), &actor.clone().into())
            .await
            .is_err()
    );
    assert_eq!(nvr.mail_server().await.unwrap(), None);
    allow();
    nvr.set_mail_server(mail_server(), &actor.clone().into())
        .await
        .unwrap();
    assert_eq!(entries(AuditAction::MailServerChanged).await, 1);
    assert!(
        vigil::store::inspect(h.state.path())
            .unwrap()
            .holds_together()
    );
    h.stop().await;
}
