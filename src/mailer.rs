//! Handing finished messages to the mail system, with lettre: an SMTP server (a pooled connection,
//! TLS as lettre's URL says: `smtp://host:25`, `smtp://host:587?tls=required`, `smtps://host:465`), the
//! local `sendmail` program, or nowhere (the demo "mailbox": mails stay in the store).
//!
//! Messages arrive already formatted (the outbox stores the exact bytes): a transport only delivers
//! them to the envelope's recipients and says whether a failure is worth retrying.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSendmailTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Config, ConfigError, MailTransportKind};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a message was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the server is down or busy, a 4xx answer, a timeout.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Trying again will not help: a 5xx answer (unknown recipient, refused sender, message refused).
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The server could not be reached or set up: temporary, and true of the mails after this one.
    #[error("mail server unreachable: {0}")]
    Unreachable(String),
}

/// Delivers formatted messages.
pub trait Transport: Send + Sync {
    /// For logs and `/healthz`-style reports.
    fn name(&self) -> &'static str;
    /// Whether messages leave at all: the demo mailbox keeps them in the store (and its page writes
    /// them when shown), so the outbox need not write them to send them.
    fn delivers(&self) -> bool {
        true
    }
    /// Hands `message` to the mail system for `recipients`, with `envelope_from` as the envelope sender.
    fn send<'a>(
        &'a self,
        envelope_from: &'a str,
        recipients: &'a [String],
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), SendError>>;
}

fn envelope(from: &str, recipients: &[String]) -> Result<Envelope, SendError> {
    let from: Address = from.parse().map_err(|e| SendError::Permanent(format!("envelope sender {from:?}: {e}")))?;
    let to = recipients
        .iter()
        .map(|r| r.parse::<Address>().map_err(|e| SendError::Permanent(format!("recipient {r:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| SendError::Permanent(e.to_string()))
}

/// Where and how to reach the SMTP server, from `mail.smtp_url` (lettre's URL form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// The EHLO name (the URL's path), else lettre's default (this machine's host name).
    pub hello: Option<String>,
    /// User and password given in the URL (the configuration's `smtp_user` and
    /// `smtp_password_file` take precedence).
    pub credentials: Option<(String, String)>,
}

/// How an SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://host`: no TLS (a relay on the same machine or network).
    Plain,
    /// `smtp://host?tls=required` or `?tls=opportunistic`: STARTTLS, required or when offered.
    StartTls { required: bool },
    /// `smtps://host`: TLS from the first byte.
    Implicit,
}

impl SmtpServer {
    /// Parses lettre's URL form, with lettre's default ports (25, 587 with STARTTLS, 465).
    pub fn parse(raw: &str) -> Result<Self, String> {
        // The URL may hold a password: errors never repeat it.
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("the URL has no host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", None) => (Security::Implicit, 465),
            (scheme, tls) => {
                return Err(format!(
                    "unknown scheme {scheme:?} or tls={tls:?}: use smtp://, smtp://…?tls=required, \
                     smtp://…?tls=opportunistic or smtps://"
                ));
            }
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().map(|c| c.into_owned());
        let credentials = match url.password() {
            Some(p) => Some((
                decode(url.username()).map_err(|e| format!("user name: {e}"))?,
                decode(p).map_err(|e| format!("password: {e}"))?,
            )),
            None => None,
        };
        let hello = Some(url.path().trim_matches('/')).filter(|p| !p.is_empty()).map(str::to_string);
        Ok(Self { host, port: url.port().unwrap_or(default_port), security, hello, credentials })
    }
}

/// Idle connections kept open for the next mails (the outbox sends a few at a time).
const POOL_SIZE: usize = 4;
/// How long the server may take to confirm a message after its final `.`: RFC 5321 §4.5.3.2.6 gives it
/// 10 minutes (content scanning). Giving up earlier would send again what it may have accepted.
const DATA_REPLY_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a connection given up on may take to close (QUIT is not waited for).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// An SMTP server, over pooled connections. lettre speaks SMTP (`AsyncSmtpConnection`: EHLO, STARTTLS,
/// AUTH, MAIL/RCPT/DATA), but jmb opens the connections itself, for two reasons:
///
/// * `TCP_NODELAY`: lettre 0.11.23 leaves Nagle's algorithm on and writes a message's closing `.`
///   separately, so every message waited for the server's delayed ACK (40 ms on Linux): at most 25
///   mails a second per connection (fixed upstream in lettre PR #1159, not released);
/// * time limits on every step: lettre's pooled transport bounds only the connection, and reuses a
///   connection abandoned mid-command, whose next reply then answers the wrong command.
///
/// Implicit TLS (`smtps://`) is set up with tokio-rustls (lettre cannot wrap a socket it did not open
/// before the greeting); STARTTLS goes through lettre. Both trust the system's roots and `smtp_ca_file`.
pub struct Smtp {
    server: SmtpServer,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// STARTTLS parameters (lettre's).
    starttls: Option<TlsParameters>,
    /// Implicit TLS (`smtps://`).
    implicit: Option<tokio_rustls::TlsConnector>,
    timeout: Duration,
    idle: std::sync::Mutex<Vec<AsyncSmtpConnection>>,
}

/// A failure to reach or set up the server (connect, greeting, TLS, authentication): temporary whatever
/// the code (a rotated password, a relay restarting), and the same for every mail of the batch.
fn unreachable(e: impl std::fmt::Display) -> SendError {
    SendError::Unreachable(e.to_string())
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    // 5xx, and what this client cannot do with this server (no SMTPUTF8, no usable AUTH): retrying
    // will not help.
    if e.is_permanent() || e.is_client() {
        SendError::Permanent(e.to_string())
    } else {
        SendError::Transient(e.to_string())
    }
}

/// A TLS stream lettre can speak SMTP on (it only needs the traits and the peer's address).
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl tokio::io::AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// The certificates of `smtp_ca_file`, checked to hold at least one.
fn extra_roots(pem: &[u8]) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("mail.smtp_ca_file: {e}"))?;
    if certs.is_empty() {
        return Err("mail.smtp_ca_file holds no PEM certificate".into());
    }
    Ok(certs)
}

