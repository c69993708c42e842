//! The D-Bus API against a real dbus-daemon with a system-bus-like policy and the shipped policy file:
//! introspection and calls from busctl and gdbus, authorization of unprivileged callers (other uids via
//! setpriv), signals, bad arguments, a flood of calls, and vigilctl end to end.

use std::io::{BufRead, BufReader, Write};
use std::process::{Output, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use vigil::config::BusChoice;
use vigil::dbus::DbusService;
use vigil::dbus::auth::AccessGroups;
use vigil::dbus::proxy::{CameraProxy, ManagerProxy};
use vigil::model::CameraState;

use crate::bus::{ADMIN_GROUP, As, READ_GROUP, TestBus, command_as};
use crate::mailbox::{SmtpServer, python_or_skip};
use crate::support::{CAMERA_PASSWORD, Harness, simulator, system};

pub(crate) const VIGILCTL: &str = env!("CARGO_BIN_EXE_vigilctl");
const PERIOD: Duration = Duration::from_millis(300);
const NEW_PASSWORD: &str = "Quiet-Falcon-83";

pub(crate) struct Rig {
    pub(crate) bus: TestBus,
    pub(crate) h: Harness,
    service: DbusService,
    client: zbus::Connection,
    stop: CancellationToken,
}

async fn rig(cameras: usize, adjust: impl FnOnce(&mut vigil::sim::SimConfig)) -> Option<Rig> {
    if let Err(why) = crate::bus::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the D-Bus tests: {why}"
        );
        eprintln!("SKIPPED D-Bus test: {why}");
        return None;
    }
    let h = Harness::start(simulator(cameras, adjust).await, PERIOD).await;
    Some(serve(h).await)
}

/// As [`rig`], with a service on `clock` whose flows are swept every 50 ms.
async fn rig_with_clock(
    cameras: usize,
    clock: std::sync::Arc<dyn vigil::clock::Clock>,
) -> Option<Rig> {
    if let Err(why) = crate::bus::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the D-Bus tests: {why}"
        );
        eprintln!("SKIPPED D-Bus test: {why}");
        return None;
    }
    let sim = simulator(cameras, |_| {}).await;
    let mut settings = crate::support::test_settings(&sim, PERIOD);
    settings.recovery.sweep_interval = Duration::from_millis(50);
    let state = tempfile::tempdir().expect("temp dir");
    let h = Harness::start_with_clock(sim, settings, state, clock).await;
    Some(serve(h).await)
}

/// Serves `h` on a fresh test bus.
pub(crate) async fn serve(h: Harness) -> Rig {
    let bus = TestBus::start();
    let stop = CancellationToken::new();
    let service = vigil::dbus::serve(
        h.nvr.clone(),
        &BusChoice::Address(bus.address.clone()),
        AccessGroups::resolve(READ_GROUP, ADMIN_GROUP),
        stop.clone(),
    )
    .await
    .expect("vigild serves on the test bus");
    let client = zbus::connection::Builder::address(bus.address.as_str())
        .build()
        .await
        .expect("client connects");
    Rig {
        bus,
        h,
        service,
        client,
        stop,
    }
}

impl Rig {
    pub(crate) async fn finish(self) {
        self.stop.cancel();
        self.service.stop().await;
        self.h.stop().await;
        drop(self.bus);
    }

    fn busctl(&self, who: As, args: &[&str]) -> Output {
        command_as(who, "busctl")
            .arg(format!("--address={}", self.bus.address))
            .args(args)
            .output()
            .expect("busctl runs")
    }

    fn call(
        &self,
        who: As,
        path: &str,
        interface: &str,
        method: &str,
        signature_and_args: &[&str],
    ) -> Output {
        let mut args = vec!["call", "org.vigil.Nvr1", path, interface, method];
        args.extend_from_slice(signature_and_args);
        self.busctl(who, &args)
    }

    /// Calls with gdbus, which reports the D-Bus error name; `args` are GVariant literals.
    fn gdbus(&self, who: As, path: &str, method: &str, args: &[&str]) -> Output {
        command_as(who, "gdbus")
            .args([
                "call",
                "--address",
                &self.bus.address,
                "--dest",
                "org.vigil.Nvr1",
            ])
            .args(["--object-path", path, "--method", method])
            .args(args)
            .output()
            .expect("gdbus runs")
    }

