//! The `ssh` command line for one host, and the settings it is built from.
//!
//! We reuse the system's OpenSSH instead of listening on the network ourselves: keys, agents,
//! bastions (`-J`), `~/.ssh/config` and audit all keep working. Its argv is built word by word
//! (never through a local shell): `SSH_WORDS… -o ConnectTimeout=N -o ServerAliveInterval=5 -o
//! ServerAliveCountMax=3 -T [-l USER] [-p PORT] -- HOST 'REMOTE COMMAND'`, where `--` keeps a
//! host from ever reading as an option and the remote command is quoted for the remote login
//! shell, which is what ssh hands it to.
//!
//! The three `-o` are there because ssh alone waits forever for a host that accepts TCP and
//! never speaks (a wedged sshd, a tarpit, a stopped VM): `ConnectTimeout` bounds the TCP connect
//! and the banner exchange, `ServerAlive*` a host that falls silent later (the key exchange, or
//! a call under way). ssh keeps the *first* value it gets for an option and reads its command
//! line before any config file, so a user's own `-o` in `WATCHDOG_SSH` (which comes before ours)
//! wins, while ours win over `~/.ssh/config`. `ConnectTimeout` is shortened to fit a call with a
//! shorter budget, so that ssh, which knows whether it connected, is the one to report it.
//!
//! What ssh's exit status means when no reply came is in `failure`.

use std::ffi::OsString;
use std::time::Duration;

use super::shell;
use super::url::HostUrl;

/// The ssh program when neither `--ssh-command` nor `WATCHDOG_SSH` names one.
pub const DEFAULT_SSH: &str = "ssh";
/// The remote client when neither `?ctl=`, `--remote-ctl` nor `WATCHDOG_REMOTE_CTL` names one.
pub const DEFAULT_REMOTE_CTL: &str = "watchdogctl";
/// The environment variable of `--ssh-command`.
pub const SSH_ENV: &str = "WATCHDOG_SSH";
/// The environment variable of `--remote-ctl`.
pub const REMOTE_CTL_ENV: &str = "WATCHDOG_REMOTE_CTL";
/// ssh's `ConnectTimeout` (seconds) for a call with time to spare.
pub const CONNECT_TIMEOUT_SECS: u64 = 10;
/// ssh's `ServerAliveInterval` (seconds): how often a silent server is asked whether it lives.
pub const SERVER_ALIVE_INTERVAL_SECS: u64 = 5;
/// ssh's `ServerAliveCountMax`: unanswered asks before ssh gives up (so 15 s of silence).
pub const SERVER_ALIVE_COUNT_MAX: u32 = 3;

/// The `ConnectTimeout` for a call that may take `limit` in all: the default, or one second
/// less than the limit (at least 1) so that ssh reports a host it cannot reach before the
/// caller gives up on the call.
pub fn connect_timeout_secs(limit: Duration) -> u64 {
    limit
        .as_secs()
        .saturating_sub(1)
        .clamp(1, CONNECT_TIMEOUT_SECS)
}

/// The ssh settings every host of one command shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSettings {
    /// ssh's program and leading arguments.
    pub ssh: Vec<String>,
    /// The remote watchdogctl for hosts whose URL names none.
    pub remote_ctl: String,
}

impl SshSettings {
    /// `--ssh-command` wins over `WATCHDOG_SSH`, `--remote-ctl` over `WATCHDOG_REMOTE_CTL`; an
    /// empty value counts as unset, as for the other variables.
    pub fn resolve(
        ssh_flag: Option<&str>,
        ssh_env: Option<OsString>,
        ctl_flag: Option<&str>,
        ctl_env: Option<OsString>,
    ) -> Result<SshSettings, String> {
        let pick = |flag: Option<&str>, env: Option<OsString>, name: &str| match flag
            .filter(|f| !f.is_empty())
        {
            Some(flag) => Ok(Some(flag.to_owned())),
            None => match env.filter(|e| !e.is_empty()) {
                None => Ok(None),
                Some(env) => env
                    .into_string()
                    .map(Some)
                    .map_err(|_| format!("{name} is not valid UTF-8")),
            },
        };
        let ssh = match pick(ssh_flag, ssh_env, SSH_ENV)? {
            None => vec![DEFAULT_SSH.to_owned()],
            Some(text) => {
                let words = shell::split_words(&text)
                    .map_err(|e| format!("cannot split the ssh command {text:?}: {e}"))?;
                if words.is_empty() {
                    vec![DEFAULT_SSH.to_owned()]
                } else {
                    words
                }
            }
        };
        let remote_ctl = pick(ctl_flag, ctl_env, REMOTE_CTL_ENV)?
            .unwrap_or_else(|| DEFAULT_REMOTE_CTL.to_owned());
        // As for `?ctl=`: a line break would end the remote command line early, whatever the
        // quoting, and other control characters are never part of a real path.
        if remote_ctl.chars().any(char::is_control) {
            let source = match ctl_flag.filter(|f| !f.is_empty()) {
                Some(_) => "--remote-ctl",
                None => REMOTE_CTL_ENV,
            };
            return Err(format!(
                "{source} {remote_ctl:?} contains control characters"
            ));
        }
        Ok(SshSettings { ssh, remote_ctl })
    }
}

