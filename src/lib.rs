//! Vigil: the camera-access daemon of a network video recorder.
//!
//! One core, thin faces: the menu (`gui`) and D-Bus (`dbus`) are adapters over one service API
//! (`service`); all SQL is in `store`, every camera protocol in `camera`, and the service never names a
//! vendor. Every folder groups by feature, so a behaviour is found from folder and file names alone.
//! The rules the tree holds (which layer may import which, no import circles between files, no file
//! over 700 lines) are checked by `tests/layout.rs`.
//!
//! - [`model`]: the domain's nouns, protocol-free: `camera` (address, identity, credentials, id,
//!   status, added and discovered), `status` (why a camera stands where it does: a reason kind the
//!   faces translate and the camera's own words), `recovery` (a forget-password flow, its methods),
//!   `audit`, `events`.
//! - [`rules`]: the security rules: password `policy`, verification and support `codes`, `totp`,
//!   the recorder's `device_secret`, password `hashing`, rate `windows`.
//! - [`service`]: the `Nvr` service API, the only door to behaviour: `cameras`, `discovery`, `monitor`
//!   (where the camera monitors report), `passwords`, `activation`, `audit`, `mail_server`,
//!   `recovery/` (a camera's forgotten password: start, `code`, `reset`, `resume`), `account/` (the
//!   recorder's own: `login`, `two_factor`, `recovery`), `error`.
//! - [`camera`]: every camera protocol: the shared HTTP `transport`, the one classifier of camera
//!   refusals (`refusal`), the device `client` (oxvif), WS-`discovery`, the status `monitor`, the
//!   recovery extension's `recovery_client`.
//! - [`store`]: all SQL: one way in (a read or a write transaction), the registry's tables by feature,
//!   sealed secrets, the audit chain, numbered `upgrade` steps, and `inspect`, a look at a state
//!   directory that changes nothing (for checking one after a crash).
//! - [`dbus`]: the D-Bus face, one module per object; authorization in `auth`.
//! - [`gui`]: the on-screen menu: one adapter per Slint global (`shell`, `device_access`, `dialogs`,
//!   `wizard`, `account`, `mail_settings`) over the UI-thread `bridge`, put together by `wiring`.
//! - [`config`]: the TOML file (`sections`), typed `settings`, per-section `resolve`, `reload` rules,
//!   the `bus` choice.
//! - [`daemon`]: vigild as a process: `launch`, `run`, `reload`, `logging`, `signals`, `systemd`,
//!   `demo`, fault hooks for test builds.
//! - [`mail`]: SMTP settings and the mail-sender trait. [`clock`]: time behind a trait, with a
//!   simulated clock. [`qr`]: QR codes as images.
//! - [`sim`]: `vigil-camsim`, the simulated cameras shipped for demos, tests and benchmarks: `camera/`
//!   (identity, users, auth), `recovery/`, `dialect`, `fault`, `soap`, `http`, `wsd`, `control`, and
//!   `netns` (the private network namespaces multicast tests and benchmarks run in).

pub mod camera;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod dbus;
#[cfg(feature = "gui")]
pub mod gui;
pub mod mail;
pub mod model;
pub mod qr;
pub mod rules;
pub mod service;
pub mod sim;
pub mod store;
