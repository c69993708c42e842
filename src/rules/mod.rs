//! The security rules, apart from who applies them: the password policy every new password meets,
//! verification and support codes, TOTP, the recorder's device secret, password hashing, and the
//! windows that limit how often a thing may happen. Pure functions and small types; no I/O but the
//! clock values they are given.

pub mod codes;
pub mod device_secret;
pub mod hashing;
pub mod network;
pub mod policy;
pub mod totp;
pub mod windows;