    fn vigilctl(&self, who: As, args: &[&str]) -> Output {
        command_as(who, VIGILCTL)
            .arg(format!("--address={}", self.bus.address))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("vigilctl runs")
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const MANAGER: &str = "org.vigil.Nvr1.Manager";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busctl_and_gdbus_introspect_and_call_it() {
    let Some(rig) = rig(2, |_| {}).await else {
        return;
    };
    rig.h.add(0).await;
    rig.h.discover().await;
    let key = rig.h.sim.cameras()[1].identity().endpoint_ref.clone();
    rig.h
        .nvr
        .start_recovery(&key, &system())
        .await
        .unwrap()
        .started()
        .unwrap();
    let introspection = text(&rig.busctl(
        As::Root,
        &["introspect", "org.vigil.Nvr1", "/org/vigil/Nvr1"],
    ));
    for expected in [
        "org.vigil.Nvr1.Manager",
        "org.freedesktop.DBus.ObjectManager",
        ".ListCameras",
        ".StartRecovery",
        ".DeviceDiscovered",
    ] {
        assert!(
            introspection.contains(expected),
            "{expected} missing:\n{introspection}"
        );
    }
    let camera = text(&rig.busctl(
        As::Root,
        &["introspect", "org.vigil.Nvr1", "/org/vigil/Nvr1/camera/1"],
    ));
    for expected in [
        ".Status",
        ".Certified",
        ".Model",
        ".Serial",
        ".Firmware",
        ".Address",
        ".LastError",
        ".LastErrorKind",
        "emits-change",
    ] {
        assert!(camera.contains(expected), "{expected} missing:\n{camera}");
    }
    assert!(
        !camera
            .lines()
            .any(|l| l.contains(" property ") && l.to_lowercase().contains("password")),
        "no password property:\n{camera}"
    );

    let gdbus = std::process::Command::new("gdbus")
        .args([
            "call",
            "--address",
            &rig.bus.address,
            "--dest",
            "org.vigil.Nvr1",
        ])
        .args([
            "--object-path",
            "/org/vigil/Nvr1",
            "--method",
            "org.vigil.Nvr1.Manager.Status",
        ])
        .output()
        .unwrap();
    let status = text(&gdbus);
    assert!(gdbus.status.success(), "{status}");
    assert!(
        status.contains("'Cameras': <uint32 1>") && status.contains("'Online': <uint32 1>"),
        "{status}"
    );
    // Forget Password on the added, certified camera starts nothing: the answer names the next step
    // (change its password) and the camera, for any client to switch on.
    let certified_key = rig.h.sim.cameras()[0].identity().endpoint_ref.clone();
    let gdbus = std::process::Command::new("gdbus")
        .args([
            "call",
            "--address",
            &rig.bus.address,
            "--dest",
            "org.vigil.Nvr1",
        ])
        .args([
            "--object-path",
            "/org/vigil/Nvr1",
            "--method",
            "org.vigil.Nvr1.Manager.StartRecovery",
            &certified_key,
        ])
        .output()
        .unwrap();
    let next = text(&gdbus);
    assert!(gdbus.status.success(), "{next}");
    assert!(
        next.contains("('change-password', objectpath '/org/vigil/Nvr1/camera/1')"),
        "{next}"
    );
    let property = std::process::Command::new("gdbus")
        .args([
            "introspect",
            "--address",
            &rig.bus.address,
            "--dest",
            "org.vigil.Nvr1",
        ])
        .args(["--object-path", "/org/vigil/Nvr1/camera/1"])
        .output()
        .unwrap();
    let shown = text(&property);
    assert!(shown.contains("readonly s Status = 'online'"), "{shown}");
    assert!(shown.contains(&format!(
        "readonly s Serial = '{}'",
        rig.h.sim.cameras()[0].identity().serial
    )));

    // Every property is read-only, and a Set says so by name; a property that does not exist is
    // unknown.
    for (path, interface, property, value) in [
        (
            "/org/vigil/Nvr1/camera/1",
            "org.vigil.Nvr1.Camera",
            "Status",
            "offline",
        ),
        (
            "/org/vigil/Nvr1/recovery/1",
            "org.vigil.Nvr1.Recovery",
            "Step",
            "completed",
        ),
    ] {
        let set = rig.busctl(
            As::Root,
            &[
                "set-property",
                "org.vigil.Nvr1",
                path,
                interface,
                property,
                "s",
                value,
            ],
        );
        let said = text(&set);
        assert!(!set.status.success(), "{said}");
        assert!(said.contains("read-only"), "{property}: {said}");
    }
    let proxy = zbus::fdo::PropertiesProxy::builder(&rig.client)
        .destination("org.vigil.Nvr1")
        .path("/org/vigil/Nvr1/camera/1")
        .build()
        .await
        .unwrap();
    let camera_interface =
        zbus::names::InterfaceName::from_static_str("org.vigil.Nvr1.Camera").unwrap();
    let value = zbus::Variant::from("offline");
    assert!(matches!(
        proxy.set(camera_interface.clone(), "Status", &value).await,
        Err(zbus::fdo::Error::PropertyReadOnly(_))
    ));
    assert!(matches!(
        proxy.set(camera_interface, "NoSuchThing", &value).await,
        Err(zbus::fdo::Error::UnknownProperty(_))
    ));
    assert_eq!(
        rig.h.nvr.added_cameras()[0].status.state,
        CameraState::Online
    );

    // The interface files shipped under systemd/ are exactly what vigild serves.
    for (path, interface) in [
        ("/org/vigil/Nvr1", "org.vigil.Nvr1.Manager"),
        ("/org/vigil/Nvr1", "org.vigil.Nvr1.Devices"),
        ("/org/vigil/Nvr1/camera/1", "org.vigil.Nvr1.Camera"),
        ("/org/vigil/Nvr1/recovery/1", "org.vigil.Nvr1.Recovery"),
    ] {
        check_interface_file(&rig, path, interface).await;
    }
    rig.finish().await;
}

/// Compares `systemd/<interface>.xml` with the live introspection (VIGIL_UPDATE_INTERFACES=1 rewrites it).
async fn check_interface_file(rig: &Rig, path: &str, interface: &str) {
    let proxy = zbus::fdo::IntrospectableProxy::builder(&rig.client)
        .destination("org.vigil.Nvr1")
        .path(path)
        .build()
        .await
        .unwrap();
    let xml = proxy.introspect().await.unwrap();
    let start = xml
        .find(&format!("<interface name=\"{interface}\">"))
        .expect("interface in introspection");
    let end = xml[start..].find("</interface>").unwrap() + start + "</interface>".len();
    let live = format!(
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n  {}\n</node>\n",
        &xml[start..end]
    );
    let file = format!("{}/systemd/{interface}.xml", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("VIGIL_UPDATE_INTERFACES").is_some() {
        std::fs::write(&file, &live).unwrap();
    }
    let shipped = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(
        shipped, live,
        "{file} is out of date; rerun with VIGIL_UPDATE_INTERFACES=1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprivileged_callers_may_read_but_never_change() {
    let Some(rig) = rig(2, |_| {}).await else {
        return;
    };
    rig.h.add(0).await;
    rig.h.discover().await;
    let key = rig.h.sim.cameras()[1].identity().endpoint_ref.clone();
    let manager = ManagerProxy::new(&rig.client).await.unwrap();
    let (_, flow) = manager.start_recovery(&key).await.unwrap();
    let flow = flow.as_str().to_owned();

    // Someone in neither group does not even reach vigild: the bus policy stops them.
    let outsider = rig.call(As::Outsider, "/org/vigil/Nvr1", MANAGER, "ListCameras", &[]);
    assert!(!outsider.status.success());
    assert!(
        text(&outsider).contains("denied") || text(&outsider).contains("Access"),
        "{}",
        text(&outsider)
    );

    // A member of the read group reads...
    let read = rig.call(As::Reader, "/org/vigil/Nvr1", MANAGER, "ListCameras", &[]);
    assert!(read.status.success(), "{}", text(&read));
    assert!(text(&read).contains(&rig.h.sim.cameras()[0].identity().serial));
    for method in ["ListDiscovered", "Status", "VerifyAuditLog"] {
        let out = rig.call(As::Reader, "/org/vigil/Nvr1", MANAGER, method, &[]);
        assert!(out.status.success(), "{method}: {}", text(&out));
    }
    let property = rig.busctl(
        As::Reader,
        &[
            "get-property",
            "org.vigil.Nvr1",
            "/org/vigil/Nvr1/camera/1",
            "org.vigil.Nvr1.Camera",
            "Status",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&property.stdout).trim(),
        "s \"online\""
    );

    // ...and is refused every change, before any argument is looked at.
    let camera = "/org/vigil/Nvr1/camera/1";
    let mutating: Vec<(&str, &str, &str, Vec<&str>)> = vec![
        ("/org/vigil/Nvr1", MANAGER, "Discover", vec!["as", "0"]),
        ("/org/vigil/Nvr1", MANAGER, "ClearAccountLockout", vec![]),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "SetMailServer",
            vec!["sqsssbss", "h", "25", "none", "", "", "true", "a@b.com", ""],
        ),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "SendTestEmail",
            vec!["s", "a@b.com"],
        ),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "ActivateNvr",
            vec!["ssss", "x", "x", "a@b.com", ""],
        ),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "AddCamera",
            vec!["sqss", "10.0.0.1", "80", "admin", "x"],
        ),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "AddDiscovered",
            vec!["sss", &key, "admin", "x"],
        ),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "RemoveCamera",
            vec!["o", camera],
        ),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "ActivateCamera",
            vec!["ssssb", &key, "x", "x", "a@b.com", "true"],
        ),
        ("/org/vigil/Nvr1", MANAGER, "StartRecovery", vec!["s", &key]),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "RemoveAndStartRecovery",
            vec!["s", &key],
        ),
        (
            "/org/vigil/Nvr1",
            MANAGER,
            "ChangePasswords",
            vec!["aoss", "1", camera, "x", "x"],
        ),
        (
            camera,
            "org.vigil.Nvr1.Camera",
            "EditCredentials",
            vec!["ss", "admin", "x"],
        ),
        (
            camera,
            "org.vigil.Nvr1.Camera",
            "ChangePassword",
            vec!["ss", "x", "x"],
        ),
        (camera, "org.vigil.Nvr1.Camera", "Remove", vec![]),
        (&flow, "org.vigil.Nvr1.Recovery", "SendCode", vec![]),
        (&flow, "org.vigil.Nvr1.Recovery", "NewCode", vec![]),
        (
            &flow,
            "org.vigil.Nvr1.Recovery",
            "VerifyCode",
            vec!["s", "12345678"],
        ),
        (
            &flow,
            "org.vigil.Nvr1.Recovery",
            "VerifySupportCode",
            vec!["s", "1234567890"],
        ),
        (
            &flow,
            "org.vigil.Nvr1.Recovery",
            "SetPassword",
            vec!["ss", NEW_PASSWORD, NEW_PASSWORD],
        ),
        (&flow, "org.vigil.Nvr1.Recovery", "Cancel", vec![]),
    ];
    for (path, interface, method, args) in &mutating {
        let out = rig.call(As::Reader, path, interface, method, args);
        assert!(!out.status.success(), "{method} must be refused");
        let needed = if *method == "ActivateNvr" {
            "this call needs root"
        } else {
            "this call needs membership in group src"
        };
        assert!(text(&out).contains(needed), "{method}: {}", text(&out));
    }
    assert_eq!(rig.h.nvr.added_cameras().len(), 1, "nothing changed");
    assert!(!rig.h.nvr.account_status().await.unwrap().activated);
    assert_eq!(
        rig.h.nvr.recoveries()[0].step,
        vigil::model::RecoveryStep::AwaitingCode
    );

    // A member of the admin group may change things, as the audit log records by uid.
    let (host, port) = rig.h.address(1);
    let out = rig.call(
        As::Admin,
        "/org/vigil/Nvr1",
        MANAGER,
        "AddCamera",
        &["sqss", &host, &port.to_string(), "admin", CAMERA_PASSWORD],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rig.h.nvr.added_cameras().len(), 2);
    let cancel = rig.call(As::Admin, &flow, "org.vigil.Nvr1.Recovery", "Cancel", &[]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    rig.finish().await;
}

