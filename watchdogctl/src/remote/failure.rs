//! What ssh's exit status says when a call over it got no reply.
//!
//! ssh's exit status is the remote command's, except 255 for its own failures; a POSIX shell
//! answers 127 for a command it cannot find and 126 for one it cannot run; our own remote
//! `dial-stdio` exits like any watchdogctl (2 usage or not allowed, 3 no daemon) and says why on
//! stderr. [`diagnose`] turns those into messages a user can act on; it is pure, so its table is
//! tested here. A call that outlives its limit while ssh still runs is [`RemoteError::NoReply`]:
//! ssh's own timeouts (see `ssh`) are set to fire first, so by then ssh did connect, and it is
//! the far end that is silent.

use std::fmt;
use std::io;
use std::time::Duration;

use super::ssh::{SSH_ENV, SshTarget};
use crate::exit::Exit;
use crate::table::clean;

/// Why a call over ssh got no reply, in the terms a user can act on.
#[derive(Debug)]
pub enum RemoteError {
    /// The ssh program itself could not be started.
    Spawn { program: String, source: io::Error },
    /// ssh failed (exit 255) before anything came back: its own message.
    Connect { host: String, detail: String },
    /// ssh failed (exit 255) after replies had come: the connection dropped.
    Lost { host: String, detail: String },
    /// The remote shell could not find the remote watchdogctl (exit 127).
    CtlMissing {
        host: String,
        ctl: String,
        default: bool,
        detail: String,
    },
    /// The remote shell found it but could not run it (exit 126).
    CtlNotRunnable {
        host: String,
        ctl: String,
        detail: String,
    },
    /// The remote watchdogctl predates `dial-stdio`.
    CtlTooOld { host: String, ctl: String },
    /// The remote `dial-stdio` failed on its own (the remote socket is missing, not allowed, …):
    /// its exit status and message, as the local command would have given them.
    Remote {
        host: String,
        exit: Exit,
        message: String,
    },
    /// ssh ended by a signal.
    Killed { host: String, signal: i32 },
    /// The call's time ran out while ssh was still running: it had not reported a failure to
    /// connect, yet nothing came back. `answered`: earlier replies had come on this connection.
    NoReply {
        host: String,
        after: Duration,
        answered: bool,
        detail: String,
    },
}

