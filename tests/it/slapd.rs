//! A real OpenLDAP server for the directory tests: each test starts its own slapd (about half a second)
//! on a free loopback port, from `tests/ldap/config.ldif` and `tests/ldap/data.ldif`, in its own
//! folder, as a child process in the foreground; it is stopped by its PID when the [`Slapd`] is
//! dropped (a failing test too). Nothing is skipped when slapd is missing: the test fails and names
//! `scripts/install-test-deps`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jmb::db::tempdir::TempDirGuard;

pub const BIND_DN: &str = "uid=jmb-bind,ou=system,dc=example,dc=org";
pub const BASE_DN: &str = "dc=example,dc=org";

pub struct Slapd {
    pub port: u16,
    child: Option<Child>,
    dir: TempDirGuard,
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not installed: run scripts/install-test-deps (Debian packages slapd and ldap-utils)")
}

impl Slapd {
    /// Starts a slapd with the test data; waits (bounded) until it accepts connections.
    pub fn start() -> Slapd {
        let mut last = String::new();
        // The port is picked free, then given to slapd: another process may take it in between, so
        // a failed start is tried again on a new port.
        for _ in 0..3 {
            match Self::try_start() {
                Ok(s) => return s,
                Err(e) => last = e,
            }
        }
        panic!("slapd did not start: {last}")
    }

    fn try_start() -> Result<Slapd, String> {
        let (slapd, slapadd) = (tool("slapd"), tool("slapadd"));
        let dir = TempDirGuard::new().map_err(|e| e.to_string())?;
        let d = dir.path();
        std::fs::create_dir_all(d.join("slapd.d")).unwrap();
        std::fs::create_dir_all(d.join("db")).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ldap");
        let config = std::fs::read_to_string(root.join("config.ldif")).unwrap().replace("@DIR@", &d.to_string_lossy());
        std::fs::write(d.join("config.ldif"), config).unwrap();
        for (db, ldif) in [("0", d.join("config.ldif")), ("1", root.join("data.ldif"))] {
            let out = Command::new(&slapadd)
                .args(["-q", "-n", db, "-F"])
                .arg(d.join("slapd.d"))
                .arg("-l")
                .arg(&ldif)
                .output()
                .map_err(|e| format!("slapadd: {e}"))?;
            if !out.status.success() {
                return Err(format!("slapadd -n{db}: {}", String::from_utf8_lossy(&out.stderr)));
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // `-d 0`: stay in the foreground (a child this test owns and stops), log nothing.
        let child = Command::new(&slapd)
            .args(["-d", "0", "-F"])
            .arg(d.join("slapd.d"))
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{port}/"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("slapd: {e}"))?;
        let mut s = Slapd { port, child: Some(child), dir };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        for _ in 0..50 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(s);
            }
            if let Some(status) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let mut err = String::new();
                if let Some(mut e) = s.child.take().and_then(|mut c| c.stderr.take()) {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(format!("slapd exited ({status}) on port {port}: {err}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("slapd not answering on port {port} after 5 s"))
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// A file holding the service account's password.
    pub fn password_file(&self) -> PathBuf {
        let p = self.dir.path().join("bind.pw");
        std::fs::write(&p, "bindpw\n").unwrap();
        p
    }

    /// `[directory]` pointed at this server.
    pub fn configure(&self, c: &mut jmb::config::Config) {
        let d = &mut c.directory;
        d.url = self.url();
        d.security = jmb::config::DirectorySecurity::PlaintextLoopback;
        d.bind_dn = BIND_DN.into();
        d.bind_password_file = Some(self.password_file());
        d.base_dn = BASE_DN.into();
        d.group_filter = "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))(mail={mail}))".into();
        d.timeout_seconds = 2;
    }

    /// Stops the server (by its PID) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            for _ in 0..50 {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP relay in front of a server that can make the connections already open go silent while they
/// stay open (a firewall dropping a session, a NAT entry gone): the half-dead connection a client
/// must give up on. Connections opened after [`Relay::freeze`] are relayed normally.
pub struct Relay {
    pub port: u16,
    freeze: tokio::sync::watch::Sender<u32>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target_port: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (freeze, _) = tokio::sync::watch::channel(0u32);
        let frozen = freeze.clone();
        let task = tokio::spawn(async move {
            let mut relays = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let mut frozen = frozen.subscribe();
                relays.spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        // Frozen: both sockets stay open, nothing goes through any more.
                        _ = frozen.changed() => std::future::pending::<()>().await,
                    }
                });
            }
        });
        Relay { port, freeze, task }
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The connections open now go silent, for good.
    pub fn freeze(&self) {
        self.freeze.send_modify(|n| *n += 1);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
