//! Outgoing e-mail (`[smtp]`, optional): transcripts, password resets.
//!
//! Messages are built and sent with `lettre` (its typed message builder and
//! async SMTP transport over tokio, TLS through rustls with the `ring`
//! provider and the system's roots). lettre is the maintained Rust mailer:
//! it handles header encoding (RFC 2047 for non-ASCII subjects and names),
//! line lengths, dot-stuffing, STARTTLS, implicit TLS and AUTH, which a
//! hand-written client got only partly right.
//!
//! Two ways to send:
//! - [`Mailer::send`] waits for the server's answer (the transcript e-mail:
//!   the customer is told at once whether it went);
//! - [`MailQueue`] takes jobs that must not show in a request's answer or
//!   timing (a password reset for an e-mail that may or may not have an
//!   account); the mail worker started by `launch` does the work.
//!
//! Without `smtp.host` e-mail is unavailable and the pages say so.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use marquee_domain::Millis;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain TCP, upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on localhost.
    None,
}

/// `[smtp]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// The server; unset means e-mail is not configured.
    pub host: Option<String>,
    /// Port.
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    pub tls: SmtpTls,
    /// AUTH user name.
    pub username: Option<String>,
    /// AUTH password (redacted by `marquee config`).
    pub password: Option<String>,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    /// Timeout of each SMTP exchange.
    pub timeout_s: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: None,
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: "Marquee <support@marquee.invalid>".into(),
            timeout_s: 10,
        }
    }
}

impl SmtpConfig {
    /// Whether e-mail can be sent.
    pub fn configured(&self) -> bool {
        self.host.as_deref().is_some_and(|h| !h.trim().is_empty())
    }

    /// Hides the password.
    pub fn redact(&mut self) {
        if self.password.is_some() {
            self.password = Some("<redacted>".into());
        }
    }
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No `smtp.host`.
    #[error("e-mail is not configured on this installation")]
    NotConfigured,
    /// The sender or a recipient is not an address.
    #[error("not an e-mail address: {0}")]
    Address(String),
    /// The message could not be built.
    #[error("the message could not be built: {0}")]
    Build(String),
    /// The server could not be reached or refused the message.
    #[error("the mail server did not take the message: {0}")]
    Send(String),
}

/// One plain-text e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient address (validated).
    pub to: String,
    /// Subject (one line; line breaks are removed).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// An unsubscribe URL for the `List-Unsubscribe` header (notification
    /// mails), if any.
    pub list_unsubscribe: Option<String>,
}

/// The `List-Unsubscribe` header (RFC 2369): `<url>`.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// The SMTP transport for `[smtp]`, or nothing when it is not configured.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("configured", &self.transport.is_some())
            .field("from", &self.from)
            .finish()
    }
}

impl Mailer {
    /// Builds the transport (no connection is made until the first mail).
    pub fn new(cfg: &SmtpConfig) -> Result<Mailer, MailError> {
        let Some(host) = cfg.host.as_deref().map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(Mailer {
                transport: None,
                from: None,
            });
        };
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|_| MailError::Address(cfg.from.clone()))?;
        let mut b = match cfg.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|e| MailError::Build(e.to_string()))?
        .port(cfg.port)
        .timeout(Some(Duration::from_secs(cfg.timeout_s.max(1))));
        if let (Some(user), Some(pass)) = (&cfg.username, &cfg.password) {
            b = b.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Mailer {
            transport: Some(b.build()),
            from: Some(from),
        })
    }

    /// Whether mail can be sent.
    pub fn configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Builds a message dated `now_ms` (the injected clock).
    pub fn message(&self, mail: &Mail, now_ms: Millis) -> Result<Message, MailError> {
        let from = self.from.clone().ok_or(MailError::NotConfigured)?;
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| MailError::Address(mail.to.clone()))?;
        let subject: String = mail
            .subject
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        let date = SystemTime::UNIX_EPOCH
            + Duration::from_millis(u64::try_from(now_ms).unwrap_or_default());
        let mut b = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .date(date)
            .header(ContentType::TEXT_PLAIN);
        if let Some(url) = &mail.list_unsubscribe {
            // One line, no angle brackets of its own: it is a URL we built.
            let url: String = url
                .chars()
                .filter(|c| !c.is_control() && *c != '<' && *c != '>')
                .collect();
            b = b.header(ListUnsubscribe(url));
        }
        b.body(mail.body.clone())
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// Sends one mail and waits for the server's answer.
    pub async fn send(&self, mail: &Mail, now_ms: Millis) -> Result<(), MailError> {
        let transport = self.transport.as_ref().ok_or(MailError::NotConfigured)?;
        let msg = self.message(mail, now_ms)?;
        transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Send(e.to_string()))
    }
}

/// Work for the mail worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailJob {
    /// Someone asked to reset the password of `email`: if it has an
    /// account, mail it a link built on `origin`; otherwise nothing.
    PasswordReset {
        /// The address as entered (normalised).
        email: String,
        /// Scheme and host for the link.
        origin: String,
    },
    /// A new account's confirmation link.
    VerifyEmail {
        /// The account.
        account_id: i64,
        /// Its address.
        email: String,
        /// Scheme and host for the link.
        origin: String,
    },
    /// Someone signed up with an address that has an account: tell its
    /// owner, with the ways back in.
    AlreadyRegistered {
        /// The address.
        email: String,
        /// Scheme and host for the links.
        origin: String,
    },
    /// A ready mail.
    Send(Mail),
}

