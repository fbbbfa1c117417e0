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
use lettre::transport::smtp::authentication::Credentials;
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

/// An SMTP server, over a pooled connection.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    pub fn new(url: &str, credentials: Option<(String, String)>, timeout: Duration) -> Result<Self, String> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| e.to_string())?;
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        // A few connections kept open: the outbox sends in small parallel batches.
        let transport = builder.timeout(Some(timeout)).pool_config(PoolConfig::new().max_size(4)).build();
        Ok(Self { transport })
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
            match self.transport.send_raw(&envelope, message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                // Connection refused, timeouts, 4xx, TLS trouble: the server may be back later.
                Err(e) => Err(SendError::Transient(e.to_string())),
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
            let smtp = Smtp::new(&m.smtp_url, credentials, Duration::from_secs(m.smtp_timeout_seconds))
                .map_err(|reason| ConfigError::Invalid { key: "mail.smtp_url", reason })?;
            Arc::new(smtp)
        }
        MailTransportKind::Sendmail => Arc::new(Sendmail::new(&m.sendmail_command)),
        MailTransportKind::Mailbox => Arc::new(Mailbox),
    })
}
