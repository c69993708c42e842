//! vigild as a process: [`launch`] turns the command line into a running daemon (configuration, bus,
//! logging, state directory, the menu's fonts, the runtime) and [`run`] wires it (store, service, demo
//! cameras, faces, readiness and the watchdog, reloads, ordered shutdown). Also systemd's side of it,
//! the demo, and the fault hooks of test builds.

pub mod demo;
#[cfg(debug_assertions)]
pub mod fault_hooks;
mod launch;
pub mod logging;
mod menu;
mod reload;
mod run;
mod signals;
pub mod systemd;

pub use launch::{Launch, launch};
pub use reload::{LogFilterSetter, Reload};
pub use run::{AppError, AppOptions, run};
