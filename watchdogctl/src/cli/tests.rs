use super::*;
use clap::CommandFactory;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::check(Cli::try_parse_from(
        std::iter::once("watchdogctl").chain(args.iter().copied()),
    )?)
}

#[test]
fn definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn global_flags_work_after_the_command() {
    let cli = parse(&["status", "api", "--json", "--socket", "/tmp/s", "-vv"]).unwrap();
    assert!(cli.json);
    assert_eq!(cli.verbose, 2);
    assert_eq!(cli.socket, Some(PathBuf::from("/tmp/s")));
    assert!(matches!(cli.command, Some(Command::Status { key: Some(k) }) if k == "api"));
    let cli = parse(&["-c", "/etc/w.json", "check"]).unwrap();
    assert_eq!(cli.config, Some(PathBuf::from("/etc/w.json")));
}

#[test]
fn restart_timeout_defaults_and_needs_wait() {
    let cli = parse(&["restart", "api"]).unwrap();
    assert!(matches!(
        cli.command,
        Some(Command::Restart {
            wait: false,
            timeout: 60,
            rolling: false,
            ..
        })
    ));
    let cli = parse(&["restart", "api", "--wait", "--timeout", "5"]).unwrap();
    assert!(matches!(
        cli.command,
        Some(Command::Restart {
            wait: true,
            timeout: 5,
            ..
        })
    ));
    let err = parse(&["restart", "api", "--timeout", "5"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["on"][..],
        &["frobnicate"],
        &["wait", "api", "--timeout", "soon"],
        &[],
        &["-v"],
        &["off", "api", "--for", "soon"],
        &["off", "api", "--for", "0"],
        &["history", "--limit", "0"],
        &["history", "--since", "yesterday"],
        &["completions", "tcsh"],
        &["beat", "--key", "api"],
    ] {
        let err = parse(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}");
    }
}

#[test]
fn run_takes_a_key_and_an_action_or_all_and_an_action() {
    let cli = parse(&["run", "api", "clear_db", "--wait"]).unwrap();
    assert!(
        matches!(cli.command, Some(Command::Run { all: false, ref words, wait: true, .. }) if words == &["api", "clear_db"])
    );
    let cli = parse(&["run", "--all", "clear_db"]).unwrap();
    assert!(
        matches!(cli.command, Some(Command::Run { all: true, ref words, .. }) if words == &["clear_db"])
    );
    assert_eq!(parse(&["run"]).unwrap_err().exit_code(), 2);
    assert_eq!(parse(&["run", "a", "b", "c"]).unwrap_err().exit_code(), 2);
    let cli = parse(&[
        "actions",
        "api",
        "--disable",
        "clear_db",
        "--enable",
        "notify",
    ])
    .unwrap();
    assert!(
        matches!(cli.command, Some(Command::Actions { ref disable, ref enable, .. }) if disable == &["clear_db"] && enable == &["notify"])
    );
    assert!(matches!(
        parse(&["restart-all", "--wait"]).unwrap().command,
        Some(Command::RestartAll {
            wait: true,
            timeout: 120
        })
    ));
}

#[test]
fn remote_flags_parse_anywhere() {
    let cli = parse(&[
        "-H",
        "ssh://root@web1:2222",
        "status",
        "--ssh-command",
        "ssh -J bastion",
        "--remote-ctl",
        "/opt/watchdogctl",
    ])
    .unwrap();
    assert_eq!(cli.host.as_deref(), Some("ssh://root@web1:2222"));
    assert_eq!(cli.ssh_command.as_deref(), Some("ssh -J bastion"));
    assert_eq!(cli.remote_ctl.as_deref(), Some("/opt/watchdogctl"));
    let cli = parse(&[
        "restart",
        "api",
        "--hosts",
        "a,b",
        "--hosts",
        "@f",
        "--rolling",
        "--wait",
        "--max-parallel",
        "2",
    ])
    .unwrap();
    assert_eq!(cli.hosts, ["a,b", "@f"]);
    assert_eq!(cli.max_parallel, Some(2));
    assert!(matches!(
        cli.command,
        Some(Command::Restart {
            rolling: true,
            wait: true,
            ..
        })
    ));
    assert!(matches!(
        parse(&["dial-stdio", "--socket", "/run/x.sock"])
            .unwrap()
            .command,
        Some(Command::DialStdio)
    ));
    assert_eq!(
        parse(&["status", "--max-parallel", "0"])
            .unwrap_err()
            .exit_code(),
        2
    );
}

#[test]
fn dial_stdio_is_hidden_from_help() {
    let help = Cli::command().render_long_help().to_string();
    assert!(!help.contains("dial-stdio"), "{help}");
    assert!(help.contains("--hosts"), "{help}");
}

#[test]
fn kebab_case_commands() {
    assert!(matches!(
        parse(&["start-all"]).unwrap().command,
        Some(Command::StartAll)
    ));
    assert!(matches!(
        parse(&["stop-all"]).unwrap().command,
        Some(Command::StopAll)
    ));
}

#[test]
fn off_for_takes_a_duration_and_names_a_bad_one() {
    let cli = parse(&["off", "api", "--for", "10m"]).unwrap();
    assert!(matches!(
        cli.command,
        Some(Command::Off { for_: Some(d), .. }) if d == Duration::from_secs(600)
    ));
    let cli = parse(&["off", "api"]).unwrap();
    assert!(matches!(cli.command, Some(Command::Off { for_: None, .. })));
    let err = parse(&["off", "api", "--for", "soon"]).unwrap_err();
    assert!(err.to_string().contains("\"soon\""), "{err}");
}

#[test]
fn history_defaults() {
    let cli = parse(&["history"]).unwrap();
    assert!(matches!(
        cli.command,
        Some(Command::History {
            key: None,
            limit: 50,
            since: None
        })
    ));
    let cli = parse(&["history", "api", "--limit", "5", "--since", "2h"]).unwrap();
    assert!(matches!(
        cli.command,
        Some(Command::History { key: Some(k), limit: 5, since: Some(s) })
            if k == "api" && s == Duration::from_secs(7200)
    ));
}

#[test]
fn version_needs_no_command_and_beat_defaults_to_running() {
    let cli = parse(&["--version"]).unwrap();
    assert!(cli.version && cli.command.is_none());
    assert!(parse(&["-V", "--json"]).unwrap().json);
    assert!(parse(&["status", "-V"]).unwrap().version);
    let cli = parse(&["beat", "--file", "/tmp/hb.json", "--key", "api"]).unwrap();
    assert!(matches!(
        cli.command,
        Some(Command::Beat { pid: None, status, .. }) if status == "running"
    ));
    assert!(matches!(
        parse(&["completions", "zsh"]).unwrap().command,
        Some(Command::Completions {
            shell: clap_complete::Shell::Zsh
        })
    ));
}
