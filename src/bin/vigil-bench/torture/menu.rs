//! The recorder's account changes that only the on-screen menu makes (logging in, the lockout after
//! wrong passwords, turning two-factor login on and off), under the crash torture. vigild takes them
//! from the menu only, so `vigil-bench torture-menu` plays the menu: it runs the same service on the
//! same state directory and takes one command a line ("wrong", "right", "clear", "totp-on",
//! "totp-off"), answering `ok failed=N locked=0|1 totp=0|1` or `err <why>`; the torture kills it with
//! kill -9 as it kills vigild. The recovery codes shown when two-factor login is turned on go on the
//! installer's "paper", a file beside the state (taken off before each is used), never to the output.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::RngExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;
use vigil::model::Actor;
use vigil::rules::totp::{self, TotpSecret};
use vigil::service::{LoginStep, Nvr, NvrError};
use vigil::store::Store;

use super::ledger::AccountState;
use super::workloads::{MAX_OPERATIONS, NVR_PASSWORD, Turn};

/// Wrong passwords in a row that lock the account (the configuration's default).
const MAX_FAILED_LOGINS: u32 = 5;

/// A password that is not the account's.
const WRONG_PASSWORD: &str = "Wrong-Guess-57";

/// The account's user name.
const ADMIN: &str = vigil::service::NVR_ADMIN;

/// The menu worker's main: serves commands on stdin until it closes.
pub(in super::super) async fn worker(state_dir: &Path, paper: &Path) -> Result<(), String> {
    let shutdown = CancellationToken::new();
    let store = Arc::new(Store::open(state_dir).map_err(|e| e.to_string())?);
    let mut settings = super::super::quiet_settings();
    settings.channels = 64;
    let nvr = Nvr::start(
        settings,
        store.clone(),
        Arc::new(vigil::clock::SystemClock),
        shutdown.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut out = tokio::io::stdout();
    say(&mut out, "ready").await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let menu = Menu {
        nvr: &nvr,
        store: &store,
        paper,
    };
    for _ in 0..100_000 {
        let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? else {
            break;
        };
        let done = match line.trim() {
            "wrong" => menu.login(WRONG_PASSWORD).await.map(drop),
            "right" => menu.login(NVR_PASSWORD).await.map(drop),
            "clear" => nvr.clear_account_lockout(&menu.actor()).await,
            "totp-on" => menu.totp_on().await,
            "totp-off" => menu.totp_off().await,
            other => {
                say(&mut out, &format!("err unknown command '{other}'")).await?;
                continue;
            }
        };
        let reply = match (done, nvr.account_status().await) {
            (Ok(()), Ok(status)) => format!(
                "ok failed={} locked={} totp={}",
                status.failed_logins,
                u8::from(status.locked_for.is_some()),
                u8::from(status.totp_enabled)
            ),
            (Err(problem), _) | (_, Err(problem)) => format!("err {problem}"),
        };
        say(&mut out, &reply).await?;
    }
    shutdown.cancel();
    nvr.stopped().await;
    Ok(())
}

/// Writes one line of the answer.
async fn say(out: &mut tokio::io::Stdout, line: &str) -> Result<(), String> {
    out.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    out.flush().await.map_err(|e| e.to_string())
}

/// The menu's side of the account.
struct Menu<'a> {
    nvr: &'a Nvr,
    store: &'a Store,
    paper: &'a Path,
}

