//! A minimal XMPP client that posts one message into a multi-user chat room and leaves: connect,
//! STARTTLS (or plain TCP to a loopback address), SASL (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN), resource
//! binding, join `{room}@{muc_domain}/{nick}` asking for no history (XEP-0045 §7.2.14), one
//! `groupchat` message, `unavailable` presence, end of stream.
//!
//! **It never creates or revives a room.** A join that Prosody answers with status 201 (the room was
//! just created by that join) or refuses because creation is restricted (`not-allowed`,
//! `item-not-found`, `gone`) means nobody is in the meeting: [`Posted::NotRunning`], the bot leaves at
//! once and the room, empty and not persistent, disappears with it.
//!
//! **It never posts twice.** Once the `<message>` has been written, a failure (no echo before the
//! timeout, a lost connection) is [`Posted::Unconfirmed`], never an error worth retrying.
//!
//! A `not-allowed` join whose text speaks of a token (Prosody's `token_verification`: "Room and token
//! mismatched") is a refusal of the bot, not an absent room: [`XmppError::Refused`].
//!
//! Why not `tokio-xmpp`: it would bring `xmpp-parsers`, `minidom`, `rxml`, `sasl` and a DNS resolver
//! (some thirty crates) for five stanzas, and its TLS set-up trusts fixed root stores, without the
//! internal CA (`xmpp.ca_file`) Jitsi's self-signed `auth.` host needs. Everything this needs is already
//! in jmb: tokio, rustls (as for SMTP), quick-xml, hmac and sha2 (plus sha1 for SCRAM-SHA-1). Every
//! value from the server is bounded (element count, depth, text size, and [`MAX_READ`] bytes read in
//! all, so a server cannot make the parser buffer without limit) and the whole exchange runs under one
//! timeout.

mod scram;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quick_xml::XmlVersion;
use quick_xml::escape::escape;
use quick_xml::events::Event;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::config::{ConfigError, XmppConfig, XmppSecurity};

/// What happened to a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// The message reached the room (its echo came back).
    Sent,
    /// The message was written, but its echo did not come back (why): it may or may not have reached
    /// the room. Never to be posted again.
    Unconfirmed(String),
    /// The room did not exist: nobody is in the meeting. Nothing was posted, nothing created.
    NotRunning,
}

/// Why a post failed.
#[derive(Debug, thiserror::Error)]
pub enum XmppError {
    /// Worth trying again later: the server is down, slow, or restarting.
    #[error("{0}")]
    Transient(String),
    /// Trying again will not help until an operator changes something (password, allow-lists).
    #[error("{0}")]
    Refused(String),
}

fn transient(e: impl std::fmt::Display) -> XmppError {
    XmppError::Transient(e.to_string())
}

/// The bot: where to connect and as whom.
#[derive(Clone)]
pub struct Client {
    host: String,
    port: u16,
    /// The JID's domain (the stream's `to`, and the name the certificate must carry).
    domain: String,
    username: String,
    password: crate::config::Secret,
    muc_domain: String,
    nick: String,
    timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("xmpp::Client")
            .field("server", &format_args!("{}:{}", self.host, self.port))
            .field("jid", &format_args!("{}@{}", self.username, self.domain))
            .field("muc_domain", &self.muc_domain)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Reads the password (and CA file) named by `[xmpp]`.
    pub fn from_config(c: &XmppConfig) -> Result<Self, ConfigError> {
        let (host, port) = c.server_addr()?;
        let (username, domain) = c.jid.split_once('@').unwrap_or_default();
        let password = c.bot_password()?;
        let tls = match c.security {
            XmppSecurity::PlaintextLoopback => None,
            XmppSecurity::Starttls => Some(tls_connector(c)?),
        };
        Ok(Self {
            host,
            port,
            domain: domain.to_string(),
            username: username.to_string(),
            password,
            muc_domain: c.muc_domain.clone(),
            nick: c.nick.clone(),
            timeout: Duration::from_secs(c.timeout_seconds),
            tls,
        })
    }

