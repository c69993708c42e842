//! What the crash torture knows, and the checks of a state directory after a kill against it. For
//! every simulated camera, the recorder's account and its mail server, the ledger holds what the
//! registry held after the last acknowledged operation, and what an operation sent but not answered
//! before the kill may have left instead. An acknowledged change must be there; an unanswered one
//! wholly there or wholly absent; nothing else may appear. Forget-password flows are followed by id
//! and step. Failures are counted and told on stderr, never with a secret.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use secrecy::ExposeSecret;
use vigil::model::{AuditAction, RecoveryStep};
use vigil::sim::Simulator;
use vigil::store::{Inspection, StoredCamera};

/// A camera's record as the torture expects to find it.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) username: String,
    pub(super) password: String,
    /// Its name, when the torture knows it.
    pub(super) name: Option<String>,
    /// Its channel, when the torture knows it.
    pub(super) channel: Option<u16>,
}

impl Record {
    /// A camera just added: no name yet, on a channel the registry picks.
    pub(super) fn added(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
            name: Some(String::new()),
            channel: None,
        }
    }

    fn of(stored: &StoredCamera) -> Option<Self> {
        let credentials = stored.credentials.as_ref()?;
        Some(Self {
            username: credentials.username.clone(),
            password: credentials.password.expose_secret().to_owned(),
            name: Some(stored.camera.name.clone()),
            channel: stored.camera.channel,
        })
    }

    fn admits(&self, stored: &StoredCamera) -> bool {
        Record::of(stored).is_some_and(|found| {
            found.username == self.username
                && found.password == self.password
                && self
                    .name
                    .as_ref()
                    .is_none_or(|n| Some(n) == found.name.as_ref())
                && self.channel.is_none_or(|c| Some(c) == found.channel)
        })
    }
}

/// The recorder's mail server as the torture set it.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct MailRecord {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) username: String,
    pub(super) password: String,
}

/// The recorder's account as the torture expects to find it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct AccountState {
    pub(super) activated: bool,
    pub(super) failed: u32,
    pub(super) locked: bool,
    pub(super) totp: bool,
}

/// One thing in the registry: as acknowledged, and what unanswered operations may have left.
#[derive(Clone, Default)]
pub(super) struct Known<T> {
    pub(super) acked: T,
    pub(super) pending: Vec<T>,
}

impl<T: Clone + PartialEq> Known<T> {
    /// An operation is sent that would leave `outcome`.
    pub(super) fn begin(&mut self, outcome: T) {
        self.pending.push(outcome);
    }

    /// The operation was answered: the registry holds `outcome`.
    pub(super) fn ack(&mut self, outcome: T) {
        self.acked = outcome;
        self.pending.clear();
    }

    /// No operation on it is unanswered.
    pub(super) fn settled(&self) -> bool {
        self.pending.is_empty()
    }

    fn admits(&self, found: &T) -> bool {
        self.acked == *found || self.pending.contains(found)
    }
}

/// A forget-password flow the torture follows.
#[derive(Clone, Debug)]
pub(super) struct FlowKnown {
    pub(super) id: i64,
    pub(super) step: RecoveryStep,
    /// A step was sent and not answered: the flow may have moved on.
    pub(super) moving: bool,
}

/// The torture's counts.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) acknowledged: u64,
    pub(super) refused: u64,
    pub(super) checks: u64,
    pub(super) integrity_failures: u64,
    pub(super) lost: u64,
    pub(super) half_written: u64,
    pub(super) undecryptable: u64,
    pub(super) stale_credentials: u64,
    pub(super) audit_failures: u64,
    pub(super) audit_missing: u64,
    pub(super) restarts: u64,
    pub(super) restart_failures: u64,
    pub(super) restart_mismatches: u64,
    pub(super) recoveries_resumed: u64,
    pub(super) recoveries_finished_on_restart: u64,
    pub(super) recoveries_expired: u64,
    pub(super) recovery_failures: u64,
    pub(super) unexpected_exits: u64,
    pub(super) model_mismatches: u64,
    pub(super) password_changes_interrupted: u64,
    pub(super) password_changes_finished: u64,
}