fn implicit_tls(extra: &[rustls::pki_types::CertificateDer<'static>]) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for cert in extra {
        roots.add(cert.clone()).map_err(|e| format!("mail.smtp_ca_file: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Smtp {
    /// `extra_ca`: PEM certificates the server's certificate may chain to, besides the system's.
    pub fn new(
        url: &str,
        credentials: Option<(String, String)>,
        timeout: Duration,
        extra_ca: Option<&[u8]>,
    ) -> Result<Self, String> {
        let server = SmtpServer::parse(url)?;
        let credentials = credentials.or_else(|| server.credentials.clone()).map(|(u, p)| Credentials::new(u, p));
        if credentials.is_some() && server.security == Security::Plain && !is_loopback(&server.host) {
            return Err("a password would cross the network in clear: use ?tls=required or smtps://".into());
        }
        let hello = server.hello.clone().map_or_else(ClientId::default, ClientId::Domain);
        let extra = extra_ca.map(extra_roots).transpose()?.unwrap_or_default();
        let (mut starttls, mut implicit) = (None, None);
        match server.security {
            Security::Plain => {}
            Security::StartTls { .. } => {
                let mut builder = TlsParameters::builder(server.host.clone());
                for cert in &extra {
                    let ca = Certificate::from_der(cert.to_vec()).map_err(|e| format!("mail.smtp_ca_file: {e}"))?;
                    builder = builder.add_root_certificate(ca);
                }
                starttls = Some(builder.build().map_err(|e| format!("TLS settings: {e}"))?);
            }
            Security::Implicit => implicit = Some(implicit_tls(&extra)?),
        }
        Ok(Self { server, credentials, hello, starttls, implicit, timeout, idle: Default::default() })
    }

    /// A new connection: TCP with `TCP_NODELAY`, TLS (implicit), greeting and EHLO, STARTTLS,
    /// authentication, each step within the timeout.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let (host, port) = (self.server.host.as_str(), self.server.port);
        let setup = async {
            let tcp = tokio::net::TcpStream::connect((host, port))
                .await
                .map_err(|e| unreachable(format!("connection to {host}:{port}: {e}")))?;
            tcp.set_nodelay(true).map_err(unreachable)?;
            let stream: Box<dyn AsyncTokioStream> = match &self.implicit {
                Some(connector) => {
                    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(unreachable)?;
                    let tls = connector.connect(name, tcp).await.map_err(|e| unreachable(format!("TLS: {e}")))?;
                    Box::new(ImplicitTls(tls))
                }
                None => Box::new(tcp),
            };
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await.map_err(unreachable)?;
            let mut encrypted = self.implicit.is_some();
            if let (Security::StartTls { required }, Some(tls)) = (self.server.security, &self.starttls) {
                if conn.can_starttls() {
                    conn.starttls(tls.clone(), &self.hello).await.map_err(|e| unreachable(format!("STARTTLS: {e}")))?;
                    encrypted = true;
                } else if required {
                    return Err(unreachable("the server does not offer STARTTLS (tls=required)"));
                }
            }
            if let Some(credentials) = &self.credentials {
                if !encrypted && !is_loopback(host) {
                    return Err(unreachable("the server did not offer STARTTLS: the password is not sent in clear"));
                }
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(|e| unreachable(format!("authentication: {e}")))?;
            }
            Ok(conn)
        };
        tokio::time::timeout(self.timeout, setup)
            .await
            .unwrap_or_else(|_| Err(unreachable(format!("{host}:{port} did not answer within {:?}", self.timeout))))
    }

    /// A pooled connection that still answers (NOOP, as lettre's pool does), else a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut conn) = idle else { return self.connect().await };
            if matches!(tokio::time::timeout(self.timeout, conn.test_connected()).await, Ok(true)) {
                return Ok(conn);
            }
            discard(conn).await;
        }
    }

    async fn checkin(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            discard(conn).await;
            return;
        }
        let surplus = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL_SIZE {
                idle.push(conn);
                None
            } else {
                Some(conn)
            }
        };
        if let Some(mut conn) = surplus {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.quit()).await;
        }
    }
}