    /// Posts `text` into `room` (the Jitsi room name) and leaves; bounded by `xmpp.timeout_seconds`.
    pub async fn post(&self, room: &str, text: &str) -> Result<Posted, XmppError> {
        let room = room_jid_local(room)
            .ok_or_else(|| XmppError::Refused(format!("room name {room:?} is not a valid XMPP local part")))?;
        // Set just before the message is written: from then on, no failure may lead to a retry.
        let mut written = false;
        let result = match tokio::time::timeout(self.timeout, self.exchange(&room, text, &mut written)).await {
            Ok(result) => result,
            Err(_) => Err(transient(format!("no answer within {} s", self.timeout.as_secs()))),
        };
        match result {
            Err(XmppError::Transient(e)) if written => Ok(Posted::Unconfirmed(e)),
            other => other,
        }
    }

    async fn exchange(&self, room: &str, text: &str, written: &mut bool) -> Result<Posted, XmppError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| transient(format!("cannot connect to {}:{}: {e}", self.host, self.port)))?;
        let _ = tcp.set_nodelay(true);
        let mut s = Stream::new(Box::new(Budget::new(tcp, MAX_READ)));
        let mut features = s.open(&self.domain).await?;
        if let Some(tls) = &self.tls {
            if features.child("starttls").is_none() {
                return Err(XmppError::Refused("the server does not offer STARTTLS (xmpp.security)".into()));
            }
            s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").await?;
            let answer = s.next().await?;
            if answer.name != "proceed" {
                return Err(transient(format!("STARTTLS refused ({})", answer.name)));
            }
            let io = s.take_transport()?;
            let name = rustls::pki_types::ServerName::try_from(self.domain.clone())
                .map_err(|e| XmppError::Refused(format!("JID domain {:?}: {e}", self.domain)))?;
            let tls = tls.connect(name, io).await.map_err(|e| {
                XmppError::Refused(format!("TLS with {}: {e} (xmpp.ca_file names an internal CA)", self.domain))
            })?;
            s = Stream::new(Box::new(tls));
            features = s.open(&self.domain).await?;
        }
        self.authenticate(&mut s, &features).await?;
        let features = s.open(&self.domain).await?;
        if features.child("bind").is_none() {
            return Err(transient("the server offers no resource binding"));
        }
        let resource = format!("jmb-{}", crate::secrets::token().get(..8).unwrap_or("bot"));
        s.send(&format!(
            "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind></iq>"
        ))
        .await?;
        let bound = s.wait(|e| e.name == "iq" && e.attr("id") == Some("bind")).await?;
        if bound.attr("type") != Some("result") {
            return Err(transient(format!("resource binding refused: {}", bound.error_condition())));
        }
        if features.child("session").is_some_and(|s| s.child("optional").is_none()) {
            s.send("<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>").await?;
            s.wait(|e| e.name == "iq" && e.attr("id") == Some("sess")).await?;
        }
        let occupant = format!("{room}@{}/{}", self.muc_domain, self.nick);
        let mut joined = false;
        let outcome = self.join_and_post(&mut s, room, &occupant, text, &mut joined, written).await;
        // Leave if in the room (a room our join created is destroyed as soon as it is empty again).
        if joined {
            let _ = s.send(&format!("<presence to='{}' type='unavailable'/>", escape(&occupant))).await;
        }
        let _ = s.send("</stream:stream>").await;
        s.close().await;
        outcome
    }

    async fn authenticate(&self, s: &mut Stream, features: &Element) -> Result<(), XmppError> {
        let offered: Vec<&str> = features
            .child("mechanisms")
            .map(|m| m.children.iter().map(|c| c.text.trim()).collect())
            .unwrap_or_default();
        let password = self.password.expose();
        if let Some(hash) =
            [scram::Hash::Sha256, scram::Hash::Sha1].into_iter().find(|h| offered.contains(&h.mechanism()))
        {
            let mut scram = scram::Scram::new(hash, &self.username, password, &crate::secrets::token());
            s.send(&sasl("auth", Some(hash.mechanism()), &scram.client_first())).await?;
            let challenge = s.next().await?;
            check_sasl(&challenge, "challenge")?;
            // PBKDF2 with the server's iteration count (up to 100 000) takes milliseconds: off the async
            // workers, as any CPU-bound step.
            let server_first = challenge.decoded()?;
            let (scram_back, reply) = tokio::task::spawn_blocking(move || {
                let reply = scram.client_final(&server_first);
                (scram, reply)
            })
            .await
            .map_err(transient)?;
            scram = scram_back;
            let reply = reply.map_err(XmppError::Refused)?;
            s.send(&sasl("response", None, &reply)).await?;
            let success = s.next().await?;
            check_sasl(&success, "success")?;
            scram.verify_server_final(&success.decoded()?).map_err(XmppError::Refused)
        } else if offered.contains(&"PLAIN") {
            let mut raw = vec![0u8];
            raw.extend_from_slice(self.username.as_bytes());
            raw.push(0);
            raw.extend_from_slice(password.as_bytes());
            s.send(&sasl("auth", Some("PLAIN"), &raw)).await?;
            check_sasl(&s.next().await?, "success")
        } else {
            Err(XmppError::Refused(format!("no usable SASL mechanism offered (offered: {offered:?})")))
        }
    }

    /// Sets `joined` once the room has accepted the bot (it must then leave).
    async fn join_and_post(
        &self,
        s: &mut Stream,
        room: &str,
        occupant: &str,
        text: &str,
        joined: &mut bool,
        written: &mut bool,
    ) -> Result<Posted, XmppError> {
        let room_bare = format!("{room}@{}", self.muc_domain);
        s.send(&format!(
            "<presence to='{}' id='join'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x>\
             <nick xmlns='http://jabber.org/protocol/nick'>{}</nick></presence>",
            escape(occupant),
            escape(&self.nick)
        ))
        .await?;
        // Other occupants' presences and the room's subject come first; ours (status 110) ends the join.
        // Until the room answers, assume the bot may be in it: leave in every case but a refusal.
        *joined = true;
        let answer = s
            .wait(|e| {
                e.name == "presence"
                    && e.attr("from").is_some_and(|f| f.eq_ignore_ascii_case(occupant))
                    && (e.attr("type") == Some("error") || e.muc_status(110))
            })
            .await?;
        if answer.attr("type") == Some("error") {
            *joined = false;
            let condition = answer.error_condition();
            return match condition.as_str() {
                // token_verification refuses a join it cannot tie to the room: the room may well be there.
                "not-allowed" if answer.error_text().to_lowercase().contains("token") => {
                    Err(XmppError::Refused(format!(
                        "the room refused the bot ({condition}: {}): exempt its domain from token_verification \
                     (docs/jitsi.md)",
                        answer.error_text()
                    )))
                }
                // Room creation is restricted and the room does not exist: nobody is there.
                "not-allowed" | "item-not-found" | "gone" => Ok(Posted::NotRunning),
                "registration-required" | "not-authorized" | "forbidden" => Err(XmppError::Refused(format!(
                    "the room refused the bot ({condition}): add its JID or domain to muc_lobby_whitelist / \
                     muc_password_whitelist (docs/jitsi.md)"
                ))),
                _ => Err(transient(format!("join refused: {condition}"))),
            };
        }
        if answer.muc_status(201) {
            // Our join created the room: nobody was there. Leaving (below) destroys it again.
            return Ok(Posted::NotRunning);
        }
        *written = true;
        s.send(&format!(
            "<message to='{}' type='groupchat' id='warn'><body>{}</body></message>",
            escape(&room_bare),
            escape(text)
        ))
        .await?;
        // The room reflects the message to every occupant, us included: then it was delivered.
        let echo = s
            .wait(|e| {
                e.name == "message"
                    && e.attr("from")
                        .is_some_and(|f| f.eq_ignore_ascii_case(occupant) || f.eq_ignore_ascii_case(&room_bare))
                    && (e.attr("type") == Some("error")
                        || e.attr("id") == Some("warn")
                        || e.child("body").is_some_and(|b| b.text == text))
            })
            .await?;
        if echo.attr("type") == Some("error") {
            return Err(XmppError::Refused(format!("the room refused the message: {}", echo.error_condition())));
        }
        Ok(Posted::Sent)
    }
}