impl Tally {
    /// Every check that failed.
    pub(super) fn failures(&self) -> u64 {
        self.integrity_failures
            + self.lost
            + self.half_written
            + self.undecryptable
            + self.stale_credentials
            + self.audit_failures
            + self.audit_missing
            + self.restart_failures
            + self.restart_mismatches
            + self.recovery_failures
            + self.unexpected_exits
    }

    /// Counts a check, and a failure of `counter` with `why` told when it failed.
    pub(super) fn check(&mut self, holds: bool, counter: fn(&mut Tally) -> &mut u64, why: &str) {
        self.checks += 1;
        if !holds {
            *counter(self) += 1;
            eprintln!("torture: FAILED: {why}");
        }
    }
}

/// Everything the torture knows.
#[derive(Default)]
pub(super) struct Ledger {
    /// By simulator index.
    pub(super) cameras: BTreeMap<usize, Known<Option<Record>>>,
    /// Object paths of added cameras, by simulator index.
    pub(super) paths: BTreeMap<usize, zbus::OwnedObjectPath>,
    pub(super) account: Known<AccountState>,
    pub(super) mail: Known<Option<MailRecord>>,
    /// Flows going, by the simulator index of their camera.
    pub(super) flows: BTreeMap<usize, FlowKnown>,
    /// Cameras a StartRecovery was sent for and not answered.
    pub(super) flows_starting: BTreeSet<usize>,
    /// Audit entries at the last settling: the chain only grows.
    pub(super) audit_len: usize,
    /// Operations sent and not answered.
    pub(super) in_flight: u32,
}

fn step_rank(step: RecoveryStep) -> u8 {
    match step {
        RecoveryStep::AwaitingCode => 0,
        RecoveryStep::CodeVerified => 1,
        RecoveryStep::Resetting => 2,
        _ => 3,
    }
}

impl Ledger {
    /// A ledger for `count` cameras, none added, nothing set.
    pub(super) fn new(count: usize) -> Self {
        Self {
            cameras: (0..count).map(|i| (i, Known::default())).collect(),
            ..Self::default()
        }
    }

    /// The camera at simulator `index`.
    pub(super) fn camera(&mut self, index: usize) -> &mut Known<Option<Record>> {
        self.cameras.entry(index).or_default()
    }

    /// Checks a state directory inspected after a kill against the ledger.
    pub(super) fn check(&self, found: &Inspection, sim: &Simulator, tally: &mut Tally) {
        tally.check(
            found.integrity.is_ok(),
            |t| &mut t.integrity_failures,
            &format!("integrity check: {:?}", found.integrity),
        );
        tally.check(
            found.audit.is_ok(),
            |t| &mut t.audit_failures,
            &format!("audit chain: {:?}", found.audit),
        );
        let length = found.audit.as_ref().copied().unwrap_or(0);
        tally.check(
            length >= self.audit_len,
            |t| &mut t.audit_failures,
            &format!(
                "audit log shrank from {} to {length} entries",
                self.audit_len
            ),
        );
        tally.checks += found.sealed_values as u64;
        for what in &found.undecryptable {
            tally.undecryptable += 1;
            eprintln!("torture: FAILED: {what} does not decrypt");
        }
        for (index, known) in &self.cameras {
            self.check_camera(*index, known, found, sim, tally);
        }
        for stored in &found.cameras {
            tally.check(
                sim.camera_by_serial(&stored.camera.identity.serial)
                    .is_some(),
                |t| &mut t.half_written,
                &format!(
                    "camera {} in the registry is none of the simulated cameras",
                    stored.camera.id
                ),
            );
        }
        self.check_account(found, tally);
        self.check_flows(found, sim, tally);
    }