impl Menu<'_> {
    fn actor(&self) -> Actor {
        Actor::Gui { user: ADMIN.into() }
    }

    /// Logs in; a refusal for a wrong password or a lock is an answer, not a problem.
    async fn login(&self, password: &str) -> Result<Option<LoginStep>, NvrError> {
        match self.nvr.login(ADMIN, password).await {
            Ok(step) => Ok(Some(step)),
            Err(NvrError::LoginFailed { .. } | NvrError::AccountLocked { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn totp_on(&self) -> Result<(), NvrError> {
        // The old paper is thrown away before new codes can exist.
        let _ = std::fs::remove_file(self.paper);
        let session = match self.login(NVR_PASSWORD).await? {
            None => return Ok(()),
            Some(LoginStep::Done(session)) => session,
            Some(LoginStep::CodeNeeded(_)) => return Err(storage("two-factor login is on")),
        };
        let enrolment = self.nvr.begin_totp(&session.token).await?;
        let secret = TotpSecret::from_base32(enrolment.secret_base32.expose_secret())
            .map_err(|_| storage("the enrolment secret is unreadable"))?;
        let code = totp::code_at(&secret, unix_now());
        let codes = self
            .nvr
            .confirm_totp(&session.token, &code, &self.actor())
            .await?;
        write_paper(self.paper, &codes).map_err(|e| storage(&e))
    }

    async fn totp_off(&self) -> Result<(), NvrError> {
        let pending = match self.login(NVR_PASSWORD).await? {
            None => return Ok(()),
            Some(LoginStep::CodeNeeded(pending)) => pending,
            Some(LoginStep::Done(_)) => return Err(storage("two-factor login is off")),
        };
        let code = self.second_factor().await?;
        let session = self
            .nvr
            .login_code(&pending.token, code.expose_secret())
            .await?;
        let code = self.second_factor().await?;
        self.nvr
            .disable_totp(
                &session.token,
                NVR_PASSWORD,
                code.expose_secret(),
                &self.actor(),
            )
            .await
    }

    /// A recovery code off the paper (taken off before it is used), or without paper the
    /// authenticator's code for the first step not used yet, waiting for it when it is ahead.
    async fn second_factor(&self) -> Result<SecretString, NvrError> {
        if let Some(code) = take_from_paper(self.paper).map_err(|e| storage(&e))? {
            return Ok(code);
        }
        let stored = self
            .store
            .read(|tx| tx.nvr_totp())
            .map_err(|e| storage(&e.to_string()))?
            .ok_or_else(|| storage("two-factor login is off"))?;
        let secret = TotpSecret::from_base32(stored.secret_base32.expose_secret())
            .map_err(|_| storage("the two-factor secret is unreadable"))?;
        let step = stored
            .last_step
            .map_or(0, |s| s + 1)
            .max(totp::step_at(unix_now()).saturating_sub(1));
        for _ in 0..100 {
            if step <= totp::step_at(unix_now()) + 1 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(SecretString::from(totp::code_at(
            &secret,
            step * totp::STEP_SECS,
        )))
    }
}

fn storage(problem: &str) -> NvrError {
    NvrError::Storage(problem.to_owned())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes the paper whole (a new file renamed over the old).
fn write_paper(paper: &Path, codes: &[String]) -> Result<(), String> {
    let fresh = paper.with_extension("new");
    std::fs::write(&fresh, codes.join("\n")).map_err(|e| e.to_string())?;
    std::fs::rename(&fresh, paper).map_err(|e| e.to_string())
}

/// The first code on the paper, crossed off before it is handed out.
fn take_from_paper(paper: &Path) -> Result<Option<SecretString>, String> {
    let text = match std::fs::read_to_string(paper) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut codes: Vec<String> = text.lines().map(str::to_owned).collect();
    if codes.is_empty() {
        return Ok(None);
    }
    let code = codes.remove(0);
    write_paper(paper, &codes)?;
    Ok(Some(SecretString::from(code)))
}

/// What `command` may leave of the account `before`: unchanged, or each stage it passes.
fn outcomes(before: AccountState, command: &str) -> Vec<AccountState> {
    let logged_in = AccountState {
        failed: 0,
        ..before
    };
    let after = match command {
        _ if before.locked && command != "clear" => vec![],
        "wrong" if before.failed + 1 >= MAX_FAILED_LOGINS => vec![AccountState {
            failed: 0,
            locked: true,
            ..before
        }],
        "wrong" => vec![AccountState {
            failed: before.failed + 1,
            ..before
        }],
        "right" => vec![logged_in],
        "clear" => vec![AccountState {
            failed: 0,
            locked: false,
            ..before
        }],
        "totp-on" => vec![
            logged_in,
            AccountState {
                totp: true,
                ..logged_in
            },
        ],
        _ => vec![
            logged_in,
            AccountState {
                totp: false,
                ..logged_in
            },
        ],
    };
    std::iter::once(before).chain(after).collect()
}

fn parse_status(line: &str) -> Option<AccountState> {
    let mut state = AccountState {
        activated: true,
        ..AccountState::default()
    };
    for field in line.strip_prefix("ok ")?.split_whitespace() {
        match field.split_once('=')? {
            ("failed", n) => state.failed = n.parse().ok()?,
            ("locked", b) => state.locked = b == "1",
            ("totp", b) => state.totp = b == "1",
            _ => return None,
        }
    }
    Some(state)
}

impl Turn<'_> {
    /// Logs in wrong and right, locks and clears the account, turns two-factor login on and off,
    /// through the menu worker.
    pub(super) async fn menu(&mut self) -> Result<(), String> {
        for _ in 0..MAX_OPERATIONS {
            let before = self.ledger.account.acked;
            let command = if before.locked {
                ["clear", "wrong"][self.rng.random_range(0..2)]
            } else {
                match self.rng.random_range(0..10) {
                    0..=3 => "wrong",
                    4 => "right",
                    5 => "clear",
                    _ if before.totp => "totp-off",
                    _ => "totp-on",
                }
            };
            let possible = outcomes(before, command);
            for outcome in &possible[1..] {
                self.ledger.account.begin(*outcome);
            }
            self.ledger.in_flight += 1;
            let reply = self.rig.ask_menu(command).await?;
            self.ledger.in_flight = self.ledger.in_flight.saturating_sub(1);
            let Some(now) = parse_status(&reply) else {
                self.tally.refused += 1;
                eprintln!("torture: menu '{command}' answered: {reply}");
                continue;
            };
            self.tally.acknowledged += 1;
            if !possible.contains(&now) {
                self.tally.model_mismatches += 1;
                eprintln!("torture: menu '{command}' from {before:?} left {now:?}");
            }
            self.ledger.account.ack(now);
        }
        Ok(())
    }
}
