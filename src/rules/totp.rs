//! TOTP two-factor codes (RFC 6238): secrets, otpauth:// enrolment URIs, code checks and recovery codes.
//!
//! The parameters are the ones every authenticator app understands: HMAC-SHA1, 6 digits, 30-second
//! steps. A check accepts the step before and the step after the current one (clock drift and typing
//! time), compares codes in constant time, and refuses a step at or before the last one used, so a code
//! cannot be replayed within its window. The caller keeps that last step with the account and passes the
//! time in (the service's clock is mockable): nothing here reads the clock.
//!
//! HOTP/TOTP itself is the `totp-rs` crate (on the same `hmac` and `sha1` the rest of Vigil uses).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroize;

/// Length of a secret in bytes: 160 bits, as RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_LEN: usize = 20;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Seconds in a time step.
pub const STEP_SECS: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u64 = 1;
/// How many recovery codes an account is usually given.
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Recovery code symbols: Crockford's base32 in lower case, without `i`, `l`, `o` and `u`, so nothing
/// reads as another symbol. 32 symbols, 5 bits each.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Groups in a recovery code, joined by `-`.
const RECOVERY_GROUPS: usize = 3;
/// Symbols in a group: 3 x 4 symbols x 5 bits = 60 bits per code.
const RECOVERY_GROUP_LEN: usize = 4;

/// What an otpauth:// label or parameter keeps as it is: RFC 3986's unreserved characters.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a secret or a code was refused. No variant carries a secret or a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// Stored secret bytes of the wrong length (the store is damaged).
    #[error("a TOTP secret is {SECRET_LEN} bytes, got {0}")]
    SecretLength(usize),
    /// Not exactly six ASCII digits.
    #[error("a code is {DIGITS} digits")]
    Malformed,
    /// Six digits, but not the code for this time.
    #[error("wrong code")]
    Wrong,
    /// The right code for a step that has already been used: a replay, or a second login in one window.
    #[error("this code has already been used; wait for the next one")]
    Reused,
}

/// A TOTP shared secret: 20 random bytes, wiped from memory when dropped. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    /// A new secret from the operating system's CSPRNG (through `rand`'s thread generator).
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// A stored secret, which must be [`SECRET_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TotpError> {
        let bytes: [u8; SECRET_LEN] = bytes
            .try_into()
            .map_err(|_| TotpError::SecretLength(bytes.len()))?;
        Ok(Self(bytes))
    }

    /// A secret typed or read as base32 (as [`TotpSecret::to_base32`] writes it).
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let secret = Secret::try_from_base32(text.trim()).map_err(|_| TotpError::Malformed)?;
        Self::from_bytes(secret.as_bytes())
    }

    /// The raw bytes, for sealing into the store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Unpadded RFC 4648 base32 (32 characters), as an authenticator app takes it typed in by hand.
    /// The result is the secret itself: show it only during enrolment.
    pub fn to_base32(&self) -> String {
        Secret::new_stack(self.0).to_base32()
    }

    /// The generator, wiped on drop like the secret. Skew 0: [`check`] walks the window itself.
    fn totp(&self) -> Totp {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_step_duration(STEP_SECS)
            .with_skew(0)
            .with_secret(Secret::new_stack(self.0))
            .build()
            .expect("fixed TOTP parameters and a 160-bit secret are valid")
    }
}

impl Drop for TotpSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// The otpauth:// URI that an authenticator app scans from a QR code:
/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
///
/// Issuer and account are percent-encoded (a `:` inside either becomes `%3A`, but apps differ in how
/// they read that, so callers should avoid colons). An empty issuer leaves the label as the account
/// alone, without an `issuer` parameter. The URI contains the secret.
pub fn enrolment_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let account = utf8_percent_encode(account, URI_COMPONENT);
    let secret = secret.to_base32();
    let params = format!("algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}");
    if issuer.is_empty() {
        format!("otpauth://totp/{account}?secret={secret}&{params}")
    } else {
        let issuer = utf8_percent_encode(issuer, URI_COMPONENT);
        format!("otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&{params}")
    }
}

/// The code for the step holding `unix_time` (seconds since the epoch): six digits, zero-padded.
pub fn code_at(secret: &TotpSecret, unix_time: u64) -> String {
    secret.totp().generate(unix_time).to_string()
}

