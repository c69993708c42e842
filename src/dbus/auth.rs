//! Who may call: read-only calls are open to root and to the read group (default `vigil`), every
//! mutating call to root and the admin group (default `vigil-admin`). Decided on every call from the
//! credentials the bus reports for the caller's connection (uid and groups), never from anything the
//! caller says. The admin group implies read access. Also the helpers every object's methods use:
//! [`authorized`] (the caller, then the call gate) and [`check_text`] (string arguments).

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::Mutex;

use zbus::message::Header;

use crate::dbus::error::{DbusError, DbusResult};
use crate::model::Actor;

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading state.
    Read,
    /// Changing state or cameras.
    Admin,
    /// Only root (the recorder's own activation).
    Root,
}

/// The two groups, resolved to gids once at start.
#[derive(Debug, Clone)]
pub struct AccessGroups {
    read_name: String,
    read: Option<u32>,
    admin_name: String,
    admin: Option<u32>,
}

impl AccessGroups {
    /// Resolves group names (or numeric gids) to gids. A group that does not exist admits nobody but
    /// root, and is logged.
    pub fn resolve(read_group: &str, admin_group: &str) -> Self {
        let read = gid_of(read_group);
        let admin = gid_of(admin_group);
        for (name, gid) in [(read_group, read), (admin_group, admin)] {
            if gid.is_none() {
                tracing::warn!(
                    group = name,
                    "D-Bus access group does not exist; only root gets that access"
                );
            }
        }
        Self {
            read_name: read_group.to_owned(),
            read,
            admin_name: admin_group.to_owned(),
            admin,
        }
    }

    fn allows(&self, access: Access, groups: &[u32]) -> bool {
        let member = |gid: Option<u32>| gid.is_some_and(|g| groups.contains(&g));
        match access {
            Access::Admin => member(self.admin),
            Access::Read => member(self.read) || member(self.admin),
            Access::Root => false,
        }
    }
}

/// A numeric gid, or the gid of a group name.
fn gid_of(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Some(gid);
    }
    let name = CString::new(group).ok()?;
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: getgrnam_r writes into `entry` and `buffer`, both valid for the sizes given; `result`
    // points into them only while they live, and only the gid is copied out.
    unsafe {
        let mut entry: libc::group = std::mem::zeroed();
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        );
        (rc == 0 && !result.is_null()).then_some(entry.gr_gid)
    }
}

/// The groups of a uid from the user database (only when the bus does not report them).
fn groups_of_uid(uid: u32) -> Vec<u32> {
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: getpwuid_r fills `entry` using `buffer`; getgrouplist writes at most `count` gids into
    // `groups`, and the name pointer it reads stays valid while `buffer` lives.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return Vec::new();
        }
        let mut count: libc::c_int = 64;
        let mut groups: Vec<libc::gid_t> = vec![0; count as usize];
        if libc::getgrouplist(entry.pw_name, entry.pw_gid, groups.as_mut_ptr(), &mut count) < 0 {
            groups.resize(count.max(0) as usize, 0);
            if libc::getgrouplist(entry.pw_name, entry.pw_gid, groups.as_mut_ptr(), &mut count) < 0
            {
                return vec![entry.pw_gid];
            }
        }
        groups.truncate(count.max(0) as usize);
        groups
    }
}

#[derive(Debug, Clone)]
struct Caller {
    uid: u32,
    groups: Vec<u32>,
}

/// Most callers remembered; unique connection names are never reused on a bus, so caching is safe.
const CACHE_LIMIT: usize = 1024;

/// Checks callers.
pub struct Authorizer {
    groups: AccessGroups,
    bus: zbus::fdo::DBusProxy<'static>,
    cache: Mutex<HashMap<String, Caller>>,
}

