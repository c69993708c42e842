//! The NVR's own admin account: activation, password hashes, login lockout, TOTP two-factor login and
//! password recovery.

pub mod device_secret;
pub mod totp;