/// Jobs waiting for the mail worker: bounded, so that a flood of requests
/// cannot grow memory; past the bound the oldest job is dropped and logged.
#[derive(Debug)]
pub struct MailQueue {
    jobs: Mutex<VecDeque<MailJob>>,
    wake: tokio::sync::Notify,
    max: usize,
}

impl MailQueue {
    /// An empty queue holding at most `max` jobs.
    pub fn new(max: usize) -> MailQueue {
        MailQueue {
            jobs: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            max: max.max(1),
        }
    }

    /// Adds a job and wakes the worker.
    pub fn push(&self, job: MailJob) {
        if let Ok(mut q) = self.jobs.lock() {
            if q.len() >= self.max {
                q.pop_front();
                tracing::warn!("mail queue full: the oldest job was dropped");
            }
            q.push_back(job);
        }
        self.wake.notify_one();
    }

    /// Takes every waiting job.
    pub fn drain(&self) -> Vec<MailJob> {
        self.jobs
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// Waits until a job is pushed (or returns at once if one was pushed
    /// since the last wait).
    pub async fn wait(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SmtpConfig {
        SmtpConfig {
            host: Some("127.0.0.1".into()),
            tls: SmtpTls::None,
            from: "Marquee Support <support@example.com>".into(),
            ..SmtpConfig::default()
        }
    }

    #[test]
    fn messages_carry_sender_date_and_one_line_subject() {
        let m = Mailer::new(&cfg()).unwrap();
        let msg = m
            .message(
                &Mail {
                    list_unsubscribe: None,
                    to: "jane@example.com".into(),
                    subject: "Hello\r\nBcc: evil@example.com".into(),
                    body: "Line\n.leading dot\n".into(),
                },
                0,
            )
            .unwrap();
        let text = String::from_utf8(msg.formatted()).unwrap();
        assert!(
            text.contains("From: \"Marquee Support\" <support@example.com>"),
            "{text}"
        );
        assert!(text.contains("To: jane@example.com"), "{text}");
        assert!(
            text.contains("Subject: HelloBcc: evil@example.com"),
            "{text}"
        );
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert!(
            text.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000"),
            "{text}"
        );
    }

    #[test]
    fn notification_mails_carry_list_unsubscribe() {
        let m = Mailer::new(&cfg()).unwrap();
        let msg = m
            .message(
                &Mail {
                    list_unsubscribe: Some(
                        "https://watch.example.com/unsubscribe?token=abc\r\nBcc: x".into(),
                    ),
                    to: "jane@example.com".into(),
                    subject: "Marquee: news".into(),
                    body: "hi\n".into(),
                },
                0,
            )
            .unwrap();
        let text = String::from_utf8(msg.formatted()).unwrap();
        assert!(
            text.contains(
                "List-Unsubscribe: <https://watch.example.com/unsubscribe?token=abcBcc: x>"
            ),
            "{text}"
        );
        assert!(!text.contains("\r\nBcc:"), "{text}");
    }

    #[test]
    fn mostly_ascii_text_stays_readable() {
        let m = Mailer::new(&cfg()).unwrap();
        let msg = m
            .message(
                &Mail {
                    list_unsubscribe: None,
                    to: "jane@example.com".into(),
                    subject: "Your conversation · #1".into(),
                    body: "Sam · 10:00\nhello\n.leading dot\n".into(),
                },
                0,
            )
            .unwrap();
        let text = String::from_utf8(msg.formatted()).unwrap();
        assert!(
            text.contains("Content-Transfer-Encoding: quoted-printable"),
            "{text}"
        );
        assert!(
            text.contains("\r\n.leading dot") || text.contains("=2Eleading dot"),
            "{text}"
        );
    }

    #[test]
    fn unconfigured_and_bad_addresses_are_errors() {
        let none = Mailer::new(&SmtpConfig::default()).unwrap();
        assert!(!none.configured());
        let m = Mailer::new(&cfg()).unwrap();
        let bad = Mail {
            list_unsubscribe: None,
            to: "not an address".into(),
            subject: "x".into(),
            body: "y".into(),
        };
        assert!(matches!(m.message(&bad, 0), Err(MailError::Address(_))));
        let mut c = cfg();
        c.from = "nobody".into();
        assert!(matches!(Mailer::new(&c), Err(MailError::Address(_))));
    }

    #[test]
    fn the_queue_is_bounded_and_keeps_the_newest() {
        let q = MailQueue::new(2);
        for i in 0..3 {
            q.push(MailJob::PasswordReset {
                email: format!("{i}@example.com"),
                origin: "http://localhost".into(),
            });
        }
        let jobs = q.drain();
        assert_eq!(jobs.len(), 2);
        assert!(
            matches!(&jobs[0], MailJob::PasswordReset { email, .. } if email == "1@example.com")
        );
        assert!(q.drain().is_empty());
    }
}