/// vigild answers GetManagedObjects itself (not through zbus's per-property path), so it must list
/// exactly the objects on the bus, each with what Properties.GetAll reports for it, and only to callers
/// who may read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_object_tree_lists_every_object_as_get_all_reports_it() {
    let Some(rig) = rig(3, |_| {}).await else {
        return;
    };
    rig.h.add(0).await;
    rig.h.add(1).await;
    rig.h.discover().await;
    let key = rig.h.sim.cameras()[2].identity().endpoint_ref.clone();
    let manager = ManagerProxy::new(&rig.client).await.unwrap();
    let (_, flow) = manager.start_recovery(&key).await.unwrap();

    let objects = zbus::fdo::ObjectManagerProxy::builder(&rig.client)
        .destination("org.vigil.Nvr1")
        .path("/org/vigil/Nvr1")
        .build()
        .await
        .unwrap()
        .get_managed_objects()
        .await
        .unwrap();
    let mut paths: Vec<&str> = objects.keys().map(|p| p.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/org/vigil/Nvr1/camera/1",
            "/org/vigil/Nvr1/camera/2",
            flow.as_str()
        ]
    );
    for (path, interfaces) in &objects {
        assert_eq!(interfaces.len(), 1, "{path}: one interface each");
        let (interface, listed) = interfaces.iter().next().unwrap();
        let properties = zbus::fdo::PropertiesProxy::builder(&rig.client)
            .destination("org.vigil.Nvr1")
            .path(path.clone())
            .build()
            .await
            .unwrap();
        let all = properties
            .get_all(zbus::names::InterfaceName::try_from(interface.as_str()).unwrap())
            .await
            .unwrap();
        assert_eq!(listed, &all, "{path} {interface}");
    }
    let camera = &objects[&vigil::dbus::camera_path(vigil::model::CameraId(1))];
    let camera = &camera["org.vigil.Nvr1.Camera"];
    assert_eq!(camera.len(), 14, "{camera:?}");
    assert_eq!(
        String::try_from(camera["Protocol"].try_clone().unwrap()).unwrap(),
        "onvif"
    );
    assert_eq!(
        String::try_from(camera["Serial"].try_clone().unwrap()).unwrap(),
        rig.h.sim.cameras()[0].identity().serial
    );

    // The read group may list the tree; the bus policy keeps everyone else out.
    let read = rig.call(
        As::Reader,
        "/org/vigil/Nvr1",
        "org.freedesktop.DBus.ObjectManager",
        "GetManagedObjects",
        &[],
    );
    assert!(read.status.success(), "{}", text(&read));
    assert!(text(&read).contains(&rig.h.sim.cameras()[1].identity().serial));
    let outsider = rig.call(
        As::Outsider,
        "/org/vigil/Nvr1",
        "org.freedesktop.DBus.ObjectManager",
        "GetManagedObjects",
        &[],
    );
    assert!(!outsider.status.success());
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_follow_status_changes_and_new_cameras() {
    let Some(rig) = rig(2, |_| {}).await else {
        return;
    };
    let camera = rig.h.add(0).await;
    let proxy = CameraProxy::builder(&rig.client)
        .path(vigil::dbus::camera_path(camera.id))
        .build()
        .await
        .unwrap();
    let mut status = proxy.receive_status_changed().await;
    assert_eq!(
        status.next().await.unwrap().get().await.unwrap(),
        "online",
        "current value first"
    );
    let objects = zbus::fdo::ObjectManagerProxy::builder(&rig.client)
        .destination("org.vigil.Nvr1")
        .path("/org/vigil/Nvr1")
        .build()
        .await
        .unwrap();
    let mut added = objects.receive_interfaces_added().await.unwrap();

    rig.h.sim.cameras()[0].set_password_directly("admin", "Changed-There-55");
    let changed = tokio::time::timeout(Duration::from_secs(5), status.next())
        .await
        .expect("PropertiesChanged within 5 s")
        .unwrap();
    assert_eq!(changed.get().await.unwrap(), "not_certified");
    assert!(!proxy.certified().await.unwrap());
    assert!(
        proxy
            .last_error()
            .await
            .unwrap()
            .contains("Edit the credentials")
    );
    assert_eq!(
        proxy.last_error_kind().await.unwrap(),
        "credentials_rejected"
    );

    let second = rig.h.add(1).await;
    let signal = tokio::time::timeout(Duration::from_secs(5), added.next())
        .await
        .expect("InterfacesAdded within 5 s")
        .unwrap();
    let args = signal.args().unwrap();
    assert_eq!(
        args.object_path().as_str(),
        vigil::dbus::camera_path(second.id).as_str()
    );
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_get_invalid_argument_and_nothing_changes() {
    let Some(rig) = rig(2, |c| c.inactive = 1).await else {
        return;
    };
    let (host, port) = rig.h.address(1);
    let (inactive_host, inactive_port) = (format!("'{host}'"), port.to_string());
    let long_host = format!("'{}'", "h".repeat(1000));
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "AddCamera",
            vec!["''", "80", "'admin'", "'x'"],
            "InvalidArgument",
        ),
        (
            "AddCamera",
            vec!["'10.0.0.1'", "0", "'admin'", "'x'"],
            "InvalidArgument",
        ),
        (
            "AddCamera",
            vec![&long_host, "80", "'admin'", "'x'"],
            "InvalidArgument",
        ),
        (
            "AddCamera",
            vec!["'10.0.0.1'", "80", "''", "'x'"],
            "InvalidArgument",
        ),
        (
            "AddCamera",
            vec!["'10.0.0.1\\n'", "80", "'admin'", "'x'"],
            "InvalidArgument",
        ),
        (
            "AddCamera",
            vec!["'127.0.0.1'", "1", "'admin'", "'x'"],
            "Unreachable",
        ),
        // A camera in factory state accepts any login; the NVR says Inactive instead of certifying.
        (
            "AddCamera",
            vec![
                &inactive_host,
                &inactive_port,
                "'whoever'",
                "'Any-Thing-123'",
            ],
            "Inactive",
        ),
        (
            "RemoveCamera",
            vec!["objectpath '/org/vigil/Nvr1/camera/999'"],
            "NotFound",
        ),
        (
            "RemoveCamera",
            vec!["objectpath '/org/vigil/Nvr1'"],
            "InvalidArgument",
        ),
        ("StartRecovery", vec!["'urn:uuid:nothing'"], "NotFound"),
        ("Discover", vec!["['10.0.0.0/8']"], "InvalidArgument"),
        ("GetAuditLog", vec!["0"], "InvalidArgument"),
        (
            "ChangePasswords",
            vec!["[objectpath '/org/vigil/Nvr1/camera/1']", "'a'", "'b'"],
            "PasswordMismatch",
        ),
    ];
    for (method, args, expected) in cases {
        let out = rig.gdbus(
            As::Root,
            "/org/vigil/Nvr1",
            &format!("{MANAGER}.{method}"),
            &args,
        );
        assert!(!out.status.success(), "{method} {args:?} must fail");
        let shown = text(&out);
        assert!(
            shown.contains(&format!("org.vigil.Nvr1.Error.{expected}")),
            "{method} {args:?}: {shown}"
        );
        assert!(!shown.contains("'x'"), "no argument echoed");
    }
    // Wrong argument types never reach vigild's code.
    let wrong = rig.call(
        As::Root,
        "/org/vigil/Nvr1",
        MANAGER,
        "AddCamera",
        &["ssss", "h", "80", "a", "x"],
    );
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("Signature mismatch"),
        "{}",
        text(&wrong)
    );
    assert!(rig.h.nvr.added_cameras().is_empty());
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_calls_does_not_starve_the_camera_monitor() {
    let Some(rig) = rig(2, |_| {}).await else {
        return;
    };
    let watched = rig.h.add(0).await;
    rig.h.add(1).await;
    let flooding = CancellationToken::new();
    let mut flooders = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = zbus::connection::Builder::address(rig.bus.address.as_str())
            .build()
            .await
            .unwrap();
        let stop = flooding.clone();
        flooders.spawn(async move {
            let manager = ManagerProxy::new(&client).await.unwrap();
            let mut calls = 0u64;
            while !stop.is_cancelled() {
                let _ = manager.list_cameras().await;
                calls += 1;
            }
            calls
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let checks_before = rig.h.sim.cameras()[1].stats().requests;
    rig.h.sim.cameras()[0].set_password_directly("admin", "Changed-There-55");
    rig.h
        .wait_for_state(
            watched.id,
            CameraState::NotCertified,
            Duration::from_secs(5),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let checks = rig.h.sim.cameras()[1].stats().requests - checks_before;
    flooding.cancel();
    let mut calls = 0;
    while let Some(Ok(n)) = flooders.join_next().await {
        calls += n;
    }
    assert!(calls > 100, "it was a flood: {calls} calls");
    // Two requests a check, one check per 300 ms: at least four checks in the 2+ seconds.
    assert!(
        checks >= 8,
        "the other camera was still checked during the flood: {checks} requests"
    );
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigilctl_lists_reports_and_exits_with_documented_codes() {
    let Some(rig) = rig(2, |c| c.inactive = 1).await else {
        return;
    };
    rig.h.add(0).await;
    let cameras = rig.vigilctl(As::Reader, &["cameras"]);
    assert!(cameras.status.success(), "{}", text(&cameras));
    let table = String::from_utf8_lossy(&cameras.stdout);
    assert!(table.starts_with("CH  ID  NAME"), "{table}");
    assert!(
        table.contains("\nD1  1 "),
        "the channel leads each line: {table}"
    );
    let refused = rig.vigilctl(As::Reader, &["rename", "1", "Gate"]);
    assert!(!refused.status.success(), "the read group may not rename");
    let renamed = rig.vigilctl(As::Admin, &["rename", "1", "Gate"]);
    assert!(renamed.status.success(), "{}", text(&renamed));
    let moved = rig.vigilctl(As::Admin, &["channel", "1", "5"]);
    assert!(moved.status.success(), "{}", text(&moved));
    let beyond = rig.vigilctl(As::Admin, &["channel", "1", "300"]);
    assert!(!beyond.status.success(), "past the channel count");
    let listed = rig.vigilctl(As::Reader, &["--json", "cameras"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(
        (listed[0]["channel"].as_u64(), listed[0]["name"].as_str()),
        (Some(5), Some("Gate"))
    );
    assert!(table.contains("online") && table.contains(&rig.h.sim.cameras()[0].identity().serial));
    let json = rig.vigilctl(As::Reader, &["--json", "cameras"]);
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(parsed[0]["status"], "online");
    assert_eq!(parsed[0]["certified"], true);
    assert_eq!(
        parsed[0]["serial"],
        rig.h.sim.cameras()[0].identity().serial.as_str()
    );

    let refused = rig.vigilctl(As::Reader, &["remove", "1"]);
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused));
    assert!(text(&refused).contains("NotAuthorized"));
    let outsider = rig.vigilctl(As::Outsider, &["status"]);
    assert_eq!(outsider.status.code(), Some(4), "{}", text(&outsider));
    let missing = rig.vigilctl(As::Reader, &["remove", "99"]);
    assert_eq!(
        missing.status.code(),
        Some(4),
        "the read group cannot even try"
    );
    let not_found = rig.vigilctl(As::Admin, &["remove", "99"]);
    assert_eq!(not_found.status.code(), Some(1), "{}", text(&not_found));
    let no_bus = command_as(As::Reader, VIGILCTL)
        .args(["--address=unix:path=/nonexistent/bus", "status"])
        .output()
        .unwrap();
    assert_eq!(no_bus.status.code(), Some(3), "{}", text(&no_bus));
    let usage = rig.vigilctl(As::Reader, &["remove", "one"]);
    assert_eq!(usage.status.code(), Some(2));

    let discover = rig.vigilctl(As::Admin, &["discover"]);
    assert!(discover.status.success(), "{}", text(&discover));
    assert!(String::from_utf8_lossy(&discover.stdout).contains("inactive"));

    // A reader that stops at once (`vigilctl cameras | head -0`): vigilctl ends quietly.
    let mut piped = command_as(As::Reader, VIGILCTL)
        .arg(format!("--address={}", rig.bus.address))
        .args(["--json", "cameras"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(piped.stdout.take());
    let cut = piped.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&cut.stderr);
    assert!(
        !said.contains("panicked") && !said.contains("Broken pipe"),
        "{said}"
    );
    // A password from a pipe: nobody to prompt, so no prompt.
    let (host, port) = rig.h.address(1);
    let mut adding = command_as(As::Admin, VIGILCTL)
        .arg(format!("--address={}", rig.bus.address))
        .args([
            "add",
            &host,
            "--port",
            &port.to_string(),
            "--user",
            "whoever",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(adding.stdin.take().unwrap(), "Any-Thing-123").unwrap();
    let added = adding.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&added.stderr);
    assert!(!said.contains("Password for"), "{said}");
    assert!(
        said.contains("inactive"),
        "the factory-state camera is refused: {said}"
    );
    assert!(!added.status.success());
    let audit = rig.vigilctl(As::Reader, &["audit", "--verify"]);
    assert!(audit.status.success(), "{}", text(&audit));
    rig.finish().await;
}

/// Several discovered cameras added at once (vigilctl add-discovered --all, over AddDiscoveredMany):
/// one login attempt each, each outcome listed, a refused password never retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_discovered_cameras_are_added_at_once_with_one_attempt_each() {
    let Some(rig) = rig(4, |c| c.inactive = 1).await else {
        return;
    };
    assert_eq!(rig.h.discover().await, 4);
    let odd_one = rig.h.sim.cameras()[1].clone();
    odd_one.set_password_directly("admin", "Another-Pass-77");
    let attempts_before = odd_one.stats().login_attempts;
    let mut adding = command_as(As::Admin, VIGILCTL)
        .arg(format!("--address={}", rig.bus.address))
        .args(["--json", "add-discovered", "--all"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(
        adding.stdin.take().unwrap(),
        "{}",
        crate::support::CAMERA_PASSWORD
    )
    .unwrap();
    let added = adding.wait_with_output().unwrap();
    assert_eq!(
        added.status.code(),
        Some(5),
        "partly done: {}",
        String::from_utf8_lossy(&added.stderr)
    );
    let outcomes: serde_json::Value = serde_json::from_slice(&added.stdout).expect("JSON");
    let outcomes = outcomes.as_array().expect("one outcome per device");
    assert_eq!(
        outcomes.len(),
        3,
        "the active devices not added yet: {outcomes:?}"
    );
    let refused: Vec<_> = outcomes.iter().filter(|o| o["added"] == false).collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert!(
        refused[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rejected"),
        "{refused:?}"
    );
    assert_eq!(rig.h.nvr.added_cameras().len(), 2);
    assert_eq!(
        odd_one.stats().login_attempts - attempts_before,
        1,
        "one attempt, never retried"
    );
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigilctl_resets_a_forgotten_password_end_to_end() {
    let Some(python) = python_or_skip("the vigilctl forget-password test") else {
        return;
    };
    let smtp = SmtpServer::start(&python);
    let mail = smtp.settings("camera-noreply@example.com");
    let Some(rig) = rig(1, |c| c.smtp = Some(mail)).await else {
        return;
    };
    let camera = rig.h.add(0).await;
    rig.h.sim.cameras()[0].set_password_directly("admin", "Forgotten-Pass-19");
    rig.h
        .wait_for_state(camera.id, CameraState::NotCertified, Duration::from_secs(5))
        .await;
    rig.h.discover().await;
    let key = rig.h.sim.cameras()[0].identity().endpoint_ref.clone();

    // As a non-root member of the admin group, answering the prompts on standard input.
    let mut child = command_as(As::Admin, VIGILCTL)
        .arg(format!("--address={}", rig.bus.address))
        .args(["forget-password", &key, "--method", "send", "--yes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("A code was sent to") {
                let _ = sent_tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let sent = tokio::task::spawn_blocking(move || sent_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    if sent.is_err() {
        let _ = child.kill();
        let mut errors = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut errors);
        let shown = reader.join().unwrap_or_default();
        panic!("vigilctl did not send the code:\n{shown}\n{errors}");
    }
    let code = smtp.nth_message(1).await.code(8).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "00000000").unwrap();
    writeln!(stdin, "{code}").unwrap();
    writeln!(stdin, "weakpass").unwrap();
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
    assert!(out.contains("Its reset email is o***@e***.com"), "{out}");
    assert!(out.contains("4 attempts left"), "a wrong code first: {out}");
    assert!(
        err.contains("It must:"),
        "the weak password was explained: {err}"
    );
    assert!(
        out.contains("Re-added camera") && out.contains("online"),
        "{out}"
    );
    assert!(
        !out.contains(&code) && !err.contains(NEW_PASSWORD),
        "no secret echoed"
    );
    let readded = rig.h.nvr.added_cameras();
    assert_eq!(readded.len(), 1);
    assert_eq!(readded[0].status.state, CameraState::Online);
    let audit = rig.h.nvr.audit_log(10).await.unwrap();
    let (setup, by_vigilctl) = audit.split_last().expect("entries");
    assert_eq!(
        (setup.action, setup.actor.as_str()),
        (vigil::model::AuditAction::CameraAdded, "system"),
        "the test's own add"
    );
    assert!(
        by_vigilctl.iter().all(|e| e.actor == "dbus:uid=2"),
        "{audit:?}"
    );
    rig.finish().await;
}

/// `gdbus monitor` on vigild's name as `who`, its output lines sent to a channel as they come.
struct SignalWatcher {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl SignalWatcher {
    fn start(rig: &Rig, who: As) -> Self {
        let mut child = command_as(who, "gdbus")
            .args(["monitor", "--address", &rig.bus.address])
            .args(["--dest", "org.vigil.Nvr1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gdbus monitor runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits up to `within` for a line containing `needle`; every line seen on the way.
    fn wait_for(&self, needle: &str, within: Duration) -> Result<String, Vec<String>> {
        let deadline = std::time::Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Ok(line),
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        Err(seen)
    }
}

impl Drop for SignalWatcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_the_groups_and_nobody_else() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let watchers = [As::Outsider, As::Reader, As::Admin].map(|who| SignalWatcher::start(&rig, who));
    for watcher in &watchers {
        // Each watcher is listening once it has found vigild's unique name.
        watcher
            .wait_for("is owned by", Duration::from_secs(10))
            .expect("gdbus monitor follows org.vigil.Nvr1");
    }
    let camera = rig.h.add(0).await;
    let path = vigil::dbus::camera_path(camera.id);
    let [outsider, reader, admin] = &watchers;
    for member in [reader, admin] {
        let line = member
            .wait_for("InterfacesAdded", Duration::from_secs(10))
            .unwrap_or_else(|seen| panic!("a group member gets InterfacesAdded; saw {seen:?}"));
        assert!(line.contains(path.as_str()), "{line}");
    }
    // The outsider was listening the whole time and got nothing vigild sent.
    let heard = match outsider.wait_for("org.vigil", Duration::from_millis(500)) {
        Ok(line) => vec![line],
        Err(seen) => seen
            .into_iter()
            .filter(|l| l.contains("/org/vigil"))
            .collect(),
    };
    assert!(heard.is_empty(), "an outsider heard vigild: {heard:?}");
    drop(watchers);
    rig.finish().await;
}

#[tokio::test]
async fn an_ended_flow_leaves_the_bus_after_the_retention_period() {
    let clock = std::sync::Arc::new(vigil::clock::SimulatedClock::starting_now());
    let Some(rig) = rig_with_clock(1, clock.clone()).await else {
        return;
    };
    rig.h.discover().await;
    let manager = ManagerProxy::new(&rig.client).await.unwrap();
    let key = rig.h.sim.cameras()[0].identity().endpoint_ref.clone();
    let (_, path) = manager.start_recovery(&key).await.unwrap();
    let flow = vigil::dbus::proxy::RecoveryProxy::builder(&rig.client)
        .path(path.clone())
        .build()
        .await
        .unwrap();
    flow.cancel().await.unwrap();
    assert_eq!(flow.step().await.unwrap(), "cancelled");
    let objects = zbus::fdo::ObjectManagerProxy::builder(&rig.client)
        .destination("org.vigil.Nvr1")
        .path("/org/vigil/Nvr1")
        .build()
        .await
        .unwrap();
    let mut removed = objects.receive_interfaces_removed().await.unwrap();
    let listed = |objects: &zbus::fdo::ManagedObjects| objects.keys().any(|p| *p == path);
    assert!(listed(&objects.get_managed_objects().await.unwrap()));

    clock.advance(rig.h.settings.recovery.ended_retention + Duration::from_secs(1));
    let signal = tokio::time::timeout(Duration::from_secs(5), removed.next())
        .await
        .expect("InterfacesRemoved within 5 s")
        .unwrap();
    assert_eq!(signal.args().unwrap().object_path().as_str(), path.as_str());
    assert!(!listed(&objects.get_managed_objects().await.unwrap()));
    let uncached = vigil::dbus::proxy::RecoveryProxy::builder(&rig.client)
        .path(path.clone())
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .unwrap();
    assert!(uncached.step().await.is_err(), "the object is gone");
    rig.finish().await;
}

#[tokio::test]
async fn check_password_answers_with_the_service_policy() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let manager = ManagerProxy::new(&rig.client).await.unwrap();
    for (password, user) in [("Quiet-Falcon-83", "admin"), ("admin1234", "admin")] {
        let assessment = rig.h.nvr.assess_new_password(password, user);
        let (acceptable, strength, unmet) = manager.check_password(password, user).await.unwrap();
        assert_eq!(acceptable, assessment.acceptable(), "{password}");
        assert_eq!(strength, assessment.strength.as_str(), "{password}");
        let described: Vec<String> = assessment
            .unmet
            .iter()
            .map(|r| r.describe().to_owned())
            .collect();
        assert_eq!(unmet, described, "{password}");
    }
    let (acceptable, strength, unmet) = manager.check_password("admin1234", "admin").await.unwrap();
    assert!(!acceptable);
    assert_eq!(strength, "weak");
    assert!(unmet.iter().any(|u| u.contains("user name")), "{unmet:?}");
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_root_activates_the_recorder_and_admins_read_and_unlock_its_account() {
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let password = "Quiet-Falcon-83";
    let activate = |who| {
        rig.gdbus(
            who,
            "/org/vigil/Nvr1",
            "org.vigil.Nvr1.Manager.ActivateNvr",
            &[password, password, "owner@example.com", ""],
        )
    };
    for who in [As::Reader, As::Admin] {
        let refused = activate(who);
        assert!(!refused.status.success());
        assert!(
            text(&refused).contains("org.vigil.Nvr1.Error.NotAuthorized"),
            "{}",
            text(&refused)
        );
    }
    assert!(!rig.h.nvr.account_status().await.unwrap().activated);
    let weak_default = rig.gdbus(
        As::Root,
        "/org/vigil/Nvr1",
        "org.vigil.Nvr1.Manager.ActivateNvr",
        &[password, password, "owner@example.com", "12345678"],
    );
    let refusal = text(&weak_default);
    assert!(
        refusal.contains("org.vigil.Nvr1.Error.PolicyViolation")
            && refusal.contains("the default camera password does not meet the policy"),
        "the refusal names the field that failed: {refusal}"
    );
    assert!(
        !refusal.contains("12345678"),
        "never the password: {refusal}"
    );
    assert!(!rig.h.nvr.account_status().await.unwrap().activated);
    let status = |who| {
        rig.gdbus(
            who,
            "/org/vigil/Nvr1",
            "org.vigil.Nvr1.Manager.AccountStatus",
            &[],
        )
    };
    let as_reader = status(As::Reader);
    assert!(
        text(&as_reader).contains("NotAuthorized"),
        "the read group may not see the account: {}",
        text(&as_reader)
    );
    let done = activate(As::Root);
    assert!(done.status.success(), "{}", text(&done));
    for _ in 0..5 {
        let _ = rig.h.nvr.login("admin", "Wrong-Guess-11").await;
    }
    let locked = status(As::Admin);
    let shown = String::from_utf8_lossy(&locked.stdout).into_owned();
    let locked_secs: u64 = shown
        .strip_prefix("(true, 'admin', uint64 ")
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("activated admin, locked: {shown}"));
    assert!((1790..=1800).contains(&locked_secs), "{shown}");
    assert!(!shown.contains(password), "no secret in the status");
    let shown = rig.vigilctl(As::Admin, &["account"]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("locked: for 30 more minutes"),
        "{}",
        text(&shown)
    );
    assert!(!rig.vigilctl(As::Reader, &["account"]).status.success());
    let cleared = rig.vigilctl(As::Admin, &["account", "--unlock", "--json"]);
    assert!(cleared.status.success(), "{}", text(&cleared));
    let after: serde_json::Value = serde_json::from_slice(&cleared.stdout).unwrap();
    assert_eq!(after["locked_secs"], 0, "{after}");
    assert_eq!(after["username"], "admin");
    assert_eq!(rig.h.nvr.account_status().await.unwrap().locked_for, None);
    let again = activate(As::Root);
    assert!(
        text(&again).contains("org.vigil.Nvr1.Error.AlreadyActive"),
        "{}",
        text(&again)
    );
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_set_the_mail_server_and_send_a_test_email_over_the_bus() {
    let Some(python) = python_or_skip("the D-Bus mail server test") else {
        return;
    };
    let smtp = SmtpServer::start_with(&python, &["--auth", "relay:Mail-Pass-52"]);
    let Some(rig) = rig(1, |_| {}).await else {
        return;
    };
    let port = smtp.port.to_string();
    let set = |who, security: &str, keep: &str| {
        rig.gdbus(
            who,
            "/org/vigil/Nvr1",
            "org.vigil.Nvr1.Manager.SetMailServer",
            &[
                "127.0.0.1",
                &port,
                security,
                "relay",
                "Mail-Pass-52",
                keep,
                "nvr@example.com",
                "",
            ],
        )
    };
    let refused = set(As::Reader, "none", "false");
    assert!(
        text(&refused).contains("NotAuthorized"),
        "{}",
        text(&refused)
    );
    let bad = set(As::Admin, "ssl", "false");
    assert!(
        text(&bad).contains("org.vigil.Nvr1.Error.InvalidArgument")
            && text(&bad).contains("security"),
        "{}",
        text(&bad)
    );
    let done = set(As::Admin, "none", "false");
    assert!(done.status.success(), "{}", text(&done));
    let shown = rig.gdbus(
        As::Admin,
        "/org/vigil/Nvr1",
        "org.vigil.Nvr1.Manager.MailServer",
        &[],
    );
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        shown.contains("'relay', true, 'nvr@example.com'"),
        "{shown}"
    );
    assert!(
        !shown.contains("Mail-Pass-52"),
        "never the password: {shown}"
    );
    let sent = rig.gdbus(
        As::Admin,
        "/org/vigil/Nvr1",
        "org.vigil.Nvr1.Manager.SendTestEmail",
        &["owner@example.com"],
    );
    assert!(sent.status.success(), "{}", text(&sent));
    assert_eq!(smtp.nth_message(1).await.subject, "Vigil NVR: test email");
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigilctl_passwd_checks_the_new_password_against_each_cameras_own_user() {
    let Some(rig) = rig(1, |c| c.admin_user = "keeper".into()).await else {
        return;
    };
    let (host, port) = rig.h.address(0);
    rig.h
        .nvr
        .add_camera(
            vigil::service::AddCamera {
                host,
                port,
                username: "keeper".into(),
                password: crate::support::CAMERA_PASSWORD.into(),
            },
            &system(),
        )
        .await
        .expect("adds as keeper");
    let mut child = command_as(As::Admin, VIGILCTL)
        .arg(format!("--address={}", rig.bus.address))
        .args(["passwd", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        // Fine for an account named admin, but it holds this camera's user name.
        writeln!(stdin, "Keeper-Strong-91").unwrap();
        writeln!(stdin, "{NEW_PASSWORD}").unwrap();
        writeln!(stdin, "{NEW_PASSWORD}").unwrap();
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("for keeper. It must:"), "{said}");
    assert!(said.contains("password changed"), "{said}");
    let url = rig.h.sim.cameras()[0].device_service_url();
    let renewed = oxvif::OnvifClient::new(url).with_credentials("keeper", NEW_PASSWORD);
    assert!(renewed.get_device_info().await.is_ok());
    rig.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vigilctl_edits_a_cameras_ip_reboots_it_and_sets_its_clock() {
    let Some(rig) = rig(1, |c| c.clock_offset_secs = 120).await else {
        return;
    };
    rig.h.add(0).await;
    let shown = rig.vigilctl(As::Reader, &["network", "1"]);
    assert_eq!(
        shown.status.code(),
        Some(4),
        "the read group may not log in to a camera"
    );
    let shown = rig.vigilctl(As::Admin, &["--json", "network", "1"]);
    assert!(shown.status.success(), "{}", text(&shown));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    let old = rig.h.sim.cameras()[0].http_addr().ip().to_string();
    assert_eq!(shown["address"], old.as_str());
    assert_eq!(shown["mask"], "255.255.255.0");

    let bad_mask = rig.vigilctl(As::Admin, &["network", "1", "--mask", "255.0.255.0"]);
    assert_eq!(bad_mask.status.code(), Some(1));
    assert!(text(&bad_mask).contains("mask"), "{}", text(&bad_mask));
    let new = {
        let mut octets: Vec<&str> = old.split('.').collect();
        octets[3] = "90";
        octets.join(".")
    };
    let moved = rig.vigilctl(As::Admin, &["network", "1", "--ip", &new, "--mask", "24"]);
    assert!(moved.status.success(), "{}", text(&moved));
    let listed = rig.vigilctl(As::Reader, &["--json", "cameras"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert!(
        listed[0]["address"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{new}:")),
        "{listed}"
    );

    let unconfirmed = rig.vigilctl(As::Admin, &["factory-default", "1", "hard"]);
    assert_eq!(unconfirmed.status.code(), Some(2));
    assert!(
        text(&unconfirmed).contains("users and passwords"),
        "{}",
        text(&unconfirmed)
    );
    assert!(
        !rig.h.sim.cameras()[0].is_inactive(),
        "nothing happens without --yes"
    );

    // The clock: the camera was two minutes fast until the add set it.
    let clock = rig.vigilctl(As::Admin, &["--json", "set-time", "1"]);
    assert!(clock.status.success(), "{}", text(&clock));
    let clock: serde_json::Value = serde_json::from_slice(&clock.stdout).expect("JSON");
    assert!(
        clock["clock_offset_secs"].as_i64().unwrap().abs() <= 2,
        "{clock}"
    );
    let offset = rig.busctl(
        As::Reader,
        &[
            "get-property",
            "org.vigil.Nvr1",
            "/org/vigil/Nvr1/camera/1",
            "org.vigil.Nvr1.Camera",
            "ClockDrift",
        ],
    );
    assert_eq!(text(&offset).trim(), "b false");

    let reboot = rig.vigilctl(As::Admin, &["reboot", "1"]);
    assert!(reboot.status.success(), "{}", text(&reboot));
    assert!(text(&reboot).contains("Rebooting"), "{}", text(&reboot));
    rig.finish().await;
}
