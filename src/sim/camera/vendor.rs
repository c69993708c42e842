//! The vendor personas' own state on a simulated camera (the Hikvision persona's activation exchange,
//! its pending challenge and its SADP update lock; the Dahua persona's RPC sessions and set-up state); the protocols that use it are in `sim/hikvision`.

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

/// How many RPC sessions the Dahua persona keeps; the oldest go first.
const MAX_DAHUA_SESSIONS: usize = 256;

/// One RPC session of the Dahua persona.
#[derive(Debug, Clone)]
pub struct DahuaSession {
    /// The random string of its login challenge.
    pub random: String,
    /// The user it logged in as, once it has.
    pub user: Option<String>,
}

/// The Dahua persona's own state: its RPC sessions, whether the licence was agreed to in factory
/// state, and the code PasswdFind last accepted with the reset token it stands for.
#[derive(Debug, Default, Clone)]
pub struct DahuaState {
    sessions: std::collections::BTreeMap<u64, DahuaSession>,
    next: u64,
    /// `DevInit.setProtocolAgree` was called since the last factory reset.
    pub protocol_agreed: bool,
    /// The code `PasswdFind.checkAuthCode` accepted, and the recovery side's reset token it unlocked.
    pub verified_code: Option<(String, String)>,
}

impl DahuaState {
    /// A new session with a login challenge; its id and random string.
    pub fn challenge(&mut self) -> (u64, String) {
        self.next = self.next.wrapping_add(1).max(1);
        let id = 2_147_483_000 + self.next;
        let random = rand::random::<u32>().to_string();
        self.sessions.insert(
            id,
            DahuaSession {
                random: random.clone(),
                user: None,
            },
        );
        while self.sessions.len() > MAX_DAHUA_SESSIONS {
            self.sessions.pop_first();
        }
        (id, random)
    }

    /// A session by id.
    pub fn session(&self, id: u64) -> Option<&DahuaSession> {
        self.sessions.get(&id)
    }

    /// Marks a session logged in as `user`.
    pub fn logged_in(&mut self, id: u64, user: &str) {
        if let Some(session) = self.sessions.get_mut(&id) {
            session.user = Some(user.to_owned());
        }
    }

    /// Forgets every session, the licence agreement and an accepted code (a factory reset).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}
