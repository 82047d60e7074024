//! Who may talk to the control socket, decided from each connection's peer credentials.
//!
//! The socket's mode and group are the first gate (the OS refuses a connect without write
//! permission); this is the second, per request. Root and the daemon's own user may do
//! anything. `control_users`/`control_groups` may run every command; `read_users`/`read_groups`
//! may only read (`status`, `wait`). Names are resolved to ids once, at start; a name that does
//! not exist is a warning, not an error, so a config can name users that are created later.

use std::collections::HashSet;

use nix::unistd::{Gid, Group, Uid, User};

use crate::config::AccessConfig;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    Read,
    Control,
}

impl Right {
    pub fn as_str(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::Control => "control",
        }
    }
}

/// The credentials the kernel reports for a connection's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

/// The resolved access lists.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    daemon_uid: u32,
    control_uids: HashSet<u32>,
    control_gids: HashSet<u32>,
    read_uids: HashSet<u32>,
    read_gids: HashSet<u32>,
}

impl AccessPolicy {
    /// Resolves the configured names; returns the policy and a warning per unknown name.
    pub fn resolve(cfg: &AccessConfig) -> (AccessPolicy, Vec<String>) {
        let mut warnings = Vec::new();
        let mut users = |field: &str, names: &[String]| -> HashSet<u32> {
            names
                .iter()
                .filter_map(|n| {
                    let id = resolve_user(n);
                    if id.is_none() {
                        warnings.push(format!("{field}: no such user {n:?}; ignored"));
                    }
                    id
                })
                .collect()
        };
        let control_uids = users("control_users", &cfg.control_users);
        let read_uids = users("read_users", &cfg.read_users);
        let mut groups = |field: &str, names: &[String]| -> HashSet<u32> {
            names
                .iter()
                .filter_map(|n| {
                    let id = resolve_group(n);
                    if id.is_none() {
                        warnings.push(format!("{field}: no such group {n:?}; ignored"));
                    }
                    id
                })
                .collect()
        };
        let control_gids = groups("control_groups", &cfg.control_groups);
        let read_gids = groups("read_groups", &cfg.read_groups);
        let policy = AccessPolicy {
            daemon_uid: Uid::effective().as_raw(),
            control_uids,
            control_gids,
            read_uids,
            read_gids,
        };
        (policy, warnings)
    }

    /// Whether `uid` has control rights by its uid alone (root, the daemon's user, a control
    /// user), with no group lookup.
    pub fn controls_by_uid(&self, uid: u32) -> bool {
        uid == 0 || uid == self.daemon_uid || self.control_uids.contains(&uid)
    }

    /// Whether control rights can come from groups (which need a lookup).
    pub fn controls_by_group(&self) -> bool {
        !self.control_gids.is_empty()
    }

    /// Whether the group lists matter at all (they need a lookup of the peer's groups).
    pub fn uses_groups(&self) -> bool {
        !self.control_gids.is_empty() || !self.read_gids.is_empty()
    }

    /// Whether `peer`, a member of `groups`, has `right`.
    pub fn allows(&self, peer: &Peer, groups: &[u32], right: Right) -> bool {
        if peer.uid == 0 || peer.uid == self.daemon_uid {
            return true;
        }
        let control = self.control_uids.contains(&peer.uid)
            || groups.iter().any(|g| self.control_gids.contains(g));
        match right {
            Right::Control => control,
            Right::Read => {
                control
                    || self.read_uids.contains(&peer.uid)
                    || groups.iter().any(|g| self.read_gids.contains(g))
            }
        }
    }
}

fn resolve_user(name: &str) -> Option<u32> {
    match name.parse::<u32>() {
        Ok(id) => Some(id),
        Err(_) => User::from_name(name).ok().flatten().map(|u| u.uid.as_raw()),
    }
}

fn resolve_group(name: &str) -> Option<u32> {
    match name.parse::<u32>() {
        Ok(id) => Some(id),
        Err(_) => Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw()),
    }
}

/// The peer's groups: its primary group plus the supplementary groups of its user account.
/// Blocking (NSS lookups): call off the async runtime.
pub fn peer_groups(peer: &Peer) -> Vec<u32> {
    let mut groups = vec![peer.gid];
    if let Ok(Some(user)) = User::from_uid(Uid::from_raw(peer.uid))
        && let Ok(name) = std::ffi::CString::new(user.name)
        && let Ok(list) = nix::unistd::getgrouplist(&name, Gid::from_raw(peer.gid))
    {
        groups.extend(list.into_iter().map(Gid::as_raw));
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AccessPolicy {
        let (p, warnings) = AccessPolicy::resolve(&AccessConfig {
            control_users: vec!["1001".into()],
            read_users: vec!["1002".into(), "no-such-user-xyz".into()],
            control_groups: vec!["500".into()],
            read_groups: vec!["600".into()],
            ..AccessConfig::default()
        });
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        p
    }

    fn peer(uid: u32) -> Peer {
        Peer {
            uid,
            gid: uid,
            pid: None,
        }
    }

    #[test]
    fn rights_table() {
        let p = policy();
        let me = Uid::effective().as_raw();
        let cases = [
            (0, vec![], Right::Control, true),
            (me, vec![], Right::Control, true),
            (1001, vec![], Right::Control, true),
            (1002, vec![], Right::Read, true),
            (1002, vec![], Right::Control, false),
            (1003, vec![500], Right::Control, true),
            (1003, vec![600], Right::Read, true),
            (1003, vec![600], Right::Control, false),
            (1003, vec![7], Right::Read, false),
        ];
        for (uid, groups, right, want) in cases {
            if uid != 0 && uid == me && !want {
                continue;
            }
            assert_eq!(
                p.allows(&peer(uid), &groups, right),
                want,
                "uid {uid} groups {groups:?} {right:?}"
            );
        }
    }
}
