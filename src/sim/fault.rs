//! ONVIF SOAP faults the simulated cameras send, with the codes, subcodes and HTTP statuses real
//! devices use, and the one extension fault for a locked account.

use std::fmt;
use std::time::Duration;

/// The SOAP 1.2 fault code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// The request was at fault.
    Sender,
    /// The device was at fault.
    Receiver,
}

/// What a refusal of the caller's identity is about; the camera's [`crate::sim::dialect::Dialect`]
/// decides how it is worded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials where some are needed.
    CredentialsRequired,
    /// Credentials that do not match a user; how many tries are left before the lock, when known.
    CredentialsWrong {
        /// Failed logins left before the user locks.
        attempts_left: Option<u32>,
    },
    /// The user is locked for this long.
    Locked(Duration),
    /// A UsernameToken whose `Created` is too far from the camera's clock.
    StaleToken,
}

/// How the fault goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    /// A SOAP 1.2 envelope (ONVIF's).
    #[default]
    Soap12,
    /// A SOAP 1.1 envelope with `faultcode` and `faultstring`.
    Soap11,
    /// No body at all.
    Empty,
}

/// A SOAP fault, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `env:Sender` or `env:Receiver`.
    pub code: FaultCode,
    /// Nested subcodes, outermost first, as prefixed QNames (`ter:` or `vgl:`).
    pub subcodes: Vec<&'static str>,
    /// The human reason.
    pub reason: String,
    /// Elements for `<env:Detail>`: prefixed name and text.
    pub detail: Vec<(&'static str, String)>,
    /// The HTTP status to send it with.
    pub http_status: u16,
    /// Whether a 401 carries an HTTP Digest challenge.
    pub challenge: bool,
    /// Whether a 401 carries an HTTP Basic challenge (gSOAP's) instead.
    pub basic_challenge: bool,
    /// An HTML page sent instead of an empty body (some cameras' 401).
    pub html: Option<&'static str>,
    /// How the fault is wrapped.
    pub envelope: Envelope,
    /// The refusal it stands for, when it refuses the caller's identity.
    pub refusal: Option<Refusal>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.code)?;
        for sub in &self.subcodes {
            write!(f, "/{sub}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl Fault {
    fn sender(subcodes: Vec<&'static str>, reason: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Sender,
            subcodes,
            reason: reason.into(),
            detail: Vec::new(),
            http_status: 400,
            challenge: false,
            basic_challenge: false,
            html: None,
            envelope: Envelope::Soap12,
            refusal: None,
        }
    }

    /// A fault of the vigil recovery extension: `env:Sender` with the given `vrc:` subcode.
    pub fn recovery(subcode: &'static str, reason: impl Into<String>) -> Self {
        Self::sender(vec![subcode], reason)
    }

    /// Adds a detail element.
    pub fn with_detail(mut self, element: &'static str, text: impl Into<String>) -> Self {
        self.detail.push((element, text.into()));
        self
    }

    /// `ter:NotAuthorized`: an authenticated user whose level does not allow the operation.
    pub fn not_authorized(reason: &str) -> Self {
        Self::sender(vec!["ter:NotAuthorized"], reason)
    }

    /// Credentials that do not match: `ter:NotAuthorized` in ONVIF's own words.
    pub fn credentials_wrong(reason: &str) -> Self {
        Self {
            refusal: Some(Refusal::CredentialsWrong {
                attempts_left: None,
            }),
            ..Self::not_authorized(reason)
        }
    }

    /// Notes how many failed logins are left before the lock (some dialects say it).
    pub fn with_attempts_left(mut self, left: u32) -> Self {
        if let Some(Refusal::CredentialsWrong { attempts_left }) = &mut self.refusal {
            *attempts_left = Some(left);
        }
        self
    }

    /// A UsernameToken too far from the camera's clock: `ter:NotAuthorized` in ONVIF's own words.
    pub fn stale_token(reason: &str) -> Self {
        Self {
            refusal: Some(Refusal::StaleToken),
            ..Self::not_authorized(reason)
        }
    }

    /// No credentials where some are needed: HTTP 401 with a Digest challenge, and the same fault in
    /// the body for clients that read it.
    pub fn http_unauthorized(reason: &str) -> Self {
        Self {
            http_status: 401,
            challenge: true,
            refusal: Some(Refusal::CredentialsRequired),
            ..Self::not_authorized(reason)
        }
    }

    /// HTTP Digest credentials that do not match: a 401 with a new challenge.
    pub fn http_digest_wrong(reason: &str) -> Self {
        Self {
            refusal: Some(Refusal::CredentialsWrong {
                attempts_left: None,
            }),
            ..Self::http_unauthorized(reason)
        }
    }

    /// The user is locked after repeated failed logins. `ter:NotAuthorized` for standard tooling,
    /// refined by `vgl:AccountLocked`, with the time left in the detail.
    pub fn locked(retry_after: Duration) -> Self {
        let secs = retry_after.as_secs().max(1);
        Self {
            detail: vec![("vgl:AccountLocked", format!("locked; retry after {secs} s"))],
            refusal: Some(Refusal::Locked(retry_after)),
            ..Self::sender(
                vec!["ter:NotAuthorized", "vgl:AccountLocked"],
                format!("Account locked after repeated failed logins; retry after {secs} s"),
            )
        }
    }

    /// Whether this is the locked-account fault, in any dialect.
    pub fn is_locked(&self) -> bool {
        matches!(self.refusal, Some(Refusal::Locked(_)))
    }

    /// A bare HTTP 503 with no body, as a camera that is starting up answers.
    pub fn unavailable() -> Self {
        Self {
            code: FaultCode::Receiver,
            http_status: 503,
            envelope: Envelope::Empty,
            ..Self::sender(Vec::new(), "")
        }
    }

    /// `ter:InvalidArgVal`.
    pub fn invalid_arg(reason: &str) -> Self {
        Self::sender(vec!["ter:InvalidArgVal"], reason)
    }

    /// The request XML could not be read.
    pub fn well_formed(reason: &str) -> Self {
        Self::sender(vec!["ter:WellFormed"], reason)
    }

    /// `ter:UsernameClash`.
    pub fn username_clash(name: &str) -> Self {
        Self::sender(
            vec!["ter:OperationProhibited", "ter:UsernameClash"],
            format!("A user named '{name}' already exists"),
        )
    }

    /// `ter:UsernameMissing`.
    pub fn username_missing(name: &str) -> Self {
        Self::sender(
            vec!["ter:InvalidArgVal", "ter:UsernameMissing"],
            format!("No user named '{name}'"),
        )
    }

    /// `ter:UsernameTooLong`.
    pub fn username_too_long() -> Self {
        Self::sender(
            vec!["ter:OperationProhibited", "ter:UsernameTooLong"],
            "The user name is too long",
        )
    }

    /// `ter:PasswordTooLong`.
    pub fn password_too_long() -> Self {
        Self::sender(
            vec!["ter:OperationProhibited", "ter:PasswordTooLong"],
            "The password is too long",
        )
    }

    /// `ter:PasswordTooWeak`.
    pub fn password_too_weak() -> Self {
        Self::sender(
            vec!["ter:OperationProhibited", "ter:PasswordTooWeak"],
            "The password is too weak: at least 8 characters",
        )
    }

    /// `ter:TooManyUsers`.
    pub fn too_many_users() -> Self {
        Self::sender(
            vec!["ter:Action", "ter:TooManyUsers"],
            "The camera holds no more users",
        )
    }

    /// `ter:FixedUser`.
    pub fn fixed_user(reason: &str) -> Self {
        Self::sender(vec!["ter:InvalidArgVal", "ter:FixedUser"], reason)
    }

    /// `ter:ActionNotSupported`.
    pub fn action_not_supported(operation: &str) -> Self {
        Self {
            code: FaultCode::Receiver,
            subcodes: vec!["ter:ActionNotSupported"],
            reason: format!("The operation '{operation}' is not supported"),
            ..Self::sender(Vec::new(), "")
        }
    }
}
