//! The host list of `--hosts`: `a,b,c`, `@FILE` (one host a line), or both mixed.
//!
//! The list keeps the order given, because a rolling restart goes through it in that order and
//! output follows it. A host named twice (even spelled differently, `web1` and `ssh://web1`) is
//! contacted once, with a warning: restarting it twice in a roll would surprise more than help.
//! Reading the file is left to the caller, so these rules stay pure.

use super::url::{self, HostUrl};

/// One host of a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHost {
    /// The host as the user wrote it: the `HOST` column and the `host` field of `--json`.
    pub label: String,
    pub url: HostUrl,
}

/// The lines of a hosts file that name hosts: `#` starts a comment (to the end of the line),
/// blanks around a host are ignored, and blank lines are skipped. Returns `(line number, host)`.
pub fn file_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let host = line.split('#').next().unwrap_or("").trim();
            (!host.is_empty()).then_some((i + 1, host))
        })
        .collect()
}

/// The hosts of every `--hosts` value, in order, each named once. `read` returns the text of a
/// hosts file (`@FILE`). Returns the hosts and the warnings to print (duplicates).
pub fn collect(
    values: &[String],
    read: impl Fn(&str) -> Result<String, String>,
) -> Result<(Vec<FleetHost>, Vec<String>), String> {
    let mut hosts: Vec<FleetHost> = Vec::new();
    let mut warnings = Vec::new();
    let mut add = |label: &str, url: HostUrl| match hosts.iter().find(|h| h.url == url) {
        Some(first) if first.label == label => {
            warnings.push(format!("{label} is listed twice; it is contacted once"));
        }
        Some(first) => warnings.push(format!(
            "{label} is the same host as {}; it is contacted once",
            first.label
        )),
        None => hosts.push(FleetHost {
            label: label.to_owned(),
            url,
        }),
    };
    for value in values {
        for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some(file) = item.strip_prefix('@') {
                let text = read(file)?;
                let lines = file_lines(&text);
                if lines.is_empty() {
                    return Err(format!("hosts file {file} names no hosts"));
                }
                for (n, host) in lines {
                    let url = url::parse(host).map_err(|e| format!("{file} line {n}: {e}"))?;
                    add(host, url);
                }
            } else {
                let url = url::parse(item).map_err(|e| format!("--hosts: {e}"))?;
                add(item, url);
            }
        }
    }
    if hosts.is_empty() {
        return Err("--hosts names no hosts".into());
    }
    Ok((hosts, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(hosts: &[FleetHost]) -> Vec<&str> {
        hosts.iter().map(|h| h.label.as_str()).collect()
    }

    fn no_files(name: &str) -> Result<String, String> {
        Err(format!("no file {name}"))
    }

    #[test]
    fn file_lines_skip_comments_and_blanks() {
        let text = "# the fleet\nweb1\n\n  web2  # the second\n\t\nssh://root@db:2222?socket=/run/x.sock\n#web3\n";
        assert_eq!(
            file_lines(text),
            [
                (2, "web1"),
                (4, "web2"),
                (6, "ssh://root@db:2222?socket=/run/x.sock")
            ]
        );
        assert!(file_lines("# only comments\n\n").is_empty());
    }

    #[test]
    fn lists_and_files_mix_in_order() {
        let read = |name: &str| match name {
            "fleet.txt" => Ok("b\n# c is down\nd\n".to_owned()),
            other => no_files(other),
        };
        let (hosts, warnings) = collect(&["a,@fleet.txt".into(), " e , ,".into()], read).unwrap();
        assert_eq!(labels(&hosts), ["a", "b", "d", "e"]);
        assert!(warnings.is_empty());
        assert_eq!(hosts[1].url.host, "b");
    }

    #[test]
    fn duplicates_are_contacted_once_with_a_warning() {
        let read = |_: &str| Ok("web1\nssh://web1\nweb2\n".to_owned());
        let (hosts, warnings) = collect(&["web1,web2,@f".into()], read).unwrap();
        assert_eq!(labels(&hosts), ["web1", "web2"]);
        assert_eq!(
            warnings,
            [
                "web1 is listed twice; it is contacted once",
                "ssh://web1 is the same host as web1; it is contacted once",
                "web2 is listed twice; it is contacted once",
            ]
        );
        // Another socket on the same machine is another daemon, not a duplicate.
        let (hosts, _) = collect(&["h,h?socket=/tmp/b.sock".into()], no_files).unwrap();
        assert_eq!(hosts.len(), 2);
    }

    #[test]
    fn errors_name_the_source() {
        let err = collect(&["a,b:99999".into()], no_files).unwrap_err();
        assert!(
            err.starts_with("--hosts: invalid host \"b:99999\""),
            "{err}"
        );
        let read = |_: &str| Ok("ok\n\nbad host\n".to_owned());
        let err = collect(&["@hosts.txt".into()], read).unwrap_err();
        assert!(
            err.starts_with("hosts.txt line 3: invalid host \"bad host\""),
            "{err}"
        );
        let err = collect(&["@missing".into()], no_files).unwrap_err();
        assert_eq!(err, "no file missing");
        let read = |_: &str| Ok("# nobody\n".to_owned());
        let err = collect(&["@empty.txt".into()], read).unwrap_err();
        assert_eq!(err, "hosts file empty.txt names no hosts");
        assert_eq!(
            collect(&[",".into()], no_files).unwrap_err(),
            "--hosts names no hosts"
        );
    }
}
