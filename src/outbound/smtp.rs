//! SMTP delivery with lettre: turns a stored outbound message into an RFC 5322 email with
//! the Message-ID, In-Reply-To and References it was stored with (§3.6.4), and sends it.

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{SmtpSecurity, SmtpSettings};
use crate::store::messages::Message as Stored;

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The stored message cannot be turned into an email (bad address); retrying won't help.
    #[error("cannot build the email: {0}")]
    Build(String),
    /// The server refused or could not be reached; retried later.
    #[error("smtp: {0}")]
    Transport(#[from] lettre::transport::smtp::Error),
}

/// An SMTP connection pool.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from_name: String,
}

/// SMTP settings that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Credentials would travel in clear text to a host that is not loopback
    /// ([`SmtpSettings::check_transport`]); nothing was sent.
    #[error("{0}")]
    Plaintext(String),
    /// `tls_ca_file` cannot be read or holds no certificate.
    #[error("smtp: tls_ca_file {0}")]
    CaFile(String),
    /// The host is not a valid TLS server name, or the TLS parameters cannot be built.
    #[error("smtp: {0}")]
    Tls(#[from] lettre::transport::smtp::Error),
}

impl Mailer {
    /// A mailer for `s`, authenticating as `s.username` with `password` when both are given.
    /// `security` picks lettre's `Tls::Required` (STARTTLS, no fallback), `Tls::Wrapper`
    /// (implicit TLS) or no TLS; TLS trusts the web PKI roots plus `s.tls_ca_file`. Nothing
    /// connects here: the pool connects on the first send.
    ///
    /// Errors: [`SetupError::Plaintext`] when credentials would go in clear text to a host
    /// that is not loopback and `allow_plaintext` is off; [`SetupError::CaFile`];
    /// [`SetupError::Tls`] for a host that is not a valid TLS server name.
    pub fn new(s: &SmtpSettings, password: Option<&SecretString>) -> Result<Mailer, SetupError> {
        s.check_transport().map_err(SetupError::Plaintext)?;
        let tls = |wrap: fn(TlsParameters) -> Tls| -> Result<Tls, SetupError> {
            let mut b = TlsParameters::builder(s.host.clone());
            if let Some(path) = &s.tls_ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| SetupError::CaFile(format!("{}: {e}", path.display())))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| SetupError::CaFile(format!("{}: {e}", path.display())))?;
                b = b.add_root_certificate(cert);
            }
            Ok(wrap(b.build()?))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            .port(s.port)
            .timeout(Some(std::time::Duration::from_secs(30)));
        builder = match s.security {
            SmtpSecurity::None => builder.tls(Tls::None),
            SmtpSecurity::Starttls => builder.tls(tls(Tls::Required)?),
            SmtpSecurity::Tls => builder.tls(tls(Tls::Wrapper)?),
        };
        if let (Some(user), Some(pass)) = (&s.username, password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                pass.expose_secret().to_string(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from_name: s.from_name.clone(),
        })
    }

    /// Sends stored outbound message `m`, with an `Auto-Submitted: <auto_submitted>` field
    /// when given (RFC 3834 §5; `auto-replied` on acknowledgements).
    pub async fn send(&self, m: &Stored, auto_submitted: Option<&str>) -> Result<(), SendError> {
        let mut email = build(m, &self.from_name)?;
        if let Some(v) = auto_submitted {
            email.headers_mut().set(AutoSubmitted(v.to_string()));
        }
        self.transport.send(email).await?;
        Ok(())
    }
}

impl Mailer {
    /// Sends a plain-text email of ours that is not part of a ticket (the web view's
    /// sign-in link) from `from` to `to`, with `Auto-Submitted: auto-generated` (RFC 3834
    /// §5) and a fresh Message-ID.
    ///
    /// Errors: [`SendError::Build`] for an address that does not parse (retrying won't
    /// help), [`SendError::Transport`].
    pub async fn send_text(
        &self,
        from: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), SendError> {
        let bad = |e: &dyn std::fmt::Display| SendError::Build(e.to_string());
        let from: Mailbox = format!("{} <{from}>", self.from_name)
            .parse()
            .or_else(|_| from.parse())
            .map_err(|e| bad(&e))?;
        let mut email = Message::builder()
            .from(from)
            .to(to.parse::<Mailbox>().map_err(|e| bad(&e))?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| bad(&e))?;
        email
            .headers_mut()
            .set(AutoSubmitted("auto-generated".into()));
        self.transport.send(email).await?;
        Ok(())
    }
}

/// The `Auto-Submitted` field (RFC 3834 §5): `auto-replied`, `auto-generated` or `no`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoSubmitted(pub String);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The email for stored message `m`, from `"from_name" <m.from_addr>`.
pub fn build(m: &Stored, from_name: &str) -> Result<Message, SendError> {
    let bad = |e: &dyn std::fmt::Display| SendError::Build(e.to_string());
    let from: Mailbox = format!("{from_name} <{}>", m.from_addr)
        .parse()
        .or_else(|_| m.from_addr.parse())
        .map_err(|e| bad(&e))?;
    let mut b = Message::builder()
        .from(from)
        .subject(m.subject.clone())
        .message_id(Some(format!("<{}>", m.message_id)))
        .header(ContentType::TEXT_PLAIN);
    for to in &m.to_addrs {
        b = b.to(to.parse::<Mailbox>().map_err(|e| bad(&e))?);
    }
    if let Some(parent) = &m.in_reply_to {
        b = b.in_reply_to(format!("<{parent}>"));
    }
    if !m.references.is_empty() {
        // lettre's `references` replaces the header, so all ids go in one call. A stored
        // list may be long (rows from before the cap, or a customer's own References): the
        // root and the latest ids are sent (`threading::trim_references`, RFC 5322 §3.6.4).
        let refs: Vec<String> = crate::domain::threading::trim_references(m.references.clone())
            .iter()
            .map(|r| format!("<{r}>"))
            .collect();
        b = b.references(refs.join(" "));
    }
    b.body(m.body_text.clone()).map_err(|e| bad(&e))
}
