//! vigilctl's commands, one function each: what it asks vigild over D-Bus and how it shows the answer.

use serde_json::{Value, json};
use vigil::dbus::proxy::{CameraProxy, ManagerProxy};
use zbus::OwnedObjectPath;

use crate::output::{dict_json, print_json, print_table, read_secret};
use crate::{Context, Failure, fail};

/// Camera counts and the version.
pub(crate) async fn status(ctx: &Context) -> Result<u8, Failure> {
    let status = ctx.manager.status().await?;
    let version = ctx.manager.version().await?;
    let mut value = dict_json(&status);
    value["Version"] = json!(version);
    if ctx.json {
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
    Ok(0)
}

/// The recorder's account, lifting its lockout first when asked.
pub(crate) async fn account(ctx: &Context, unlock: bool) -> Result<u8, Failure> {
    if unlock {
        ctx.manager.clear_account_lockout().await?;
    }
    let (activated, username, locked_secs, failed_logins, totp) =
        ctx.manager.account_status().await?;
    if ctx.json {
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
            println!("    locked: no ({failed_logins} wrong passwords since the last login)");
        }
        println!("two-factor: {}", if totp { "on" } else { "off" });
    }
    Ok(0)
}

/// The added cameras as a table or JSON.
pub(crate) async fn cameras(ctx: &Context) -> Result<u8, Failure> {
    let cameras = ctx.manager.list_cameras().await?;
    if ctx.json {
        print_json(&json!(cameras));
    } else {
        print_table(
            &[
                "CH",
                "ID",
                "NAME",
                "STATUS",
                "MODEL",
                "SERIAL",
                "ADDRESS",
                "PROTOCOL",
                "LAST ERROR",
            ],
            by_channel(&cameras)
                .into_iter()
                .map(|c| {
                    vec![
                        if c.channel == 0 {
                            "-".to_owned()
                        } else {
                            format!("D{}", c.channel)
                        },
                        c.id.to_string(),
                        c.name.clone(),
                        c.status.replace('_', " "),
                        c.model.clone(),
                        c.serial.clone(),
                        c.address.clone(),
                        c.protocol.clone(),
                        c.last_error.clone(),
                    ]
                })
                .collect(),
        );
    }
    Ok(0)
}

/// The cameras in channel order, those without a channel last.
fn by_channel(cameras: &[vigil::dbus::CameraRow]) -> Vec<&vigil::dbus::CameraRow> {
    let mut sorted: Vec<_> = cameras.iter().collect();
    sorted.sort_by_key(|c| (c.channel == 0, c.channel, c.id));
    sorted
}

/// Runs discovery and lists the discovered devices.
pub(crate) async fn discover(ctx: &Context, targets: Vec<String>) -> Result<u8, Failure> {
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    ctx.manager.discover(&refs).await?;
    let devices = ctx.manager.list_discovered().await?;
    if ctx.json {
        print_json(&json!(devices));
    } else {
        print_table(
            &[
                "KEY",
                "MODEL",
                "SERIAL",
                "FIRMWARE",
                "ADDRESS",
                "PROTOCOLS",
                "STATE",
            ],
            devices
                .iter()
                .map(|d| {
                    let state = if d.inactive {
                        "inactive".to_owned()
                    } else if !d.other_subnet.is_empty() {
                        format!("in another subnet ({}): network only", d.other_subnet)
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
                        d.protocols.clone(),
                        state,
                    ]
                })
                .collect(),
        );
    }
    Ok(0)
}

/// Adds a camera by address.
pub(crate) async fn add(
    ctx: &Context,
    host: String,
    port: u16,
    user: String,
) -> Result<u8, Failure> {
    let password = read_secret(&format!("Password for {user}@{host}: "))?;
    let path = ctx
        .manager
        .add_camera(&host, port, &user, &password)
        .await?;
    report_camera(&ctx.connection, &path, ctx.json, "Added").await?;
    Ok(0)
}

/// Adds a discovered device.
pub(crate) async fn add_discovered(
    ctx: &Context,
    keys: Vec<String>,
    all: bool,
    user: String,
) -> Result<u8, Failure> {
    let password = read_secret(&format!("Password for {user}: "))?;
    if let [key] = keys.as_slice()
        && !all
    {
        let path = ctx.manager.add_discovered(key, &user, &password).await?;
        report_camera(&ctx.connection, &path, ctx.json, "Added").await?;
        return Ok(0);
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let outcomes = ctx
        .manager
        .add_discovered_many(&refs, &user, &password)
        .await?;
    let failed = outcomes.iter().filter(|(_, added, _, _)| !added).count();
    if ctx.json {
        print_json(&json!(
            outcomes
                .iter()
                .map(|(key, added, path, why)| json!({
                    "key": key,
                    "added": added,
                    "camera": if *added { Some(id_of(path)) } else { None },
                    "error": why,
                }))
                .collect::<Vec<_>>()
        ));
    } else {
        print_table(
            &["KEY", "RESULT"],
            outcomes
                .iter()
                .map(|(key, added, path, why)| {
                    vec![
                        key.clone(),
                        if *added {
                            format!("added as camera {}", id_of(path))
                        } else {
                            why.clone()
                        },
                    ]
                })
                .collect(),
        );
    }
    Ok(if failed == 0 { 0 } else { 5 })
}

/// Removes an added camera.
pub(crate) async fn remove(ctx: &Context, camera: i64) -> Result<u8, Failure> {
    ctx.manager
        .remove_camera(&camera_path(camera)?.as_ref())
        .await?;
    if ctx.json {
        print_json(&json!({ "removed": camera }));
    } else {
        println!("Camera {camera} removed.");
    }
    Ok(0)
}

/// The camera object of `id`.
pub(crate) async fn camera_object(ctx: &Context, id: i64) -> Result<CameraProxy<'static>, Failure> {
    Ok(CameraProxy::builder(&ctx.connection)
        .path(camera_path(id)?)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?)
}