/// Closes a connection given up on without waiting for the server (lettre's `abort` waits for QUIT's
/// answer, without a time limit).
async fn discard(mut conn: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.abort()).await;
}

impl Transport for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(
        &'a self,
        envelope_from: &'a str,
        recipients: &'a [String],
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let envelope = envelope(envelope_from, recipients)?;
            let mut conn = self.checkout().await?;
            // One limit for the whole exchange, long enough for the reply to the final `.`.
            match tokio::time::timeout(DATA_REPLY_TIMEOUT.max(self.timeout), conn.send(&envelope, message)).await {
                Ok(Ok(_)) => {
                    self.checkin(conn).await;
                    Ok(())
                }
                Ok(Err(e)) => {
                    // lettre gives up the connection on any error; `checkin` drops it then.
                    self.checkin(conn).await;
                    Err(classify(e))
                }
                Err(_) => {
                    discard(conn).await;
                    Err(SendError::Transient("the SMTP server did not answer in time".into()))
                }
            }
        })
    }
}

/// The local `sendmail` program (`sendmail -i -f <sender> -- <recipients>`).
pub struct Sendmail {
    transport: AsyncSendmailTransport<Tokio1Executor>,
}

impl Sendmail {
    pub fn new(command: &str) -> Self {
        Self { transport: AsyncSendmailTransport::new_with_command(command) }
    }
}

impl Transport for Sendmail {
    fn name(&self) -> &'static str {
        "sendmail"
    }

    fn send<'a>(
        &'a self,
        envelope_from: &'a str,
        recipients: &'a [String],
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let envelope = envelope(envelope_from, recipients)?;
            // sendmail's exit status does not tell a lasting refusal from a passing one: retry until
            // the outbox gives up. A program stuck for longer than a server may take is given up on.
            match tokio::time::timeout(DATA_REPLY_TIMEOUT, self.transport.send_raw(&envelope, message)).await {
                Ok(result) => result.map(|_| ()).map_err(|e| SendError::Transient(e.to_string())),
                Err(_) => Err(SendError::Transient("sendmail did not finish in time".into())),
            }
        })
    }
}

/// Delivers nothing: the mails stay in the store (the embedded demo shows them at `/mailbox`).
pub struct Mailbox;