/// A Jitsi room name as the local part of its MUC JID: lower case (Jitsi lower-cases room names), and
/// nothing RFC 7622 forbids there.
fn room_jid_local(room: &str) -> Option<String> {
    let room = room.trim().to_lowercase();
    let ok = !room.is_empty()
        && room.len() <= 1023
        && !room.chars().any(|c| c.is_whitespace() || c.is_control() || "\"&'/:<>@".contains(c));
    ok.then_some(room)
}

fn sasl(name: &str, mechanism: Option<&str>, data: &[u8]) -> String {
    let mech = mechanism.map(|m| format!(" mechanism='{m}'")).unwrap_or_default();
    let body = if data.is_empty() { "=".to_string() } else { STANDARD.encode(data) };
    format!("<{name} xmlns='urn:ietf:params:xml:ns:xmpp-sasl'{mech}>{body}</{name}>")
}

fn check_sasl(e: &Element, expected: &str) -> Result<(), XmppError> {
    if e.name == expected {
        return Ok(());
    }
    if e.name == "failure" {
        let condition = e.children.first().map(|c| c.name.as_str()).unwrap_or("failure");
        if condition == "temporary-auth-failure" {
            return Err(transient("temporary authentication failure"));
        }
        return Err(XmppError::Refused(format!("sign-in refused ({condition}): check xmpp.jid and the password")));
    }
    Err(transient(format!("unexpected <{}> during sign-in", e.name)))
}