    fn check_camera(
        &self,
        index: usize,
        known: &Known<Option<Record>>,
        found: &Inspection,
        sim: &Simulator,
        tally: &mut Tally,
    ) {
        let camera = &sim.cameras()[index];
        let serial = &camera.identity().serial;
        let stored = found
            .cameras
            .iter()
            .find(|c| &c.camera.identity.serial == serial);
        let admitted = |outcome: &Option<Record>| match (outcome, stored) {
            (None, None) => true,
            (Some(record), Some(stored)) => record.admits(stored),
            _ => false,
        };
        let holds = admitted(&known.acked) || known.pending.iter().any(admitted);
        let why = match (&known.acked, stored) {
            (Some(_), None) => "acknowledged as added, and gone",
            (None, Some(_)) if known.pending.is_empty() => "stored, and never added",
            _ if !known.pending.is_empty() => "stored as neither before nor after the operation",
            _ => "stored otherwise than acknowledged",
        };
        let counter: fn(&mut Tally) -> &mut u64 =
            if known.acked.is_some() && (stored.is_none() || known.pending.is_empty()) {
                |t| &mut t.lost
            } else {
                |t| &mut t.half_written
            };
        tally.check(holds, counter, &format!("camera {serial}: {why}"));
        let Some(stored) = stored else { return };
        let whole = stored.camera.identity.model == camera.identity().model
            && stored.camera.address.host == camera.identity().http_addr.ip().to_string()
            && stored.camera.channel.is_some()
            && !stored.camera.username.is_empty();
        tally.check(
            whole,
            |t| &mut t.half_written,
            &format!("camera {serial}: its record is incomplete"),
        );
        if let Some(credentials) = &stored.credentials {
            // The camera has the stored password, or the new one recorded on its way to it (which
            // the next start finishes; checked after the restart).
            let user = &credentials.username;
            let on_its_way = stored
                .pending_password
                .as_ref()
                .is_some_and(|p| camera.password_is(user, p.expose_secret()));
            tally.check(
                camera.password_is(user, credentials.password.expose_secret()) || on_its_way,
                |t| &mut t.stale_credentials,
                &format!(
                    "camera {serial}: the camera has neither the stored password nor the one on its way"
                ),
            );
        }
        let added = found.audit_entries.iter().any(|e| {
            matches!(
                e.action,
                AuditAction::CameraAdded | AuditAction::Reset | AuditAction::Activation
            ) && e.camera.contains(serial.as_str())
        });
        tally.check(
            added,
            |t| &mut t.audit_missing,
            &format!("camera {serial}: stored without an audit entry of its addition"),
        );
    }

    fn check_account(&self, found: &Inspection, tally: &mut Tally) {
        let account = observed_account(found);
        tally.check(
            self.account.admits(&account),
            if self.account.pending.is_empty() {
                |t: &mut Tally| &mut t.lost
            } else {
                |t: &mut Tally| &mut t.half_written
            },
            &format!(
                "account: stored {account:?}, acknowledged {:?}, unanswered {:?}",
                self.account.acked, self.account.pending
            ),
        );
        let mail = found.mail_server.as_ref().map(|m| MailRecord {
            host: m.host.clone(),
            port: m.port,
            username: m.username.clone().unwrap_or_default(),
            password: m
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default(),
        });
        tally.check(
            self.mail.admits(&mail),
            if self.mail.pending.is_empty() {
                |t: &mut Tally| &mut t.lost
            } else {
                |t: &mut Tally| &mut t.half_written
            },
            &format!(
                "mail server: stored {}, which is neither acknowledged nor the unanswered change",
                mail.as_ref()
                    .map_or("none".to_owned(), |m| format!("{}:{}", m.host, m.port))
            ),
        );
        // Each account change has its audit entry.
        let newest = |actions: &[AuditAction]| {
            found
                .audit_entries
                .iter()
                .find(|e| actions.contains(&e.action))
                .map(|e| e.action)
        };
        if account.activated {
            tally.check(
                newest(&[AuditAction::NvrActivation]).is_some(),
                |t| &mut t.audit_missing,
                "account: activated without its audit entry",
            );
        }
        let totp = newest(&[AuditAction::NvrTotpOn, AuditAction::NvrTotpOff]);
        tally.check(
            (totp == Some(AuditAction::NvrTotpOn)) == account.totp,
            |t| &mut t.audit_missing,
            &format!(
                "account: two-factor login is {}, and the newest audit entry of it is {totp:?}",
                if account.totp { "on" } else { "off" }
            ),
        );
        if let Some(mail) = &mail {
            let newest_change = found
                .audit_entries
                .iter()
                .find(|e| e.action == AuditAction::MailServerChanged);
            tally.check(
                newest_change.is_some_and(|e| {
                    e.outcome
                        .starts_with(&format!("{}:{} ", mail.host, mail.port))
                }),
                |t| &mut t.audit_missing,
                &format!(
                    "mail server: {}:{} stored, and the newest audit entry of a change is {:?}",
                    mail.host,
                    mail.port,
                    newest_change.map(|e| &e.outcome)
                ),
            );
        }
        if account.locked {
            tally.check(
                newest(&[AuditAction::NvrLocked, AuditAction::NvrLockoutCleared])
                    == Some(AuditAction::NvrLocked),
                |t| &mut t.audit_missing,
                "account: locked without its audit entry",
            );
        }
    }

