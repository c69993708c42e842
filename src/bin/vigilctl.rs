//! `vigilctl`: the command line over vigild's D-Bus API (`org.vigil.Nvr1`). Human-readable tables by
//! default, `--json` for scripts. Passwords and codes are read without echo on a terminal, or one per
//! line from standard input otherwise; they are never taken as arguments.
//!
//! Exit codes: 0 done; 1 vigild refused or the operation failed; 2 bad usage; 3 vigild cannot be
//! reached; 4 not authorized; 5 some of several cameras failed (`passwd`).

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use vigil::dbus::proxy::{CameraProxy, ManagerProxy, RecoveryProxy};
use zbus::{OwnedObjectPath, OwnedVariant};

#[derive(Parser, Debug)]
#[command(
    name = "vigilctl",
    version,
    about = "Control vigild, the NVR's camera-access daemon, over D-Bus"
)]
struct Cli {
    /// Talk to vigild on the session bus (development).
    #[arg(long, global = true, conflicts_with = "address")]
    session: bool,
    /// Talk to vigild on the bus at this address.
    #[arg(long, global = true, value_name = "ADDRESS")]
    address: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Camera counts and vigild's version.
    Status,
    /// The added cameras and their status.
    Cameras,
    /// Run discovery (optionally also probing these addresses, ranges a-b or prefixes net/len) and list
    /// the discovered devices.
    Discover { targets: Vec<String> },
    /// Add a camera by address (the password is asked for).
    Add {
        host: String,
        #[arg(long, default_value_t = 80)]
        port: u16,
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Add a discovered device by its key (from `discover`; the password is asked for).
    AddDiscovered {
        key: String,
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Remove an added camera.
    Remove { camera: i64 },
    /// Activate a camera in factory state (the new admin password is asked for twice).
    Activate {
        key: String,
        #[arg(long)]
        reset_email: String,
        /// Do not add it afterwards.
        #[arg(long)]
        no_add: bool,
    },
    /// Change the password of certified cameras with their current one (asked for twice).
    Passwd {
        #[arg(required = true)]
        cameras: Vec<i64>,
    },
    /// Show the audit log.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Verify the hash chain instead.
        #[arg(long)]
        verify: bool,
    },
    /// The recorder's own admin account: activated, locked, two-factor (root or the admin group).
    Account {
        /// Lift the account's lockout.
        #[arg(long)]
        unlock: bool,
    },
    /// Reset a camera's forgotten password, interactively.
    ForgetPassword {
        /// The discovered device's key (from `discover`).
        key: String,
        /// How to get the code; asked when not given.
        #[arg(long, value_parser = ["send", "qr", "support"])]
        method: Option<String>,
        /// Remove an added, not certified camera without asking.
        #[arg(long)]
        yes: bool,
    },
}

/// A failure and its exit code.
struct Failure {
    message: String,
    code: u8,
}

impl From<zbus::Error> for Failure {
    fn from(error: zbus::Error) -> Self {
        match &error {
            zbus::Error::MethodError(name, message, _) => {
                let name = name.as_str();
                let code = if name.ends_with(".NotAuthorized") || name.ends_with(".AccessDenied") {
                    4
                } else if name.ends_with(".ServiceUnknown") || name.ends_with(".NameHasNoOwner") {
                    3
                } else {
                    1
                };
                let short = name.rsplit('.').next().unwrap_or(name);
                Failure {
                    message: format!("{} ({short})", message.clone().unwrap_or_default()),
                    code,
                }
            }
            zbus::Error::FDO(fdo) => {
                let code = match fdo.as_ref() {
                    zbus::fdo::Error::AccessDenied(_) => 4,
                    zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_) => 3,
                    _ => 1,
                };
                Failure {
                    message: fdo.to_string(),
                    code,
                }
            }
            zbus::Error::InputOutput(_) | zbus::Error::Address(_) | zbus::Error::Handshake(_) => {
                Failure {
                    message: format!("cannot reach the bus: {error}"),
                    code: 3,
                }
            }
            _ => Failure {
                message: error.to_string(),
                code: 1,
            },
        }
    }
}

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 1,
    }
}

