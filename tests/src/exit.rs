//! Checking how a finished program exited: one assertion that shows both of its streams when
//! the code is not the one expected, instead of a hand-written "exit 0, else print stderr" in
//! every test.

use std::fmt::Display;
use std::process::Output;

/// What a finished program printed (lossily decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub stdout: String,
    pub stderr: String,
}

impl Printed {
    pub fn of(out: &Output) -> Printed {
        Printed {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Asserts that `out` exited with `code`; when it did not, the panic names `what` (the command,
/// or why the code matters) and shows both streams. Returns what it printed.
pub fn expect_exit(out: &Output, code: i32, what: impl Display) -> Printed {
    let printed = Printed::of(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exited {}\nstdout: {}\nstderr: {}",
        out.status,
        printed.stdout,
        printed.stderr
    );
    printed
}
