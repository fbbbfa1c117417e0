//! The command line: `check-config` names the wrong key; `migrate` applies the schema; `serve` stops
//! cleanly on SIGTERM.

use std::process::Command;

fn jmb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jmb"))
}

#[test]
fn check_config_names_the_key() {
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let file = dir.path().join("jmb.toml");
    std::fs::write(&file, "[jitsi]\napp_secret = \"0123456789abcdef0123456789abcdef\"\n[booking]\nmax_gests = 3\n")
        .unwrap();
    let out = jmb().arg("check-config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("booking.max_gests") && err.contains("unknown key"), "{err}");

    std::fs::write(&file, "[jitsi]\napp_secret_file = \"/nonexistent/secret\"\n").unwrap();
    let out = jmb().arg("check-config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jitsi.app_secret_file"));

    std::fs::write(&file, "[jitsi]\napp_secret = \"0123456789abcdef0123456789abcdef\"\n").unwrap();
    let out = jmb().arg("check-config").arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn migrate_then_serve_and_stop_on_sigterm() {
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let file = dir.path().join("jmb.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        &file,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\npath = \"{}\"\n[jitsi]\napp_secret = \"0123456789abcdef0123456789abcdef\"\n",
            dir.path().join("db.sqlite3").display()
        ),
    )
    .unwrap();
    let out = jmb().arg("migrate").arg("--config").arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema at version"));

    let mut child = jmb().arg("serve").arg("--config").arg(&file).spawn().unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(up, "server did not start");
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    assert!(exited.is_some_and(|s| s.success()), "graceful exit on SIGTERM: {exited:?}");
}

/// Waits (bounded, 5 s) until something accepts connections on `port`.
fn wait_for_port(port: u16) -> bool {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// Sends SIGTERM and waits (bounded) for the exit status.
fn stop(mut child: std::process::Child) -> Option<std::process::ExitStatus> {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn environment_overrides_apply_to_the_embedded_demo() {
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = jmb()
        .arg("serve")
        .current_dir(dir.path())
        .env("JMB_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("JMB_DATABASE__PATH", dir.path().join("demo.sqlite3"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_for_port(port);
    let exited = stop(child);
    assert!(up, "the demo listens where JMB_SERVER__LISTEN says");
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
    assert!(dir.path().join("demo.sqlite3").exists(), "and keeps its data where JMB_DATABASE__PATH says");
}

/// A configuration for `dir`: listening on `listen`, the database under `dir/db/`, with `server` and
/// `jitsi` lines added to those sections and `rest` appended.
fn config_text(dir: &std::path::Path, listen: &str, server: &str, jitsi: &str, rest: &str) -> String {
    let jitsi = if jitsi.is_empty() { "app_secret = \"0123456789abcdef0123456789abcdef\"" } else { jitsi };
    format!(
        "[server]\nlisten = \"{listen}\"\n{server}\n[database]\npath = \"{}\"\n[jitsi]\n{jitsi}\n{rest}",
        dir.join("db").join("jmb.sqlite3").display()
    )
}

fn check_config(dir: &std::path::Path, text: &str) -> (Option<i32>, String) {
    let file = dir.join("jmb.toml");
    std::fs::write(&file, text).unwrap();
    let out = jmb().arg("check-config").arg(&file).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `check-config` refuses what `serve` would refuse at start, naming the key or the path.
#[test]
fn check_config_runs_every_check_serve_runs() {
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let d = dir.path();
    let short = d.join("short.key");
    std::fs::write(&short, "x\n").unwrap();
    let precious = d.join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    std::fs::create_dir_all(d.join("a-folder")).unwrap();
    let cases = [
        (
            "server.secret_file",
            config_text(d, "127.0.0.1:1", &format!("secret_file = \"{}\"", short.display()), "", ""),
        ),
        (
            "jitsi.app_secret_file",
            config_text(d, "127.0.0.1:1", "", &format!("app_secret_file = \"{}\"", short.display()), ""),
        ),
        (
            "presence.secret_file",
            config_text(d, "127.0.0.1:1", "", "", &format!("[presence]\nsecret_file = \"{}\"\n", short.display())),
        ),
        (
            "presence.secret_file",
            config_text(
                d,
                "127.0.0.1:1",
                "",
                "",
                &format!("[presence]\nsecret_file = \"{}\"\n", d.join("absent").display()),
            ),
        ),
        ("server.listen", config_text(d, &format!("unix:{}", precious.display()), "", "", "")),
        (
            "a-folder",
            config_text(d, "127.0.0.1:1", "", "", "").replace(
                &d.join("db").join("jmb.sqlite3").display().to_string(),
                &d.join("a-folder").display().to_string(),
            ),
        ),
    ];
    for (what, text) in cases {
        let (code, err) = check_config(d, &text);
        assert_eq!(code, Some(2), "{what}: {err}");
        assert!(err.contains(what), "{what}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");

    // Warnings do not fail the check.
    let text = config_text(d, "127.0.0.1:1", "", "", "[auth]\ntrusted_proxies = [\"0.0.0.0/0\"]\n");
    let (code, err) = check_config(d, &text);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("warning") && err.contains("auth.trusted_proxies") && err.contains("public"), "{err}");
    assert!(!d.join("db").exists(), "check-config creates nothing");
}

/// `listen = "unix:PATH"` replaces a stale socket and nothing else: a file at PATH (the database,
/// say) stays, and serve stops with a message.
#[cfg(unix)]
#[test]
fn serve_never_unlinks_what_is_not_a_socket() {
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let d = dir.path();
    let victim = d.join("victim");
    std::fs::write(&victim, "precious data").unwrap();
    let file = d.join("jmb.toml");
    std::fs::write(&file, config_text(d, &format!("unix:{}", victim.display()), "", "", "")).unwrap();
    let child = jmb().arg("serve").arg("--config").arg(&file).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let out = wait_exit(child);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious data", "the file is intact");
    let (status, stderr) = out.expect("serve refuses and exits");
    assert!(!status.success());
    assert!(stderr.contains("server.listen") && stderr.contains("not a socket"), "{stderr}");

    // A socket left by an earlier run is replaced.
    let sock = d.join("jmb.sock");
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    std::fs::write(&file, config_text(d, &format!("unix:{}", sock.display()), "", "", "")).unwrap();
    let child = jmb().arg("serve").arg("--config").arg(&file).spawn().unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let exited = stop(child);
    assert!(up, "serve replaced the stale socket");
    assert!(exited.is_some_and(|s| s.success()));
}

/// Waits (bounded, 10 s) for a child to exit on its own; its status and stderr.
fn wait_exit(mut child: std::process::Child) -> Option<(std::process::ExitStatus, String)> {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            return Some((status, err));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

/// Makes a file read-only for this process while alive, if a test can: mode 0444 for a normal user,
/// the immutable attribute (`chattr +i`) for root, whom permission bits do not stop.
struct ReadOnly {
    path: std::path::PathBuf,
    immutable: bool,
}

impl ReadOnly {
    fn make(path: &std::path::Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        let writable = || std::fs::OpenOptions::new().write(true).open(path).is_ok();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).ok()?;
        if !writable() {
            return Some(ReadOnly { path: path.to_path_buf(), immutable: false });
        }
        let ok = Command::new("chattr").arg("+i").arg(path).status().is_ok_and(|s| s.success());
        if ok && !writable() {
            return Some(ReadOnly { path: path.to_path_buf(), immutable: true });
        }
        eprintln!("cannot make {} read-only here (neither mode bits nor chattr): check skipped", path.display());
        None
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.path).status();
        }
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600));
    }
}

