//! vigilctl's camera maintenance: show or change a camera's network settings (Edit IP), reboot it,
//! restore its factory defaults (only with `--yes`, after saying what is lost), and set its clock. An
//! added camera is named by its id and uses its stored credentials; a discovered one by `--device
//! KEY`, with its password read like every password.

use serde_json::json;
use vigil::dbus::proxy::DevicesProxy;

use crate::commands::camera_object;
use crate::output::{print_json, read_secret};
use crate::{Context, Failure, fail};

/// Which camera, as the command line names it.
pub(crate) enum Target {
    /// An added camera's id.
    Added(i64),
    /// A discovered camera's key, and the user to log in as.
    Device { key: String, user: String },
}

/// New settings from the command line; all empty to only show them.
pub(crate) struct NetworkArgs {
    pub(crate) address: Option<String>,
    pub(crate) mask: Option<String>,
    pub(crate) gateway: Option<String>,
    pub(crate) dhcp: bool,
}

/// Shows a camera's network settings, or changes them when any is given.
pub(crate) async fn network(
    ctx: &Context,
    target: Target,
    args: NetworkArgs,
) -> Result<u8, Failure> {
    let change =
        args.address.is_some() || args.mask.is_some() || args.gateway.is_some() || args.dhcp;
    let (address, mask, gateway, dhcp, rebooted) = match (&target, change) {
        (Target::Added(id), false) => {
            let (a, m, g, d) = camera_object(ctx, *id).await?.get_network().await?;
            (a, m, g, d, false)
        }
        (Target::Added(id), true) => {
            let current = camera_object(ctx, *id).await?.get_network().await?;
            let (address, mask, gateway) = merged(&args, &current);
            camera_object(ctx, *id)
                .await?
                .set_network(&address, &mask, &gateway, args.dhcp)
                .await?
        }
        (Target::Device { key, user }, change) => {
            let password = read_secret(&format!("Password for {user}: "))?;
            let devices = DevicesProxy::new(&ctx.connection).await?;
            let current = devices.get_device_network(key, user, &password).await?;
            if change {
                let (address, mask, gateway) = merged(&args, &current);
                devices
                    .set_device_network(key, user, &password, &address, &mask, &gateway, args.dhcp)
                    .await?
            } else {
                (current.0, current.1, current.2, current.3, false)
            }
        }
    };
    if ctx.json {
        print_json(&json!({
            "address": address,
            "mask": mask,
            "gateway": gateway,
            "dhcp": dhcp,
            "rebooted": rebooted,
        }));
    } else {
        println!("   address: {address}");
        println!("      mask: {mask}");
        println!(
            "   gateway: {}",
            if gateway.is_empty() { "none" } else { &gateway }
        );
        println!("      DHCP: {}", if dhcp { "on" } else { "off" });
        if rebooted {
            println!("The camera rebooted to apply the new settings.");
        }
    }
    Ok(0)
}

/// The settings given, the camera's current ones for the rest.
fn merged(
    args: &NetworkArgs,
    current: &(String, String, String, bool),
) -> (String, String, String) {
    (
        args.address.clone().unwrap_or_else(|| current.0.clone()),
        args.mask.clone().unwrap_or_else(|| current.1.clone()),
        args.gateway.clone().unwrap_or_else(|| current.2.clone()),
    )
}

/// Reboots a camera.
pub(crate) async fn reboot(ctx: &Context, target: Target) -> Result<u8, Failure> {
    let message = match &target {
        Target::Added(id) => camera_object(ctx, *id).await?.reboot().await?,
        Target::Device { key, user } => {
            let password = read_secret(&format!("Password for {user}: "))?;
            DevicesProxy::new(&ctx.connection)
                .await?
                .reboot_device(key, user, &password)
                .await?
        }
    };
    if ctx.json {
        print_json(&json!({ "rebooting": true, "message": message }));
    } else if message.is_empty() {
        println!("The camera is rebooting.");
    } else {
        println!("The camera is rebooting: {message}");
    }
    Ok(0)
}

/// Restores an added camera's factory defaults, only with `--yes`.
pub(crate) async fn factory_default(
    ctx: &Context,
    id: i64,
    kind: &str,
    yes: bool,
) -> Result<u8, Failure> {
    let lost = if kind == "hard" {
        "everything on the camera goes back to factory values: its network settings, users and passwords too. It must be activated again and may come back at its factory address."
    } else {
        "the camera's settings go back to factory values; its network settings are kept."
    };
    if !yes {
        return Err(Failure {
            message: format!("restoring {kind} factory defaults: {lost} Add --yes to go ahead."),
            code: 2,
        });
    }
    camera_object(ctx, id)
        .await?
        .restore_factory_defaults(kind)
        .await?;
    if ctx.json {
        print_json(&json!({ "camera": id, "factory_defaults": kind }));
    } else {
        println!("Camera {id}: {kind} factory defaults restored; {lost}");
    }
    Ok(0)
}

/// Sets an added camera's clock now.
pub(crate) async fn set_time(ctx: &Context, id: i64) -> Result<u8, Failure> {
    let offset = camera_object(ctx, id).await?.set_clock().await?;
    if ctx.json {
        print_json(&json!({ "camera": id, "clock_offset_secs": offset }));
    } else {
        println!("Camera {id}'s clock is set; it is now {offset:+} s from the recorder's.");
    }
    Ok(0)
}

/// The target from the command line: an id, or `--device KEY`.
pub(crate) fn target(
    camera: Option<i64>,
    device: Option<String>,
    user: String,
) -> Result<Target, Failure> {
    match (camera, device) {
        (Some(id), None) => Ok(Target::Added(id)),
        (None, Some(key)) => Ok(Target::Device { key, user }),
        _ => Err(fail(
            "name an added camera by its id, or a discovered one with --device KEY",
        )),
    }
}