/// Moves an added camera to a free channel.
pub(crate) async fn channel(ctx: &Context, id: i64, channel: u16) -> Result<u8, Failure> {
    camera_object(ctx, id).await?.set_channel(channel).await?;
    if ctx.json {
        print_json(&json!({ "camera": id, "channel": channel }));
    } else {
        println!("Camera {id} is on channel D{channel}.");
    }
    Ok(0)
}

/// Names an added camera.
pub(crate) async fn rename(ctx: &Context, id: i64, name: &str) -> Result<u8, Failure> {
    let camera = camera_object(ctx, id).await?;
    camera.set_name(name).await?;
    let shown = camera.name().await?;
    if ctx.json {
        print_json(&json!({ "camera": id, "name": shown }));
    } else {
        println!("Camera {id} is named {shown}.");
    }
    Ok(0)
}

/// Activates a camera in factory state, adding it unless asked not to.
pub(crate) async fn activate(
    ctx: &Context,
    key: String,
    reset_email: String,
    no_add: bool,
) -> Result<u8, Failure> {
    // Activation makes the camera's administrator, named admin.
    let (password, confirmation) = new_password(&ctx.manager, &["admin".to_owned()]).await?;
    let (email_set, path, add_error) = ctx
        .manager
        .activate_camera(&key, &password, &confirmation, &reset_email, !no_add)
        .await?;
    if ctx.json {
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
            report_camera(&ctx.connection, &path, false, "Added").await?;
        }
    }
    if !add_error.is_empty() {
        eprintln!("vigilctl: activated, but not added: {add_error}");
        return Ok(5);
    }
    Ok(0)
}

/// One new password for several certified cameras, each with its outcome.
pub(crate) async fn passwd(ctx: &Context, cameras: Vec<i64>) -> Result<u8, Failure> {
    let paths = cameras
        .iter()
        .map(|c| camera_path(*c))
        .collect::<Result<Vec<_>, _>>()?;
    // The password must suit every account it goes to: each camera's own user name.
    let listed = ctx.manager.list_cameras().await?;
    let mut usernames: Vec<String> = Vec::new();
    for camera in &cameras {
        let Some(row) = listed.iter().find(|row| row.id == *camera) else {
            return Err(fail(format!(
                "there is no added camera {camera}; `vigilctl cameras` lists them"
            )));
        };
        if !usernames.contains(&row.username) {
            usernames.push(row.username.clone());
        }
    }
    let (password, confirmation) = new_password(&ctx.manager, &usernames).await?;
    let refs: Vec<zbus::ObjectPath<'_>> = paths.iter().map(|p| p.as_ref()).collect();
    let outcomes = ctx
        .manager
        .change_passwords(&refs, &password, &confirmation)
        .await?;
    let failed = outcomes.iter().filter(|(_, ok, _)| !ok).count();
    if ctx.json {
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
    Ok(0)
}

/// The audit log, or its verification.
pub(crate) async fn audit(ctx: &Context, limit: u32, verify: bool) -> Result<u8, Failure> {
    if verify {
        let count = ctx.manager.verify_audit_log().await?;
        if ctx.json {
            print_json(&json!({ "verified": count }));
        } else {
            println!("The audit log's {count} entries verify.");
        }
    } else {
        let entries = ctx.manager.get_audit_log(limit).await?;
        if ctx.json {
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
    Ok(0)
}

/// The object path of camera `id`, as vigild names it.
pub(crate) fn camera_path(id: i64) -> Result<OwnedObjectPath, Failure> {
    if id <= 0 {
        return Err(Failure {
            message: format!("{id} is not a camera id; `vigilctl cameras` lists them"),
            code: 2,
        });
    }
    Ok(vigil::dbus::camera_path(vigil::model::CameraId(id)))
}

pub(crate) fn id_of(path: &OwnedObjectPath) -> String {
    path.as_str().rsplit('/').next().unwrap_or("").to_owned()
}

pub(crate) async fn report_camera(
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

/// Asks for a new password twice, checking it against the policy for each of `usernames` (the accounts
/// it will be set for) as it is typed.
pub(crate) async fn new_password(
    manager: &ManagerProxy<'_>,
    usernames: &[String],
) -> Result<(String, String), Failure> {
    'ask: for _ in 0..5 {
        let password = read_secret("New password: ")?;
        for username in usernames {
            let (acceptable, strength, unmet) = manager.check_password(&password, username).await?;
            if !acceptable {
                eprintln!("That password is {strength} for {username}. It must:");
                for rule in unmet {
                    eprintln!("  - {rule}");
                }
                continue 'ask;
            }
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
