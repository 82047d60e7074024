//! Who a child runs as: a configured `user` (name or uid) and `group` (name or gid) looked up
//! in the user and group databases, with the user's supplementary groups.

use std::ffi::CString;
use std::path::PathBuf;

/// Why a `user`/`group` cannot be run as.
#[derive(Debug, thiserror::Error)]
pub enum RunAsError {
    #[error("cannot look up user {user:?}: {source}")]
    UserLookup { user: String, source: nix::Error },
    #[error("no such user {0:?}")]
    NoUser(String),
    #[error("cannot look up group {group:?}: {source}")]
    GroupLookup { group: String, source: nix::Error },
    #[error("no such group {0:?}")]
    NoGroup(String),
    /// Switching users needs root.
    #[error(
        "running as uid {uid} gid {gid} needs watchdogd to run as root (it runs as uid {daemon_uid})"
    )]
    NeedsRoot { uid: u32, gid: u32, daemon_uid: u32 },
}

/// Who a service runs as, resolved from its `user`/`group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the user's, from the group database (`getgrouplist`).
    pub groups: Vec<u32>,
    /// Account name and home, when the user database has the account.
    pub name: Option<String>,
    pub home: Option<PathBuf>,
}

/// Resolves a configured `user` (name or uid) and `group` (name or gid). `None` when nothing
/// is configured or nothing would change; an error when the user or group does not exist, or
/// when switching needs root and the daemon is not root. Blocking (user database lookups).
pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<RunAs>, RunAsError> {
    use nix::unistd::{Gid, Group, Uid, User};
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let (me_uid, me_gid) = (Uid::effective().as_raw(), Gid::effective().as_raw());
    let (uid, primary_gid, account) = match user {
        None => (me_uid, me_gid, None),
        Some(u) => {
            let found = match u.parse::<u32>() {
                Ok(n) => User::from_uid(Uid::from_raw(n)),
                Err(_) => User::from_name(u),
            }
            .map_err(|source| RunAsError::UserLookup {
                user: u.to_owned(),
                source,
            })?;
            match (found, u.parse::<u32>()) {
                (Some(user), _) => (user.uid.as_raw(), user.gid.as_raw(), Some(user)),
                (None, Ok(n)) => (n, n, None),
                (None, Err(_)) => return Err(RunAsError::NoUser(u.to_owned())),
            }
        }
    };
    let gid = match group {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => Group::from_name(g)
                .map_err(|source| RunAsError::GroupLookup {
                    group: g.to_owned(),
                    source,
                })?
                .ok_or_else(|| RunAsError::NoGroup(g.to_owned()))?
                .gid
                .as_raw(),
        },
    };
    if (uid, gid) == (me_uid, me_gid) {
        return Ok(None);
    }
    if me_uid != 0 {
        return Err(RunAsError::NeedsRoot {
            uid,
            gid,
            daemon_uid: me_uid,
        });
    }
    let mut groups = match &account {
        Some(user) => CString::new(user.name.as_bytes())
            .ok()
            .and_then(|name| nix::unistd::getgrouplist(&name, Gid::from_raw(gid)).ok())
            .map(|list| list.into_iter().map(Gid::as_raw).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if !groups.contains(&gid) {
        groups.insert(0, gid);
    }
    Ok(Some(RunAs {
        uid,
        gid,
        groups,
        name: account.as_ref().map(|u| u.name.clone()),
        home: account.map(|u| u.dir),
    }))
}