fn main() -> ExitCode {
    // Like every Unix filter, end quietly when the reader of our output goes away (`| head`),
    // instead of failing to print.
    // SAFETY: setting a signal's disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vigilctl: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("vigilctl: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn connect(cli: &Cli) -> Result<zbus::Connection, Failure> {
    let built = if let Some(address) = &cli.address {
        zbus::connection::Builder::address(address.as_str())
            .build()
            .await
    } else if cli.session {
        zbus::Connection::session().await
    } else {
        zbus::Connection::system().await
    };
    built.map_err(|e| Failure {
        message: format!("cannot reach the bus: {e}"),
        code: 3,
    })
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let connection = connect(&cli).await?;
    let manager = ManagerProxy::builder(&connection)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let json = cli.json;
    match cli.command {
        Command::Status => {
            let status = manager.status().await?;
            let version = manager.version().await?;
            let mut value = dict_json(&status);
            value["Version"] = json!(version);
            if json {
                print_json(&value);
            } else {
                println!("vigild {version}");
                for key in [
                    "Cameras",
                    "Online",
                    "NotCertified",
                    "Locked",
                    "Offline",
                    "Discovered",
                    "Recoveries",
                ] {
                    println!("{key:>13}: {}", value[key]);
                }
            }
        }
        Command::Account { unlock } => {
            if unlock {
                manager.clear_account_lockout().await?;
            }
            let (activated, username, locked_secs, failed_logins, totp) =
                manager.account_status().await?;
            if json {
                print_json(&json!({
                    "activated": activated,
                    "username": username,
                    "locked_secs": locked_secs,
                    "failed_logins": failed_logins,
                    "two_factor": totp,
                }));
            } else if !activated {
                println!("The recorder is not activated yet.");
            } else {
                println!("      user: {username}");
                if locked_secs > 0 {
                    println!(
                        "    locked: for {} more minutes (vigilctl account --unlock lifts it)",
                        locked_secs.div_ceil(60)
                    );
                } else {
                    println!(
                        "    locked: no ({failed_logins} wrong passwords since the last login)"
                    );
                }
                println!("two-factor: {}", if totp { "on" } else { "off" });
            }
        }
        Command::Cameras => {
            let cameras = manager.list_cameras().await?;
            if json {
                print_json(&json!(cameras));
            } else {
                print_table(
                    &["ID", "STATUS", "MODEL", "SERIAL", "ADDRESS", "LAST ERROR"],
                    cameras
                        .iter()
                        .map(|c| {
                            vec![
                                c.id.to_string(),
                                c.status.replace('_', " "),
                                c.model.clone(),
                                c.serial.clone(),
                                c.address.clone(),
                                c.last_error.clone(),
                            ]
                        })
                        .collect(),
                );
            }
        }
        Command::Discover { targets } => {
            let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
            manager.discover(&refs).await?;
            let devices = manager.list_discovered().await?;
            if json {
                print_json(&json!(devices));
            } else {
                print_table(
                    &["KEY", "MODEL", "SERIAL", "FIRMWARE", "ADDRESS", "STATE"],
                    devices
                        .iter()
                        .map(|d| {
                            let state = if d.inactive {
                                "inactive".to_owned()
                            } else if d.added_as.as_str() != "/" {
                                format!("added as {}", id_of(&d.added_as))
                            } else {
                                String::new()
                            };
                            vec![
                                d.key.clone(),
                                d.model.clone(),
                                d.serial.clone(),
                                d.firmware.clone(),
                                d.address.clone(),
                                state,
                            ]
                        })
                        .collect(),
                );
            }
        }
        Command::Add { host, port, user } => {
            let password = read_secret(&format!("Password for {user}@{host}: "))?;
            let path = manager.add_camera(&host, port, &user, &password).await?;
            report_camera(&connection, &path, json, "Added").await?;
        }
        Command::AddDiscovered { key, user } => {
            let password = read_secret(&format!("Password for {user}: "))?;
            let path = manager.add_discovered(&key, &user, &password).await?;
            report_camera(&connection, &path, json, "Added").await?;
        }
        Command::Remove { camera } => {
            manager
                .remove_camera(&camera_path(camera)?.as_ref())
                .await?;
            if json {
                print_json(&json!({ "removed": camera }));
            } else {
                println!("Camera {camera} removed.");
            }
        }
        Command::Activate {
            key,
            reset_email,
            no_add,
        } => {
            let (password, confirmation) = new_password(&manager, "admin").await?;
            let (email_set, path, add_error) = manager
                .activate_camera(&key, &password, &confirmation, &reset_email, !no_add)
                .await?;
            if json {
                print_json(&json!({
                    "reset_email_set": email_set,
                    "camera": path.as_str(),
                    "add_error": add_error,
                }));
            } else {
                println!(
                    "Activated.{}",
                    if email_set {
                        ""
                    } else {
                        " (The camera takes no reset email.)"
                    }
                );
                if path.as_str() != "/" {
                    report_camera(&connection, &path, false, "Added").await?;
                }
            }
            if !add_error.is_empty() {
                eprintln!("vigilctl: activated, but not added: {add_error}");
                return Ok(5);
            }
        }
        Command::Passwd { cameras } => {
            let paths = cameras
                .iter()
                .map(|c| camera_path(*c))
                .collect::<Result<Vec<_>, _>>()?;
            let (password, confirmation) = new_password(&manager, "admin").await?;
            let refs: Vec<zbus::ObjectPath<'_>> = paths.iter().map(|p| p.as_ref()).collect();
            let outcomes = manager
                .change_passwords(&refs, &password, &confirmation)
                .await?;
            let failed = outcomes.iter().filter(|(_, ok, _)| !ok).count();
            if json {
                let rows: Vec<Value> = outcomes
                    .iter()
                    .map(|(p, ok, e)| json!({ "camera": id_of(p), "changed": ok, "error": e }))
                    .collect();
                print_json(&Value::Array(rows));
            } else {
                for (path, ok, error) in &outcomes {
                    if *ok {
                        println!("Camera {}: password changed.", id_of(path));
                    } else {
                        println!("Camera {}: not changed: {error}", id_of(path));
                    }
                }
            }
            if failed > 0 {
                return Ok(if failed == outcomes.len() { 1 } else { 5 });
            }
        }
        Command::Audit { limit, verify } => {
            if verify {
                let count = manager.verify_audit_log().await?;
                if json {
                    print_json(&json!({ "verified": count }));
                } else {
                    println!("The audit log's {count} entries verify.");
                }
            } else {
                let entries = manager.get_audit_log(limit).await?;
                if json {
                    let rows: Vec<Value> = entries
                        .iter()
                        .map(|(id, at, actor, action, camera, outcome)| {
                            json!({ "id": id, "at": at, "actor": actor, "action": action, "camera": camera, "outcome": outcome })
                        })
                        .collect();
                    print_json(&Value::Array(rows));
                } else {
                    print_table(
                        &["ID", "TIME (UTC)", "ACTOR", "ACTION", "CAMERA", "OUTCOME"],
                        entries
                            .iter()
                            .map(|(id, at, actor, action, camera, outcome)| {
                                vec![
                                    id.to_string(),
                                    vigil::clock::rfc3339(vigil::clock::from_unix_secs(*at)),
                                    actor.clone(),
                                    action.replace('_', " "),
                                    camera.clone(),
                                    outcome.clone(),
                                ]
                            })
                            .collect(),
                    );
                }
            }
        }
        Command::ForgetPassword { key, method, yes } => {
            return forget_password(&connection, &manager, &key, method, yes).await;
        }
    }
    Ok(0)
}