impl Transport for Mailbox {
    fn name(&self) -> &'static str {
        "mailbox"
    }

    fn delivers(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, _: &'a str, _: &'a [String], _: &'a [u8]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The transport the configuration names.
pub fn from_config(config: &Config) -> Result<Arc<dyn Transport>, ConfigError> {
    let m = &config.mail;
    Ok(match m.transport {
        MailTransportKind::Smtp => {
            let credentials = config.smtp_password()?.map(|p| (m.smtp_user.clone(), p.expose().to_string()));
            let ca = match &m.smtp_ca_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| ConfigError::Invalid {
                    key: "mail.smtp_ca_file",
                    reason: format!("cannot read {}: {e}", path.display()),
                })?),
                None => None,
            };
            let smtp = Smtp::new(&m.smtp_url, credentials, Duration::from_secs(m.smtp_timeout_seconds), ca.as_deref())
                .map_err(|reason| ConfigError::Invalid { key: "mail.smtp_url", reason })?;
            Arc::new(smtp)
        }
        MailTransportKind::Sendmail => Arc::new(Sendmail::new(&m.sendmail_command)),
        MailTransportKind::Mailbox => Arc::new(Mailbox),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str) -> SmtpServer {
        SmtpServer::parse(url).unwrap()
    }

    #[test]
    fn urls_read_as_lettre_reads_them() {
        let s = server("smtp://relay.example.org");
        assert_eq!((s.host.as_str(), s.port, s.security), ("relay.example.org", 25, Security::Plain));
        assert_eq!((s.hello, s.credentials), (None, None));
        assert_eq!(server("smtp://relay:2525").port, 2525);
        let s = server("smtp://relay.example.org?tls=required");
        assert_eq!((s.port, s.security), (587, Security::StartTls { required: true }));
        assert_eq!(server("smtp://r:25?tls=opportunistic").security, Security::StartTls { required: false });
        let s = server("smtps://jmb%40example.org:p%40ss%3Aword@mail.example.org/meet.example.org");
        assert_eq!((s.port, s.security), (465, Security::Implicit));
        assert_eq!(s.credentials, Some(("jmb@example.org".into(), "p@ss:word".into())));
        assert_eq!(s.hello.as_deref(), Some("meet.example.org"));
        assert_eq!(server("smtp://[::1]:25").host, "::1");
        for bad in ["http://relay", "smtp://relay?tls=maybe", "smtps://relay?tls=required", "smtp://", "relay:25"] {
            assert!(SmtpServer::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_temporary_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let smtp = Smtp::new(&format!("smtp://127.0.0.1:{port}"), None, Duration::from_secs(2), None).unwrap();
        let r = smtp.send("noreply@example.org", &["a@example.org".into()], b"Subject: x\r\n\r\nx\r\n").await;
        assert!(matches!(r, Err(SendError::Unreachable(ref m)) if m.contains("connection")), "{r:?}");
        let r = smtp.send("not an address", &["a@example.org".into()], b"x").await;
        assert!(matches!(r, Err(SendError::Permanent(_))), "{r:?}");
        assert!(Smtp::new("smtps://relay", None, Duration::from_secs(2), Some(b"not a PEM")).is_err());
    }

    /// A server that takes the connection and never says a word: given up on within the timeout.
    #[tokio::test]
    async fn a_silent_server_is_given_up_on_in_time() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let smtp = Smtp::new(&format!("smtp://127.0.0.1:{port}"), None, Duration::from_secs(1), None).unwrap();
        let started = std::time::Instant::now();
        let r = smtp.send("noreply@example.org", &["a@example.org".into()], b"Subject: x\r\n\r\nx\r\n").await;
        assert!(matches!(r, Err(SendError::Unreachable(ref m)) if m.contains("did not answer")), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        drop(listener);
    }

    #[test]
    fn passwords_never_cross_the_network_in_clear_nor_show_in_errors() {
        let creds = || Some(("jmb".to_string(), "s3cret".to_string()));
        let t = Duration::from_secs(5);
        let e = Smtp::new("smtp://relay.example.org:25", creds(), t, None).err().unwrap();
        assert!(e.contains("in clear"), "{e}");
        assert!(Smtp::new("smtp://127.0.0.1:25", creds(), t, None).is_ok(), "a relay on this machine");
        assert!(Smtp::new("smtp://relay.example.org?tls=required", creds(), t, None).is_ok());
        let e = SmtpServer::parse("smtp://jmb:s3cret@relay:25?tls=sometimes").unwrap_err();
        let e2 = SmtpServer::parse("smtp://jmb:s3cret@[relay:25").unwrap_err();
        assert!(!e.contains("s3cret") && !e2.contains("s3cret"), "{e} / {e2}");
    }
}