/// How to reach one remote daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The host as the user wrote it, for messages and the `HOST` column.
    pub label: String,
    pub url: HostUrl,
    /// ssh's program and leading arguments.
    pub ssh: Vec<String>,
    /// The remote watchdogctl: the URL's `?ctl=`, else the shared setting.
    pub remote_ctl: String,
}

impl SshTarget {
    pub fn new(label: &str, url: HostUrl, settings: &SshSettings) -> SshTarget {
        let remote_ctl = url
            .ctl
            .clone()
            .unwrap_or_else(|| settings.remote_ctl.clone());
        SshTarget {
            label: label.to_owned(),
            url,
            ssh: settings.ssh.clone(),
            remote_ctl,
        }
    }

    /// The command line the remote login shell runs: `watchdogctl dial-stdio
    /// [--socket=PATH]`, every word quoted. The socket is one word with its flag, so a path
    /// that starts with `-` cannot read as another option.
    pub fn remote_command(&self) -> String {
        let socket = self.url.socket.as_ref().map(|s| format!("--socket={s}"));
        let mut words = vec![self.remote_ctl.as_str(), "dial-stdio"];
        words.extend(socket.as_deref());
        shell::join(&words)
    }

    /// ssh's full argv, program first, for a call with time to spare.
    pub fn argv(&self) -> Vec<String> {
        self.argv_within(Duration::MAX)
    }

    /// ssh's full argv for a call that may take `limit` in all (see [`connect_timeout_secs`]).
    pub fn argv_within(&self, limit: Duration) -> Vec<String> {
        let mut argv = self.ssh.clone();
        for option in [
            format!("ConnectTimeout={}", connect_timeout_secs(limit)),
            format!("ServerAliveInterval={SERVER_ALIVE_INTERVAL_SECS}"),
            format!("ServerAliveCountMax={SERVER_ALIVE_COUNT_MAX}"),
        ] {
            argv.extend(["-o".to_owned(), option]);
        }
        // No terminal: the channel carries binary frames, and a forced tty would mangle them.
        argv.push("-T".into());
        if let Some(user) = &self.url.user {
            argv.extend(["-l".into(), user.clone()]);
        }
        if let Some(port) = self.url.port {
            argv.extend(["-p".into(), port.to_string()]);
        }
        argv.extend(["--".into(), self.url.host.clone(), self.remote_command()]);
        argv
    }