fn tls_connector(c: &XmppConfig) -> Result<tokio_rustls::TlsConnector, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    let bad = |reason: String| ConfigError::Invalid { key: "xmpp.ca_file", reason };
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = &c.ca_file {
        let pem = std::fs::read(path).map_err(|source| ConfigError::SecretFile {
            key: "xmpp.ca_file",
            path: path.clone(),
            source,
        })?;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS settings: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

// ---- the stream ----

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Limits on what the server may send us in one stanza.
const MAX_DEPTH: usize = 16;
const MAX_ELEMENTS: usize = 512;
const MAX_TEXT: usize = 64 * 1024;
/// Bytes the server may send in one exchange (the parser buffers a whole text node or tag before the
/// limits above can be checked).
const MAX_READ: u64 = 4 * 1024 * 1024;
/// Stanzas read while waiting for one answer (a busy room's presences) before giving up.
const MAX_STANZAS_WAITED: usize = 2000;

/// A received stanza (or stream-level element): local name, attributes (with `xmlns`), children, text.
#[derive(Debug, Default, Clone)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Whether a MUC presence carries `<status code='N'/>` in its `muc#user` payload.
    fn muc_status(&self, code: u16) -> bool {
        let code = code.to_string();
        self.children
            .iter()
            .filter(|x| x.name == "x" && x.attr("xmlns") == Some("http://jabber.org/protocol/muc#user"))
            .flat_map(|x| &x.children)
            .any(|s| s.name == "status" && s.attr("code") == Some(code.as_str()))
    }

    /// The defined condition of an `<error>` child (`not-allowed`, …), or `unknown`.
    fn error_condition(&self) -> String {
        self.child("error")
            .and_then(|e| e.children.iter().find(|c| c.name != "text"))
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "unknown".into())
    }

    /// The human-readable `<text>` of an `<error>` child, or "".
    fn error_text(&self) -> &str {
        self.child("error").and_then(|e| e.child("text")).map(|t| t.text.as_str()).unwrap_or("")
    }

    fn decoded(&self) -> Result<Vec<u8>, XmppError> {
        let t = self.text.trim();
        if t == "=" || t.is_empty() {
            return Ok(Vec::new());
        }
        STANDARD.decode(t).map_err(|_| transient("SASL data is not base64"))
    }
}