/// A database jmb cannot write is refused at start (and by check-config), naming the path and the
/// reason, instead of answering 500 to every booking.
#[cfg(unix)]
#[test]
fn a_read_only_database_is_refused_at_start() {
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let d = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let file = d.join("jmb.toml");
    std::fs::write(&file, config_text(d, &format!("127.0.0.1:{port}"), "", "", "")).unwrap();
    let out = jmb().arg("migrate").arg("--config").arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = d.join("db").join("jmb.sqlite3");
    let Some(_guard) = ReadOnly::make(&db) else { return };

    let out = jmb().arg("check-config").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&db.display().to_string()) && err.contains("cannot write"), "{err}");

    let child = jmb().arg("serve").arg("--config").arg(&file).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let out = wait_exit(child);
    let (status, err) = out.expect("serve refuses and exits");
    assert!(!status.success());
    assert!(err.contains(&db.display().to_string()) && err.contains("cannot write"), "{err}");
}

/// The database folder and file hold every token and password hash: created private whatever the
/// umask.
#[cfg(unix)]
#[test]
fn the_database_is_created_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = jmb::db::tempdir::TempDirGuard::new().unwrap();
    let d = dir.path();
    let file = d.join("jmb.toml");
    let text = config_text(d, "127.0.0.1:1", "", "", "").replace("/db/jmb.sqlite3", "/data/db/jmb.sqlite3");
    std::fs::write(&file, text).unwrap();
    let cmd = format!("umask 000; exec '{}' migrate --config '{}'", env!("CARGO_BIN_EXE_jmb"), file.display());
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(d.join("data")), 0o700);
    assert_eq!(mode(d.join("data/db")), 0o700);
    assert_eq!(mode(d.join("data/db/jmb.sqlite3")), 0o600);
    let out = jmb().arg("check-config").arg(&file).output().unwrap();
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("warning"));

    // A database made readable by others (by hand, by an older jmb) is reported.
    std::fs::set_permissions(d.join("data/db/jmb.sqlite3"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = jmb().arg("check-config").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("mode 0644") && err.contains("chmod 0600"), "{err}");
}
