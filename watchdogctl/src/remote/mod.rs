//! Daemons on other hosts, reached over SSH (`-H`, `--hosts`).
//!
//! The daemon gains no network listener: `ssh HOST watchdogctl dial-stdio` runs the remote
//! client as a frame-for-frame bridge to the remote socket, and the local client speaks its
//! usual protocol over ssh's stdin/stdout. The remote daemon checks the protocol version and
//! the peer credentials (those of the SSH login user) exactly as for a local client.
//!
//! - `url`: the host URL syntax; `hosts`: `--hosts a,b` and `@FILE` lists;
//! - `shell`: splitting `WATCHDOG_SSH`, quoting the remote command;
//! - `ssh`: ssh's argv; `failure`: what its exit status means; `session`: one ssh child as a
//!   pipe;
//! - `fanout`: one job per host on a bounded number of threads.
//!
//! [`destination`] decides, once per command, whether it goes to the local socket, one host or
//! several; it is pure (the hosts file is read by the caller's closure) and table-tested.

pub mod failure;
pub mod fanout;
pub mod hosts;
pub mod session;
pub mod shell;
pub mod ssh;
pub mod url;

use std::ffi::OsString;

use self::ssh::{SshSettings, SshTarget};

/// The environment variable of `-H`.
pub const HOST_ENV: &str = "WATCHDOG_HOST";

/// Where a command's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The local socket (`--socket`, `-c`, the environment, the default).
    Local,
    /// One remote daemon: every command behaves as it does locally.
    One(SshTarget),
    /// Several remote daemons (`--hosts`), in the order given.
    Many(Vec<SshTarget>),
}

/// The flags and environment variables that choose the destination.
#[derive(Debug, Clone, Default)]
pub struct RemoteInputs {
    /// `-H` / `--host`.
    pub host_flag: Option<String>,
    /// `WATCHDOG_HOST`.
    pub host_env: Option<OsString>,
    /// Every `--hosts` value.
    pub hosts: Vec<String>,
    /// `--ssh-command` and `WATCHDOG_SSH`.
    pub ssh_flag: Option<String>,
    pub ssh_env: Option<OsString>,
    /// `--remote-ctl` and `WATCHDOG_REMOTE_CTL`.
    pub ctl_flag: Option<String>,
    pub ctl_env: Option<OsString>,
    /// `--socket` or `--config` was given: they name a local daemon.
    pub local_flags: bool,
}

impl RemoteInputs {
    /// The three environment variables of the remote settings, plus the given flags.
    pub fn with_env(mut self) -> Self {
        self.host_env = std::env::var_os(HOST_ENV);
        self.ssh_env = std::env::var_os(ssh::SSH_ENV);
        self.ctl_env = std::env::var_os(ssh::REMOTE_CTL_ENV);
        self
    }
}

