//! The Dahua persona: a camera that answers DHIP's `DHDiscover.search` (`dhip.rs`) and, over HTTP, the
//! calls Dahua's web client makes before any login at `/OutsideCmd` (`DevInit.getStatus`) and its JSON
//! RPC with a login (`rpc.rs`). Its ONVIF is on, as Dahua's firmware ships it.

pub mod dhip;
pub mod rpc;

use serde_json::{Value, json};

use crate::sim::camera::SimCamera;

/// The `Init` a camera reports: low bits 01 in factory state, 10 once initialized (the high bits as a
/// real camera's, which are not public).
pub fn init_status(camera: &SimCamera) -> u64 {
    if camera.is_inactive() { 3733 } else { 3734 }
}

/// Answers one JSON call to `/OutsideCmd`; the reply body.
pub fn outside_command(camera: &SimCamera, body: &[u8]) -> Value {
    camera.note_request();
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let id = request.get("id").cloned().unwrap_or(json!(0));
    match request.get("method").and_then(Value::as_str) {
        Some("DevInit.getStatus") => json!({
            "id": id,
            "result": true,
            "params": {
                "Init": if camera.is_inactive() { 1 } else { 2 },
                "Find": "BC",
            },
        }),
        // The RPC's own "method not found".
        _ => json!({
            "id": id,
            "result": false,
            "error": { "code": 268_894_210u64, "message": "Method not found!" },
        }),
    }
}
