//! Host URLs: `[ssh://][user@]host[:port][?socket=PATH&ctl=PATH]`.
//!
//! The parse is strict because its pieces end up in ssh's argv: a host that starts with `-`
//! would read as an option, so names are limited to what DNS, ssh config aliases and IP
//! addresses use, and anything unexpected (another scheme, a password, a path, a fragment, an
//! unknown parameter) is refused with a message naming it rather than guessed at. Query values
//! and the user may be percent-encoded (`%20`, `%40`).

use std::fmt;

/// Where one remote daemon lives, as parsed from a host URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostUrl {
    /// The SSH login user; ssh's own default (config, then local user) when absent.
    pub user: Option<String>,
    /// A host name, ssh config alias, IPv4 address, or IPv6 address (without brackets).
    pub host: String,
    /// The SSH port; ssh's own default when absent.
    pub port: Option<u16>,
    /// The remote daemon's socket (`?socket=`), passed on as `dial-stdio --socket`.
    pub socket: Option<String>,
    /// The remote `watchdogctl` to run (`?ctl=`), for this host only.
    pub ctl: Option<String>,
}

/// A host URL that cannot be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid host {:?}: {}", self.url, self.reason)
    }
}

/// Parses one host URL.
pub fn parse(text: &str) -> Result<HostUrl, UrlError> {
    let fail = |reason: String| UrlError {
        url: text.to_owned(),
        reason,
    };
    let rest = text.trim();
    if rest.is_empty() {
        return Err(fail("it is empty".into()));
    }
    let rest = match rest.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ssh") => rest,
        Some((scheme, _)) => {
            return Err(fail(format!(
                "unsupported scheme {scheme}:// (only ssh:// is supported)"
            )));
        }
        None => rest,
    };
    if rest.contains('#') {
        return Err(fail("a host URL has no #fragment".into()));
    }
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let authority = match rest.split_once('/') {
        Some((authority, "")) => authority,
        Some(_) => {
            return Err(fail(
                "a host URL has no path; name the remote socket with ?socket=PATH".into(),
            ));
        }
        None => rest,
    };
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((user, hostport)) => (Some(parse_user(user).map_err(fail)?), hostport),
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport).map_err(fail)?;
    let mut url = HostUrl {
        user,
        host,
        port,
        socket: None,
        ctl: None,
    };
    if let Some(query) = query {
        parse_query(query, &mut url).map_err(fail)?;
    }
    Ok(url)
}

fn parse_user(raw: &str) -> Result<String, String> {
    if raw.contains(':') {
        return Err("passwords are not supported in host URLs; use SSH keys or an agent".into());
    }
    let user = percent_decode(raw)?;
    if user.is_empty() {
        return Err("the user before @ is empty".into());
    }
    if user.starts_with('-') {
        return Err(format!("user {user:?} starts with -"));
    }
    if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "user {user:?} contains blanks or control characters"
        ));
    }
    Ok(user)
}

fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or("an IPv6 address opened with [ is not closed with ]")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(format!("unexpected {after:?} after [{addr}]"))?,
            ),
        };
        (check_ipv6(addr)?, port)
    } else {
        if text.matches(':').count() > 1 {
            return Err("an IPv6 address needs brackets: [::1] or [::1]:22".into());
        }
        match text.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (text.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("the host name is empty".into());
    }
    if !host.contains(':') {
        check_name(&host)?;
    }
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

/// An IPv6 address with an optional zone (`fe80::1%eth0`, or `%25eth0` as RFC 6874 writes it
/// in URLs), returned as ssh takes it.
fn check_ipv6(addr: &str) -> Result<String, String> {
    let (ip, zone) = match addr.split_once('%') {
        Some((ip, zone)) => (ip, Some(zone.strip_prefix("25").unwrap_or(zone))),
        None => (addr, None),
    };
    let ip_ok = ip.contains(':')
        && ip
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'));
    let zone_ok = zone.is_none_or(|z| {
        !z.is_empty()
            && z.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    if !(ip_ok && zone_ok) {
        return Err(format!("[{addr}] is not an IPv6 address"));
    }
    Ok(match zone {
        Some(zone) => format!("{ip}%{zone}"),
        None => ip.to_owned(),
    })
}

/// A DNS name, ssh config alias or IPv4 address: letters, digits, `-`, `.`, `_`, and not
/// starting with `-` or `.` (ssh would read a leading `-` as an option).
fn check_name(host: &str) -> Result<(), String> {
    if host.starts_with(['-', '.']) {
        return Err(format!("host {host:?} starts with {:?}", &host[..1]));
    }
    match host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        Some(c) => Err(format!("host {host:?} contains {c:?}")),
        None => Ok(()),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err("the port after : is empty".into());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port {text:?} is not a number from 1 to 65535")),
        Ok(p) => Ok(p),
    }
}

fn parse_query(query: &str, url: &mut HostUrl) -> Result<(), String> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or(format!("parameter {pair:?} has no =VALUE"))?;
        let value = percent_decode(value)?;
        if value.is_empty() {
            return Err(format!("parameter {name} is empty"));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("parameter {name} contains control characters"));
        }
        let slot = match name {
            "socket" => &mut url.socket,
            "ctl" => &mut url.ctl,
            other => {
                return Err(format!("unknown parameter {other:?} (known: socket, ctl)"));
            }
        };
        if slot.replace(value).is_some() {
            return Err(format!("parameter {name} is given twice"));
        }
    }
    Ok(())
}

