//! The Dahua persona: a camera that answers DHIP's `DHDiscover.search` (`dhip.rs`) and, over HTTP, the
//! calls Dahua's web client makes before any login at `/OutsideCmd` (set-up and password reset,
//! `outside.rs`) and its JSON RPC with a login (`rpc.rs`). Its ONVIF is on, as Dahua's firmware ships
//! it.

pub mod dhip;
pub mod outside;
pub mod rpc;

use serde_json::Value;

use crate::sim::camera::SimCamera;

/// The `Init` a camera reports: low bits 01 in factory state, 10 once initialized (the high bits as a
/// real camera's, which are not public).
pub fn init_status(camera: &SimCamera) -> u64 {
    if camera.is_inactive() { 3733 } else { 3734 }
}

/// Answers one JSON call to `/OutsideCmd`; the reply body.
pub async fn outside_command(camera: &SimCamera, body: &[u8]) -> Value {
    camera.note_request();
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    outside::answer(camera, &request).await
}
