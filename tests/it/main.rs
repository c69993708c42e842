//! The integration suite, built as one binary: real sockets to the camera simulator, real SQLite files,
//! real processes. Each module covers one capability.

mod account;
mod announcements;
mod bus;
mod camera_layer;
mod daemon;
mod dahua;
mod dbus;
mod dialects;
mod discovery_runs;
mod foreign_fleet;
#[cfg(feature = "gui")]
mod gui;
mod hostile;
mod interop;
mod mail_server;
mod mailbox;
mod maintenance;
mod multicast;
mod oxvif_fleet;
mod recovery;
mod service;
#[cfg(feature = "gui")]
mod soak;
mod support;
mod systemd;
mod torture;
mod totp;
mod vendors;
