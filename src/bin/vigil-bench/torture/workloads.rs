//! What the crash torture does over D-Bus between kills, one phase per life of vigild: cameras added,
//! renamed, moved, given new passwords and removed one at a time; several added at once; factory-state
//! cameras activated; the recorder's account activated, its mail server set and its lockout cleared.
//! Every operation is written in the ledger as unanswered before it is sent and as acknowledged when
//! its answer comes; the kill may fall anywhere. (Forget Password is in `recovery`, the menu's account
//! changes in `menu`.)

use rand::RngExt;
use rand::rngs::StdRng;
use zbus::OwnedObjectPath;
use zbus::proxy::CacheProperties;

use super::ledger::{AccountState, Ledger, MailRecord, Record, Tally};
use super::rig::Rig;
use vigil::dbus::proxy::{CameraProxy, ManagerProxy};

/// Most operations in one life; the kill comes long before.
pub(super) const MAX_OPERATIONS: usize = 2000;

/// The recorder's admin password, which the menu worker logs in with.
pub(super) const NVR_PASSWORD: &str = "Lantern-Copper-47";

/// The reset email cameras are activated with.
pub(super) const RESET_EMAIL: &str = "owner@example.com";

/// One life's work: the rig, the ledger, the counts and the dice.
pub(super) struct Turn<'a> {
    pub(super) rig: &'a mut Rig,
    pub(super) ledger: &'a mut Ledger,
    pub(super) tally: &'a mut Tally,
    pub(super) rng: &'a mut StdRng,
}

/// A password the policy accepts, made from the dice.
pub(super) fn new_password(rng: &mut StdRng) -> String {
    const WORDS: &[&str] = &[
        "Harbor", "Kite", "Falcon", "Meadow", "Copper", "Lantern", "River", "Signal", "Pebble",
        "Orchid",
    ];
    for _ in 0..20 {
        let password = format!(
            "{}-{}-{}",
            WORDS[rng.random_range(0..WORDS.len())],
            WORDS[rng.random_range(0..WORDS.len())],
            rng.random_range(10..100)
        );
        if vigil::rules::policy::assess(&password, "admin").acceptable() {
            return password;
        }
    }
    "Quiet-Falcon-83".to_owned()
}

pub(super) async fn manager(conn: &zbus::Connection) -> Result<ManagerProxy<'static>, String> {
    ManagerProxy::builder(conn)
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(|e| e.to_string())
}

async fn camera_proxy(
    conn: &zbus::Connection,
    path: &OwnedObjectPath,
) -> Result<CameraProxy<'static>, String> {
    CameraProxy::builder(conn)
        .path(path.clone())
        .cache_properties(CacheProperties::No)
        .build()
        .await
        .map_err(|e| e.to_string())
}

