//! vigild's logs: to the journal with structured fields under systemd (`VIGIL_*`), to stderr otherwise;
//! the filter from the command line, `RUST_LOG` or the file, changeable on a reload. oxvif's trace
//! output is always dropped, because it holds whole SOAP bodies and some carry passwords.

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::systemd;

/// `RUST_LOG`, when set to something.
pub fn rust_log() -> Option<String> {
    std::env::var("RUST_LOG")
        .ok()
        .filter(|from_env| !from_env.trim().is_empty())
}

pub type FilterHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Logs with structured fields: to the journal when stderr is the journal (vigild runs under systemd),
/// to stderr otherwise. oxvif logs whole SOAP bodies at trace level, and some of those carry
/// passwords (CreateUsers, SetUser), so its trace output is always dropped. Returns the handle that
/// changes the filter on a reload.
pub fn init_logging(filter: &str) -> Result<FilterHandle, String> {
    let env_filter =
        tracing_subscriber::EnvFilter::try_new(rust_log().as_deref().unwrap_or(filter))
            .map_err(|e| format!("'{filter}' is not a log filter: {e}"))?;
    let (env_filter, handle) = tracing_subscriber::reload::Layer::new(env_filter);
    let no_soap_bodies = tracing_subscriber::filter::filter_fn(|metadata| {
        !(metadata.target().starts_with("oxvif") && *metadata.level() == tracing::Level::TRACE)
    });
    let journal = if systemd::stderr_is_journal() {
        match tracing_journald::layer() {
            // Fields named as in the code, under one prefix: VIGIL_CAMERA, VIGIL_ERROR, ...
            Ok(journal) => Some(
                journal
                    .with_field_prefix(Some("VIGIL".into()))
                    .with_syslog_identifier("vigild".into())
                    // Syslog's meaning, so `journalctl -p info` shows info and above.
                    .with_priority_mappings(tracing_journald::PriorityMappings {
                        info: tracing_journald::Priority::Informational,
                        debug: tracing_journald::Priority::Debug,
                        ..tracing_journald::PriorityMappings::new()
                    }),
            ),
            Err(error) => {
                eprintln!("vigild: cannot log to the journal ({error}); logging to stderr");
                None
            }
        }
    } else {
        None
    };
    let output = match journal {
        Some(journal) => journal.with_filter(no_soap_bodies).boxed(),
        None => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(no_soap_bodies)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(env_filter)
        .with(output)
        .try_init()
        .map_err(|e| e.to_string())?;
    Ok(handle)
}
