//! A simulated camera's recovery state, apart from the camera: its reset email and internet access,
//! the live challenge and its code, the sends and challenges in their windows, the reset token, and
//! what it has counted. The camera holds one; the recovery operations (`super`) change it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use crate::mail::MailSender;

/// The recovery half of a camera's state.
pub struct RecoveryState {
    /// Shared with the vendor at manufacturing; unique to this camera.
    pub(in crate::sim) device_secret: [u8; 32],
    pub(in crate::sim) reset_email: Option<String>,
    pub(in crate::sim) internet: bool,
    pub(in crate::sim) challenge: Option<Challenge>,
    pub(in crate::sim) challenges_issued: VecDeque<SystemTime>,
    pub(in crate::sim) sends: VecDeque<SystemTime>,
    pub(in crate::sim) token: Option<ResetToken>,
    pub(in crate::sim) support_used: HashSet<String>,
    pub(in crate::sim) support_wrong: HashMap<String, u32>,
    pub(in crate::sim) stats: RecoveryStats,
}

pub(in crate::sim) struct Challenge {
    pub(in crate::sim) nonce: [u8; 16],
    pub(in crate::sim) expires: SystemTime,
    pub(in crate::sim) wrong: u32,
    pub(in crate::sim) used: bool,
}

pub(in crate::sim) struct ResetToken {
    pub(in crate::sim) value: String,
    pub(in crate::sim) expires: SystemTime,
}

/// What a camera's recovery side has seen.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecoveryStats {
    /// Challenges issued.
    pub challenges: u64,
    /// Codes the camera emailed itself (SendCode).
    pub codes_sent: u64,
    /// Wrong codes and support codes entered.
    pub wrong_codes: u64,
    /// Passwords reset with a token.
    pub resets: u64,
    /// Activations.
    pub activations: u64,
}

impl RecoveryState {
    /// A fresh state with a random device secret.
    pub fn new(reset_email: Option<String>, internet: bool) -> Self {
        Self {
            device_secret: rand::random(),
            reset_email,
            internet,
            challenge: None,
            challenges_issued: VecDeque::new(),
            sends: VecDeque::new(),
            token: None,
            support_used: HashSet::new(),
            support_wrong: HashMap::new(),
            stats: RecoveryStats::default(),
        }
    }

    /// Forgets challenge and token, as a reboot does.
    pub fn void(&mut self) {
        self.challenge = None;
        self.token = None;
    }

    /// Forgets the reset email, as a factory reset does.
    pub fn clear_reset_email(&mut self) {
        self.reset_email = None;
    }
}

/// A shared mail sender, or none.
pub type SharedMailSender = Option<Arc<dyn MailSender>>;
