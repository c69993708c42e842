//! The vendor personas' own state on a simulated camera (the Hikvision persona's activation exchange,
//! its pending challenge and its SADP update lock); the protocols that use it are in `sim/hikvision`.

use std::time::SystemTime;

/// The persona's own state.
#[derive(Debug, Default, Clone)]
pub struct HikvisionState {
    /// Whether it speaks the V3 activation exchange (`supportVersion` 3).
    pub v3: bool,
    /// The random string of the pending activation challenge, and when it was issued.
    pub pending_activation: Option<(String, SystemTime)>,
    /// Wrong SADP update passwords in a row.
    pub sadp_failures: u32,
    /// Until when SADP updates are refused after too many wrong passwords.
    pub sadp_locked_until: Option<SystemTime>,
}

impl HikvisionState {
    /// Back to factory state: no pending challenge, SADP updates unlocked; the exchange it speaks stays.
    pub fn factory_reset(&mut self) {
        *self = Self {
            v3: self.v3,
            ..Self::default()
        };
    }
}