impl RemoteError {
    pub fn exit(&self) -> Exit {
        match self {
            RemoteError::Spawn { .. } => Exit::Usage,
            RemoteError::Remote { exit, .. } => *exit,
            _ => Exit::Unreachable,
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAME_IT: &str = "--remote-ctl PATH, WATCHDOG_REMOTE_CTL or ?ctl=PATH in the host URL";
        match self {
            RemoteError::Spawn { program, source } => write!(
                f,
                "cannot run the ssh command {program:?}: {source} (install OpenSSH's client, or set {SSH_ENV} or --ssh-command)"
            ),
            RemoteError::Connect { host, detail } => {
                write!(f, "ssh could not connect to {host}: {detail}")
            }
            RemoteError::Lost { host, detail } => {
                write!(f, "the ssh connection to {host} was lost: {detail}")
            }
            RemoteError::CtlMissing {
                host,
                default: true,
                detail,
                ..
            } => write!(
                f,
                "watchdogctl is not installed on {host} (not found on the PATH of the ssh login shell: {detail}); install watchdogctl on {host}, or name its path with {NAME_IT}"
            ),
            RemoteError::CtlMissing {
                host, ctl, detail, ..
            } => write!(
                f,
                "{ctl} was not found on {host} ({detail}); install watchdogctl there, or fix {NAME_IT}"
            ),
            RemoteError::CtlNotRunnable { host, ctl, detail } => write!(
                f,
                "{ctl} on {host} cannot be run ({detail}); install watchdogctl there, or fix {NAME_IT}"
            ),
            RemoteError::CtlTooOld { host, ctl } => write!(
                f,
                "{ctl} on {host} has no dial-stdio command (too old); install watchdogctl {} or newer on {host}",
                protocol::VERSION
            ),
            RemoteError::Remote { host, message, .. } => write!(f, "{host}: {message}"),
            RemoteError::Killed { host, signal } => {
                write!(f, "ssh to {host} was killed by signal {signal}")
            }
            RemoteError::NoReply {
                host,
                after,
                answered: false,
                detail,
            } => {
                write!(
                    f,
                    "no reply from {host} within {}: ssh reported no connection failure, but neither the remote watchdogctl nor watchdogd answered",
                    seconds(*after)
                )?;
                match detail.as_str() {
                    NO_MESSAGE => Ok(()),
                    detail => write!(f, " (ssh: {detail})"),
                }
            }
            RemoteError::NoReply {
                host,
                after,
                answered: true,
                ..
            } => write!(
                f,
                "watchdogd at {host} stopped replying (nothing within {})",
                seconds(*after)
            ),
        }
    }
}

/// What [`summary`] says of an empty stderr.
const NO_MESSAGE: &str = "no message";

/// `5s`, `2.5s`: a limit as a user would write it.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The last few lines of ssh's stderr, control characters escaped, for one message.
pub fn summary(stderr: &str) -> String {
    let lines: Vec<String> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(clean)
        .collect();
    let tail = &lines[lines.len().saturating_sub(4)..];
    if tail.is_empty() {
        NO_MESSAGE.to_owned()
    } else {
        tail.join("; ")
    }
}

/// What ssh's exit says once the reply stream ended: `None` when it says nothing more than
/// "closed" (exit 0). `code` is `None` when ssh was killed by `signal`; `answered` tells whether
/// any reply had come back (so ssh did connect).
pub fn diagnose(
    target: &SshTarget,
    code: Option<i32>,
    signal: Option<i32>,
    answered: bool,
    stderr: &str,
) -> Option<RemoteError> {
    let host = target.label.clone();
    let ctl = target.remote_ctl.clone();
    let detail = summary(stderr);
    let Some(code) = code else {
        return Some(RemoteError::Killed {
            host,
            signal: signal.unwrap_or(0),
        });
    };
    Some(match code {
        0 => return None,
        // ServerAliveInterval gave up: the host went silent after answering TCP.
        255 if answered || stderr.contains("not responding") => RemoteError::Lost { host, detail },
        255 => RemoteError::Connect { host, detail },
        127 => RemoteError::CtlMissing {
            host,
            ctl,
            default: target.default_ctl(),
            detail,
        },
        126 => RemoteError::CtlNotRunnable { host, ctl, detail },
        2 if stderr.contains("unrecognized subcommand") => RemoteError::CtlTooOld { host, ctl },
        code => {
            // The remote client's own diagnostic is its last line that carries our prefix.
            let message = stderr
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("watchdogctl: "))
                .map_or_else(
                    || format!("the remote watchdogctl exited with {code}: {detail}"),
                    clean,
                );
            RemoteError::Remote {
                host,
                exit: Exit::from_code(code),
                message,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::ssh::SshSettings;
    use crate::remote::url;

    fn settings() -> SshSettings {
        SshSettings::resolve(None, None, None, None).unwrap()
    }

    fn target(text: &str, settings: &SshSettings) -> SshTarget {
        SshTarget::new(text, url::parse(text).unwrap(), settings)
    }

    #[test]
    fn exit_statuses_become_messages() {
        let s = settings();
        let t = target("web1", &s);
        let d = |code, answered, stderr| diagnose(&t, code, None, answered, stderr);
        assert!(d(Some(0), false, "").is_none());
        let e = d(
            Some(255),
            false,
            "ssh: connect to host web1 port 22: Connection refused\n",
        )
        .unwrap();
        assert_eq!(e.exit(), Exit::Unreachable);
        assert_eq!(
            e.to_string(),
            "ssh could not connect to web1: ssh: connect to host web1 port 22: Connection refused"
        );
        let e = d(Some(255), true, "Connection to web1 closed by remote host.").unwrap();
        assert!(
            e.to_string()
                .starts_with("the ssh connection to web1 was lost"),
            "{e}"
        );
        let e = d(
            Some(127),
            false,
            "bash: line 1: watchdogctl: command not found\n",
        )
        .unwrap();
        assert_eq!(e.exit(), Exit::Unreachable);
        let text = e.to_string();
        assert!(
            text.starts_with("watchdogctl is not installed on web1"),
            "{text}"
        );
        assert!(text.contains("install watchdogctl on web1"), "{text}");
        assert!(text.contains("command not found"), "{text}");
        let custom = target("web1?ctl=/opt/wd/ctl", &s);
        let e = diagnose(
            &custom,
            Some(127),
            None,
            false,
            "sh: 1: /opt/wd/ctl: not found",
        )
        .unwrap();
        assert!(
            e.to_string()
                .starts_with("/opt/wd/ctl was not found on web1"),
            "{e}"
        );
        let e = d(Some(126), false, "sh: 1: watchdogctl: Permission denied").unwrap();
        assert!(e.to_string().contains("cannot be run"), "{e}");
        let e = d(
            Some(2),
            false,
            "error: unrecognized subcommand 'dial-stdio'\n",
        )
        .unwrap();
        assert!(e.to_string().contains("has no dial-stdio command"), "{e}");
        let e = d(
            Some(3),
            false,
            "Warning: Permanently added 'web1'.\nwatchdogctl: cannot reach watchdogd at /run/w.sock: No such file or directory (os error 2) (is watchdogd running?)\n",
        )
        .unwrap();
        assert_eq!(e.exit(), Exit::Unreachable);
        assert_eq!(
            e.to_string(),
            "web1: cannot reach watchdogd at /run/w.sock: No such file or directory (os error 2) (is watchdogd running?)"
        );
        let e = d(
            Some(2),
            false,
            "watchdogctl: not allowed to connect to watchdogd at /run/w.sock\n",
        )
        .unwrap();
        assert_eq!(e.exit(), Exit::Usage);
        let e = d(Some(42), false, "").unwrap();
        assert_eq!(
            e.to_string(),
            "web1: the remote watchdogctl exited with 42: no message"
        );
        let e = diagnose(&t, None, Some(9), false, "").unwrap();
        assert_eq!(e.to_string(), "ssh to web1 was killed by signal 9");
    }

    #[test]
    fn ssh_giving_up_on_a_silent_server_is_a_lost_connection() {
        let s = settings();
        let t = target("web1", &s);
        let e = diagnose(
            &t,
            Some(255),
            None,
            false,
            "Timeout, server 10.0.0.7 not responding.\r\n",
        )
        .unwrap();
        assert_eq!(e.exit(), Exit::Unreachable);
        assert_eq!(
            e.to_string(),
            "the ssh connection to web1 was lost: Timeout, server 10.0.0.7 not responding."
        );
        // Before the banner: ssh did not connect, in its own words.
        let e = diagnose(
            &t,
            Some(255),
            None,
            false,
            "Connection timed out during banner exchange\r\nConnection to 10.0.0.7 port 22 timed out\r\n",
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "ssh could not connect to web1: Connection timed out during banner exchange; Connection to 10.0.0.7 port 22 timed out"
        );
    }

    #[test]
    fn a_call_out_of_time_says_what_did_not_answer() {
        let silent = |after, answered, detail: &str| RemoteError::NoReply {
            host: "web1".into(),
            after,
            answered,
            detail: detail.into(),
        };
        let e = silent(Duration::from_secs(5), false, NO_MESSAGE);
        assert_eq!(e.exit(), Exit::Unreachable);
        assert_eq!(
            e.to_string(),
            "no reply from web1 within 5s: ssh reported no connection failure, but neither the remote watchdogctl nor watchdogd answered"
        );
        let e = silent(Duration::from_millis(2500), false, "Warning: added");
        assert!(
            e.to_string().ends_with("within 2.5s: ssh reported no connection failure, but neither the remote watchdogctl nor watchdogd answered (ssh: Warning: added)"),
            "{e}"
        );
        let e = silent(Duration::from_secs(300), true, NO_MESSAGE);
        assert_eq!(
            e.to_string(),
            "watchdogd at web1 stopped replying (nothing within 300s)"
        );
    }

    #[test]
    fn stderr_summaries_are_short_and_clean() {
        assert_eq!(summary(""), "no message");
        assert_eq!(summary("a\n\nb\nc\nd\ne\n"), "b; c; d; e");
        assert_eq!(summary("evil \x1b[2J\n"), "evil \\u{1b}[2J");
    }
}
