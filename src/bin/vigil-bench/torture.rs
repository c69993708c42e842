//! `vigil-bench torture`: kill -9 at random moments, then check what survived. Each life of vigild
//! runs one phase's work over D-Bus (cameras added, edited and removed; several added at once;
//! Forget Password with codes by SMTP; factory-state cameras activated; the recorder's account) and is
//! killed after a random delay from the seed, mid-operation or between two. The menu's own account
//! changes run in the menu worker (see `menu`), killed the same way. After each kill the state
//! directory is inspected without changing it: SQLite's integrity check, the audit chain, every sealed
//! value, and every camera, credential, account and mail setting and forget-password flow against what
//! the torture knows was acknowledged (see `ledger`). Then vigild starts again on it, must be ready
//! (READY=1 and its bus name), list the same cameras and account, and take up the flows that were
//! going. Prints its counts, then one line of `key=value` figures; fails when any check failed.

mod ledger;
pub(super) mod menu;
mod recovery;
mod rig;
mod smtp;
mod workloads;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use vigil::model::RecoveryStep;
use vigil::store::Inspection;

use ledger::{Ledger, Tally};
use recovery::{Budget, check_flows_after_restart};
use rig::Rig;
use workloads::{Turn, manager};

/// What one life of vigild does before the kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Cameras,
    Batch,
    Recovery,
    Activation,
    Account,
}

const PHASES: [Phase; 5] = [
    Phase::Cameras,
    Phase::Batch,
    Phase::Recovery,
    Phase::Activation,
    Phase::Account,
];

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Cameras => "cameras",
            Phase::Batch => "batch",
            Phase::Recovery => "recovery",
            Phase::Activation => "activation",
            Phase::Account => "account",
        }
    }

    /// The kill falls between 50 ms and this long into the phase's work, milliseconds.
    fn window_ms(self, in_menu: bool) -> u64 {
        match self {
            Phase::Cameras => 1500,
            Phase::Batch | Phase::Activation => 2500,
            Phase::Recovery => 3000,
            Phase::Account if in_menu => 2500,
            Phase::Account => 1000,
        }
    }
}

/// The command line's choices.
pub(super) struct Options {
    pub(super) kills: u32,
    pub(super) seed: u64,
    pub(super) vigild: Option<PathBuf>,
    pub(super) block: u8,
    pub(super) keep: bool,
}

