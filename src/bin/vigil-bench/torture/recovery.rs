//! Forget Password under the crash torture: flows started on discovered cameras, the code got (the
//! camera emails it over SMTP with Send Code, or the phone app's cloud does from the QR code), verified,
//! the new password set and the camera added again, then removed so it can be reset once more. After a
//! restart, every flow that was going is asked for over D-Bus: it goes on where it was, an interrupted
//! reset is finished, or it ended with a reason.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use rand::RngExt;
use vigil::dbus::proxy::RecoveryProxy;
use vigil::model::RecoveryStep;
use vigil::store::Inspection;
use zbus::OwnedObjectPath;
use zbus::proxy::CacheProperties;

use super::ledger::{FlowKnown, Record, Tally};
use super::rig::Rig;
use super::workloads::{MAX_OPERATIONS, Turn, manager, new_password};

/// Codes a simulated camera emails per ten minutes (its rate limit).
const SENDS_PER_TEN_MINUTES: usize = 3;

/// Flows a simulated camera starts per hour (its limit on new challenges).
const STARTS_PER_HOUR: usize = 10;

/// How long an interrupted reset may take to settle after a restart.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

async fn flow_proxy(conn: &zbus::Connection, id: i64) -> Result<RecoveryProxy<'static>, String> {
    let path = vigil::dbus::recovery_path(vigil::model::RecoveryId(id));
    RecoveryProxy::builder(conn)
        .path(path)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(|e| e.to_string())
}

/// The flow id at the end of a flow's object path.
fn flow_id(path: &OwnedObjectPath) -> Option<i64> {
    path.as_str().rsplit('/').next()?.parse().ok()
}

/// What each simulated camera was asked for lately, to stay inside its rate limits: codes emailed
/// (three per ten minutes) and challenges issued, one per flow started (ten an hour).
pub(super) struct Budget {
    sends: RateLimit,
    starts: RateLimit,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            sends: RateLimit::new(Duration::from_secs(600), SENDS_PER_TEN_MINUTES),
            starts: RateLimit::new(Duration::from_secs(3600), STARTS_PER_HOUR),
        }
    }
}

/// At most `most` of something per camera in any `window`.
struct RateLimit {
    window: Duration,
    most: usize,
    times: BTreeMap<usize, VecDeque<Instant>>,
}

impl RateLimit {
    fn new(window: Duration, most: usize) -> Self {
        Self {
            window,
            most,
            times: BTreeMap::new(),
        }
    }

    /// Whether camera `index` may be asked once more now.
    fn allows(&mut self, index: usize) -> bool {
        let times = self.times.entry(index).or_default();
        while times.front().is_some_and(|at| at.elapsed() > self.window) {
            times.pop_front();
        }
        times.len() < self.most
    }

    fn note(&mut self, index: usize) {
        self.times
            .entry(index)
            .or_default()
            .push_back(Instant::now());
    }
}

/// The installer's pause between two steps of a flow (reading the email, typing), at most.
const THINK_MS: u64 = 400;

