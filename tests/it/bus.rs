//! A real dbus-daemon for the tests, with a system-bus-like default policy (deny unless allowed) plus
//! the shipped `systemd/org.vigil.Nvr1.conf`. Its groups vigil and vigil-admin are swapped for two
//! groups every Debian has (games, src), so unprivileged test callers can be put in them with setpriv
//! without changing the machine's group database.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

/// Stands in for the group `vigil` (read-only callers).
pub const READ_GROUP: &str = "games";
/// Stands in for the group `vigil-admin`.
pub const ADMIN_GROUP: &str = "src";

/// A private bus.
pub struct TestBus {
    /// Its address.
    pub address: String,
    _dir: tempfile::TempDir,
    child: Child,
}

impl Drop for TestBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gid of a group name, from /etc/group.
pub fn gid(name: &str) -> u32 {
    std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next() == Some(name))
                .then(|| fields.nth(1)?.parse().ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("group {name} is missing from /etc/group"))
}

/// Whether the tests can run a bus and switch users (root, dbus-daemon and setpriv present).
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root to run callers as other users".into());
    }
    for tool in ["dbus-daemon", "setpriv", "busctl", "gdbus"] {
        if !installed(tool) {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(())
}

/// Whether `tool` is on the PATH.
pub fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

impl TestBus {
    /// Starts a bus in a fresh directory (world-traversable, so other uids reach the socket).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("bus dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/systemd/org.vigil.Nvr1.conf"
        ))
        .expect("shipped policy");
        let policy = shipped
            .replace("group=\"vigil-admin\"", &format!("group=\"{ADMIN_GROUP}\""))
            .replace("group=\"vigil\"", &format!("group=\"{READ_GROUP}\""));
        std::fs::write(dir.path().join("org.vigil.Nvr1.conf"), policy).unwrap();
        let socket = dir.path().join("bus");
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
  </policy>
  <include>{include}</include>
</busconfig>
"#,
            socket = socket.display(),
            include = dir.path().join("org.vigil.Nvr1.conf").display()
        );
        std::fs::write(dir.path().join("bus.conf"), config).unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!(
                "--config-file={}",
                dir.path().join("bus.conf").display()
            ))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("bus address");
        assert!(
            line.starts_with("unix:"),
            "dbus-daemon did not start: {line}"
        );
        Self {
            address: line.trim().to_owned(),
            _dir: dir,
            child,
        }
    }
}

/// Who runs a command: root, an outsider, a member of the read group, or of the admin group.
#[derive(Debug, Clone, Copy)]
pub enum As {
    /// root.
    Root,
    /// nobody, in no group.
    Outsider,
    /// daemon, in the read group only.
    Reader,
    /// bin, in the admin group only.
    Admin,
}

/// A command that runs as `who`.
pub fn command_as(who: As, program: &str) -> Command {
    let (user, groups) = match who {
        As::Root => return Command::new(program),
        As::Outsider => ("nobody", None),
        As::Reader => ("daemon", Some(gid(READ_GROUP))),
        As::Admin => ("bin", Some(gid(ADMIN_GROUP))),
    };
    let (uid, primary_gid) = std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&user)).then(|| (fields[2].to_owned(), fields[3].to_owned()))
        })
        .unwrap_or_else(|| panic!("user {user} is missing from /etc/passwd"));
    let mut command = Command::new("setpriv");
    command.args(["--reuid", &uid, "--regid", &primary_gid]);
    match groups {
        Some(gid) => command.args(["--groups", &gid.to_string()]),
        None => command.arg("--clear-groups"),
    };
    command.arg(program);
    command
}
