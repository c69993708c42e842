//! `vigil-camsim`: runs N simulated ONVIF cameras, or sends a control request to running ones.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use vigil::sim::camera::CameraPolicy;
use vigil::sim::control::{self, ControlReply, ControlRequest};
use vigil::sim::dialect::Dialect;
use vigil::sim::persona::PersonaMix;
use vigil::sim::{SimConfig, Simulator};

#[derive(Parser, Debug)]
#[command(
    name = "vigil-camsim",
    version,
    about = "Simulated ONVIF cameras: real SOAP over HTTP and real WS-Discovery, for demos, tests and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send a control request to a running simulator.
    Ctl {
        /// The simulator's control socket.
        #[arg(long)]
        control: PathBuf,
        #[command(subcommand)]
        action: CtlAction,
    },
    /// Play the vendor's phone app: scan a recovery QR payload; the vendor cloud emails the code to the
    /// camera's reset email.
    AppScan {
        /// The running simulator's control socket.
        #[arg(long)]
        control: PathBuf,
        /// The text of the QR code (`vigil-recovery:v1?...`), or the camera's serial number to scan
        /// the QR code the recorder shows for it now.
        payload: String,
    },
    /// Play the vendor's support desk: print the support code for a serial number and a date.
    SupportCode {
        /// The running simulator's control socket.
        #[arg(long)]
        control: PathBuf,
        /// The camera's serial number, as a failed login or the recovery screen shows it.
        serial: String,
        /// The date shown with it, YYYY-MM-DD [default: today, UTC].
        date: Option<String>,
    },
    /// Play the vendor for a device whose secret file the vendor holds (the recorder's own, written
    /// at manufacturing): print the code its phone app's cloud would email for a QR payload, or the
    /// support code for a serial number and a date.
    VendorCode {
        /// The device secret file (64 hex digits), as the vendor's records hold it.
        #[arg(long)]
        device_secret: PathBuf,
        /// The text of the QR code (`vigil-recovery:v1?...`).
        #[arg(long, conflicts_with = "support")]
        qr: Option<String>,
        /// The serial number a failed login shows, for a support code.
        #[arg(long, required_unless_present = "qr")]
        support: Option<String>,
        /// The date shown with the serial number, YYYY-MM-DD [default: today, UTC].
        #[arg(long, requires = "support")]
        date: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum CtlAction {
    /// List the cameras.
    List,
    /// Take a camera off the network.
    Offline { camera: usize },
    /// Bring a camera back online.
    Online { camera: usize },
    /// Change a user's password behind the NVR's back (reads the password from VIGIL_CAMSIM_NEW_PASSWORD
    /// when not given).
    SetPassword {
        camera: usize,
        user: String,
        password: Option<String>,
    },
    /// Reset a camera to factory state.
    FactoryReset { camera: usize },
    /// Set a camera's clock offset in seconds (negative: behind).
    ClockOffset {
        camera: usize,
        #[arg(allow_hyphen_values = true)]
        seconds: i64,
    },
    /// Show what a camera has seen.
    Stats { camera: usize },
    /// Turn a camera's internet access on or off.
    Internet {
        camera: usize,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Reboot a camera (voids its recovery challenge).
    Reboot { camera: usize },
    /// Set a camera's reset email.
    ResetEmail { camera: usize, email: String },
    /// Make a camera word its refusals in another dialect.
    Dialect {
        camera: usize,
        #[arg(value_parser = dialect_names())]
        dialect: String,
    },
}

fn dialect_names() -> Vec<&'static str> {
    Dialect::ALL.map(Dialect::name).to_vec()
}

#[derive(Args, Debug)]
struct RunArgs {
    /// How many cameras.
    #[arg(long, default_value_t = 4)]
    count: usize,
    /// Address to bind; with --address-per-camera, the first camera's address.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// HTTP port of the first camera (camera i uses base-port + i unless each has its own address).
    #[arg(long, default_value_t = 8000)]
    base_port: u16,
    /// Give camera i the address bind + i; every camera then uses the same ports.
    #[arg(long)]
    address_per_camera: bool,
    /// UDP port for WS-Discovery.
    #[arg(long, default_value_t = 3702)]
    wsd_port: u16,
    /// Which vendor's cameras to play: onvif (ONVIF only), vigil (ONVIF with Vigil's recovery
    /// extension), hikvision (SADP and ISAPI, ONVIF off), dahua (DHIP, ONVIF on), mixed (ONVIF, Vigil,
    /// Hikvision and Dahua in turn), or a comma list.
    #[arg(long, default_value = "vigil", value_parser = PersonaMix::parse)]
    persona: PersonaMix,
    /// The UDP port Hikvision cameras answer SADP on.
    #[arg(long, default_value_t = 37020)]
    sadp_port: u16,
    /// The UDP port Dahua cameras answer DHIP on.
    #[arg(long, default_value_t = 37810)]
    dhip_port: u16,
    /// Answer multicast probes and announce to the multicast group. Use only inside a network namespace
    /// made for it.
    #[arg(long)]
    multicast: bool,
    /// Also send Hello and Bye by unicast to this address (repeatable).
    #[arg(long = "announce-to")]
    announce_to: Vec<SocketAddr>,
    /// Largest random delay before a ProbeMatch, in milliseconds.
    #[arg(long, default_value_t = 500)]
    max_delay_ms: u64,
    /// Administrator user of active cameras.
    #[arg(long, default_value = "admin")]
    user: String,
    /// Administrator password of active cameras (default from VIGIL_CAMSIM_PASSWORD, else Harbor-Lamp-62).
    #[arg(long, env = "VIGIL_CAMSIM_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// How many cameras, counted from the last, start in factory state.
    #[arg(long, default_value_t = 0)]
    inactive: usize,
    /// Clock offset of every camera, seconds.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset: i64,
    /// Failed logins in a row before a user is locked.
    #[arg(long, default_value_t = 5)]
    lockout_threshold: u32,
    /// How long a lock lasts, seconds.
    #[arg(long, default_value_t = 1800)]
    lockout_secs: u64,
    /// Refuse GetDeviceInformation, GetScopes and GetNetworkInterfaces without credentials.
    #[arg(long)]
    no_anonymous_info: bool,
    /// Refuse GetSystemDateAndTime without credentials, as some cameras do.
    #[arg(long)]
    clock_needs_auth: bool,
    /// How the cameras word refusals: no credentials, wrong ones, a lock, a stale timestamp.
    #[arg(long, default_value = "onvif", value_parser = dialect_names())]
    dialect: String,
    /// Give every camera this one MAC address (aa:bb:cc:dd:ee:ff), as some cheap cameras do.
    #[arg(long, value_name = "MAC")]
    shared_mac: Option<String>,
    /// Varies serials and MACs between simulators.
    #[arg(long, default_value_t = 1)]
    seed: u16,
    /// Serve the control interface on this Unix socket.
    #[arg(long)]
    control: Option<PathBuf>,
    /// The reset email active cameras were activated with.
    #[arg(long, default_value = "owner@example.com")]
    reset_email: String,
    /// Cameras have no reset email (only the support code can recover them).
    #[arg(long)]
    no_reset_email: bool,
    /// Cameras cannot reach the internet, so they cannot email codes themselves.
    #[arg(long)]
    no_internet: bool,
    /// Mail server the cameras and the simulated vendor send through, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    smtp: Option<String>,
    /// Mail server security.
    #[arg(long, default_value = "none", value_parser = ["none", "starttls", "tls"])]
    smtp_security: String,
    /// Mail server login (the password comes from VIGIL_CAMSIM_SMTP_PASSWORD).
    #[arg(long)]
    smtp_user: Option<String>,
    /// The From address of code emails.
    #[arg(long, default_value = "camera-noreply@example.com")]
    mail_from: String,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("vigil-camsim: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Some(Command::Ctl { control, action }) => runtime.block_on(ctl(control, action)),
        Some(Command::AppScan { control, payload }) => {
            runtime.block_on(send(control, ControlRequest::AppScan { payload }))
        }
        Some(Command::SupportCode {
            control,
            serial,
            date,
        }) => {
            let date = date.unwrap_or_else(today);
            runtime.block_on(send(control, ControlRequest::SupportCode { serial, date }))
        }
        Some(Command::VendorCode {
            device_secret,
            qr,
            support,
            date,
        }) => vendor_code(&device_secret, qr.as_deref(), support.as_deref(), date),
        None => runtime.block_on(run(cli.run)),
    }
}

fn today() -> String {
    vigil::clock::rfc3339(std::time::SystemTime::now())
        .chars()
        .take(10)
        .collect()
}

fn vendor_code(
    secret_file: &std::path::Path,
    qr: Option<&str>,
    serial: Option<&str>,
    date: Option<String>,
) -> ExitCode {
    use vigil::rules::codes;
    use vigil::rules::device_secret::DeviceSecret;
    let secret = match DeviceSecret::read(secret_file) {
        Ok(secret) => secret,
        Err(error) => {
            eprintln!("vigil-camsim: {error}");
            return ExitCode::from(2);
        }
    };
    match (qr, serial) {
        (Some(payload), _) => {
            let Some(challenge) = codes::parse_qr_payload(payload) else {
                eprintln!("vigil-camsim: that is not a vigil recovery QR code");
                return ExitCode::from(2);
            };
            if challenge.expires_unix <= vigil::clock::unix_secs(std::time::SystemTime::now()) {
                eprintln!("vigil-camsim: that QR code has expired; show a new one");
                return ExitCode::from(1);
            }
            println!(
                "{}",
                codes::challenge_code(secret.bytes(), &challenge.nonce, challenge.expires_unix)
            );
        }
        (None, Some(serial)) => {
            let date = date.unwrap_or_else(today);
            println!("{}", codes::support_code(secret.bytes(), serial, &date));
        }
        (None, None) => {
            eprintln!("vigil-camsim: give --qr or --support");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

async fn run(args: RunArgs) -> ExitCode {
    if args.lockout_threshold == 0 {
        eprintln!("vigil-camsim: --lockout-threshold must be at least 1");
        return ExitCode::from(2);
    }
    if !vigil::mail::is_email_address(&args.reset_email) {
        eprintln!(
            "vigil-camsim: --reset-email: '{}' is not an email address",
            args.reset_email
        );
        return ExitCode::from(2);
    }
    let smtp = match args.smtp.as_deref().map(|s| smtp_settings(s, &args)) {
        None => None,
        Some(Ok(settings)) => Some(settings),
        Some(Err(problem)) => {
            eprintln!("vigil-camsim: --smtp: {problem}");
            return ExitCode::from(2);
        }
    };
    let config = SimConfig {
        count: args.count,
        bind: args.bind,
        base_port: args.base_port,
        address_per_camera: args.address_per_camera,
        wsd_port: args.wsd_port,
        multicast: args.multicast,
        announce_to: args.announce_to,
        max_reply_delay: Duration::from_millis(args.max_delay_ms),
        admin_user: args.user,
        admin_password: args
            .password
            .unwrap_or_else(|| SimConfig::default().admin_password),
        inactive: args.inactive,
        clock_offset_secs: args.clock_offset,
        policy: CameraPolicy {
            lockout_threshold: args.lockout_threshold,
            lockout_duration: Duration::from_secs(args.lockout_secs),
            anonymous_device_info: !args.no_anonymous_info,
            anonymous_clock: !args.clock_needs_auth,
            dialect: Dialect::parse(&args.dialect).unwrap_or_default(),
            ..CameraPolicy::default()
        },
        seed: args.seed,
        shared_mac: args.shared_mac.clone(),
        reset_email: (!args.no_reset_email).then(|| args.reset_email.clone()),
        internet: !args.no_internet,
        smtp,
        mail_sender: None,
        persona: args.persona,
        sadp_port: args.sadp_port,
        dhip_port: args.dhip_port,
    };
    let simulator = match Simulator::start(config).await {
        Ok(s) => Arc::new(s),
        Err(error) => {
            eprintln!("vigil-camsim: {error}");
            return ExitCode::from(2);
        }
    };
    for camera in simulator.summaries() {
        println!(
            "camera {} serial={} device_service={} discovery={}{}",
            camera.index,
            camera.serial,
            camera.device_service,
            camera.discovery_addr,
            if camera.inactive { " inactive" } else { "" }
        );
    }
    if let Some(path) = args.control.clone() {
        let sim = simulator.clone();
        tokio::spawn(async move {
            if let Err(error) = control::serve(sim, &path).await {
                eprintln!("vigil-camsim: control socket {}: {error}", path.display());
            }
        });
    }
    println!("ready cameras={}", simulator.cameras().len());
    wait_for_signal().await;
    simulator.shutdown().await;
    ExitCode::SUCCESS
}

fn smtp_settings(server: &str, args: &RunArgs) -> Result<vigil::mail::SmtpSettings, String> {
    let (host, port) = server
        .rsplit_once(':')
        .ok_or_else(|| format!("'{server}' is not HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("'{port}' is not a port"))?;
    if !vigil::mail::is_email_address(&args.mail_from) {
        return Err(format!(
            "--mail-from '{}' is not an email address",
            args.mail_from
        ));
    }
    Ok(vigil::mail::SmtpSettings {
        host: host.trim_matches(|c| c == '[' || c == ']').to_owned(),
        port,
        // clap admits only the three names.
        security: vigil::mail::SmtpSecurity::parse(&args.smtp_security)
            .unwrap_or(vigil::mail::SmtpSecurity::None),
        username: args.smtp_user.clone(),
        password: std::env::var("VIGIL_CAMSIM_SMTP_PASSWORD")
            .ok()
            .map(secrecy::SecretString::from),
        from: args.mail_from.clone(),
        timeout: Duration::from_secs(10),
        trusted_certificate: None,
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn ctl(path: PathBuf, action: CtlAction) -> ExitCode {
    let request = match action {
        CtlAction::List => ControlRequest::List,
        CtlAction::Offline { camera } => ControlRequest::SetOnline {
            camera,
            online: false,
        },
        CtlAction::Online { camera } => ControlRequest::SetOnline {
            camera,
            online: true,
        },
        CtlAction::SetPassword {
            camera,
            user,
            password,
        } => {
            let Some(password) =
                password.or_else(|| std::env::var("VIGIL_CAMSIM_NEW_PASSWORD").ok())
            else {
                eprintln!("vigil-camsim: give the new password or set VIGIL_CAMSIM_NEW_PASSWORD");
                return ExitCode::from(2);
            };
            ControlRequest::SetPassword {
                camera,
                user,
                password,
            }
        }
        CtlAction::FactoryReset { camera } => ControlRequest::FactoryReset { camera },
        CtlAction::ClockOffset { camera, seconds } => {
            ControlRequest::SetClockOffset { camera, seconds }
        }
        CtlAction::Stats { camera } => ControlRequest::Stats { camera },
        CtlAction::Internet { camera, state } => ControlRequest::SetInternet {
            camera,
            internet: state == "on",
        },
        CtlAction::Reboot { camera } => ControlRequest::Reboot { camera },
        CtlAction::ResetEmail { camera, email } => ControlRequest::SetResetEmail { camera, email },
        CtlAction::Dialect { camera, dialect } => ControlRequest::SetDialect { camera, dialect },
    };
    send(path, request).await
}

async fn send(path: PathBuf, request: ControlRequest) -> ExitCode {
    match control::request(&path, &request).await {
        Ok(ControlReply::Error { message }) => {
            eprintln!("vigil-camsim: {message}");
            ExitCode::from(1)
        }
        Ok(ControlReply::Text { text }) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(reply) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&reply).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("vigil-camsim: control socket {}: {error}", path.display());
            ExitCode::from(1)
        }
    }
}
