//! Why an added camera stands where it does: a reason kind the faces translate, and the words behind
//! it (the camera's own, or the transport's), never a sentence in one language. The English sentence
//! for D-Bus, vigilctl and the log is rendered here, from the kind.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the last check of a camera found wrong, as a kind the menu translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReasonKind {
    /// The camera rejected the stored user name or password; they are held.
    CredentialsRejected,
    /// The stored password cannot be unsealed (the recorder's key file changed).
    PasswordUnreadable,
    /// The camera locked the user after failed logins; the recorder waits it out. Words: how many
    /// seconds the camera said the lock lasts, when it said.
    Locked,
    /// The camera locked the user again at the first try after a lock; the credentials are held.
    LockedAgain,
    /// The camera does not answer. Words: what the connection said.
    Offline,
    /// The camera answered with a server error or something passing; checked again shortly. Words:
    /// the status or the camera's text.
    ServerError,
    /// The camera refused the login's timestamp (its clock is off); the credentials are held. Words:
    /// the camera's.
    ClockRejected,
    /// Three checks in a row the camera answered the login unreadably; the credentials are held.
    /// Words: what could not be read.
    UnreadableReplies,
    /// The camera refused the credentials in words the recorder cannot classify; they are held.
    /// Words: the camera's.
    Refused,
    /// The camera took a new password but has not confirmed it yet.
    PasswordUnconfirmed,
    /// The camera is back in factory state (reset to factory defaults): it has no administrator, so
    /// the stored credentials cannot be checked; they are held until it is activated and edited.
    FactoryState,
    /// Another camera answers at the address (its serial number is not the added camera's): the
    /// credentials are held so they go to no other device. Words: the serial number it gave.
    AnotherCamera,
}

impl ReasonKind {
    /// Every kind, for tests and lookups.
    pub const ALL: [ReasonKind; 12] = [
        ReasonKind::CredentialsRejected,
        ReasonKind::PasswordUnreadable,
        ReasonKind::Locked,
        ReasonKind::LockedAgain,
        ReasonKind::Offline,
        ReasonKind::ServerError,
        ReasonKind::ClockRejected,
        ReasonKind::UnreadableReplies,
        ReasonKind::Refused,
        ReasonKind::PasswordUnconfirmed,
        ReasonKind::FactoryState,
        ReasonKind::AnotherCamera,
    ];

    /// The stable word stored in the registry and shown on D-Bus as `LastErrorKind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::CredentialsRejected => "credentials_rejected",
            ReasonKind::PasswordUnreadable => "password_unreadable",
            ReasonKind::Locked => "locked",
            ReasonKind::LockedAgain => "locked_again",
            ReasonKind::Offline => "offline",
            ReasonKind::ServerError => "server_error",
            ReasonKind::ClockRejected => "clock_rejected",
            ReasonKind::UnreadableReplies => "unreadable_replies",
            ReasonKind::Refused => "refused",
            ReasonKind::PasswordUnconfirmed => "password_unconfirmed",
            ReasonKind::FactoryState => "factory_state",
            ReasonKind::AnotherCamera => "another_camera",
        }
    }

    /// Reads [`ReasonKind::as_str`] back.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Why a camera is where it is: the kind, and the words behind it (empty when the kind says it all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReason {
    /// What went wrong.
    pub kind: ReasonKind,
    /// The camera's own words, or the connection's; untranslated, never a secret.
    pub words: String,
}

impl StatusReason {
    /// A reason the kind says all of.
    pub fn bare(kind: ReasonKind) -> Self {
        Self {
            kind,
            words: String::new(),
        }
    }

    /// A lock, with how long the camera said it lasts.
    pub fn locked(retry_after: Option<std::time::Duration>) -> Self {
        Self {
            kind: ReasonKind::Locked,
            words: retry_after.map_or_else(String::new, |d| d.as_secs().to_string()),
        }
    }

    /// A reason with the words behind it.
    pub fn with_words(kind: ReasonKind, words: impl Into<String>) -> Self {
        Self {
            kind,
            words: words.into(),
        }
    }
}

/// The English sentence, with the next step: what D-Bus's `LastError`, vigilctl and the log show.
impl fmt::Display for StatusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.words.as_str();
        match self.kind {
            ReasonKind::CredentialsRejected => f.write_str(
                "The camera rejected the stored user name or password. Edit the credentials, or use Forget Password in Discovered Devices.",
            ),
            ReasonKind::PasswordUnreadable => f.write_str(
                "The stored password cannot be read (the NVR's key file changed). Enter the credentials again.",
            ),
            ReasonKind::Locked => {
                f.write_str("The camera locked this user after failed logins")?;
                match words.parse::<u64>() {
                    Ok(secs) if secs >= 60 => {
                        write!(f, "; it unlocks in about {} min", secs.div_ceil(60))?
                    }
                    Ok(secs) => write!(f, "; it unlocks in about {} s", secs.max(1))?,
                    Err(_) => {}
                }
                f.write_str(". The NVR waits and will not retry the password until then.")
            }
            ReasonKind::LockedAgain => f.write_str(
                "The camera locked this user again at the first try after the lock ended. The NVR stopped using the password so the lock cannot go on; edit the credentials or use Forget Password.",
            ),
            ReasonKind::Offline => write!(
                f,
                "No answer from the camera ({words}). Check its power and network cable."
            ),
            ReasonKind::ServerError => write!(
                f,
                "The camera answered with a server error ({words}). The NVR checks again shortly."
            ),
            ReasonKind::ClockRejected => write!(
                f,
                "The camera refused the login because its clock is off ({words}). Set the camera's date and time or turn on NTP, then edit the credentials to try again. The NVR will not retry them until then."
            ),
            ReasonKind::UnreadableReplies => write!(
                f,
                "The camera answered the login with something the NVR cannot read, three checks in a row ({words}). The NVR stopped using the password to be safe; edit the credentials to try again."
            ),
            ReasonKind::Refused => write!(
                f,
                "The camera refused the stored credentials: \"{words}\". The NVR will not retry them until they are edited, so the camera cannot lock it out."
            ),
            ReasonKind::PasswordUnconfirmed => f.write_str(
                "The camera took the new password but did not confirm it yet. The NVR checks again shortly.",
            ),
            ReasonKind::FactoryState => f.write_str(
                "The camera is back in factory state (inactive), so the stored password cannot be checked. Activate it in Discovered Devices, then edit its credentials.",
            ),
            ReasonKind::AnotherCamera => write!(
                f,
                "Another camera (serial number {words}) answers at this address, so the NVR stopped sending it this camera's password. If the camera was replaced, remove it and add the new one; if it moved, edit its address."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_word() {
        for kind in ReasonKind::ALL {
            assert_eq!(ReasonKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ReasonKind::parse("The camera rejected"), None);
    }

    #[test]
    fn the_sentence_carries_the_cameras_words() {
        let clock = StatusReason::with_words(ReasonKind::ClockRejected, "Timestamp is stale");
        assert!(clock.to_string().contains("(Timestamp is stale)"));
        let locked = StatusReason::locked(Some(std::time::Duration::from_secs(1800)));
        assert!(
            locked.to_string().contains("unlocks in about 30 min"),
            "{locked}"
        );
        assert!(
            StatusReason::bare(ReasonKind::CredentialsRejected)
                .to_string()
                .starts_with("The camera rejected")
        );
    }
}
