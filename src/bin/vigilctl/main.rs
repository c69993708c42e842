//! `vigilctl`: the command line over vigild's D-Bus API (`org.vigil.Nvr1`). Human-readable tables by
//! default, `--json` for scripts. Passwords and codes are read without echo on a terminal, or one per
//! line from standard input otherwise; they are never taken as arguments.
//!
//! Exit codes: 0 done; 1 vigild refused or the operation failed; 2 bad usage; 3 vigild cannot be
//! reached; 4 not authorized; 5 some of several cameras failed (`passwd`).

mod commands;
mod forget_password;
mod maintenance;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vigil::dbus::proxy::ManagerProxy;

use forget_password::forget_password;

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
    /// Add discovered devices by their keys (from `discover`), or --all of them, with one user name
    /// and password (asked for).
    AddDiscovered {
        /// The keys (from `discover`); one attempt each.
        #[arg(required_unless_present = "all")]
        keys: Vec<String>,
        /// Every discovered device that is active and not added yet.
        #[arg(long, conflicts_with = "keys")]
        all: bool,
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Remove an added camera.
    Remove { camera: i64 },
    /// Move an added camera to a free channel (1 for D1, ...).
    Channel { camera: i64, channel: u16 },
    /// Name an added camera ("" for its default name: model and the end of its serial number).
    Rename { camera: i64, name: String },
    /// Show a camera's network settings, or change them (Edit IP) with any of --ip, --mask,
    /// --gateway (\"\" for none) or --dhcp. An added camera by id; a discovered one with --device.
    Network {
        camera: Option<i64>,
        /// A discovered camera's key (its password is asked for).
        #[arg(long, conflicts_with = "camera")]
        device: Option<String>,
        #[arg(long, default_value = "admin")]
        user: String,
        /// The new IPv4 address.
        #[arg(long)]
        ip: Option<String>,
        /// 255.255.255.0 or 24.
        #[arg(long)]
        mask: Option<String>,
        #[arg(long)]
        gateway: Option<String>,
        /// Take the address from DHCP.
        #[arg(long)]
        dhcp: bool,
    },
    /// Reboot a camera: an added one by id, a discovered one with --device.
    Reboot {
        camera: Option<i64>,
        #[arg(long, conflicts_with = "camera")]
        device: Option<String>,
        #[arg(long, default_value = "admin")]
        user: String,
    },
    /// Restore an added camera's factory defaults: soft keeps its network settings, hard loses
    /// everything (users and passwords too). Says what is lost and does nothing without --yes.
    FactoryDefault {
        camera: i64,
        #[arg(value_parser = ["soft", "hard"])]
        kind: String,
        #[arg(long)]
        yes: bool,
    },
    /// Set an added camera's clock now (UTC, or NTP when the recorder uses it).
    SetTime { camera: i64 },
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

/// Why vigilctl stops early: the message, and the exit code.
pub(crate) struct Failure {
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

pub(crate) fn fail(message: impl Into<String>) -> Failure {
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

/// What every command shares: the connection, the manager object, and whether to print JSON.
pub(crate) struct Context {
    /// The bus connection.
    pub(crate) connection: zbus::Connection,
    /// vigild's manager object.
    pub(crate) manager: ManagerProxy<'static>,
    /// `--json`.
    pub(crate) json: bool,
}

async fn run(cli: Cli) -> Result<u8, Failure> {
    let connection = connect(&cli).await?;
    let manager = ManagerProxy::builder(&connection)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let ctx = Context {
        connection,
        manager,
        json: cli.json,
    };
    match cli.command {
        Command::Status => commands::status(&ctx).await,
        Command::Account { unlock } => commands::account(&ctx, unlock).await,
        Command::Cameras => commands::cameras(&ctx).await,
        Command::Discover { targets } => commands::discover(&ctx, targets).await,
        Command::Add { host, port, user } => commands::add(&ctx, host, port, user).await,
        Command::AddDiscovered { keys, all, user } => {
            commands::add_discovered(&ctx, keys, all, user).await
        }
        Command::Remove { camera } => commands::remove(&ctx, camera).await,
        Command::Channel { camera, channel } => commands::channel(&ctx, camera, channel).await,
        Command::Rename { camera, name } => commands::rename(&ctx, camera, &name).await,
        Command::Activate {
            key,
            reset_email,
            no_add,
        } => commands::activate(&ctx, key, reset_email, no_add).await,
        Command::Passwd { cameras } => commands::passwd(&ctx, cameras).await,
        Command::Network {
            camera,
            device,
            user,
            ip,
            mask,
            gateway,
            dhcp,
        } => {
            let target = maintenance::target(camera, device, user)?;
            let args = maintenance::NetworkArgs {
                address: ip,
                mask,
                gateway,
                dhcp,
            };
            maintenance::network(&ctx, target, args).await
        }
        Command::Reboot {
            camera,
            device,
            user,
        } => maintenance::reboot(&ctx, maintenance::target(camera, device, user)?).await,
        Command::FactoryDefault { camera, kind, yes } => {
            maintenance::factory_default(&ctx, camera, &kind, yes).await
        }
        Command::SetTime { camera } => maintenance::set_time(&ctx, camera).await,
        Command::Audit { limit, verify } => commands::audit(&ctx, limit, verify).await,
        Command::ForgetPassword { key, method, yes } => {
            forget_password(&ctx.connection, &ctx.manager, &key, method, yes).await
        }
    }
}
