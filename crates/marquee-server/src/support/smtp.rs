//! A small SMTP client for e-mailing transcripts (`[smtp]`, optional).
//!
//! EHLO, optional STARTTLS or implicit TLS (rustls with the system roots and
//! the `ring` provider), optional AUTH PLAIN, one plain-text UTF-8 message
//! with dot-stuffing. Without `smtp.host` e-mail is unavailable and the
//! pages say so.

use base64::Engine;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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
    /// AUTH PLAIN user name.
    pub username: Option<String>,
    /// AUTH PLAIN password (redacted by `marquee config`).
    pub password: Option<String>,
    /// The sender address.
    pub from: String,
    /// Timeout of each step.
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
            from: "support@marquee.invalid".into(),
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

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// Not configured.
    #[error("e-mail is not configured on this installation")]
    NotConfigured,
    /// Network or TLS trouble.
    #[error("smtp connection: {0}")]
    Io(String),
    /// The server refused a step.
    #[error("smtp server refused {step}: {reply}")]
    Refused {
        /// The step.
        step: &'static str,
        /// Its reply.
        reply: String,
    },
}

impl From<std::io::Error> for SmtpError {
    fn from(e: std::io::Error) -> Self {
        SmtpError::Io(e.to_string())
    }
}

/// An e-mail.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipient address (validated).
    pub to: String,
    /// Subject (one line).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// `Date:` in RFC 2822.
    pub date: String,
}

fn bare_address(from: &str) -> &str {
    match (from.find('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &from[a + 1..b],
        _ => from.trim(),
    }
}

fn one_line(s: &str) -> String {
    s.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// The message text: headers, a blank line, the dot-stuffed CRLF body.
pub fn render(cfg: &SmtpConfig, mail: &Mail) -> String {
    let mut out = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        one_line(&cfg.from),
        one_line(&mail.to),
        one_line(&mail.subject),
        one_line(&mail.date),
    );
    for line in mail.body.replace("\r\n", "\n").split('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

struct Conn<S> {
    io: BufReader<S>,
    timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn reply(&mut self, step: &'static str, ok: &[u16]) -> Result<String, SmtpError> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(self.timeout, self.io.read_line(&mut line))
                .await
                .map_err(|_| SmtpError::Io(format!("timed out waiting for {step}")))??;
            if n == 0 {
                return Err(SmtpError::Io(format!("connection closed during {step}")));
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                break;
            }
        }
        let code: u16 = all.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if ok.contains(&code) {
            Ok(all)
        } else {
            Err(SmtpError::Refused {
                step,
                reply: all.trim().to_string(),
            })
        }
    }

    async fn cmd(
        &mut self,
        line: &str,
        step: &'static str,
        ok: &[u16],
    ) -> Result<String, SmtpError> {
        tokio::time::timeout(self.timeout, async {
            self.io.get_mut().write_all(line.as_bytes()).await?;
            self.io.get_mut().write_all(b"\r\n").await?;
            self.io.get_mut().flush().await
        })
        .await
        .map_err(|_| SmtpError::Io(format!("timed out sending {step}")))??;
        self.reply(step, ok).await
    }

    /// Everything after the greeting and EHLO.
    async fn send(&mut self, cfg: &SmtpConfig, mail: &Mail) -> Result<(), SmtpError> {
        if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{u}\0{p}").as_bytes());
            self.cmd(&format!("AUTH PLAIN {token}"), "AUTH", &[235])
                .await?;
        }
        let from = one_line(bare_address(&cfg.from));
        self.cmd(&format!("MAIL FROM:<{from}>"), "MAIL FROM", &[250])
            .await?;
        self.cmd(
            &format!("RCPT TO:<{}>", one_line(&mail.to)),
            "RCPT TO",
            &[250, 251],
        )
        .await?;
        self.cmd("DATA", "DATA", &[354]).await?;
        let text = render(cfg, mail);
        tokio::time::timeout(self.timeout, async {
            self.io.get_mut().write_all(text.as_bytes()).await?;
            self.io.get_mut().write_all(b".\r\n").await?;
            self.io.get_mut().flush().await
        })
        .await
        .map_err(|_| SmtpError::Io("timed out sending the message".into()))??;
        self.reply("the message", &[250]).await?;
        // The message is accepted; a failed QUIT changes nothing.
        let _ = self.cmd("QUIT", "QUIT", &[221]).await;
        Ok(())
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, SmtpError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(loaded.certs);
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SmtpError::Io(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// Sends one e-mail.
pub async fn send(cfg: &SmtpConfig, mail: &Mail) -> Result<(), SmtpError> {
    let host = cfg
        .host
        .as_deref()
        .filter(|h| !h.trim().is_empty())
        .ok_or(SmtpError::NotConfigured)?;
    let timeout = Duration::from_secs(cfg.timeout_s.max(1));
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, cfg.port)))
        .await
        .map_err(|_| SmtpError::Io(format!("timed out connecting to {host}")))??;
    let server_name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| SmtpError::Io(e.to_string()))?;
    let ehlo = "EHLO marquee";
    match cfg.tls {
        SmtpTls::None => {
            let mut c = Conn {
                io: BufReader::new(tcp),
                timeout,
            };
            c.reply("greeting", &[220]).await?;
            c.cmd(ehlo, "EHLO", &[250]).await?;
            c.send(cfg, mail).await
        }
        SmtpTls::Tls => {
            let tls = tls_connector()?.connect(server_name, tcp).await?;
            let mut c = Conn {
                io: BufReader::new(tls),
                timeout,
            };
            c.reply("greeting", &[220]).await?;
            c.cmd(ehlo, "EHLO", &[250]).await?;
            c.send(cfg, mail).await
        }
        SmtpTls::Starttls => {
            let mut c = Conn {
                io: BufReader::new(tcp),
                timeout,
            };
            c.reply("greeting", &[220]).await?;
            c.cmd(ehlo, "EHLO", &[250]).await?;
            c.cmd("STARTTLS", "STARTTLS", &[220]).await?;
            let tcp = c.io.into_inner();
            let tls = tls_connector()?.connect(server_name, tcp).await?;
            let mut c = Conn {
                io: BufReader::new(tls),
                timeout,
            };
            c.cmd(ehlo, "EHLO", &[250]).await?;
            c.send(cfg, mail).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_dot_stuffs_and_strips_header_breaks() {
        let cfg = SmtpConfig {
            from: "Marquee <support@example.com>".into(),
            ..SmtpConfig::default()
        };
        let text = render(
            &cfg,
            &Mail {
                to: "a@example.com".into(),
                subject: "Hi\r\nBcc: evil@example.com".into(),
                body: "line\n.dot\nend".into(),
                date: "Mon, 23 Nov 2026 07:00:00 +0000".into(),
            },
        );
        assert!(text.contains("Subject: HiBcc: evil@example.com\r\n"));
        assert!(!text.contains("\r\nBcc:"));
        assert!(text.ends_with("line\r\n..dot\r\nend\r\n"));
        assert_eq!(bare_address(&cfg.from), "support@example.com");
    }
}