impl Turn<'_> {
    /// Notes an answer: acknowledged, or refused (the error is told; it holds no secret).
    pub(super) fn answered<T>(&mut self, what: &str, result: &Result<T, zbus::Error>) -> bool {
        self.ledger.in_flight = self.ledger.in_flight.saturating_sub(1);
        match result {
            Ok(_) => {
                self.tally.acknowledged += 1;
                true
            }
            Err(error) => {
                self.tally.refused += 1;
                eprintln!("torture: {what} refused: {error}");
                false
            }
        }
    }

    /// The simulated camera's administrator and password now.
    pub(super) fn login_of(&self, index: usize) -> (String, String) {
        let camera = &self.rig.sim.cameras()[index];
        let user = camera
            .users()
            .into_iter()
            .find(|(_, level)| *level == vigil::sim::camera::UserLevel::Administrator)
            .map_or_else(|| "admin".to_owned(), |(name, _)| name);
        (user, camera.admin_password().unwrap_or_default())
    }

    /// The cameras of `pool` that are settled and not added.
    fn free_in(&self, pool: std::ops::Range<usize>) -> Vec<usize> {
        pool.filter(|i| {
            self.ledger
                .cameras
                .get(i)
                .is_some_and(|k| k.settled() && k.acked.is_none())
        })
        .collect()
    }

    /// Discovers the cameras `indices` (unicast), so they can be added by key or activated.
    pub(super) async fn discover(&mut self, indices: &[usize]) -> Result<(), String> {
        let targets: Vec<String> = indices.iter().map(|i| self.rig.target(*i)).collect();
        let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
        let manager = manager(&self.rig.client).await?;
        self.ledger.in_flight += 1;
        let found = manager.discover(&targets).await;
        self.answered("Discover", &found);
        Ok(())
    }

    /// Removes the added camera `index`.
    pub(super) async fn remove(&mut self, index: usize) -> Result<(), String> {
        let Some(path) = self.ledger.paths.get(&index).cloned() else {
            return Ok(());
        };
        let manager = manager(&self.rig.client).await?;
        self.ledger.camera(index).begin(None);
        self.ledger.in_flight += 1;
        let removed = manager.remove_camera(&path.as_ref()).await;
        if self.answered("RemoveCamera", &removed) {
            self.ledger.camera(index).ack(None);
            self.ledger.paths.remove(&index);
        }
        Ok(())
    }

    /// Adds, renames, moves, re-passwords and removes the single cameras, one operation at a time.
    pub(super) async fn cameras(&mut self) -> Result<(), String> {
        let manager = manager(&self.rig.client).await?;
        for _ in 0..MAX_OPERATIONS {
            let index = self.rng.random_range(self.rig.pools.singles.clone());
            let known = self.ledger.camera(index).clone();
            if !known.settled() {
                continue;
            }
            let Some(record) = known.acked else {
                let (user, password) = self.login_of(index);
                let address = self.rig.sim.cameras()[index].identity().http_addr;
                let fresh = Record::added(&user, &password);
                self.ledger.camera(index).begin(Some(fresh.clone()));
                self.ledger.in_flight += 1;
                let added = manager
                    .add_camera(&address.ip().to_string(), address.port(), &user, &password)
                    .await;
                if self.answered("AddCamera", &added)
                    && let Ok(path) = added
                {
                    self.ledger.camera(index).ack(Some(fresh));
                    self.ledger.paths.insert(index, path);
                }
                continue;
            };
            let Some(path) = self.ledger.paths.get(&index).cloned() else {
                continue;
            };
            let camera = camera_proxy(&self.rig.client, &path).await?;
            match self.rng.random_range(0..10) {
                0..=2 => {
                    let name = format!("Gate {}", self.rng.random_range(1..1000));
                    let after = Record {
                        name: Some(name.clone()),
                        ..record
                    };
                    self.ledger.camera(index).begin(Some(after.clone()));
                    self.ledger.in_flight += 1;
                    let renamed = camera.set_name(&name).await;
                    if self.answered("SetName", &renamed) {
                        self.ledger.camera(index).ack(Some(after));
                    }
                }
                3..=4 => {
                    let taken: Vec<u16> = self
                        .ledger
                        .cameras
                        .values()
                        .filter_map(|k| k.acked.as_ref().and_then(|r| r.channel))
                        .collect();
                    let channel = self.rng.random_range(33..=64);
                    if taken.contains(&channel) {
                        continue;
                    }
                    let after = Record {
                        channel: Some(channel),
                        ..record
                    };
                    self.ledger.camera(index).begin(Some(after.clone()));
                    self.ledger.in_flight += 1;
                    let moved = camera.set_channel(channel).await;
                    if self.answered("SetChannel", &moved) {
                        self.ledger.camera(index).ack(Some(after));
                    }
                }
                5..=7 => {
                    let password = new_password(self.rng);
                    let after = Record {
                        password: password.clone(),
                        ..record
                    };
                    self.ledger.camera(index).begin(Some(after.clone()));
                    self.ledger.in_flight += 1;
                    let changed = camera.change_password(&password, &password).await;
                    if self.answered("ChangePassword", &changed) {
                        self.ledger.camera(index).ack(Some(after));
                    }
                }
                _ => self.remove(index).await?,
            }
        }
        Ok(())
    }

    /// Adds several cameras at once (AddDiscoveredMany, or AddCamera calls side by side), then
    /// removes them, over and over.
    pub(super) async fn batch(&mut self) -> Result<(), String> {
        let manager = manager(&self.rig.client).await?;
        for round in 0..MAX_OPERATIONS {
            let free = self.free_in(self.rig.pools.batch.clone());
            if free.len() < 2 {
                let added: Vec<usize> = self
                    .rig
                    .pools
                    .batch
                    .clone()
                    .filter(|i| self.ledger.paths.contains_key(i))
                    .collect();
                for index in added {
                    self.remove(index).await?;
                }
                continue;
            }
            let logins: Vec<(String, String)> = free.iter().map(|i| self.login_of(*i)).collect();
            for (index, (user, password)) in free.iter().zip(&logins) {
                self.ledger
                    .camera(*index)
                    .begin(Some(Record::added(user, password)));
            }
            if round % 2 == 0 {
                self.discover(&free).await?;
                let keys: Vec<String> = free
                    .iter()
                    .map(|i| self.rig.sim.cameras()[*i].identity().endpoint_ref.clone())
                    .collect();
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                let (user, password) = &logins[0];
                self.ledger.in_flight += 1;
                let rows = manager.add_discovered_many(&keys, user, password).await;
                if !self.answered("AddDiscoveredMany", &rows) {
                    continue;
                }
                for (index, (_, added, path, _)) in free.iter().zip(rows.unwrap_or_default()) {
                    let outcome = added.then(|| Record::added(&logins[0].0, &logins[0].1));
                    self.ledger.camera(*index).ack(outcome);
                    if added {
                        self.ledger.paths.insert(*index, path);
                    }
                }
            } else {
                let calls = free.iter().zip(&logins).map(|(index, (user, password))| {
                    let address = self.rig.sim.cameras()[*index].identity().http_addr;
                    let manager = manager.clone();
                    async move {
                        manager
                            .add_camera(&address.ip().to_string(), address.port(), user, password)
                            .await
                    }
                });
                self.ledger.in_flight += free.len() as u32;
                let results = futures_util::future::join_all(calls).await;
                for ((index, (user, password)), added) in free.iter().zip(&logins).zip(results) {
                    if self.answered("AddCamera", &added)
                        && let Ok(path) = added
                    {
                        self.ledger
                            .camera(*index)
                            .ack(Some(Record::added(user, password)));
                        self.ledger.paths.insert(*index, path);
                    }
                }
            }
        }
        Ok(())
    }

    /// Activates factory-state cameras with a new password and adds them; removes each and puts it
    /// back to factory state for the next.
    pub(super) async fn activation(&mut self) -> Result<(), String> {
        let manager = manager(&self.rig.client).await?;
        // The cameras vigild has listed in factory state since they were last reset.
        let mut listed_inactive = Vec::new();
        for _ in 0..MAX_OPERATIONS {
            let pool = self.rig.pools.inactive.clone();
            if let Some(added) = pool
                .clone()
                .find(|i| self.ledger.paths.contains_key(i) && self.ledger.camera(*i).settled())
            {
                self.remove(added).await?;
                continue;
            }
            let free = self.free_in(pool);
            listed_inactive.retain(|i| free.contains(i));
            if listed_inactive.is_empty() {
                for index in &free {
                    if !self.rig.sim.cameras()[*index].is_inactive() {
                        self.rig.sim.factory_reset(*index).await;
                    }
                }
                self.discover(&free).await?;
                listed_inactive = free;
                if listed_inactive.is_empty() {
                    return Ok(());
                }
                continue;
            }
            let index =
                listed_inactive.swap_remove(self.rng.random_range(0..listed_inactive.len()));
            let key = self.rig.sim.cameras()[index]
                .identity()
                .endpoint_ref
                .clone();
            let password = new_password(self.rng);
            self.ledger
                .camera(index)
                .begin(Some(Record::added("admin", &password)));
            self.ledger.in_flight += 1;
            let activated = manager
                .activate_camera(&key, &password, &password, RESET_EMAIL, true)
                .await;
            if self.answered("ActivateCamera", &activated)
                && let Ok((_, path, _)) = activated
            {
                if path.as_str() == "/" {
                    self.ledger.camera(index).ack(None);
                } else {
                    self.ledger
                        .camera(index)
                        .ack(Some(Record::added("admin", &password)));
                    self.ledger.paths.insert(index, path);
                }
            }
        }
        Ok(())
    }

    /// The recorder's account over D-Bus: activated once, then its mail server set and its lockout
    /// cleared, over and over.
    pub(super) async fn account(&mut self) -> Result<(), String> {
        let manager = manager(&self.rig.client).await?;
        let before = self.ledger.account.acked;
        if !before.activated {
            self.ledger.account.begin(AccountState {
                activated: true,
                ..before
            });
            self.ledger.in_flight += 1;
            let activated = manager
                .activate_nvr(NVR_PASSWORD, NVR_PASSWORD, RESET_EMAIL, "")
                .await;
            if !self.answered("ActivateNvr", &activated) {
                return Ok(());
            }
            self.ledger.account.ack(AccountState {
                activated: true,
                ..before
            });
        }
        for _ in 0..MAX_OPERATIONS {
            if self.rng.random_range(0..4) == 0 {
                let before = self.ledger.account.acked;
                let cleared = AccountState {
                    failed: 0,
                    locked: false,
                    ..before
                };
                self.ledger.account.begin(cleared);
                self.ledger.in_flight += 1;
                let done = manager.clear_account_lockout().await;
                if self.answered("ClearAccountLockout", &done) {
                    self.ledger.account.ack(cleared);
                }
                continue;
            }
            let n = self.rng.random_range(1..1000);
            let record = MailRecord {
                host: format!("smtp{n}.example.com"),
                port: self.rng.random_range(1..=65535),
                username: format!("nvr{n}"),
                password: new_password(self.rng),
            };
            self.ledger.mail.begin(Some(record.clone()));
            self.ledger.in_flight += 1;
            let set = self
                .rig
                .client
                .call_method(
                    Some(vigil::dbus::BUS_NAME),
                    vigil::dbus::MANAGER_PATH,
                    Some("org.vigil.Nvr1.Manager"),
                    "SetMailServer",
                    &(
                        record.host.as_str(),
                        record.port,
                        "starttls",
                        record.username.as_str(),
                        record.password.as_str(),
                        false,
                        "nvr@example.com",
                        "",
                    ),
                )
                .await;
            if self.answered("SetMailServer", &set) {
                self.ledger.mail.ack(Some(record));
            }
        }
        Ok(())
    }
}