fn camera_path(id: i64) -> Result<OwnedObjectPath, Failure> {
    OwnedObjectPath::try_from(format!("/org/vigil/Nvr1/camera/{id}")).map_err(|_| Failure {
        message: format!("{id} is not a camera id"),
        code: 2,
    })
}

fn id_of(path: &OwnedObjectPath) -> String {
    path.as_str().rsplit('/').next().unwrap_or("").to_owned()
}

async fn report_camera(
    connection: &zbus::Connection,
    path: &OwnedObjectPath,
    json: bool,
    verb: &str,
) -> Result<(), Failure> {
    let camera = CameraProxy::builder(connection)
        .path(path.clone())
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let status = camera.status().await?;
    let model = camera.model().await?;
    let serial = camera.serial().await?;
    if json {
        print_json(
            &json!({ "camera": id_of(path), "status": status, "model": model, "serial": serial }),
        );
    } else {
        println!(
            "{verb} camera {} ({model}, serial {serial}): {}",
            id_of(path),
            status.replace('_', " ")
        );
    }
    Ok(())
}

/// Reads a secret: without echo on a terminal, otherwise one line of standard input, with no prompt
/// (a script piping it in has no one to ask).
fn read_secret(prompt: &str) -> Result<String, Failure> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)
            .map_err(|e| fail(format!("cannot read from the terminal: {e}")))?
    } else {
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| fail(format!("cannot read standard input: {e}")))?;
        if read == 0 {
            return Err(fail("cancelled: no more input"));
        }
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(value)
}

