//! A real SMTP server on loopback for the mail tests: aiosmtpd's Mailbox handler (from the Python
//! environment `scripts/install-test-deps` builds), storing every message in a Maildir with the envelope
//! added as `X-MailFrom` and `X-RcptTo` headers. Started by the test, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jmb::db::tempdir::TempDirGuard;
use mail_parser::MimeHeaders;

pub struct SmtpSink {
    pub port: u16,
    maildir: PathBuf,
    child: Option<Child>,
    _dir: TempDirGuard,
}

fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-it/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/install-test-deps (it installs aiosmtpd)", p.display());
    p
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts the sink on `port` (a test may first point jmb at a port where nothing listens yet).
    pub fn start_on(port: u16) -> Self {
        let dir = TempDirGuard::new().unwrap();
        let maildir = dir.path().join("maildir");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let sink = SmtpSink { port, maildir, child: Some(child), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port} within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        sink
    }

    /// Every message received so far, oldest first.
    pub fn mails(&self) -> Vec<Received> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries.flatten() {
                    let meta = e.metadata().unwrap();
                    files.push((meta.modified().unwrap(), e.path()));
                }
            }
        }
        files.sort();
        files.into_iter().map(|(_, p)| Received::new(std::fs::read(p).unwrap())).collect()
    }

    /// Waits (at most 10 s) until `n` messages arrived, then a little more to catch any extra one.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                tokio::time::sleep(Duration::from_millis(300)).await;
                return self.mails();
            }
            assert!(Instant::now() < deadline, "expected {n} mails, got {}: {:?}", mails.len(), subjects(&mails));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn subjects(mails: &[Received]) -> Vec<String> {
    mails.iter().map(|m| format!("{} -> {}", m.subject(), m.rcpt())).collect()
}

/// One received message.
pub struct Received {
    pub raw: Vec<u8>,
}

impl Received {
    fn new(raw: Vec<u8>) -> Self {
        Self { raw }
    }

    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(&self.raw).expect("a parsable message")
    }

    /// A header as sent (unfolded, not decoded).
    pub fn header(&self, name: &str) -> String {
        self.parsed().header_raw(name).map(|v| v.trim().replace("\r\n", "")).unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }

    /// The envelope recipient.
    pub fn rcpt(&self) -> String {
        self.header("X-RcptTo")
    }

    pub fn text(&self) -> String {
        self.parsed().body_text(0).map(|t| t.into_owned()).unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed().body_html(0).map(|t| t.into_owned()).unwrap_or_default()
    }

    /// Every part's content type (`type/subtype`), depth first.
    pub fn structure(&self) -> Vec<String> {
        self.parsed()
            .parts
            .iter()
            .map(|p| {
                p.content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))).unwrap_or_default()
            })
            .collect()
    }

    /// The `text/calendar` part's text and its `method` parameter.
    pub fn calendar(&self) -> Option<(String, String)> {
        let msg = self.parsed();
        msg.parts.iter().find_map(|p| {
            let ct = p.content_type()?;
            if ct.ctype() == "text" && ct.subtype() == Some("calendar") {
                let method = ct.attribute("method").unwrap_or_default().to_string();
                Some((p.text_contents().unwrap_or_default().to_string(), method))
            } else {
                None
            }
        })
    }

    /// The `invite.ics` attachment's bytes.
    pub fn attachment_ics(&self) -> Option<String> {
        let msg = self.parsed();
        msg.attachments().find_map(|a| {
            (a.attachment_name() == Some("invite.ics")).then(|| String::from_utf8_lossy(a.contents()).into_owned())
        })
    }
}
