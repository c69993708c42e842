//! TOTP two-factor codes against an implementation written by others in another language: Python's
//! pyotp, as an authenticator app would be. It computes codes from our secret and reads our otpauth://
//! enrolment URI the way an app reads the QR code. `.ci/test` installs it and sets VIGIL_PYTHON.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use vigil::rules::totp::{self, TotpError, TotpSecret};

/// Prints pyotp's code for the base32 secret in argv[1] at each Unix time that follows.
const CODES_AT: &str = "\
import sys, pyotp
otp = pyotp.TOTP(sys.argv[1])
for t in sys.argv[2:]:
    print(otp.at(int(t)))
";

/// Prints pyotp's code for the base32 secret in argv[1] now, by pyotp's own clock.
const CODE_NOW: &str = "\
import sys, pyotp
print(pyotp.TOTP(sys.argv[1]).now())
";

/// Parses the URI in argv[1] with pyotp and prints what it understood, then its codes at the times
/// that follow.
const PARSE_URI: &str = "\
import sys, pyotp
otp = pyotp.parse_uri(sys.argv[1])
print(type(otp).__name__)
print(otp.issuer)
print(otp.name)
print(otp.secret)
print(otp.digits)
print(otp.interval)
print(otp.digest().name)
for t in sys.argv[2:]:
    print(otp.at(int(t)))
";

/// The test Python if it has pyotp; otherwise `None` and a skip line (a failure in CI).
fn pyotp(what: &str) -> Option<String> {
    let python = crate::mailbox::python_or_skip(what)?;
    let probe = Command::new(&python).args(["-c", "import pyotp"]).output();
    if probe.is_ok_and(|p| p.status.success()) {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run {what}: the Python test environment lacks pyotp (.ci/deps installs it)"
    );
    eprintln!("SKIPPED {what}: pyotp is not installed; run it through .ci/test");
    None
}

/// Runs `script` with `args` and returns its output lines.
fn run(python: &str, script: &str, args: &[String]) -> Vec<String> {
    let output = Command::new(python)
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "pyotp failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Times across the range: the epoch, step edges, the RFC 6238 test times, now, and far ahead.
fn times() -> Vec<u64> {
    let now = now();
    vec![
        0,
        29,
        30,
        59,
        1_111_111_109,
        1_111_111_111,
        1_234_567_890,
        2_000_000_000,
        20_000_000_000,
        now - totp::STEP_SECS,
        now,
        now + totp::STEP_SECS,
        rand::random_range(0..=4_000_000_000),
        rand::random_range(0..=4_000_000_000),
    ]
}

fn strings(times: &[u64]) -> Vec<String> {
    times.iter().map(u64::to_string).collect()
}

#[test]
fn pyotp_computes_the_same_codes() {
    let Some(python) = pyotp("the pyotp TOTP interop test") else {
        return;
    };
    let rfc = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
    for secret in [TotpSecret::generate(), TotpSecret::generate(), rfc] {
        let times = times();
        let mut args = vec![secret.to_base32()];
        args.extend(strings(&times));
        let theirs = run(&python, CODES_AT, &args);
        let ours: Vec<String> = times.iter().map(|&t| totp::code_at(&secret, t)).collect();
        assert_eq!(theirs, ours, "times {times:?}");
    }
}

#[test]
fn pyotp_current_code_passes_check_once() {
    let Some(python) = pyotp("the pyotp TOTP check test") else {
        return;
    };
    let secret = TotpSecret::generate();
    let lines = run(&python, CODE_NOW, &[secret.to_base32()]);
    let code = &lines[0];
    // pyotp read its clock a moment ago; the step either side covers a step boundary in between.
    let now = now();
    let step = totp::check(&secret, code, now, None).expect("pyotp's current code is accepted");
    assert!(step.abs_diff(totp::step_at(now)) <= 1, "step {step}");
    assert_eq!(
        totp::check(&secret, code, now, Some(step)),
        Err(TotpError::Reused)
    );
}

#[test]
fn pyotp_reads_our_enrolment_uri() {
    let Some(python) = pyotp("the pyotp enrolment URI test") else {
        return;
    };
    let secret = TotpSecret::generate();
    for (issuer, account) in [
        ("Vigil", "admin"),
        ("Vigil NVR", "admin@front-desk"),
        ("Vigil & Co", "ad min/ü+1"),
    ] {
        let uri = totp::enrolment_uri(&secret, issuer, account);
        let times = times();
        let mut args = vec![uri.clone()];
        args.extend(strings(&times));
        let lines = run(&python, PARSE_URI, &args);
        assert_eq!(lines.len(), 7 + times.len(), "{lines:?}");
        assert_eq!(lines[0], "TOTP", "{uri}");
        assert_eq!(lines[1], issuer, "{uri}");
        assert_eq!(lines[2], account, "{uri}");
        assert_eq!(lines[3], secret.to_base32(), "{uri}");
        assert_eq!(lines[4], "6", "{uri}");
        assert_eq!(lines[5], "30", "{uri}");
        assert_eq!(lines[6], "sha1", "{uri}");
        let ours: Vec<String> = times.iter().map(|&t| totp::code_at(&secret, t)).collect();
        assert_eq!(lines[7..], ours[..], "{uri} at {times:?}");
    }
}
