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
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

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
        let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
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

/// An SMTP server, over pooled connections. lettre speaks SMTP (`AsyncSmtpConnection`), but jmb opens
/// the TCP connections itself to set `TCP_NODELAY`: lettre 0.11.23 leaves Nagle's algorithm on and
/// writes a message's closing `.` separately, so every message waited for the server's delayed ACK
/// (40 ms on Linux), at most 25 mails a second per connection. (Fixed upstream in lettre PR #1159,
/// unreleased: with a lettre release that has it, lettre's own pool can come back.) Implicit TLS
/// (`smtps://`) still goes through lettre's pooled transport, which opens its own sockets.
pub struct Smtp {
    server: SmtpServer,
    credentials: Option<Credentials>,
    hello: ClientId,
    tls: Option<TlsParameters>,
    timeout: Duration,
    idle: std::sync::Mutex<Vec<AsyncSmtpConnection>>,
    implicit: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

fn transient(e: impl std::fmt::Display) -> SendError {
    SendError::Transient(e.to_string())
}

fn classify(e: lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() { SendError::Permanent(e.to_string()) } else { SendError::Transient(e.to_string()) }
}

impl Smtp {
    /// `extra_ca`: a PEM certificate the server's certificate may chain to, besides the system's.
    pub fn new(
        url: &str,
        credentials: Option<(String, String)>,
        timeout: Duration,
        extra_ca: Option<&[u8]>,
    ) -> Result<Self, String> {
        let server = SmtpServer::parse(url)?;
        let credentials = credentials.or_else(|| server.credentials.clone()).map(|(u, p)| Credentials::new(u, p));
        let hello = server.hello.clone().map_or_else(ClientId::default, ClientId::Domain);
        let tls = match server.security {
            Security::Plain => None,
            Security::StartTls { .. } | Security::Implicit => {
                let mut builder = TlsParameters::builder(server.host.clone());
                if let Some(pem) = extra_ca {
                    // lettre accepts a file without any certificate in it: say so instead.
                    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                        return Err("mail.smtp_ca_file holds no PEM certificate".into());
                    }
                    let ca = Certificate::from_pem(pem).map_err(|e| format!("mail.smtp_ca_file: {e}"))?;
                    builder = builder.add_root_certificate(ca);
                }
                Some(builder.build().map_err(|e| format!("TLS settings: {e}"))?)
            }
        };
        let implicit = match (&server.security, &tls) {
            (Security::Implicit, Some(params)) => {
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
                    .port(server.port)
                    .tls(Tls::Wrapper(params.clone()))
                    .hello_name(hello.clone())
                    .timeout(Some(timeout))
                    .pool_config(PoolConfig::new().max_size(POOL_SIZE as u32));
                if let Some(c) = &credentials {
                    b = b.credentials(c.clone());
                }
                Some(b.build())
            }
            _ => None,
        };
        Ok(Self { server, credentials, hello, tls, timeout, idle: Default::default(), implicit })
    }

    /// A new connection: TCP with `TCP_NODELAY`, greeting and EHLO, STARTTLS, authentication.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let address = (self.server.host.as_str(), self.server.port);
        let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(address))
            .await
            .map_err(|_| transient(format!("connection to {}:{} timed out", self.server.host, self.server.port)))?
            .map_err(|e| transient(format!("connection to {}:{}: {e}", self.server.host, self.server.port)))?;
        tcp.set_nodelay(true).map_err(transient)?;
        let setup = async {
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?;
            if let (Security::StartTls { required }, Some(tls)) = (self.server.security, &self.tls) {
                if conn.can_starttls() {
                    conn.starttls(tls.clone(), &self.hello).await?;
                } else if required {
                    return Ok(Err(transient("the server does not offer STARTTLS (tls=required)")));
                }
            }
            if let Some(credentials) = &self.credentials {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await?;
            }
            Ok::<_, lettre::transport::smtp::Error>(Ok(conn))
        };
        match tokio::time::timeout(self.timeout, setup).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(classify(e)),
            Err(_) => Err(transient("the SMTP server did not greet in time")),
        }
    }

    /// A pooled connection that still answers (NOOP, as lettre's pool does), else a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut conn) = idle else { return self.connect().await };
            if matches!(tokio::time::timeout(self.timeout, conn.test_connected()).await, Ok(true)) {
                return Ok(conn);
            }
            conn.abort().await;
        }
    }

    async fn checkin(&self, mut conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            conn.abort().await;
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
            let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
        }
    }
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
            if let Some(lettre) = &self.implicit {
                return lettre.send_raw(&envelope, message).await.map(|_| ()).map_err(classify);
            }
            let mut conn = self.checkout().await?;
            match tokio::time::timeout(self.timeout, conn.send(&envelope, message)).await {
                Ok(Ok(_)) => {
                    self.checkin(conn).await;
                    Ok(())
                }
                Ok(Err(e)) => {
                    // A refused message leaves the connection usable (lettre resets it); a broken one is dropped.
                    self.checkin(conn).await;
                    Err(classify(e))
                }
                Err(_) => {
                    conn.abort().await;
                    Err(transient("the SMTP server did not answer in time"))
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
            // the outbox gives up.
            self.transport.send_raw(&envelope, message).await.map_err(|e| SendError::Transient(e.to_string()))
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
        assert!(matches!(r, Err(SendError::Transient(ref m)) if m.contains("connection")), "{r:?}");
        let r = smtp.send("not an address", &["a@example.org".into()], b"x").await;
        assert!(matches!(r, Err(SendError::Permanent(_))), "{r:?}");
        assert!(Smtp::new("smtps://relay", None, Duration::from_secs(2), Some(b"not a PEM")).is_err());
    }
}