impl Turn<'_> {
    /// Runs forget-password flows on the recovery cameras, one step at a time.
    pub(super) async fn recovery(&mut self, budget: &mut Budget) -> Result<(), String> {
        // Forget Password starts on discovered cameras: all of the pool, once a life.
        let pool: Vec<usize> = self.rig.pools.recovery.clone().collect();
        self.discover(&pool).await?;
        for _ in 0..MAX_OPERATIONS {
            let going = self
                .ledger
                .flows
                .iter()
                .find(|(_, f)| !f.moving && f.step != RecoveryStep::Resetting)
                .map(|(i, f)| (*i, f.clone()));
            if let Some((index, flow)) = going {
                let think = Duration::from_millis(self.rng.random_range(0..=THINK_MS));
                tokio::time::sleep(think).await;
                match flow.step {
                    RecoveryStep::AwaitingCode => self.code(index, &flow, budget).await?,
                    _ => self.new_password(index, &flow).await?,
                }
                continue;
            }
            let pool = self.rig.pools.recovery.clone();
            if let Some(added) = pool
                .clone()
                .find(|i| self.ledger.paths.contains_key(i) && self.ledger.camera(*i).settled())
            {
                self.remove(added).await?;
                continue;
            }
            let free: Vec<usize> = pool
                .filter(|i| {
                    let known = self.ledger.camera(*i).clone();
                    known.settled()
                        && known.acked.is_none()
                        && !self.ledger.flows.contains_key(i)
                        && !self.ledger.flows_starting.contains(i)
                        && !self.rig.sim.cameras()[*i].is_inactive()
                        && budget.starts.allows(*i)
                })
                .collect();
            if free.is_empty() {
                return Ok(());
            }
            let index = free[self.rng.random_range(0..free.len())];
            budget.starts.note(index);
            self.start_flow(index).await?;
        }
        Ok(())
    }

    async fn start_flow(&mut self, index: usize) -> Result<(), String> {
        let manager = manager(&self.rig.client).await?;
        let key = self.rig.sim.cameras()[index]
            .identity()
            .endpoint_ref
            .clone();
        self.ledger.flows_starting.insert(index);
        self.ledger.in_flight += 1;
        let started = manager.start_recovery(&key).await;
        if !self.answered("StartRecovery", &started) {
            return Ok(());
        }
        self.ledger.flows_starting.remove(&index);
        match started {
            Ok((next, path)) if next == "started" => {
                let id = flow_id(&path).ok_or("StartRecovery gave no flow")?;
                self.ledger.flows.insert(
                    index,
                    FlowKnown {
                        id,
                        step: RecoveryStep::AwaitingCode,
                        moving: false,
                    },
                );
            }
            Ok((next, _)) => eprintln!("torture: StartRecovery answered '{next}'"),
            Err(_) => {}
        }
        Ok(())
    }

    /// Gets the code by email (Send Code, or the phone app from the QR code) and verifies it.
    async fn code(
        &mut self,
        index: usize,
        flow: &FlowKnown,
        budget: &mut Budget,
    ) -> Result<(), String> {
        let proxy = flow_proxy(&self.rig.client, flow.id).await?;
        let serial = self.rig.sim.cameras()[index].identity().serial.clone();
        let mark = self.rig.smtp.count();
        let mut emailed = false;
        if budget.sends.allows(index) && self.rng.random_bool(0.5) {
            self.ledger.in_flight += 1;
            let sent = proxy.send_code().await;
            if self.answered("SendCode", &sent) {
                budget.sends.note(index);
                emailed = true;
            }
        }
        if !emailed {
            let payload = proxy.qr_payload().await.map_err(|e| e.to_string())?;
            if let Err(problem) = self.rig.sim.app_scan(&payload).await {
                self.tally.refused += 1;
                eprintln!("torture: the phone app refused the QR code: {problem}");
                // A new challenge gives a new QR code.
                if let Some(known) = self.ledger.flows.get_mut(&index) {
                    known.moving = true;
                }
                self.ledger.in_flight += 1;
                let renewed = proxy.new_code().await;
                if self.answered("NewCode", &renewed)
                    && let Some(known) = self.ledger.flows.get_mut(&index)
                {
                    known.moving = false;
                }
                return Ok(());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut code = None;
        for n in mark..mark + 50 {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(mail) = self.rig.smtp.nth(n, left).await else {
                break;
            };
            if mail.body.contains(serial.as_str()) {
                code = mail.code_line(8);
                break;
            }
        }
        let Some(code) = code else {
            self.tally.refused += 1;
            eprintln!("torture: no code arrived for camera {serial}");
            return Ok(());
        };
        if let Some(known) = self.ledger.flows.get_mut(&index) {
            known.moving = true;
        }
        self.ledger.in_flight += 1;
        let verified = proxy.verify_code(&code).await;
        if self.answered("VerifyCode", &verified)
            && let Some(known) = self.ledger.flows.get_mut(&index)
        {
            known.step = RecoveryStep::CodeVerified;
            known.moving = false;
        }
        Ok(())
    }

    /// Sets the new password: the camera is reset and added again with it.
    async fn new_password(&mut self, index: usize, flow: &FlowKnown) -> Result<(), String> {
        let proxy = flow_proxy(&self.rig.client, flow.id).await?;
        let (user, _) = self.login_of(index);
        let password = new_password(self.rng);
        let after = Record {
            username: user,
            password: password.clone(),
            name: None,
            channel: None,
        };
        self.ledger.camera(index).begin(Some(after.clone()));
        if let Some(known) = self.ledger.flows.get_mut(&index) {
            known.moving = true;
        }
        self.ledger.in_flight += 1;
        let done = proxy.set_password(&password, &password).await;
        if self.answered("SetPassword", &done)
            && let Ok(path) = done
        {
            self.ledger.flows.remove(&index);
            if path.as_str() == "/" {
                self.ledger.camera(index).ack(None);
            } else {
                self.ledger.camera(index).ack(Some(after));
                self.ledger.paths.insert(index, path);
            }
        }
        Ok(())
    }
}

/// After a restart: every flow the registry held as going is there again on D-Bus, where it was, or
/// (an interrupted reset) finished within [`SETTLE_LIMIT`], or ended with a reason. A flow is counted
/// as resumed once per step it was found at (`counted`), however many restarts it waits through.
pub(super) async fn check_flows_after_restart(
    rig: &Rig,
    found: &Inspection,
    tally: &mut Tally,
    counted: &mut BTreeSet<(i64, &'static str)>,
) -> Result<(), String> {
    for stored in &found.active_recoveries {
        let id = stored.flow.id;
        let was = stored.flow.step;
        let proxy = flow_proxy(&rig.client, id.0).await?;
        let deadline = Instant::now() + SETTLE_LIMIT;
        let now = loop {
            match proxy.step().await {
                Err(error) => break Err(error.to_string()),
                Ok(step) if step == "resetting" && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(step) => break Ok(step),
            }
        };
        let failure = proxy.failure().await.unwrap_or_default();
        match now.as_deref() {
            Ok(step) if step == was.as_str() && was != RecoveryStep::Resetting => {
                tally.checks += 1;
                if counted.insert((id.0, was.as_str())) {
                    tally.recoveries_resumed += 1;
                }
            }
            Ok("completed") if was == RecoveryStep::Resetting => {
                tally.checks += 1;
                tally.recoveries_finished_on_restart += 1;
            }
            Ok("expired" | "failed") if !failure.is_empty() => {
                tally.checks += 1;
                tally.recoveries_expired += 1;
            }
            other => tally.check(
                false,
                |t| &mut t.recovery_failures,
                &format!(
                    "password reset {id} was {} before the restart and is {other:?} after it",
                    was.as_str()
                ),
            ),
        }
    }
    Ok(())
}