struct Stream {
    reader: quick_xml::Reader<BufReader<Box<dyn Io>>>,
    buf: Vec<u8>,
}

impl Stream {
    fn new(io: Box<dyn Io>) -> Self {
        let mut reader = quick_xml::Reader::from_reader(BufReader::new(io));
        reader.config_mut().expand_empty_elements = true;
        reader.config_mut().check_end_names = true;
        Self { reader, buf: Vec::new() }
    }

    async fn send(&mut self, xml: &str) -> Result<(), XmppError> {
        let io = self.reader.get_mut().get_mut();
        io.write_all(xml.as_bytes()).await.map_err(|e| transient(format!("connection lost: {e}")))?;
        io.flush().await.map_err(|e| transient(format!("connection lost: {e}")))
    }

    /// Opens (or restarts) the stream and returns the server's `<stream:features>`.
    async fn open(&mut self, domain: &str) -> Result<Element, XmppError> {
        // A restarted stream is a new document for the parser.
        let io = self.take_transport()?;
        *self = Stream::new(io);
        self.send(&format!(
            "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams'>",
            escape(domain)
        ))
        .await?;
        loop {
            self.buf.clear();
            match self.reader.read_event_into_async(&mut self.buf).await.map_err(transient)? {
                Event::Start(e) if e.local_name().as_ref() == "stream" => break,
                Event::Decl(_) | Event::Comment(_) | Event::Text(_) => {}
                Event::Eof => return Err(transient("the server closed the connection")),
                other => return Err(transient(format!("expected a stream header, got {other:?}"))),
            }
        }
        let features = self.next().await?;
        if features.name != "features" {
            return Err(transient(format!("expected stream features, got <{}>", features.name)));
        }
        Ok(features)
    }

    /// The transport, for STARTTLS (nothing may be buffered: the server waits for our handshake).
    fn take_transport(&mut self) -> Result<Box<dyn Io>, XmppError> {
        if !self.reader.get_ref().buffer().is_empty() {
            return Err(transient("data after a stream restart point"));
        }
        let placeholder: Box<dyn Io> = Box::new(tokio::io::duplex(1).0);
        let reader = std::mem::replace(&mut self.reader, quick_xml::Reader::from_reader(BufReader::new(placeholder)));
        Ok(reader.into_inner().into_inner())
    }

    /// The next complete top-level element; a stream error or the end of the stream is an error.
    async fn next(&mut self) -> Result<Element, XmppError> {
        let mut stack: Vec<Element> = Vec::new();
        let mut count = 0usize;
        loop {
            self.buf.clear();
            let event = self.reader.read_event_into_async(&mut self.buf).await.map_err(transient)?;
            match event {
                Event::Start(start) => {
                    count += 1;
                    if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                        return Err(transient("stanza too large"));
                    }
                    let mut el = Element { name: start.local_name().as_ref().to_owned(), ..Element::default() };
                    for attr in start.attributes() {
                        let attr = attr.map_err(transient)?;
                        let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(transient)?;
                        el.attrs.push((attr.key.as_ref().to_owned(), value.into_owned()));
                    }
                    stack.push(el);
                }
                Event::End(_) => {
                    let Some(done) = stack.pop() else {
                        return Err(transient("the server closed the stream"));
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None if done.name == "error" => {
                            let condition = done.children.first().map(|c| c.name.clone()).unwrap_or_default();
                            return Err(transient(format!("stream error: {condition}")));
                        }
                        None => return Ok(done),
                    }
                }
                Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
                Event::CData(c) => push_text(&mut stack, &c.xml10_content())?,
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().map_err(transient)? {
                        Some(c) => c.to_string(),
                        None => {
                            let name = r.xml10_content();
                            quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| transient("unknown entity"))?
                                .to_string()
                        }
                    };
                    push_text(&mut stack, &resolved)?;
                }
                Event::DocType(_) => return Err(transient("DOCTYPE in an XMPP stream")),
                Event::Eof => return Err(transient("the server closed the connection")),
                _ => {}
            }
        }
    }

    /// Reads stanzas until one matches `want`, skipping the others.
    async fn wait(&mut self, want: impl Fn(&Element) -> bool) -> Result<Element, XmppError> {
        for _ in 0..MAX_STANZAS_WAITED {
            let e = self.next().await?;
            if want(&e) {
                return Ok(e);
            }
        }
        Err(transient("too many unrelated stanzas"))
    }

    async fn close(&mut self) {
        let io = self.reader.get_mut().get_mut();
        let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
    }
}