/// `%XX` escapes decoded; the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(format!("bad percent escape in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(user: Option<&str>, host: &str, port: Option<u16>) -> HostUrl {
        HostUrl {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
            socket: None,
            ctl: None,
        }
    }

    #[test]
    fn good_urls() {
        let with = |mut u: HostUrl, socket: Option<&str>, ctl: Option<&str>| {
            u.socket = socket.map(str::to_owned);
            u.ctl = ctl.map(str::to_owned);
            u
        };
        let table = [
            ("host", url(None, "host", None)),
            ("web-1.example.com", url(None, "web-1.example.com", None)),
            ("user@host", url(Some("user"), "host", None)),
            (
                "ssh://user@host:2222",
                url(Some("user"), "host", Some(2222)),
            ),
            ("SSH://host/", url(None, "host", None)),
            ("host:22", url(None, "host", Some(22))),
            ("10.0.0.7", url(None, "10.0.0.7", None)),
            ("[::1]:22", url(None, "::1", Some(22))),
            (
                "ssh://root@[fe80::1%25eth0]",
                url(Some("root"), "fe80::1%eth0", None),
            ),
            ("ssh://[2001:db8::2]", url(None, "2001:db8::2", None)),
            ("a%40corp@h", url(Some("a@corp"), "h", None)),
            (
                "ssh://host?socket=/run/x.sock",
                with(url(None, "host", None), Some("/run/x.sock"), None),
            ),
            (
                "ssh://u@h:2?socket=/tmp/a%20b.sock&ctl=/opt/wd/watchdogctl",
                with(
                    url(Some("u"), "h", Some(2)),
                    Some("/tmp/a b.sock"),
                    Some("/opt/wd/watchdogctl"),
                ),
            ),
            ("  host  ", url(None, "host", None)),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn bad_urls_name_the_problem() {
        let table = [
            ("", "empty"),
            ("http://host", "unsupported scheme http://"),
            ("ssh://host/run/x.sock", "no path"),
            ("ssh://user:pw@host", "passwords"),
            ("ssh://@host", "user before @ is empty"),
            ("-oProxyCommand=x", "starts with \"-\""),
            ("ssh://-host", "starts with \"-\""),
            ("ssh://--@host", "starts with -"),
            ("host:0", "1 to 65535"),
            ("host:65536", "1 to 65535"),
            ("host:ssh", "1 to 65535"),
            ("host:", "port after : is empty"),
            ("::1", "needs brackets"),
            ("[::1", "not closed"),
            ("[host]:22", "not an IPv6 address"),
            ("[::1]x", "unexpected"),
            ("[::1%]", "not an IPv6 address"),
            ("[::1%e;x]", "not an IPv6 address"),
            ("ho st", "contains ' '"),
            ("host;reboot", "contains ';'"),
            ("host?sock=/x", "unknown parameter \"sock\""),
            ("host?socket", "no =VALUE"),
            ("host?socket=", "socket is empty"),
            ("host?socket=/a&socket=/b", "given twice"),
            ("host?socket=%zz", "bad percent escape"),
            ("host?ctl=a%0Ab", "control characters"),
            ("host#frag", "fragment"),
            ("user@", "host name is empty"),
        ];
        for (text, reason) in table {
            let err = parse(text).expect_err(text);
            assert!(err.reason.contains(reason), "{text:?}: {}", err.reason);
            assert!(err.to_string().starts_with("invalid host "), "{err}");
        }
    }
}