/// Reads a line (echoed), prompting only a person at a terminal.
fn read_line(prompt: &str) -> Result<String, Failure> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| fail(format!("cannot read standard input: {e}")))?;
    if read == 0 {
        return Err(fail("cancelled: no more input"));
    }
    Ok(line.trim().to_owned())
}

/// Asks for a new password twice, checking it against the policy as it is typed.
async fn new_password(
    manager: &ManagerProxy<'_>,
    username: &str,
) -> Result<(String, String), Failure> {
    for _ in 0..5 {
        let password = read_secret("New password: ")?;
        let (acceptable, strength, unmet) = manager.check_password(&password, username).await?;
        if !acceptable {
            eprintln!("That password is {strength}. It must:");
            for rule in unmet {
                eprintln!("  - {rule}");
            }
            continue;
        }
        let confirmation = read_secret("Confirm the new password: ")?;
        if confirmation != password {
            eprintln!("The two passwords differ; again.");
            continue;
        }
        return Ok((password, confirmation));
    }
    Err(fail("too many tries"))
}

async fn forget_password(
    connection: &zbus::Connection,
    manager: &ManagerProxy<'_>,
    key: &str,
    method: Option<String>,
    yes: bool,
) -> Result<u8, Failure> {
    let path = match manager.start_recovery(key).await {
        Ok(path) => path,
        Err(zbus::Error::MethodError(name, message, _))
            if name.as_str().ends_with(".RemoveFirst") =>
        {
            eprintln!("{}", message.unwrap_or_default());
            let confirmed = yes
                || read_line("Remove the camera and continue? [y/N] ")?.eq_ignore_ascii_case("y");
            if !confirmed {
                return Err(fail("cancelled"));
            }
            manager.remove_and_start_recovery(key).await?
        }
        Err(error) => return Err(error.into()),
    };
    // Properties are read fresh each time: a cached copy could lag behind the flow's steps.
    let flow = RecoveryProxy::builder(connection)
        .path(path)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let masked = flow.masked_email().await?;
    let methods = flow.methods().await?;
    println!(
        "Resetting the password of camera {} (serial {}).",
        flow.model().await?,
        flow.serial().await?
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
                    Err(zbus::Error::MethodError(name, message, _))
                        if name.as_str().ends_with(".NoInternet") =>
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
                        "{picture}Scan this with the vendor's phone app; the code arrives by email at {masked}."
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
        let (password, confirmation) = new_password(manager, user).await?;
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

fn variant_json(value: &OwnedVariant) -> Value {
    if let Ok(s) = <&str>::try_from(value) {
        return json!(s);
    }
    if let Ok(b) = bool::try_from(value) {
        return json!(b);
    }
    if let Ok(n) = i64::try_from(value) {
        return json!(n);
    }
    if let Ok(n) = u32::try_from(value) {
        return json!(n);
    }
    if let Ok(n) = u16::try_from(value) {
        return json!(n);
    }
    if let Ok(p) = OwnedObjectPath::try_from(
        value
            .try_clone()
            .unwrap_or_else(|_| OwnedVariant::from(false)),
    ) {
        return json!(p.as_str());
    }
    Value::Null
}

fn dict_json(dict: &HashMap<String, OwnedVariant>) -> Value {
    let mut object = serde_json::Map::new();
    let mut keys: Vec<&String> = dict.keys().collect();
    keys.sort();
    for key in keys {
        object.insert(key.clone(), variant_json(&dict[key]));
    }
    Value::Object(object)
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}