/// Picks the destination: `--hosts` (several), else `-H`, else `WATCHDOG_HOST` unless
/// `--socket`/`--config` ask for a local daemon, else local. `read` returns a hosts file's
/// text. Returns the destination and warnings to print.
pub fn destination(
    inputs: RemoteInputs,
    read: impl Fn(&str) -> Result<String, String>,
) -> Result<(Destination, Vec<String>), String> {
    let host_flag = inputs.host_flag.filter(|h| !h.is_empty());
    let many = !inputs.hosts.is_empty();
    if many && host_flag.is_some() {
        return Err("-H and --hosts cannot be combined: -H names one host, --hosts several".into());
    }
    let explicit = many || host_flag.is_some();
    if explicit && inputs.local_flags {
        return Err(
            "--socket and --config name a local daemon; with -H or --hosts name the \
                    remote socket in the host URL: ssh://HOST?socket=PATH"
                .into(),
        );
    }
    let host_env = match inputs.host_env.filter(|h| !h.is_empty()) {
        // --hosts, or an explicit local flag, wins over the environment's default host.
        Some(_) if many || inputs.local_flags => None,
        Some(env) => Some(
            env.into_string()
                .map_err(|_| format!("{HOST_ENV} is not valid UTF-8"))?,
        ),
        None => None,
    };
    let single = host_flag
        .map(|h| (h, "-H"))
        .or(host_env.map(|h| (h, HOST_ENV)));
    if !many && single.is_none() {
        return Ok((Destination::Local, Vec::new()));
    }
    let settings = SshSettings::resolve(
        inputs.ssh_flag.as_deref(),
        inputs.ssh_env,
        inputs.ctl_flag.as_deref(),
        inputs.ctl_env,
    )?;
    if let Some((text, source)) = single {
        let url = url::parse(&text).map_err(|e| format!("{source}: {e}"))?;
        let label = text.trim();
        return Ok((
            Destination::One(SshTarget::new(label, url, &settings)),
            Vec::new(),
        ));
    }
    let (list, warnings) = hosts::collect(&inputs.hosts, read)?;
    let targets = list
        .into_iter()
        .map(|h| SshTarget::new(&h.label, h.url, &settings))
        .collect();
    Ok((Destination::Many(targets), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_file(name: &str) -> Result<String, String> {
        Err(format!("cannot read {name}"))
    }

    fn pick(inputs: RemoteInputs) -> Result<Destination, String> {
        destination(inputs, no_file).map(|(d, _)| d)
    }

    fn hosts_of(d: &Destination) -> Vec<&str> {
        match d {
            Destination::Local => vec![],
            Destination::One(t) => vec![t.label.as_str()],
            Destination::Many(ts) => ts.iter().map(|t| t.label.as_str()).collect(),
        }
    }

    #[test]
    fn precedence() {
        let base = RemoteInputs::default;
        assert_eq!(pick(base()).unwrap(), Destination::Local);
        let d = pick(RemoteInputs {
            host_flag: Some("a".into()),
            host_env: Some("b".into()),
            ..base()
        })
        .unwrap();
        assert!(matches!(d, Destination::One(_)));
        assert_eq!(hosts_of(&d), ["a"]);
        let d = pick(RemoteInputs {
            host_env: Some("b".into()),
            ..base()
        })
        .unwrap();
        assert_eq!(hosts_of(&d), ["b"]);
        // --hosts wins over the environment's single host.
        let d = pick(RemoteInputs {
            host_env: Some("b".into()),
            hosts: vec!["c,d".into()],
            ..base()
        })
        .unwrap();
        assert!(matches!(d, Destination::Many(_)));
        assert_eq!(hosts_of(&d), ["c", "d"]);
        // An explicit --socket wins over WATCHDOG_HOST; an empty WATCHDOG_HOST is unset.
        let local = |env: &str, local_flags| RemoteInputs {
            host_env: Some(env.into()),
            local_flags,
            ..base()
        };
        assert_eq!(pick(local("b", true)).unwrap(), Destination::Local);
        assert_eq!(pick(local("", false)).unwrap(), Destination::Local);
    }

    #[test]
    fn conflicts_and_bad_hosts_are_usage_errors() {
        let base = RemoteInputs::default;
        let err = pick(RemoteInputs {
            host_flag: Some("a".into()),
            hosts: vec!["b".into()],
            ..base()
        })
        .unwrap_err();
        assert!(err.contains("cannot be combined"), "{err}");
        let err = pick(RemoteInputs {
            host_flag: Some("a".into()),
            local_flags: true,
            ..base()
        })
        .unwrap_err();
        assert!(err.contains("?socket=PATH"), "{err}");
        let err = pick(RemoteInputs {
            host_env: Some("bad host".into()),
            ..base()
        })
        .unwrap_err();
        assert!(err.starts_with("WATCHDOG_HOST: invalid host"), "{err}");
        let err = pick(RemoteInputs {
            host_flag: Some("h".into()),
            ssh_env: Some("ssh 'x".into()),
            ..base()
        })
        .unwrap_err();
        assert!(err.contains("cannot split the ssh command"), "{err}");
        let err = pick(RemoteInputs {
            hosts: vec!["@nope".into()],
            ..base()
        })
        .unwrap_err();
        assert_eq!(err, "cannot read nope");
    }

    #[test]
    fn settings_reach_every_target() {
        let d = pick(RemoteInputs {
            hosts: vec!["a,b?ctl=/x/ctl".into()],
            ssh_flag: Some("ssh -J jump".into()),
            ctl_env: Some("/opt/ctl".into()),
            ..RemoteInputs::default()
        })
        .unwrap();
        let Destination::Many(ts) = d else {
            panic!("not many")
        };
        assert_eq!(ts[0].ssh, ["ssh", "-J", "jump"]);
        assert_eq!(ts[0].remote_ctl, "/opt/ctl");
        assert_eq!(ts[1].remote_ctl, "/x/ctl");
    }
}
