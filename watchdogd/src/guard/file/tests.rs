use super::*;
use std::io::Read;

#[test]
fn a_regular_file_and_a_link_to_one_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("release-42.json");
    std::fs::write(&real, b"{}").unwrap();
    let link = dir.path().join("current.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for p in [&real, &link] {
        let (mut f, st) = open_regular(p).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "{}");
        assert_eq!(st.st_size, 2);
    }
}

#[test]
fn devices_fifos_folders_and_missing_files_are_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let tty = dir.path().join("tty");
    std::os::unix::fs::symlink("/dev/tty", &tty).unwrap();
    for (p, kind) in [
        (fifo.as_path(), "a FIFO"),
        (tty.as_path(), "a character device"),
        (Path::new("/dev/null"), "a character device"),
        (dir.path(), "a directory"),
    ] {
        match open_regular(p) {
            Err(FileError::NotRegular { kind: k, .. }) => assert_eq!(k, kind, "{p:?}"),
            other => panic!("{p:?}: {other:?}"),
        }
    }
    assert!(matches!(
        open_regular(&dir.path().join("none")),
        Err(FileError::Missing(_))
    ));
}

#[test]
fn appends_never_go_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"keep").unwrap();
    let log = dir.path().join("logs/out.log");
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::os::unix::fs::symlink(&target, &log).unwrap();
    assert!(matches!(open_append(&log), Err(FileError::Link(_))));
    std::fs::remove_file(&log).unwrap();
    std::fs::hard_link(&target, &log).unwrap();
    assert!(matches!(
        open_append(&log),
        Err(FileError::HardLinked { links: 2, .. })
    ));
    std::fs::remove_file(&log).unwrap();
    let mut f = open_append(&dir.path().join("logs/new/out.log")).unwrap();
    f.write_all(b"line\n").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
}

#[test]
fn replace_renames_over_a_planted_link_without_writing_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"keep").unwrap();
    let out = dir.path().join("metrics.prom");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    replace(&out, b"new\n", 0o644).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert_eq!(std::fs::read(&out).unwrap(), b"new\n");
    assert!(!std::fs::symlink_metadata(&out).unwrap().is_symlink());
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
}
