//! Which D-Bus bus vigild serves on: the system bus on a recorder, the session bus in development, an
//! address in tests. Read from the configuration and the command line; the D-Bus face connects to it.

/// Which bus to serve on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusChoice {
    /// The system bus (production).
    System,
    /// The session bus (development).
    Session,
    /// A bus at this address (tests).
    Address(String),
}

/// Reads `system`, `session`, `none` or a D-Bus address.
pub fn parse_bus(text: &str) -> Result<Option<BusChoice>, String> {
    Ok(match text.trim() {
        "system" => Some(BusChoice::System),
        "session" => Some(BusChoice::Session),
        "none" => None,
        address if address.contains(':') && zbus::Address::try_from(address).is_ok() => {
            Some(BusChoice::Address(address.to_owned()))
        }
        other => {
            return Err(format!(
                "'{other}' is not system, session, none or a D-Bus address such as unix:path=/run/x"
            ));
        }
    })
}