/// The time step holding `unix_time`.
pub fn step_at(unix_time: u64) -> u64 {
    unix_time / STEP_SECS
}

/// Checks `code` at `unix_time` against the steps t-1, t and t+1, and returns the step it matched;
/// the caller stores that step as `last_used_step` for the next check. A code matching only steps at
/// or before `last_used_step` is [`TotpError::Reused`].
///
/// Every step of the window is computed and compared in constant time, whichever matches.
pub fn check(
    secret: &TotpSecret,
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpError> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Malformed);
    }
    let totp = secret.totp();
    let now = step_at(unix_time);
    let mut fresh = None;
    let mut reused = false;
    for step in now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS) {
        let Some(start) = step.checked_mul(STEP_SECS) else {
            continue;
        };
        // totp-rs compares the parsed code with the generated one in constant time.
        if totp.check(code, start).is_some() {
            if last_used_step.is_some_and(|last| step <= last) {
                reused = true;
            } else {
                // Ascending, so two matching steps (a one-in-a-million chance) keep the later one.
                fresh = Some(step);
            }
        }
    }
    match fresh {
        Some(step) => Ok(step),
        None if reused => Err(TotpError::Reused),
        None => Err(TotpError::Wrong),
    }
}

/// `n` distinct single-use recovery codes such as `7kq2-m9xd-0hzt`: three groups of four symbols from
/// an alphabet without look-alikes, 60 random bits each. Store only their hashes.
pub fn recovery_codes(n: usize) -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(n);
    while codes.len() < n {
        let code = recovery_code();
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// One recovery code. 32 symbols divide 256, so masking a random byte picks each one evenly.
fn recovery_code() -> String {
    let mut raw: [u8; RECOVERY_GROUPS * RECOVERY_GROUP_LEN] = rand::random();
    let mut code = String::with_capacity(RECOVERY_GROUPS * (RECOVERY_GROUP_LEN + 1));
    for (i, byte) in raw.iter().enumerate() {
        if i > 0 && i % RECOVERY_GROUP_LEN == 0 {
            code.push('-');
        }
        code.push(char::from(RECOVERY_ALPHABET[usize::from(byte & 0x1f)]));
    }
    raw.zeroize();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 secret.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").unwrap()
    }

    /// RFC 6238 Appendix B, SHA-1: time and the 8-digit code; ours are its last six digits.
    const RFC_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc6238_sha1_vectors() {
        let secret = rfc_secret();
        for (time, code8) in RFC_VECTORS {
            assert_eq!(code_at(&secret, time), code8[2..], "time {time}");
        }
    }

    #[test]
    fn rfc6238_vectors_pass_check_at_their_time() {
        let secret = rfc_secret();
        for (time, code8) in RFC_VECTORS {
            assert_eq!(check(&secret, &code8[2..], time, None), Ok(step_at(time)));
        }
    }

    #[test]
    fn codes_are_zero_padded_six_digits() {
        // 1111111109 gives 081804: the leading zero must stay.
        assert_eq!(code_at(&rfc_secret(), 1_111_111_109), "081804");
        let secret = TotpSecret::generate();
        for time in (0..200u64).map(|i| i * 7_919 * STEP_SECS) {
            let code = code_at(&secret, time);
            assert_eq!(code.len(), DIGITS, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
    }

    #[test]
    fn same_step_same_code() {
        let secret = rfc_secret();
        assert_eq!(
            code_at(&secret, 1_111_111_110),
            code_at(&secret, 1_111_111_139)
        );
        assert_ne!(
            code_at(&secret, 1_111_111_139),
            code_at(&secret, 1_111_111_140)
        );
    }

    #[test]
    fn one_step_either_side_is_accepted() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        let step = step_at(now);
        assert_eq!(check(&secret, &code_at(&secret, now), now, None), Ok(step));
        let before = code_at(&secret, now - STEP_SECS);
        let after = code_at(&secret, now + STEP_SECS);
        assert_eq!(check(&secret, &before, now, None), Ok(step - 1));
        assert_eq!(check(&secret, &after, now, None), Ok(step + 1));
    }

    #[test]
    fn two_steps_either_side_are_refused() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        for time in [now - 2 * STEP_SECS, now + 2 * STEP_SECS] {
            let code = code_at(&secret, time);
            assert_eq!(check(&secret, &code, now, None), Err(TotpError::Wrong));
        }
    }

    #[test]
    fn window_edges_follow_step_boundaries() {
        let secret = rfc_secret();
        // Step 37037036 runs from 1111111080 to 1111111109; at 1111111140 (step 37037038) it is two
        // steps old, at 1111111139 still one.
        let code = code_at(&secret, 1_111_111_080);
        assert!(check(&secret, &code, 1_111_111_139, None).is_ok());
        assert_eq!(
            check(&secret, &code, 1_111_111_140, None),
            Err(TotpError::Wrong)
        );
    }

    #[test]
    fn a_used_step_is_refused() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        let code = code_at(&secret, now);
        let step = check(&secret, &code, now, None).unwrap();
        assert_eq!(
            check(&secret, &code, now, Some(step)),
            Err(TotpError::Reused)
        );
        // Still refused a few seconds later, inside the window.
        assert_eq!(
            check(&secret, &code, now + STEP_SECS, Some(step)),
            Err(TotpError::Reused)
        );
        // And so is the previous step's code once a later step has been used.
        let previous = code_at(&secret, now - STEP_SECS);
        assert_eq!(
            check(&secret, &previous, now, Some(step)),
            Err(TotpError::Reused)
        );
        // The next step's code is new.
        let next = code_at(&secret, now + STEP_SECS);
        assert_eq!(check(&secret, &next, now, Some(step)), Ok(step + 1));
        // An older last use does not block the current step.
        assert_eq!(check(&secret, &code, now, Some(step - 1)), Ok(step));
    }

    #[test]
    fn a_wrong_code_is_wrong_even_after_a_use() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        let wrong = code_at(&secret, now + 10 * STEP_SECS);
        assert_eq!(check(&secret, &wrong, now, None), Err(TotpError::Wrong));
        assert_eq!(
            check(&secret, &wrong, now, Some(step_at(now))),
            Err(TotpError::Wrong)
        );
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        let good = code_at(&secret, now);
        for bad in [
            "".to_owned(),
            "12345".to_owned(),
            "1234567".to_owned(),
            format!("{good}0"),
            format!(" {good}"),
            format!("{good}\n"),
            format!("+{}", &good[1..]),
            format!("-{}", &good[1..]),
            format!("{} {}", &good[..3], &good[3..]),
            "12345a".to_owned(),
            "１２３４５６".to_owned(),
            "14050471".to_owned(),
        ] {
            assert_eq!(
                check(&secret, &bad, now, None),
                Err(TotpError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extreme_times_do_not_panic() {
        let secret = rfc_secret();
        assert_eq!(check(&secret, &code_at(&secret, 0), 0, None), Ok(0));
        assert_eq!(check(&secret, &code_at(&secret, 30), 0, None), Ok(1));
        let _ = check(&secret, "000000", u64::MAX, None);
        let _ = code_at(&secret, u64::MAX);
    }

    #[test]
    fn base32_round_trips() {
        let secret = TotpSecret::generate();
        let back = TotpSecret::from_base32(&secret.to_base32()).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        assert!(TotpSecret::from_base32("not base32!").is_err());
    }

    #[test]
    fn secrets_are_random_and_round_trip() {
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), SECRET_LEN);
        assert_ne!(a.as_bytes(), b.as_bytes());
        let again = TotpSecret::from_bytes(a.as_bytes()).unwrap();
        assert_eq!(again.as_bytes(), a.as_bytes());
        assert_eq!(code_at(&again, 1_700_000_000), code_at(&a, 1_700_000_000));
    }

    #[test]
    fn secret_length_is_checked() {
        assert_eq!(
            TotpSecret::from_bytes(&[0; 16]).unwrap_err(),
            TotpError::SecretLength(16)
        );
        assert_eq!(
            TotpSecret::from_bytes(&[0; 21]).unwrap_err(),
            TotpError::SecretLength(21)
        );
    }

    #[test]
    fn base32_is_rfc4648_unpadded() {
        assert_eq!(rfc_secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let encoded = TotpSecret::generate().to_base32();
        assert_eq!(encoded.len(), 32);
        assert!(
            encoded
                .bytes()
                .all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b))
        );
    }

    #[test]
    fn debug_and_errors_show_no_secret() {
        let secret = rfc_secret();
        let debug = format!("{secret:?}");
        assert_eq!(debug, "TotpSecret(<redacted>)");
        assert!(!debug.contains(&secret.to_base32()));
        let code = code_at(&secret, 59);
        for error in [
            TotpError::Malformed,
            TotpError::Wrong,
            TotpError::Reused,
            TotpError::SecretLength(3),
        ] {
            let shown = error.to_string();
            assert!(!shown.contains(&code), "{shown}");
            assert!(!shown.contains("GEZDG"), "{shown}");
        }
    }

    #[test]
    fn enrolment_uri_format() {
        let uri = enrolment_uri(&rfc_secret(), "Vigil NVR", "admin@front-desk");
        assert_eq!(
            uri,
            "otpauth://totp/Vigil%20NVR:admin%40front-desk\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Vigil%20NVR\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn enrolment_uri_encodes_label_characters() {
        let uri = enrolment_uri(&rfc_secret(), "A&B: NVR", "ad min?/#é");
        assert!(
            uri.starts_with("otpauth://totp/A%26B%3A%20NVR:ad%20min%3F%2F%23%C3%A9?secret="),
            "{uri}"
        );
        assert!(uri.contains("&issuer=A%26B%3A%20NVR&"), "{uri}");
        // Exactly one literal colon in the label (the separator) and one `?`.
        let label = &uri["otpauth://totp/".len()..uri.find('?').unwrap()];
        assert_eq!(label.matches(':').count(), 1, "{label}");
        assert_eq!(uri.matches('?').count(), 1, "{uri}");
        assert!(!uri.contains(' ') && !uri.contains('#'), "{uri}");
    }

    #[test]
    fn enrolment_uri_without_issuer() {
        assert_eq!(
            enrolment_uri(&rfc_secret(), "", "admin"),
            "otpauth://totp/admin?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn enrolment_uri_parses_as_a_url() {
        let secret = TotpSecret::generate();
        let uri = enrolment_uri(&secret, "Vigil", "admin");
        let url = url::Url::parse(&uri).unwrap();
        assert_eq!(url.scheme(), "otpauth");
        assert_eq!(url.host_str(), Some("totp"));
        assert_eq!(url.path(), "/Vigil:admin");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let expected = [
            ("secret", secret.to_base32()),
            ("issuer", "Vigil".to_owned()),
            ("algorithm", "SHA1".to_owned()),
            ("digits", "6".to_owned()),
            ("period", "30".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        assert_eq!(pairs, expected);
    }

    #[test]
    fn recovery_codes_are_distinct_and_well_formed() {
        let codes = recovery_codes(RECOVERY_CODE_COUNT);
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        for code in &codes {
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), RECOVERY_GROUPS, "{code}");
            for group in groups {
                assert_eq!(group.len(), RECOVERY_GROUP_LEN, "{code}");
                assert!(
                    group.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)),
                    "{code}"
                );
            }
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        // A new batch shares nothing with the old one.
        assert!(
            recovery_codes(RECOVERY_CODE_COUNT)
                .iter()
                .all(|c| !codes.contains(c))
        );
        assert!(recovery_codes(0).is_empty());
    }

    #[test]
    fn recovery_codes_carry_at_least_60_bits() {
        let symbols = (RECOVERY_GROUPS * RECOVERY_GROUP_LEN) as f64;
        assert!(symbols * (RECOVERY_ALPHABET.len() as f64).log2() >= 60.0);
        // The alphabet is 32 distinct symbols without look-alikes.
        let mut alphabet = RECOVERY_ALPHABET.to_vec();
        alphabet.sort();
        alphabet.dedup();
        assert_eq!(alphabet.len(), 32);
        assert!(!RECOVERY_ALPHABET.iter().any(|b| b"ilou".contains(b)));
    }

    #[test]
    fn recovery_codes_use_the_whole_alphabet() {
        // 200 codes x 12 symbols: each of the 32 symbols turns up (a miss has odds below 1e-30).
        let seen: std::collections::HashSet<u8> = recovery_codes(200)
            .iter()
            .flat_map(|c| c.bytes().filter(|&b| b != b'-').collect::<Vec<_>>())
            .collect();
        assert_eq!(seen.len(), 32);
    }
}
