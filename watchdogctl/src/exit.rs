//! Exit codes and the failures that lead to them.
//!
//! Deploy scripts branch on our exit code, so the mapping lives in one small table that is tested
//! on its own: 0 success, 1 the action or the service failed (or the daemon refused for a reason
//! of its own), 2 usage or a local error (including an unknown key), 3 the daemon is unreachable
//! or incompatible. Commands return these values; only `main` turns them into a process exit.

use protocol::ErrorKind;

/// How the process ends, independent of what was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the request succeeded (and, for `status KEY`, the service is healthy).
    Success,
    /// 1: an action failed, a wait timed out, the service is unhealthy, or the daemon is
    /// unavailable or failed internally.
    Failed,
    /// 2: bad usage, unknown key, unreadable config, permission denied, a daemon of another
    /// protocol version, or another local error.
    Usage,
    /// 3: the daemon cannot be reached, closed the connection, or sent a reply we cannot read.
    Unreachable,
}

impl Exit {
    /// The numeric process exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Unreachable => 3,
        }
    }

    /// The exit for a daemon's `Response::Error` of this kind.
    pub fn for_error_kind(kind: ErrorKind) -> Exit {
        match kind {
            ErrorKind::UnknownKey
            | ErrorKind::BadRequest
            | ErrorKind::PermissionDenied
            | ErrorKind::InvalidConfig
            // Retrying never helps: one side must be upgraded.
            | ErrorKind::Protocol => Exit::Usage,
            ErrorKind::Unavailable | ErrorKind::Internal => Exit::Failed,
        }
    }
}

impl Exit {
    /// The exit of a command run on several hosts: the highest code of any host, so
    /// unreachable (3) > usage or refused (2) > failed (1) > success (0). No hosts is success.
    pub fn worst(exits: impl IntoIterator<Item = Exit>) -> Exit {
        exits
            .into_iter()
            .max_by_key(|e| e.code())
            .unwrap_or(Exit::Success)
    }

    /// The exit for a remote `watchdogctl`'s own exit status (ssh passes it through).
    pub fn from_code(code: i32) -> Exit {
        match code {
            0 => Exit::Success,
            1 => Exit::Failed,
            2 => Exit::Usage,
            _ => Exit::Unreachable,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// Why a command stopped early (or finished with a message for stderr).
#[derive(Debug)]
pub enum Failure {
    /// Print `watchdogctl: <message>` to stderr and exit with `exit`.
    Report { exit: Exit, message: String },
    /// Whoever reads our stdout went away (`| head`): stop quietly and exit 0, like a Unix filter.
    StdoutClosed,
}

impl Failure {
    /// A failure reported on stderr with the given exit.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure::Report {
            exit,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_numbers() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failed.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Unreachable.code(), 3);
    }

    #[test]
    fn daemon_error_kinds_map_to_exits() {
        let table = [
            (ErrorKind::UnknownKey, 2),
            (ErrorKind::BadRequest, 2),
            (ErrorKind::PermissionDenied, 2),
            (ErrorKind::Protocol, 2),
            (ErrorKind::InvalidConfig, 2),
            (ErrorKind::Unavailable, 1),
            (ErrorKind::Internal, 1),
        ];
        for (kind, code) in table {
            assert_eq!(Exit::for_error_kind(kind).code(), code, "{kind:?}");
        }
    }

    #[test]
    fn the_worst_exit_of_several_hosts_wins() {
        use Exit::*;
        let table: [(&[Exit], Exit); 7] = [
            (&[], Success),
            (&[Success, Success], Success),
            (&[Success, Failed], Failed),
            (&[Failed, Usage, Success], Usage),
            (&[Usage, Unreachable], Unreachable),
            (&[Unreachable, Failed], Unreachable),
            (&[Failed], Failed),
        ];
        for (exits, worst) in table {
            assert_eq!(Exit::worst(exits.iter().copied()), worst, "{exits:?}");
        }
    }

    #[test]
    fn remote_exit_statuses_map_back() {
        for (code, exit) in [
            (0, Exit::Success),
            (1, Exit::Failed),
            (2, Exit::Usage),
            (3, Exit::Unreachable),
            (101, Exit::Unreachable),
        ] {
            assert_eq!(Exit::from_code(code), exit);
        }
    }
}