    /// Whether the remote client is the default one looked up on the remote PATH.
    pub fn default_ctl(&self) -> bool {
        self.remote_ctl == DEFAULT_REMOTE_CTL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::url;

    fn settings() -> SshSettings {
        SshSettings::resolve(None, None, None, None).unwrap()
    }

    fn target(text: &str, settings: &SshSettings) -> SshTarget {
        SshTarget::new(text, url::parse(text).unwrap(), settings)
    }

    #[test]
    fn settings_take_flag_then_env_then_default() {
        assert_eq!(settings().ssh, ["ssh"]);
        assert_eq!(settings().remote_ctl, "watchdogctl");
        let s = SshSettings::resolve(
            Some("ssh -J bastion"),
            Some("ignored".into()),
            None,
            Some("/opt/wd/watchdogctl".into()),
        )
        .unwrap();
        assert_eq!(s.ssh, ["ssh", "-J", "bastion"]);
        assert_eq!(s.remote_ctl, "/opt/wd/watchdogctl");
        let s = SshSettings::resolve(None, Some("'/my ssh' -i k".into()), Some(""), None).unwrap();
        assert_eq!(s.ssh, ["/my ssh", "-i", "k"]);
        assert_eq!(s.remote_ctl, "watchdogctl");
        let s = SshSettings::resolve(None, Some("".into()), None, None).unwrap();
        assert_eq!(s.ssh, ["ssh"]);
        let err = SshSettings::resolve(Some("ssh -o 'x"), None, None, None).unwrap_err();
        assert!(err.contains("single quote"), "{err}");
    }

    /// The words watchdogctl puts between the user's ssh words and `-T`, for a call with time
    /// to spare.
    const DEFAULTS: [&str; 6] = [
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
    ];

    fn with_defaults(first: &[&str], rest: &[&str]) -> Vec<String> {
        first
            .iter()
            .chain(&DEFAULTS)
            .chain(rest)
            .map(|w| (*w).to_owned())
            .collect()
    }

    #[test]
    fn argv_is_built_word_by_word() {
        let s = settings();
        let table: [(&str, &[&str]); 5] = [
            ("web1", &["-T", "--", "web1", "watchdogctl dial-stdio"]),
            (
                "ssh://deploy@web1:2222",
                &[
                    "-T",
                    "-l",
                    "deploy",
                    "-p",
                    "2222",
                    "--",
                    "web1",
                    "watchdogctl dial-stdio",
                ],
            ),
            (
                "[::1]:22?socket=/tmp/my dir/w.sock",
                &[
                    "-T",
                    "-p",
                    "22",
                    "--",
                    "::1",
                    "watchdogctl dial-stdio '--socket=/tmp/my dir/w.sock'",
                ],
            ),
            (
                "h?ctl=/opt/x;reboot&socket=$(id)",
                &[
                    "-T",
                    "--",
                    "h",
                    "'/opt/x;reboot' dial-stdio '--socket=$(id)'",
                ],
            ),
            // A socket that starts with `-` stays the value of --socket.
            (
                "h?socket=-rf",
                &["-T", "--", "h", "watchdogctl dial-stdio --socket=-rf"],
            ),
        ];
        for (text, rest) in table {
            assert_eq!(
                target(text, &s).argv(),
                with_defaults(&["ssh"], rest),
                "{text}"
            );
        }
        let custom =
            SshSettings::resolve(Some("ssh -F /dev/null -i /k"), None, Some("/opt/ctl"), None)
                .unwrap();
        assert_eq!(
            target("u@h", &custom).argv(),
            with_defaults(
                &["ssh", "-F", "/dev/null", "-i", "/k"],
                &["-T", "-l", "u", "--", "h", "/opt/ctl dial-stdio"]
            )
        );
        // The URL's ctl wins over the shared one, for that host only.
        assert_eq!(target("h?ctl=/x/ctl", &custom).remote_ctl, "/x/ctl");
    }

    #[test]
    fn the_users_own_options_come_before_the_defaults() {
        // ssh keeps the first value of an option: a user's -o ConnectTimeout wins over ours.
        let s = SshSettings::resolve(Some("ssh -o ConnectTimeout=60"), None, None, None).unwrap();
        let argv = target("h", &s).argv();
        let first = argv.iter().position(|w| w.starts_with("ConnectTimeout="));
        assert_eq!(first, Some(2), "{argv:?}");
        assert_eq!(argv[2], "ConnectTimeout=60");
    }

    #[test]
    fn connect_timeout_fits_the_call() {
        let table = [
            (Duration::MAX, 10),
            (Duration::from_secs(30), 10),
            (Duration::from_secs(11), 10),
            (Duration::from_secs(10), 9),
            (Duration::from_secs(5), 4),
            (Duration::from_millis(2500), 1),
            (Duration::from_secs(1), 1),
            (Duration::ZERO, 1),
        ];
        for (limit, secs) in table {
            assert_eq!(connect_timeout_secs(limit), secs, "{limit:?}");
        }
        let argv = target("h", &settings()).argv_within(Duration::from_secs(5));
        assert!(argv.contains(&"ConnectTimeout=4".to_owned()), "{argv:?}");
    }

    #[test]
    fn a_remote_ctl_with_control_characters_is_refused() {
        for bad in ["/opt/ctl\nreboot", "/opt/\tctl", "ctl\u{1b}[2J"] {
            let err = SshSettings::resolve(None, None, Some(bad), None).unwrap_err();
            assert!(err.starts_with("--remote-ctl \""), "{err}");
            assert!(err.ends_with("contains control characters"), "{err}");
            let err = SshSettings::resolve(None, None, None, Some(bad.into())).unwrap_err();
            assert!(err.starts_with("WATCHDOG_REMOTE_CTL \""), "{err}");
        }
    }
}