/// A transport that fails once `left` bytes have been read from it.
struct Budget<T> {
    inner: T,
    left: u64,
}

impl<T> Budget<T> {
    fn new(inner: T, left: u64) -> Self {
        Self { inner, left }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Budget<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.left == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("the server sent too much")));
        }
        let len = usize::try_from(self.left).unwrap_or(usize::MAX).min(buf.remaining());
        let mut limited = tokio::io::ReadBuf::new(buf.initialize_unfilled_to(len));
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let n = limited.filled().len();
        buf.advance(n);
        self.left -= n as u64;
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Budget<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmppError> {
    if let Some(el) = stack.last_mut() {
        if el.text.len() + text.len() > MAX_TEXT {
            return Err(transient("text too large"));
        }
        el.text.push_str(text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_become_local_parts() {
        assert_eq!(room_jid_local("KqzvbnwtrelpxshA").as_deref(), Some("kqzvbnwtrelpxsha"));
        for bad in ["", "a b", "a@b", "a/b", "x'y", "<r>", "a\u{0}b"] {
            assert_eq!(room_jid_local(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn texts_and_names_are_escaped() {
        let s = sasl("auth", Some("PLAIN"), b"");
        assert!(s.ends_with(">=</auth>"), "{s}");
        assert_eq!(escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
    }

    /// A scripted server on a duplex pipe: what the client reads, stanza by stanza, with limits.
    #[tokio::test]
    async fn stream_parsing_and_limits() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let mut s = Stream::new(Box::new(client));
        server
            .write_all(
                b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x'>\
                  <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>\
                  <presence from='r@c/Jitsi-Bot' type='error'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text>Room creation is restricted</text></error></presence>\
                  <presence from='r@c/Jitsi-Bot'><x xmlns='http://jabber.org/protocol/muc#user'><status code='201'/><status code='110'/></x></presence>\
                  <message><body>a &amp; b &#233;</body></message>",
            )
            .await
            .unwrap();
        let features = s.open("meet.test").await.unwrap();
        assert_eq!(features.child("mechanisms").unwrap().children[0].text, "SCRAM-SHA-1");
        let refused = s.next().await.unwrap();
        assert_eq!(refused.error_condition(), "not-allowed");
        let created = s.next().await.unwrap();
        assert!(created.muc_status(201) && created.muc_status(110) && !created.muc_status(100));
        assert_eq!(s.next().await.unwrap().child("body").unwrap().text, "a & b é");
        // Nesting beyond the limit is refused, not followed.
        server.write_all("<a>".repeat(MAX_DEPTH + 1).as_bytes()).await.unwrap();
        assert!(s.next().await.is_err());
    }

    #[tokio::test]
    async fn the_server_may_not_send_without_limit() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let mut s = Stream::new(Box::new(Budget::new(client, 4096)));
        server
            .write_all(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features>")
            .await
            .unwrap();
        // A text node with no end: without the budget the parser would buffer it until the timeout.
        server.write_all(&[b'a'; 8192]).await.unwrap();
        let err = s.open("meet.test").await.unwrap_err();
        assert!(err.to_string().contains("too much"), "{err}");
    }

    /// A scripted server on 127.0.0.1: for each step, waits until the client has sent `expect`, then
    /// answers `reply`; after the last step it closes the connection.
    async fn scripted(steps: Vec<(&'static str, String)>) -> (Client, tokio::task::JoinHandle<String>) {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = XmppConfig {
            jid: "bot@meet.test".into(),
            password: crate::config::Secret::new("pw"),
            muc_domain: "conference.meet.test".into(),
            server: listener.local_addr().unwrap().to_string(),
            security: XmppSecurity::PlaintextLoopback,
            timeout_seconds: 2,
            ..XmppConfig::default()
        };
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut seen = String::new();
            let mut from = 0;
            for (expect, reply) in steps {
                while !seen[from..].contains(expect) {
                    let mut buf = [0u8; 4096];
                    let n = sock.read(&mut buf).await.unwrap();
                    assert!(n > 0, "client closed before sending {expect:?}: {seen}");
                    seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
                from = seen[from..].find(expect).unwrap() + from + expect.len();
                sock.write_all(reply.as_bytes()).await.unwrap();
            }
            seen
        });
        (Client::from_config(&c).unwrap(), server)
    }

    fn up_to_join(join_answer: &str) -> Vec<(&'static str, String)> {
        let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                      xmlns:stream='http://etherx.jabber.org/streams' id='s' from='meet.test' version='1.0'>";
        vec![
            (
                "<stream:stream",
                format!(
                    "{header}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
                ),
            ),
            ("</auth>", "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".into()),
            (
                "<stream:stream",
                format!("{header}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"),
            ),
            ("</iq>", "<iq type='result' id='bind'/>".into()),
            ("</presence>", join_answer.into()),
        ]
    }

    #[tokio::test]
    async fn a_message_written_but_not_echoed_is_unconfirmed_not_retried() {
        let joined = "<presence from='room@conference.meet.test/Jitsi-Bot'>\
                      <x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></presence>";
        let mut steps = up_to_join(joined);
        // The server reads the message, then the connection drops before the echo.
        steps.push(("</message>", String::new()));
        let (client, server) = scripted(steps).await;
        let posted = client.post("room", "ends in 5").await.unwrap();
        assert!(matches!(posted, Posted::Unconfirmed(_)), "{posted:?}");
        assert!(server.await.unwrap().contains("<body>ends in 5</body>"));
    }

    #[tokio::test]
    async fn a_token_refusal_is_not_an_absent_room() {
        let refusal = |text: &str| {
            format!(
                "<presence from='room@conference.meet.test/Jitsi-Bot' type='error'><error type='cancel'>\
                 <not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
                 <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>{text}</text></error></presence>"
            )
        };
        let (client, _server) = scripted(up_to_join(&refusal("Room and token mismatched"))).await;
        let err = client.post("room", "hi").await.unwrap_err();
        assert!(matches!(&err, XmppError::Refused(e) if e.contains("token")), "{err:?}");
        let (client, _server) = scripted(up_to_join(&refusal("Room creation is restricted"))).await;
        assert_eq!(client.post("room", "hi").await.unwrap(), Posted::NotRunning);
    }

    #[tokio::test]
    async fn a_closed_connection_is_transient() {
        let (client, server) = tokio::io::duplex(1024);
        drop(server);
        let mut s = Stream::new(Box::new(client));
        assert!(matches!(s.open("meet.test").await, Err(XmppError::Transient(_))));
        let c = XmppConfig {
            jid: "bot@meet.test".into(),
            password: crate::config::Secret::new("pw"),
            muc_domain: "conference.meet.test".into(),
            server: "127.0.0.1:1".into(),
            security: XmppSecurity::PlaintextLoopback,
            ..XmppConfig::default()
        };
        let client = Client::from_config(&c).unwrap();
        assert!(matches!(client.post("room", "hi").await, Err(XmppError::Transient(_))));
        assert!(matches!(client.post("bad room", "hi").await, Err(XmppError::Refused(_))));
    }
}