pub(super) async fn torture(options: Options) -> Result<(), String> {
    let started = Instant::now();
    let vigild = super::vigild_path(options.vigild)?;
    let mut rig = Rig::start(options.block, vigild).await?;
    let mut ledger = Ledger::new(rig.sim.cameras().len());
    let mut tally = Tally::default();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut budget = Budget::default();
    let mut resumed = BTreeSet::new();
    let mut kills_by_phase = [0u32; PHASES.len()];
    let (mut kills_in_menu, mut mid_operation, mut account_lives) = (0u32, 0u32, 0u32);
    let mut ready_ms: Vec<f64> = Vec::new();
    rig.start_vigild().await?;
    let mut order: Vec<Phase> = Vec::new();
    let mut kills = 0;
    while kills < options.kills {
        // Every phase once per round, in an order from the seed.
        if order.is_empty() {
            order = PHASES.to_vec();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
        }
        let Some(phase) = order.pop() else { break };
        let in_menu = phase == Phase::Account && {
            account_lives += 1;
            account_lives % 2 == 0 && ledger.account.acked.activated
        };
        if in_menu {
            rig.start_menu().await?;
        }
        let delay = Duration::from_millis(rng.random_range(50..=phase.window_ms(in_menu)));
        let finished = {
            let mut turn = Turn {
                rig: &mut rig,
                ledger: &mut ledger,
                tally: &mut tally,
                rng: &mut rng,
            };
            let work = async {
                match phase {
                    Phase::Account if in_menu => turn.menu().await,
                    Phase::Cameras => turn.cameras().await,
                    Phase::Batch => turn.batch().await,
                    Phase::Recovery => turn.recovery(&mut budget).await,
                    Phase::Activation => turn.activation().await,
                    Phase::Account => turn.account().await,
                }
            };
            tokio::select! {
                biased;
                _ = tokio::time::sleep(delay) => None,
                result = work => Some(result),
            }
        };
        match finished {
            Some(Err(problem)) => {
                eprintln!("torture: the {} work stopped: {problem}", phase.name())
            }
            Some(Ok(())) => eprintln!("torture: the {} work ran out before the kill", phase.name()),
            None => {}
        }
        tally.check(
            !rig.died_by_itself(),
            |t| &mut t.unexpected_exits,
            &format!("the process died by itself in the {} phase", phase.name()),
        );
        mid_operation += u32::from(ledger.in_flight > 0);
        if let Err(problem) = rig.kill_9().await {
            eprintln!("torture: {problem}");
        }
        kills += 1;
        kills_by_phase[PHASES.iter().position(|p| *p == phase).unwrap_or(0)] += 1;
        kills_in_menu += u32::from(in_menu);
        let found = match vigil::store::inspect(&rig.state()) {
            Ok(found) => {
                ledger.check(&found, &rig.sim, &mut tally);
                Some(found)
            }
            Err(problem) => {
                tally.check(
                    false,
                    |t| &mut t.integrity_failures,
                    &format!("the state directory cannot be inspected: {problem}"),
                );
                None
            }
        };
        match rig.start_vigild().await {
            Ok(ready) => {
                tally.restarts += 1;
                ready_ms.push(ready.as_secs_f64() * 1000.0);
            }
            Err(problem) => {
                tally.check(
                    false,
                    |t| &mut t.restart_failures,
                    &format!("vigild does not start again: {problem}"),
                );
                break;
            }
        }
        if let Some(found) = &found {
            check_restart(&rig, found, &mut tally).await?;
            check_password_changes_finished(&rig, found, &mut tally).await?;
            check_flows_after_restart(&rig, found, &mut tally, &mut resumed).await?;
        }
        settle(&mut rig, &mut ledger, &mut tally).await?;
        if kills % 10 == 0 {
            eprintln!(
                "torture: {kills} kills, {} checks, {} failed",
                tally.checks,
                tally.failures()
            );
        }
    }
    if let Err(problem) = rig.stop().await {
        eprintln!("torture: {problem}");
    }
    let failures = tally.failures();
    ready_ms.sort_by(f64::total_cmp);
    let ready_p50 = ready_ms.get(ready_ms.len() / 2).copied().unwrap_or(0.0);
    let ready_max = ready_ms.last().copied().unwrap_or(0.0);
    println!(
        "kills {kills}: {} mid-operation, {kills_in_menu} of them in the menu worker",
        mid_operation
    );
    for (phase, count) in PHASES.iter().zip(kills_by_phase) {
        println!("  {:<10} {count}", phase.name());
    }
    println!(
        "operations: {} acknowledged, {} refused; checks: {}, {failures} failed",
        tally.acknowledged, tally.refused, tally.checks
    );
    let by_phase: Vec<String> = PHASES
        .iter()
        .zip(kills_by_phase)
        .map(|(p, n)| format!("kills_{}={n}", p.name()))
        .collect();
    println!(
        "kills={kills} {} kills_in_menu={kills_in_menu} kills_mid_operation={mid_operation} \
         operations_acknowledged={} operations_refused={} checks={} checks_passed={} failures={failures} \
         integrity_failures={} lost={} half_written={} undecryptable={} stale_credentials={} \
         audit_failures={} audit_missing={} restarts={} restart_failures={} restart_mismatches={} \
         recoveries_resumed={} recoveries_finished_on_restart={} recoveries_expired={} \
         recovery_failures={} unexpected_exits={} model_mismatches={} password_changes_interrupted={} \
         password_changes_finished={} ready_p50_ms={ready_p50:.0} \
         ready_max_ms={ready_max:.0} seed={} seconds={:.0}",
        by_phase.join(" "),
        tally.acknowledged,
        tally.refused,
        tally.checks,
        tally.checks.saturating_sub(failures),
        tally.integrity_failures,
        tally.lost,
        tally.half_written,
        tally.undecryptable,
        tally.stale_credentials,
        tally.audit_failures,
        tally.audit_missing,
        tally.restarts,
        tally.restart_failures,
        tally.restart_mismatches,
        tally.recoveries_resumed,
        tally.recoveries_finished_on_restart,
        tally.recoveries_expired,
        tally.recovery_failures,
        tally.unexpected_exits,
        tally.model_mismatches,
        tally.password_changes_interrupted,
        tally.password_changes_finished,
        options.seed,
        started.elapsed().as_secs_f64(),
    );
    if options.keep {
        eprintln!("torture: kept {}", rig.keep().display());
    }
    if failures > 0 {
        return Err(format!("{failures} checks failed"));
    }
    Ok(())
}

