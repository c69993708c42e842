//! A simulated camera's users: levels, the rules for names and passwords, and CreateUsers, SetUser
//! (a user may change their own password) and DeleteUsers, with who may do what.

use super::SimCamera;
use crate::sim::fault::Fault;

/// Longest user name a camera accepts.
pub const MAX_USERNAME_LEN: usize = 32;

/// Longest password a camera accepts.
pub const MAX_PASSWORD_LEN: usize = 64;

/// Shortest password a camera accepts; shorter ones get `ter:PasswordTooWeak`.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Most user accounts a camera holds.
pub const MAX_USERS: usize = 16;

/// ONVIF user levels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum UserLevel {
    /// Lowest: can read media and system information.
    User,
    /// Can also operate the device (PTZ, relays) but not manage it.
    Operator,
    /// Everything, including users and security settings.
    Administrator,
}

impl UserLevel {
    /// The ONVIF spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UserLevel::User => "User",
            UserLevel::Operator => "Operator",
            UserLevel::Administrator => "Administrator",
        }
    }

    /// Parses the ONVIF spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "User" => Some(UserLevel::User),
            "Operator" => Some(UserLevel::Operator),
            "Administrator" => Some(UserLevel::Administrator),
            _ => None,
        }
    }
}

/// A user account on the camera.
#[derive(Clone)]
pub(super) struct SimUser {
    pub(super) name: String,
    pub(super) password: String,
    pub(super) level: UserLevel,
}

/// A user as given to CreateUsers or SetUser.
#[derive(Debug, Clone)]
pub struct UserChange {
    /// The user name.
    pub username: String,
    /// The new password, when one is given.
    pub password: Option<String>,
    /// The level.
    pub level: Option<UserLevel>,
}

/// Who a request runs as, once authentication is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials on an operational camera.
    Anonymous,
    /// Any caller of a camera in factory state: Profile Q lets it do anything until an admin exists.
    FactoryState,
    /// An authenticated user.
    User {
        /// The user name.
        name: String,
        /// Their level.
        level: UserLevel,
    },
}

impl SimCamera {
    /// The user list, names and levels only.
    pub fn users(&self) -> Vec<(String, UserLevel)> {
        self.state()
            .users
            .iter()
            .map(|u| (u.name.clone(), u.level))
            .collect()
    }

    /// The first administrator's password, for the vendor protocols that check a hash of it.
    pub fn admin_password(&self) -> Option<String> {
        self.state()
            .users
            .iter()
            .find(|u| u.level == UserLevel::Administrator)
            .map(|u| u.password.clone())
    }

    /// Whether `username`'s password is `password`.
    pub fn password_is(&self, username: &str, password: &str) -> bool {
        self.state().users.iter().any(|u| {
            u.name == username
                && super::constant_time_eq(u.password.as_bytes(), password.as_bytes())
        })
    }

    /// CreateUsers: all or nothing.
    pub fn create_users(&self, users: &[UserChange]) -> Result<(), Fault> {
        let mut state = self.state();
        let mut incoming: Vec<SimUser> = Vec::with_capacity(users.len());
        for change in users {
            check_username(&change.username)?;
            let password = change.password.as_deref().unwrap_or("");
            check_password(password)?;
            let level = change
                .level
                .ok_or_else(|| Fault::invalid_arg("A user level is required"))?;
            if state.users.iter().any(|u| u.name == change.username)
                || incoming.iter().any(|u| u.name == change.username)
            {
                return Err(Fault::username_clash(&change.username));
            }
            incoming.push(SimUser {
                name: change.username.clone(),
                password: password.to_owned(),
                level,
            });
        }
        if state.users.len() + incoming.len() > MAX_USERS {
            return Err(Fault::too_many_users());
        }
        if !has_admin(&state.users) && !has_admin(&incoming) {
            return Err(Fault::invalid_arg(
                "A camera in factory state must first get an Administrator with a password",
            ));
        }
        state.users.extend(incoming);
        Ok(())
    }

    /// SetUser: all or nothing. A non-administrator may only change their own password.
    pub fn set_users(&self, caller: &Caller, users: &[UserChange]) -> Result<(), Fault> {
        let mut state = self.state();
        let is_admin = matches!(
            caller,
            Caller::FactoryState
                | Caller::User {
                    level: UserLevel::Administrator,
                    ..
                }
        );
        let mut updated = state.users.clone();
        for change in users {
            let Some(user) = updated.iter_mut().find(|u| u.name == change.username) else {
                return Err(Fault::username_missing(&change.username));
            };
            let own = matches!(caller, Caller::User { name, .. } if *name == change.username);
            let changes_only_own_password = own && change.level.is_none_or(|l| l == user.level);
            if !(is_admin || changes_only_own_password) {
                return Err(Fault::not_authorized(
                    "Only an Administrator may change another user or a level",
                ));
            }
            if let Some(password) = &change.password {
                check_password(password)?;
                user.password = password.clone();
            }
            if let Some(level) = change.level {
                user.level = level;
            }
        }
        if !has_admin(&updated) {
            return Err(Fault::fixed_user(
                "The last Administrator cannot be demoted",
            ));
        }
        for change in users {
            state.lockouts.remove(&change.username);
        }
        state.users = updated;
        Ok(())
    }

    /// DeleteUsers: all or nothing; the last administrator stays.
    pub fn delete_users(&self, usernames: &[String]) -> Result<(), Fault> {
        let mut state = self.state();
        for name in usernames {
            if !state.users.iter().any(|u| &u.name == name) {
                return Err(Fault::username_missing(name));
            }
        }
        let remaining: Vec<SimUser> = state
            .users
            .iter()
            .filter(|u| !usernames.contains(&u.name))
            .cloned()
            .collect();
        if !has_admin(&remaining) {
            return Err(Fault::fixed_user(
                "The last Administrator cannot be deleted",
            ));
        }
        state.users = remaining;
        for name in usernames {
            state.lockouts.remove(name);
        }
        Ok(())
    }
}

pub(super) fn has_admin(users: &[SimUser]) -> bool {
    users
        .iter()
        .any(|u| u.level == UserLevel::Administrator && !u.password.is_empty())
}

pub(super) fn check_username(name: &str) -> Result<(), Fault> {
    if name.is_empty() {
        return Err(Fault::invalid_arg("The user name is empty"));
    }
    if name.chars().count() > MAX_USERNAME_LEN {
        return Err(Fault::username_too_long());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(Fault::invalid_arg(
            "The user name may hold only letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

pub(super) fn check_password(password: &str) -> Result<(), Fault> {
    if password.chars().count() > MAX_PASSWORD_LEN {
        return Err(Fault::password_too_long());
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Fault::password_too_weak());
    }
    if password.chars().any(char::is_control) {
        return Err(Fault::invalid_arg("The password holds a control character"));
    }
    Ok(())
}
