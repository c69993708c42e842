//! Vigil: the camera-access daemon of a network video recorder.
//!
//! One core, thin faces. The map:
//!
//! - [`service`]: the `Nvr` service API, the only door to behaviour for the GUI, D-Bus and tests.
//! - [`camera`]: all ONVIF: shared HTTP transport, the one classifier of camera refusals
//!   (`camera::refusal`), device client (oxvif), WS-Discovery, status monitor.
//! - [`store`]: all SQL: the registry of added cameras, schema and migrations, sealed passwords.
//! - [`model`]: the domain's nouns and the events the service publishes.
//! - [`recovery`]: the forget-password flow's state and the password policy.
//! - [`mail`]: SMTP settings and the mail-sender trait.
//! - [`config`]: the TOML configuration, its defaults and validation.
//! - [`app`]: wiring for `vigild`: store, service, demo simulator, ordered shutdown.
//! - [`clock`]: wall-clock time behind a trait, with a simulated clock for exact tests.
//! - [`sim`]: `vigil-camsim`, the simulated ONVIF cameras shipped for demos, tests and benchmarks, with
//!   their refusal dialects, and the private network namespaces multicast tests and benchmarks run in.

pub mod camera;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod dbus;
pub mod gui;
pub mod mail;
pub mod model;
pub mod qr;
pub mod rules;
pub mod service;
pub mod sim;
pub mod store;
