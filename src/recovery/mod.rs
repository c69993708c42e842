//! The NVR side of camera password recovery and account security rules: the forget-password flow's
//! state ([`flow`]) and the password policy every new camera password must meet ([`policy`]).
//! The steps themselves run in the service API (`service/recovery.rs`); the camera side of the protocol
//! is in `camera/recovery_client.rs`.

pub mod codes;
pub mod flow;
pub mod policy;