impl Authorizer {
    /// An authorizer asking `connection`'s bus about callers.
    pub async fn new(connection: &zbus::Connection, groups: AccessGroups) -> zbus::Result<Self> {
        Ok(Self {
            groups,
            bus: zbus::fdo::DBusProxy::new(connection).await?,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The caller behind a unique bus name, asking the bus only the first time.
    async fn caller(&self, sender: &str) -> DbusResult<Caller> {
        let name = zbus::names::BusName::try_from(sender.to_owned())
            .map_err(|_| DbusError::NotAuthorized("the caller has no valid bus name".into()))?;
        let credentials = self
            .bus
            .get_connection_credentials(name)
            .await
            .map_err(|_| {
                DbusError::NotAuthorized("the bus does not vouch for the caller".into())
            })?;
        let uid = credentials.unix_user_id().ok_or_else(|| {
            DbusError::NotAuthorized("the bus reports no user for the caller".into())
        })?;
        let groups = match credentials.unix_group_ids() {
            Some(groups) => groups.clone(),
            None => tokio::task::spawn_blocking(move || groups_of_uid(uid))
                .await
                .unwrap_or_default(),
        };
        let caller = Caller { uid, groups };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(sender.to_owned(), caller.clone());
        Ok(caller)
    }

    /// Checks the caller of the message with `header` for `access`; the actor for the audit log.
    pub async fn check(&self, header: &Header<'_>, access: Access) -> DbusResult<Actor> {
        let sender = header
            .sender()
            .ok_or_else(|| DbusError::NotAuthorized("the call has no sender".into()))?
            .as_str();
        // The common case (a known caller) takes no allocation and no bus round trip: this runs for
        // every property in a Properties.GetAll.
        let known = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .get(sender)
                .map(|c| (c.uid, c.uid == 0 || self.groups.allows(access, &c.groups)))
        };
        let (uid, allowed) = match known {
            Some(known) => known,
            None => {
                let caller = self.caller(sender).await?;
                (
                    caller.uid,
                    caller.uid == 0 || self.groups.allows(access, &caller.groups),
                )
            }
        };
        if allowed {
            return Ok(Actor::Dbus { uid });
        }
        let needed = match access {
            Access::Admin => format!("membership in group {}", self.groups.admin_name),
            Access::Root => "root".to_owned(),
            Access::Read => format!(
                "membership in group {} or {}",
                self.groups.read_name, self.groups.admin_name
            ),
        };
        tracing::info!(uid, ?access, "D-Bus call refused");
        Err(DbusError::NotAuthorized(format!(
            "this call needs {needed}"
        )))
    }
}

/// Refuses an oversized or control-laden string argument.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), DbusError> {
    if value.chars().count() > max {
        return Err(DbusError::InvalidArgument(format!(
            "{field}: longer than {max} characters"
        )));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(DbusError::InvalidArgument(format!(
            "{field}: contains control characters"
        )));
    }
    Ok(())
}

/// Runs `call` for a caller with `access`, inside the call gate. The caller is checked first, so a
/// caller who may not make the call is refused at once and never takes a turn from those who may.
pub async fn authorized<T, F>(
    shared: &crate::dbus::Shared,
    header: &Header<'_>,
    access: Access,
    call: F,
) -> DbusResult<T>
where
    F: AsyncFnOnce(Actor) -> DbusResult<T>,
{
    let actor = shared.auth.check(header, access).await?;
    let _turn = shared
        .gate
        .acquire()
        .await
        .map_err(|_| DbusError::ShuttingDown("vigild is stopping".into()))?;
    call(actor).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_resolve_by_name_or_number_and_admin_implies_read() {
        let groups = AccessGroups::resolve("64001", "root");
        assert_eq!(groups.read, Some(64001));
        assert_eq!(groups.admin, Some(0));
        assert!(groups.allows(Access::Read, &[64001]));
        assert!(!groups.allows(Access::Admin, &[64001]));
        assert!(groups.allows(Access::Read, &[0]));
        assert!(groups.allows(Access::Admin, &[0]));
        assert!(!groups.allows(Access::Read, &[5, 6]));
        let missing = AccessGroups::resolve("no-such-group-xyz", "no-such-group-abc");
        assert!(!missing.allows(Access::Read, &[0, 1, 2]));
    }

    #[test]
    fn a_uid_without_the_bus_report_gets_its_database_groups() {
        assert!(groups_of_uid(0).contains(&0));
        assert!(groups_of_uid(4_000_000_000).is_empty());
    }
}
