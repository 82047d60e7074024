//! The `ssh` command line for one host, and the settings it is built from.
//!
//! We reuse the system's OpenSSH instead of listening on the network ourselves: keys, agents,
//! bastions (`-J`), `~/.ssh/config` and audit all keep working. Its argv is built word by word
//! (never through a local shell): `SSH_WORDS… -T [-l USER] [-p PORT] -- HOST 'REMOTE COMMAND'`,
//! where `--` keeps a host from ever reading as an option and the remote command is quoted for
//! the remote login shell, which is what ssh hands it to.
//!
//! What ssh's exit status means when no reply came is in `failure`.

use std::ffi::OsString;

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

    /// The command line the remote login shell runs: `watchdogctl dial-stdio [--socket PATH]`,
    /// every word quoted.
    pub fn remote_command(&self) -> String {
        let mut words = vec![self.remote_ctl.as_str(), "dial-stdio"];
        if let Some(socket) = &self.url.socket {
            words.extend(["--socket", socket.as_str()]);
        }
        shell::join(&words)
    }

    /// ssh's full argv, program first.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.ssh.clone();
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

    #[test]
    fn argv_is_built_word_by_word() {
        let s = settings();
        let table: [(&str, &[&str]); 4] = [
            (
                "web1",
                &["ssh", "-T", "--", "web1", "watchdogctl dial-stdio"],
            ),
            (
                "ssh://deploy@web1:2222",
                &[
                    "ssh",
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
                    "ssh",
                    "-T",
                    "-p",
                    "22",
                    "--",
                    "::1",
                    "watchdogctl dial-stdio --socket '/tmp/my dir/w.sock'",
                ],
            ),
            (
                "h?ctl=/opt/x;reboot&socket=$(id)",
                &[
                    "ssh",
                    "-T",
                    "--",
                    "h",
                    "'/opt/x;reboot' dial-stdio --socket '$(id)'",
                ],
            ),
        ];
        for (text, argv) in table {
            assert_eq!(target(text, &s).argv(), argv, "{text}");
        }
        let custom =
            SshSettings::resolve(Some("ssh -F /dev/null -i /k"), None, Some("/opt/ctl"), None)
                .unwrap();
        assert_eq!(
            target("u@h", &custom).argv(),
            [
                "ssh",
                "-F",
                "/dev/null",
                "-i",
                "/k",
                "-T",
                "-l",
                "u",
                "--",
                "h",
                "/opt/ctl dial-stdio"
            ]
        );
        // The URL's ctl wins over the shared one, for that host only.
        assert_eq!(target("h?ctl=/x/ctl", &custom).remote_ctl, "/x/ctl");
    }
}
