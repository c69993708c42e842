//! `vigilctl forget-password`: a camera's forget-password flow at the terminal, step by step, with the
//! same rules as the menu's wizard (remove first, a code by email, QR or support, the new password).

use vigil::dbus::proxy::{ManagerProxy, RecoveryProxy};

use crate::commands::{new_password, report_camera};
use crate::output::{read_line, read_secret};
use crate::{Failure, fail};

pub(crate) async fn forget_password(
    connection: &zbus::Connection,
    manager: &ManagerProxy<'_>,
    key: &str,
    method: Option<String>,
    yes: bool,
) -> Result<u8, Failure> {
    let (mut next, mut path) = manager.start_recovery(key).await?;
    if next == "remove-first" {
        eprintln!(
            "The camera is added but not certified: it is removed first and added again after the reset."
        );
        let confirmed =
            yes || read_line("Remove the camera and continue? [y/N] ")?.eq_ignore_ascii_case("y");
        if !confirmed {
            return Err(fail("cancelled"));
        }
        (next, path) = manager.remove_and_start_recovery(key).await?;
    }
    match next.as_str() {
        "started" => {}
        "change-password" => {
            let camera = path.as_str().rsplit('/').next().unwrap_or_default();
            return Err(fail(format!(
                "the camera's stored password works: change it with `vigilctl passwd {camera}` instead"
            )));
        }
        other => {
            return Err(fail(format!(
                "vigild answered an unknown next step {other:?}"
            )));
        }
    }
    // Properties are read fresh each time: a cached copy could lag behind the flow's steps.
    let flow = RecoveryProxy::builder(connection)
        .path(path)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let masked = flow.masked_email().await?;
    let methods = flow.methods().await?;
    let phone_app = match flow.phone_app().await?.as_str() {
        "" => "the vendor's".to_owned(),
        app => format!("the {app}"),
    };
    println!(
        "Resetting the password of camera {} (serial {}) over {}.",
        flow.model().await?,
        flow.serial().await?,
        vigil::model::Protocol::parse(&flow.protocol().await?)
            .map_or("its protocol", |p| p.label())
    );
    if !masked.is_empty() {
        println!("Its reset email is {masked}.");
    }
    let has = |m: &str| methods.iter().any(|x| x == m);
    let mut method = match method {
        Some(m) => m,
        None if has("send_code") => "send".to_owned(),
        None if has("app_qr") => "qr".to_owned(),
        None => "support".to_owned(),
    };
    let mut code_digits = 8;
    let mut started = false;
    for _ in 0..10 {
        if !started {
            started = true;
            match method.as_str() {
                "send" => match flow.send_code().await {
                    Ok(()) => println!(
                        "A code was sent to {}. Check the inbox (and the spam folder).",
                        flow.code_sent_to().await?
                    ),
                    // The camera cannot email (no internet, or its mail refused): the QR code remains.
                    Err(zbus::Error::MethodError(name, message, _))
                        if name.as_str().ends_with(".NoInternet")
                            || (name.as_str().ends_with(".MailFailed") && has("app_qr")) =>
                    {
                        println!("{}", message.unwrap_or_default());
                        method = "qr".to_owned();
                        started = false;
                        continue;
                    }
                    Err(error) => return Err(error.into()),
                },
                "qr" => {
                    let payload = flow.qr_payload().await?;
                    let picture =
                        vigil::qr::render_terminal(&payload).map_err(|e| fail(e.to_string()))?;
                    println!(
                        "{picture}Scan this with {phone_app} phone app; the code arrives by email at {masked}."
                    );
                    println!("(The QR code holds: {payload})");
                }
                _ => {
                    code_digits = 10;
                    println!(
                        "Give the vendor's support the serial number {} and the date {}; they give you a 10-digit code.",
                        flow.serial().await?,
                        flow.camera_date().await?
                    );
                }
            }
        }
        let left = flow.expires_at().await? - vigil::clock::unix_secs(std::time::SystemTime::now());
        if code_digits == 8 {
            println!(
                "{} attempts left; the code is valid for {} more minutes. Type 'new' for a new code.",
                flow.attempts_left().await?,
                (left.max(0) + 59) / 60
            );
        }
        let code = read_secret(&format!("{code_digits}-digit code: "))?;
        if code.eq_ignore_ascii_case("new") {
            flow.new_code().await?;
            started = false;
            continue;
        }
        let verified = if code_digits == 10 {
            flow.verify_support_code(&code).await
        } else {
            flow.verify_code(&code).await
        };
        match verified {
            Ok(()) => break,
            Err(zbus::Error::MethodError(name, message, _))
                if [
                    "CodeInvalid",
                    "InvalidArgument",
                    "CodeExpired",
                    "CodeAttemptsExhausted",
                    "CodeUsed",
                ]
                .iter()
                .any(|n| name.as_str().ends_with(n)) =>
            {
                println!("{}", message.unwrap_or_default());
            }
            Err(error) => return Err(error.into()),
        }
    }
    if flow.step().await? != "code_verified" {
        return Err(fail("the code was not accepted"));
    }
    println!("Code accepted. Choose the camera's new password.");
    let user = "admin";
    for _ in 0..5 {
        let (password, confirmation) = new_password(manager, &[user.to_owned()]).await?;
        match flow.set_password(&password, &confirmation).await {
            Ok(camera) => {
                println!("The password was reset.");
                if camera.as_str() != "/" {
                    report_camera(connection, &camera, false, "Re-added").await?;
                }
                return Ok(0);
            }
            Err(zbus::Error::MethodError(name, message, _))
                if name.as_str().ends_with(".PolicyViolation")
                    || name.as_str().ends_with(".PasswordMismatch") =>
            {
                println!("{}", message.unwrap_or_default());
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(fail("too many tries"))
}
