//! The password policy for camera (and NVR) passwords: 8-32 characters, at least two of the four
//! character classes, not containing the user name, not a well-known weak password, and no run of four
//! repeated or sequential characters. Every rule that fails is named, so the installer can fix all at once.

use serde::{Deserialize, Serialize};

/// Shortest password.
pub const MIN_LENGTH: usize = 8;
/// Longest password.
pub const MAX_LENGTH: usize = 32;

/// Words that make a password weak wherever they appear (compared after undoing common letter-for-digit
/// swaps, so `Adm1n` counts as `admin`).
const WEAK_WORDS: &[&str] = &[
    "admin", "password", "passwd", "qwerty", "letmein", "welcome", "default", "root", "guest",
    "user", "camera", "12345", "123123", "111111", "888888", "666666", "abc123", "iloveyou",
    "changeme",
];

/// A rule of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyRule {
    /// 8 to 32 characters.
    Length,
    /// At least two of: lower case, upper case, digits, symbols.
    CharacterClasses,
    /// Must not contain the user name.
    ContainsUserName,
    /// Must not be built on a well-known weak password.
    CommonPassword,
    /// No four identical characters in a row.
    RepeatedCharacters,
    /// No four sequential characters (`1234`, `abcd`, `dcba`).
    SequentialCharacters,
    /// No control characters (tab, line break and the like): cameras and their web pages refuse them,
    /// and they cannot be typed on the on-screen keyboard.
    ControlCharacters,
}

impl PolicyRule {
    /// What the rule asks, in the installer's words.
    pub fn describe(self) -> &'static str {
        match self {
            PolicyRule::Length => "use 8 to 32 characters",
            PolicyRule::CharacterClasses => {
                "mix at least two of: lower-case letters, upper-case letters, digits, symbols"
            }
            PolicyRule::ContainsUserName => "do not include the user name",
            PolicyRule::CommonPassword => "avoid well-known passwords such as admin or 12345",
            PolicyRule::RepeatedCharacters => "no four identical characters in a row",
            PolicyRule::SequentialCharacters => {
                "no four sequential characters such as 1234 or abcd"
            }
            PolicyRule::ControlCharacters => "no tabs, line breaks or other control characters",
        }
    }
}

/// How strong a password looks, for a live meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Fails the policy.
    Weak,
    /// Meets the policy, barely.
    Fair,
    /// Meets the policy comfortably.
    Good,
    /// Long and varied.
    Strong,
}

impl Strength {
    /// The stable name shown to clients: `weak`, `fair`, `good` or `strong`.
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Weak => "weak",
            Strength::Fair => "fair",
            Strength::Good => "good",
            Strength::Strong => "strong",
        }
    }
}

/// The verdict on a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Every rule it fails; empty when it meets the policy.
    pub unmet: Vec<PolicyRule>,
    /// How strong it looks.
    pub strength: Strength,
}

impl Assessment {
    /// Whether the password meets the policy.
    pub fn acceptable(&self) -> bool {
        self.unmet.is_empty()
    }

    /// The unmet rules as one sentence, for error text.
    pub fn explain(&self) -> String {
        self.unmet
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Checks `password` for the account `username`.
pub fn assess(password: &str, username: &str) -> Assessment {
    let mut unmet = Vec::new();
    let length = password.chars().count();
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        unmet.push(PolicyRule::Length);
    }
    let classes = character_classes(password);
    if classes < 2 {
        unmet.push(PolicyRule::CharacterClasses);
    }
    if password.chars().any(char::is_control) {
        unmet.push(PolicyRule::ControlCharacters);
    }
    let lower = password.to_lowercase();
    let user = username.trim().to_lowercase();
    if !user.is_empty() && lower.contains(&user) {
        unmet.push(PolicyRule::ContainsUserName);
    }
    let plain = undo_substitutions(&lower);
    if WEAK_WORDS
        .iter()
        .any(|w| plain.contains(w) || lower.contains(w))
    {
        unmet.push(PolicyRule::CommonPassword);
    }
    let chars: Vec<char> = lower.chars().collect();
    if chars.windows(4).any(|w| w.iter().all(|c| *c == w[0])) {
        unmet.push(PolicyRule::RepeatedCharacters);
    }
    if chars.windows(4).any(is_sequence) {
        unmet.push(PolicyRule::SequentialCharacters);
    }
    let strength = if !unmet.is_empty() {
        Strength::Weak
    } else if length >= 14 && classes >= 3 {
        Strength::Strong
    } else if length >= 10 && classes >= 3 {
        Strength::Good
    } else {
        Strength::Fair
    };
    Assessment { unmet, strength }
}

fn character_classes(password: &str) -> usize {
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    [
        has(|c| c.is_lowercase()),
        has(|c| c.is_uppercase()),
        has(|c| c.is_ascii_digit()),
        has(|c| !c.is_alphanumeric()),
    ]
    .into_iter()
    .filter(|present| *present)
    .count()
}

fn undo_substitutions(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            _ => c,
        })
        .collect()
}

fn is_sequence(window: &[char]) -> bool {
    let same_kind =
        window.iter().all(|c| c.is_ascii_digit()) || window.iter().all(|c| c.is_ascii_lowercase());
    if !same_kind {
        return false;
    }
    let steps: Vec<i32> = window
        .windows(2)
        .map(|p| p[1] as i32 - p[0] as i32)
        .collect();
    steps.iter().all(|s| *s == 1) || steps.iter().all(|s| *s == -1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmet(password: &str, user: &str) -> Vec<PolicyRule> {
        assess(password, user).unmet
    }

    #[test]
    fn good_passwords_pass() {
        assert_eq!(
            unmet("Camera#2026", "operator"),
            vec![PolicyRule::CommonPassword]
        );
        assert!(
            assess("Harbor-Lamp-62", "admin").acceptable(),
            "the simulator's default password"
        );
        assert!(assess("Vigil-Fence-29", "admin").acceptable());
        assert!(assess("brisk.Otter.71", "admin").acceptable());
        assert_eq!(assess("brisk.Otter.71", "admin").strength, Strength::Strong);
    }

    #[test]
    fn every_failing_rule_is_named() {
        assert_eq!(
            unmet("aaaa", "admin"),
            vec![
                PolicyRule::Length,
                PolicyRule::CharacterClasses,
                PolicyRule::RepeatedCharacters
            ]
        );
        assert_eq!(
            unmet("Admin#2026x", "admin"),
            vec![PolicyRule::ContainsUserName, PolicyRule::CommonPassword]
        );
        assert_eq!(
            unmet("P@ssw0rd!x", "operator"),
            vec![PolicyRule::CommonPassword]
        );
        assert_eq!(
            unmet("Zx-12345-q", "operator"),
            vec![PolicyRule::CommonPassword, PolicyRule::SequentialCharacters]
        );
        assert_eq!(
            unmet("Lake-dcba-91", "operator"),
            vec![PolicyRule::SequentialCharacters]
        );
        assert_eq!(
            unmet("Lake-7777-x", "operator"),
            vec![PolicyRule::RepeatedCharacters]
        );
        assert_eq!(
            unmet(&"Ab1-".repeat(9), "operator"),
            vec![PolicyRule::Length]
        );
        assert_eq!(
            unmet("lowercaseonly", "operator"),
            vec![PolicyRule::CharacterClasses]
        );
        assert_eq!(
            unmet("Lake\u{1}Hill-42", "operator"),
            vec![PolicyRule::ControlCharacters]
        );
        let text = assess("aaaa", "admin").explain();
        assert!(
            text.contains("8 to 32") && text.contains("identical"),
            "{text}"
        );
    }
}
