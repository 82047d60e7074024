use super::*;

#[test]
fn call_errors_map_to_exits() {
    let socket = PathBuf::from("/run/w.sock");
    let io = |k| io::Error::from(k);
    let cases = [
        (
            CallError::Connect {
                socket: socket.clone(),
                source: io(io::ErrorKind::NotFound),
                chosen: None,
            },
            Exit::Unreachable,
        ),
        (
            CallError::PermissionDenied {
                socket: socket.clone(),
                source: io(io::ErrorKind::PermissionDenied),
            },
            Exit::Usage,
        ),
        (
            CallError::Closed {
                at: "/run/w.sock".into(),
            },
            Exit::Unreachable,
        ),
        (
            CallError::Decode {
                at: "/run/w.sock".into(),
                source: CodecError::TrailingBytes(1),
                remote: false,
            },
            Exit::Unreachable,
        ),
        (
            CallError::Encode(CodecError::FrameTooLarge { len: 1, max: 0 }),
            Exit::Usage,
        ),
    ];
    for (err, exit) in cases {
        assert_eq!(err.exit(), exit, "{err}");
    }
}

#[test]
fn overlong_path_is_a_usage_error() {
    let socket = PathBuf::from(format!("/tmp/{}.sock", "a".repeat(200)));
    let err = Client::new(socket).call(&Request::Check, None).unwrap_err();
    assert_eq!(err.exit(), Exit::Usage, "{err}");
    assert!(err.to_string().starts_with("invalid socket path /tmp/aaa"));
}

#[test]
fn connecting_to_nothing_is_unreachable_and_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let err = Client::new(socket.clone())
        .call(&Request::Check, None)
        .unwrap_err();
    assert_eq!(err.exit(), Exit::Unreachable);
    let text = err.to_string();
    assert!(text.starts_with("cannot reach watchdogd at "), "{text}");
    assert!(text.contains(&socket.display().to_string()), "{text}");
    assert!(text.contains("Is watchdogd running?"), "{text}");
    assert!(text.ends_with("or `--socket PATH`"), "{text}");
}