/// vigild, started again, holds what the state directory held: the same cameras (and those whose
/// interrupted reset it finished) and the same account.
async fn check_restart(rig: &Rig, found: &Inspection, tally: &mut Tally) -> Result<(), String> {
    let manager = manager(&rig.client).await?;
    let listed: BTreeSet<String> = manager
        .list_cameras()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|row| row.serial)
        .collect();
    let stored: BTreeSet<String> = found
        .cameras
        .iter()
        .map(|c| c.camera.identity.serial.clone())
        .collect();
    let resetting: BTreeSet<String> = found
        .active_recoveries
        .iter()
        .filter(|f| f.flow.step == RecoveryStep::Resetting)
        .map(|f| f.flow.identity.serial.clone())
        .collect();
    tally.check(
        stored.is_subset(&listed) && listed.difference(&stored).all(|s| resetting.contains(s)),
        |t| &mut t.restart_mismatches,
        &format!(
            "vigild lists {} cameras after the restart; the registry held {}",
            listed.len(),
            stored.len()
        ),
    );
    let (activated, _, _, failed, totp) =
        manager.account_status().await.map_err(|e| e.to_string())?;
    let account = found.account.as_ref();
    tally.check(
        activated == account.is_some()
            && failed == account.map_or(0, |a| a.failed_logins)
            && totp == account.is_some_and(|a| a.totp_enabled),
        |t| &mut t.restart_mismatches,
        "vigild shows another account after the restart than the registry held",
    );
    Ok(())
}

/// How long vigild may take to finish the password changes a kill interrupted.
const FINISH_LIMIT: Duration = Duration::from_secs(15);

/// After a restart, the password changes a kill interrupted are finished: no new password is left on
/// its way, and every camera has its stored password.
async fn check_password_changes_finished(
    rig: &Rig,
    found: &Inspection,
    tally: &mut Tally,
) -> Result<(), String> {
    let interrupted: Vec<&str> = found
        .cameras
        .iter()
        .filter(|c| c.pending_password.is_some())
        .map(|c| c.camera.identity.serial.as_str())
        .collect();
    if interrupted.is_empty() {
        return Ok(());
    }
    tally.password_changes_interrupted += interrupted.len() as u64;
    let deadline = Instant::now() + FINISH_LIMIT;
    let now = loop {
        let now = vigil::store::inspect(&rig.state()).map_err(|e| e.to_string())?;
        if now.cameras.iter().all(|c| c.pending_password.is_none()) || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for stored in &now.cameras {
        let serial = &stored.camera.identity.serial;
        let Some(camera) = rig.sim.camera_by_serial(serial) else {
            continue;
        };
        let takes_it = stored.credentials.as_ref().is_some_and(|c| {
            camera.password_is(
                &c.username,
                secrecy::ExposeSecret::expose_secret(&c.password),
            )
        });
        let finished = stored.pending_password.is_none() && takes_it;
        tally.check(
            finished,
            |t| &mut t.stale_credentials,
            &format!(
                "camera {serial}: {} s after the restart its password change is not finished",
                FINISH_LIMIT.as_secs()
            ),
        );
        if finished && interrupted.contains(&serial.as_str()) {
            tally.password_changes_finished += 1;
        }
    }
    Ok(())
}

/// Goes on from what is there: the ledger takes the registry as it now is, and a camera whose stored
/// password is not the camera's (told by the checks already) gets the camera's, as an installer would
/// give it, so the next lives are not stuck on it.
async fn settle(rig: &mut Rig, ledger: &mut Ledger, tally: &mut Tally) -> Result<(), String> {
    let found = vigil::store::inspect(&rig.state()).map_err(|e| e.to_string())?;
    ledger.settle(&found, &rig.sim);
    let mut repaired = false;
    for stored in &found.cameras {
        let Some(camera) = rig.sim.camera_by_serial(&stored.camera.identity.serial) else {
            continue;
        };
        let Some(credentials) = &stored.credentials else {
            continue;
        };
        let username = credentials.username.clone();
        if camera.password_is(
            &username,
            secrecy::ExposeSecret::expose_secret(&credentials.password),
        ) {
            continue;
        }
        let password = camera.admin_password().unwrap_or_default();
        let path = vigil::dbus::camera_path(stored.camera.id);
        let proxy = vigil::dbus::proxy::CameraProxy::builder(&rig.client)
            .path(path)
            .build()
            .await
            .map_err(|e| e.to_string())?;
        if let Err(problem) = proxy.edit_credentials(&username, &password).await {
            tally.refused += 1;
            eprintln!("torture: EditCredentials refused: {problem}");
        }
        repaired = true;
    }
    if repaired {
        let found = vigil::store::inspect(&rig.state()).map_err(|e| e.to_string())?;
        ledger.settle(&found, &rig.sim);
    }
    Ok(())
}
