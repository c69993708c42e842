//! A camera's reply to Vigil's recovery extension (docs/recovery-protocol.md), as the recorder's client
//! reads it: the response element or the fault, then what the operation's reader takes from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::camera::recovery_client::{read_code_sent, read_recovery_info, read_reply, read_token};

/// The operations whose replies carry something to read, and the one a reply answers: the first whose
/// response element it names (a fault names none, and reads the same for every operation).
const OPERATIONS: [&str; 4] = [
    "GetRecoveryInfo",
    "SendCode",
    "VerifyCode",
    "VerifySupportCode",
];

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = std::str::from_utf8(data) else {
        return;
    };
    let operation = OPERATIONS
        .into_iter()
        .find(|op| reply.contains(&format!("{op}Response")))
        .unwrap_or("ResetPassword");
    // Whether the request carried credentials (only SetResetEmail's does): both, by the reply's length.
    let with_credentials = data.len().is_multiple_of(2);
    let Ok(response) = read_reply(reply, operation, with_credentials) else {
        return;
    };
    match operation {
        "GetRecoveryInfo" => {
            let _ = read_recovery_info(&response);
        }
        "SendCode" => {
            let _ = read_code_sent(&response);
        }
        "VerifyCode" | "VerifySupportCode" => {
            let _ = read_token(&response);
        }
        _ => {}
    }
});
