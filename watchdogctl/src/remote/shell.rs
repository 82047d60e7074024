//! The two shell rules the SSH transport needs, and no shell: splitting `WATCHDOG_SSH` /
//! `--ssh-command` into words, and quoting the remote command's words.
//!
//! No local shell ever sees a host name, a user or a path: ssh's argv is built directly. But ssh
//! joins everything after the destination into one command line that the *remote* login shell
//! parses, so every word of the remote command is quoted here for a POSIX shell.
//!
//! Splitting follows the common subset of `sh` quoting, like `GIT_SSH_COMMAND` users write it:
//! words are separated by blanks; `'…'` keeps everything literally; `"…"` keeps everything but
//! `\"`, `\\`, `\$` and `` \` ``, which lose their backslash; a backslash outside quotes keeps the
//! next character literally. Nothing is expanded (`$VAR`, `~`, globs): ssh itself expands `~` in
//! `-i` and `-F`.

/// Splits a command line into words, or says what is wrong with it.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a single quote (') is not closed".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("a double quote (\") is not closed".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a double quote (\") is not closed".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("it ends in a lone backslash".into()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// Characters a POSIX shell never treats specially inside a word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '+' | '=' | '@')
}

/// `word` as one word for a POSIX shell: unchanged when it is plain, else in single quotes
/// (a single quote inside becomes `'\''`).
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(is_plain) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Words quoted and joined by spaces: one command line for a POSIX shell.
pub fn join(words: &[&str]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_without_expanding() {
        let table: [(&str, &[&str]); 12] = [
            ("ssh", &["ssh"]),
            ("  ssh   -J bastion  ", &["ssh", "-J", "bastion"]),
            ("ssh -i '/keys/my key'", &["ssh", "-i", "/keys/my key"]),
            (
                r#"ssh -o "ProxyCommand=nc %h %p""#,
                &["ssh", "-o", "ProxyCommand=nc %h %p"],
            ),
            (r#"a "b\"c" "d\\e" "f\g""#, &["a", "b\"c", "d\\e", "f\\g"]),
            (r"a\ b c", &["a b", "c"]),
            ("a''b", &["ab"]),
            ("''", &[""]),
            ("ssh $HOME ~/.ssh/k", &["ssh", "$HOME", "~/.ssh/k"]),
            ("x\t\ny", &["x", "y"]),
            ("", &[]),
            ("'it''s'", &["its"]),
        ];
        for (text, words) in table {
            assert_eq!(split_words(text).unwrap(), words, "{text:?}");
        }
    }

    #[test]
    fn unterminated_quotes_are_named() {
        assert!(
            split_words("ssh 'oops")
                .unwrap_err()
                .contains("single quote")
        );
        assert!(
            split_words("ssh \"oops")
                .unwrap_err()
                .contains("double quote")
        );
        assert!(
            split_words("ssh \"a\\")
                .unwrap_err()
                .contains("double quote")
        );
        assert!(split_words("ssh \\").unwrap_err().contains("backslash"));
    }

    #[test]
    fn quotes_only_what_needs_it() {
        let table = [
            ("watchdogctl", "watchdogctl"),
            (
                "/run/watchdogd/watchdogd.sock",
                "/run/watchdogd/watchdogd.sock",
            ),
            ("--socket", "--socket"),
            ("", "''"),
            ("/tmp/my dir/w.sock", "'/tmp/my dir/w.sock'"),
            ("$(reboot)", "'$(reboot)'"),
            ("a;b", "'a;b'"),
            ("it's", "'it'\\''s'"),
            ("~/bin/x", "'~/bin/x'"),
            ("*", "'*'"),
            ("line\nbreak", "'line\nbreak'"),
        ];
        for (word, quoted) in table {
            assert_eq!(quote(word), quoted, "{word:?}");
        }
    }

    #[test]
    fn quoting_round_trips_through_the_splitter() {
        // Our splitter is a subset of sh; for quoted words it must agree with sh.
        for word in [
            "plain",
            "two words",
            "it's",
            "$x `y` \"z\"",
            "\\",
            "",
            "a'b'c",
        ] {
            assert_eq!(split_words(&quote(word)).unwrap(), [word], "{word:?}");
        }
        assert_eq!(
            join(&["watchdogctl", "dial-stdio", "--socket", "/tmp/a b"]),
            "watchdogctl dial-stdio --socket '/tmp/a b'"
        );
    }
}
