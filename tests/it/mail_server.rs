//! The recorder's own mail server (Settings > Network > Email) through the service API, against a real
//! SMTP server on loopback: bad entries refused by name, a test email delivered, failures that say what
//! to fix (refused connection, refused login), the password sealed and kept across a restart.

use std::time::Duration;

use vigil::mail::{MailError, SmtpSecurity};
use vigil::model::Actor;
use vigil::service::{MailServerChange, NvrError};

use crate::mailbox::{SmtpServer, python_or_skip};
use crate::support::{Harness, installer, simulator};

fn change(port: u16, username: &str, password: Option<&str>) -> MailServerChange {
    MailServerChange {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: username.into(),
        password: password.map(str::to_owned),
        from: "nvr@example.com".into(),
        trusted_certificate: Some(String::new()),
    }
}

#[tokio::test]
async fn bad_entries_are_refused_by_name_and_nothing_is_stored() {
    let h = Harness::start(simulator(1, |_| {}).await, Duration::from_secs(60)).await;
    let cases = [
        (
            MailServerChange {
                host: " ".into(),
                ..change(25, "", None)
            },
            "mail server",
        ),
        (
            MailServerChange {
                host: "smtp example.com".into(),
                ..change(25, "", None)
            },
            "mail server",
        ),
        (change(0, "", None), "port"),
        (
            MailServerChange {
                from: "nvr".into(),
                ..change(25, "", None)
            },
            "sender address",
        ),
        (change(25, "bad\nuser", None), "user name"),
    ];
    for (bad, field) in cases {
        match h.nvr.set_mail_server(bad, &installer()).await {
            Err(NvrError::InvalidArgument { field: named, .. }) => assert_eq!(named, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(h.nvr.mail_server().await.unwrap(), None);
    assert!(
        h.nvr.audit_log(50).await.unwrap().is_empty(),
        "a refused setting writes no audit entry"
    );
    assert!(matches!(
        h.nvr.send_test_email("me@example.com").await,
        Err(NvrError::NoMailServer)
    ));
    assert!(matches!(
        h.nvr.send_test_email("me at example").await,
        Err(NvrError::InvalidArgument {
            field: "recipient",
            ..
        })
    ));
    h.stop().await;
}

#[tokio::test]
async fn a_test_email_arrives_and_failures_say_what_to_fix() {
    let Some(python) = python_or_skip("the mail server tests (they need a real SMTP server)")
    else {
        return;
    };
    let plain = SmtpServer::start(&python);
    let with_login = SmtpServer::start_with(&python, &["--auth", "relay:Mail-Pass-52"]);
    let h = Harness::start(simulator(1, |_| {}).await, Duration::from_secs(60)).await;

    h.nvr
        .set_mail_server(change(plain.port, "", None), &installer())
        .await
        .unwrap();
    h.nvr.send_test_email("owner@example.com").await.unwrap();
    let mail = plain.nth_message(1).await;
    assert_eq!(mail.to, "owner@example.com");
    assert_eq!(mail.subject, "Vigil NVR: test email");

    // Nothing listens on a port just freed: the error names the server and says what to check.
    let closed = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    h.nvr
        .set_mail_server(change(closed, "", None), &installer())
        .await
        .unwrap();
    let refused = h
        .nvr
        .send_test_email("owner@example.com")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, NvrError::MailServer(MailError::Unreachable(_))),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("check the server name and port"),
        "{refused}"
    );

    // A wrong login is named as such; the right one works, and is kept when the form leaves it out.
    h.nvr
        .set_mail_server(
            change(with_login.port, "relay", Some("Wrong-Pass-00")),
            &installer(),
        )
        .await
        .unwrap();
    let login = h
        .nvr
        .send_test_email("owner@example.com")
        .await
        .unwrap_err();
    assert_eq!(login, NvrError::MailServer(MailError::LoginRefused));
    assert!(
        login
            .to_string()
            .contains("check the user name and password")
    );
    assert!(!login.to_string().contains("Wrong-Pass-00"));
    h.nvr
        .set_mail_server(
            change(with_login.port, "relay", Some("Mail-Pass-52")),
            &installer(),
        )
        .await
        .unwrap();
    let h = h.restart().await;
    h.nvr
        .set_mail_server(change(with_login.port, "relay", None), &installer())
        .await
        .unwrap();
    let shown = h.nvr.mail_server().await.unwrap().unwrap();
    assert!(shown.password_set && shown.username == "relay", "{shown:?}");
    h.nvr.send_test_email("owner@example.com").await.unwrap();
    assert_eq!(
        with_login.nth_message(1).await.subject,
        "Vigil NVR: test email"
    );
    let db = std::fs::read(h.state.path().join("vigil.db")).unwrap();
    assert!(
        !db.windows(12).any(|w| w == b"Mail-Pass-52"),
        "the mail password is sealed"
    );
    // Every change is audited, saying what became of the password and never the password itself.
    let changes: Vec<String> = h
        .nvr
        .audit_log(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == vigil::model::AuditAction::MailServerChanged)
        .map(|e| {
            assert_eq!(e.actor, "gui:installer");
            e.outcome
        })
        .collect();
    let at = |port: u16| format!("127.0.0.1:{port} none");
    assert_eq!(
        changes,
        [
            format!(
                "{}, login relay, password kept, the system's certificates",
                at(with_login.port)
            ),
            format!(
                "{}, login relay, new password, the system's certificates",
                at(with_login.port)
            ),
            format!(
                "{}, login relay, new password, the system's certificates",
                at(with_login.port)
            ),
            format!(
                "{}, no login, no password, the system's certificates",
                at(closed)
            ),
            format!(
                "{}, no login, no password, the system's certificates",
                at(plain.port)
            ),
        ],
        "newest first"
    );
    assert!(changes.iter().all(|c| !c.contains("Pass-")));
    assert_eq!(h.nvr.verify_audit().await.unwrap(), changes.len());
    h.stop().await;
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_a_code_from_the_reserved_email() {
    use std::sync::Arc;
    use vigil::clock::SimulatedClock;
    use vigil::service::LoginStep;
    let Some(python) = python_or_skip("the recovery by email test (it needs a real SMTP server)")
    else {
        return;
    };
    let smtp = SmtpServer::start(&python);
    let clock = Arc::new(SimulatedClock::new(vigil::clock::from_unix_secs(
        1_800_000_000,
    )));
    let sim = simulator(1, |_| {}).await;
    let settings = crate::support::test_settings(&sim, Duration::from_secs(60));
    let h =
        Harness::start_with_clock(sim, settings, tempfile::tempdir().unwrap(), clock.clone()).await;
    let nvr = &h.nvr;
    let (old, new) = ("Quiet-Falcon-83", "Amber-Harbour-57");
    nvr.activate_nvr(old, old, "owner@example.com", None, &Actor::System)
        .await
        .unwrap();
    assert!(matches!(
        nvr.send_account_recovery_code().await,
        Err(NvrError::NoMailServer)
    ));
    nvr.set_mail_server(change(smtp.port, "", None), &installer())
        .await
        .unwrap();
    for _ in 0..5 {
        let _ = nvr.login("admin", "Wrong-Guess-11").await;
    }
    assert!(nvr.account_status().await.unwrap().locked_for.is_some());

    let sent = nvr.send_account_recovery_code().await.unwrap();
    assert_eq!(sent.masked_email, "o***@e***.com");
    let mail = smtp.nth_message(1).await;
    assert_eq!(mail.to, "owner@example.com");
    assert_eq!(mail.subject, "Vigil NVR: password recovery code");
    let code = mail.code(8).expect("an 8-digit code");
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    assert_eq!(
        nvr.verify_account_recovery_code(wrong).await.map(drop),
        Err(NvrError::CodeInvalid { attempts_left: 4 })
    );
    let ticket = nvr.verify_account_recovery_code(&code).await.unwrap();
    assert_eq!(
        nvr.verify_account_recovery_code(&code).await.map(drop),
        Err(NvrError::CodeExpired),
        "a code works once"
    );
    assert!(matches!(
        nvr.reset_account_password(&ticket, "admin1234", "admin1234")
            .await,
        Err(NvrError::PolicyViolation { .. })
    ));
    assert_eq!(
        nvr.reset_account_password(&secrecy::SecretString::from("forged".to_owned()), new, new)
            .await,
        Err(NvrError::RecoveryExpired)
    );
    nvr.reset_account_password(&ticket, new, new).await.unwrap();
    assert_eq!(
        nvr.account_status().await.unwrap().locked_for,
        None,
        "the lock is lifted"
    );
    assert!(matches!(
        nvr.login("admin", new).await,
        Ok(LoginStep::Done(_))
    ));
    assert!(matches!(
        nvr.login("admin", old).await,
        Err(NvrError::LoginFailed { .. })
    ));

    // A code lasts 30 minutes; five wrong tries kill one; three sends in ten minutes at most.
    nvr.send_account_recovery_code().await.unwrap();
    let code = smtp.nth_message(2).await.code(8).unwrap();
    clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(
        nvr.verify_account_recovery_code(&code).await.map(drop),
        Err(NvrError::CodeExpired)
    );
    nvr.send_account_recovery_code().await.unwrap();
    let code = smtp.nth_message(3).await.code(8).unwrap();
    nvr.send_account_recovery_code().await.unwrap();
    let code = {
        let newer = smtp.nth_message(4).await.code(8).unwrap();
        assert_eq!(
            nvr.verify_account_recovery_code(&code)
                .await
                .map(drop)
                .is_err(),
            code != newer,
            "a new code voids the old one"
        );
        newer
    };
    let wrong = if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    // The check of the voided code above cost the new one a try: four are left.
    for _ in 0..3 {
        let _ = nvr.verify_account_recovery_code(wrong).await;
    }
    assert_eq!(
        nvr.verify_account_recovery_code(wrong).await.map(drop),
        Err(NvrError::CodeAttemptsExhausted)
    );
    assert_eq!(
        nvr.verify_account_recovery_code(&code).await.map(drop),
        Err(NvrError::CodeExpired),
        "a dead code stays dead"
    );
    // Two sent since the clock moved on; the third is allowed, the fourth is not.
    nvr.send_account_recovery_code().await.unwrap();
    assert!(matches!(
        nvr.send_account_recovery_code().await,
        Err(NvrError::SendLimit { .. })
    ));
    let audit = nvr.audit_log(50).await.unwrap();
    for entry in &audit {
        assert!(!entry.outcome.contains(&code) && !entry.outcome.contains(new));
    }
    h.stop().await;
}

/// A private CA and a server certificate for 127.0.0.1 signed by it, made with the openssl tool in
/// `dir`: (CA certificate, server certificate, server key), as paths.
fn private_ca(dir: &std::path::Path) -> Option<(String, String, String)> {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (ca, ca_key, cert, key, request, ext) = (
        path("ca.pem"),
        path("ca-key.pem"),
        path("cert.pem"),
        path("key.pem"),
        path("req.pem"),
        path("ext.cnf"),
    );
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .ok()?;
    let run = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let made = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Test Relay CA",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &request,
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        &request,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    made.then_some((ca, cert, key))
}

#[tokio::test]
async fn tls_problems_are_named_as_tls_problems() {
    let Some(python) = python_or_skip("the mail TLS test (it needs a real SMTP server)") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = private_ca(dir.path()) else {
        eprintln!("SKIPPED mail TLS test: the openssl tool is missing (.ci/deps installs it)");
        return;
    };
    let starttls = SmtpServer::start_with(&python, &["--starttls", &cert, &key]);
    let h = Harness::start(simulator(1, |_| {}).await, Duration::from_secs(60)).await;
    for (security, what) in [
        (
            SmtpSecurity::StartTls,
            "a certificate the recorder does not trust",
        ),
        (
            SmtpSecurity::None,
            "a server that wants STARTTLS, asked in plain text",
        ),
    ] {
        h.nvr
            .set_mail_server(
                MailServerChange {
                    security,
                    ..change(starttls.port, "", None)
                },
                &installer(),
            )
            .await
            .unwrap();
        let failed = h
            .nvr
            .send_test_email("owner@example.com")
            .await
            .unwrap_err();
        assert_eq!(
            failed,
            NvrError::MailServer(MailError::Tls),
            "{what}: {failed}"
        );
        assert!(
            failed.to_string().contains("check the security setting"),
            "{failed}"
        );
    }
    // The relay's private CA, trusted in the settings: STARTTLS and TLS from the first byte both
    // deliver.
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(matches!(
        h.nvr
            .set_mail_server(
                MailServerChange {
                    trusted_certificate: Some("not a certificate".into()),
                    ..change(starttls.port, "", None)
                },
                &installer(),
            )
            .await,
        Err(NvrError::InvalidArgument {
            field: "trusted certificate",
            ..
        })
    ));
    let implicit = SmtpServer::start_with(&python, &["--tls", &cert, &key]);
    for (server, security) in [
        (&starttls, SmtpSecurity::StartTls),
        (&implicit, SmtpSecurity::Tls),
    ] {
        h.nvr
            .set_mail_server(
                MailServerChange {
                    security,
                    trusted_certificate: Some(pem.clone()),
                    ..change(server.port, "", None)
                },
                &installer(),
            )
            .await
            .unwrap();
        h.nvr.send_test_email("owner@example.com").await.unwrap();
        assert_eq!(server.nth_message(1).await.subject, "Vigil NVR: test email");
    }
    assert!(
        h.nvr
            .mail_server()
            .await
            .unwrap()
            .unwrap()
            .trusts_own_certificate
    );
    h.stop().await;
}
