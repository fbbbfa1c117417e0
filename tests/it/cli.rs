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