    fn check_flows(&self, found: &Inspection, sim: &Simulator, tally: &mut Tally) {
        for stored in &found.active_recoveries {
            let flow = &stored.flow;
            let secrets_whole = match flow.step {
                RecoveryStep::CodeVerified => stored.reset_token.is_some(),
                RecoveryStep::Resetting => stored.new_password.is_some(),
                _ => true,
            };
            tally.check(
                secrets_whole,
                |t| &mut t.half_written,
                &format!(
                    "password reset {}: {} without its sealed secret",
                    flow.id,
                    flow.step.as_str()
                ),
            );
            let index = sim
                .cameras()
                .iter()
                .position(|c| c.identity().serial == flow.identity.serial);
            let known = index.and_then(|i| self.flows.get(&i));
            let accounted = match known {
                Some(known) if known.id == flow.id.0 => {
                    step_rank(flow.step) == step_rank(known.step)
                        || (known.moving && step_rank(flow.step) > step_rank(known.step))
                }
                _ => index.is_some_and(|i| self.flows_starting.contains(&i)),
            };
            tally.check(
                accounted,
                |t| &mut t.half_written,
                &format!(
                    "password reset {} is {}, which no operation accounts for",
                    flow.id,
                    flow.step.as_str()
                ),
            );
        }
        for (index, known) in &self.flows {
            let still = found
                .active_recoveries
                .iter()
                .any(|s| s.flow.id.0 == known.id);
            tally.check(
                still || known.moving,
                |t| &mut t.lost,
                &format!(
                    "password reset {} of camera {index} ended while nothing was sent to it",
                    known.id
                ),
            );
        }
    }

    /// Takes what a state directory holds as acknowledged: after the checks, the torture goes on from
    /// what is there.
    pub(super) fn settle(&mut self, found: &Inspection, sim: &Simulator) {
        self.paths.clear();
        for (index, camera) in sim.cameras().iter().enumerate() {
            let stored = found
                .cameras
                .iter()
                .find(|c| c.camera.identity.serial == camera.identity().serial);
            self.camera(index).ack(stored.and_then(Record::of));
            if let Some(stored) = stored {
                self.paths
                    .insert(index, vigil::dbus::camera_path(stored.camera.id));
            }
        }
        self.account.ack(observed_account(found));
        self.mail.ack(found.mail_server.as_ref().map(|m| {
            MailRecord {
                host: m.host.clone(),
                port: m.port,
                username: m.username.clone().unwrap_or_default(),
                password: m
                    .password
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned())
                    .unwrap_or_default(),
            }
        }));
        self.flows.clear();
        self.flows_starting.clear();
        for stored in &found.active_recoveries {
            if let Some(index) = sim
                .cameras()
                .iter()
                .position(|c| c.identity().serial == stored.flow.identity.serial)
            {
                self.flows.insert(
                    index,
                    FlowKnown {
                        id: stored.flow.id.0,
                        step: stored.flow.step,
                        moving: false,
                    },
                );
            }
        }
        self.audit_len = found.audit.as_ref().copied().unwrap_or(self.audit_len);
        self.in_flight = 0;
    }
}

/// The account as a state directory holds it, its lock read against the clock now.
fn observed_account(found: &Inspection) -> AccountState {
    found
        .account
        .as_ref()
        .map_or(AccountState::default(), |a| AccountState {
            activated: true,
            failed: a.failed_logins,
            locked: a
                .locked_until
                .is_some_and(|until| until > SystemTime::now()),
            totp: a.totp_enabled,
        })
}
