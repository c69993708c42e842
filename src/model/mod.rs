//! The domain's nouns, as the service API hands them out and the store keeps them: cameras (address,
//! identity, credentials, id, status and its reason, added and discovered, its network settings), a forget-password flow, the audit log, and
//! the events subscribers receive. Plain data and the rules that read it; no protocol types, no SQL.

pub mod audit;
pub mod camera;
pub mod events;
pub mod network;
pub mod protocol;
pub mod recovery;
pub mod status;

pub use audit::*;
pub use camera::*;
pub use events::*;
pub use network::*;
pub use protocol::*;
pub use recovery::*;
pub use status::*;
