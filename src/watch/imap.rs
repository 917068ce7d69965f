//! Logging in to a mailbox: TCP, then implicit TLS, STARTTLS, or plain text (loopback hosts
//! only, which the configuration enforces), then LOGIN with a password or AUTHENTICATE with
//! an OAuth 2.0 token (OAUTHBEARER when offered, else XOAUTH2). TLS is verified against the
//! public roots (webpki-roots) plus the mailbox's `ca_file`.

use crate::config::{ImapConfig, TlsMode};
use crate::signin::sasl::{ImapExchange, Mechanism};
use crate::signin::Credential;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// How long connecting, the TLS handshake and LOGIN may take together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A byte stream an IMAP session runs over (TCP or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}

/// A logged-in IMAP session.
pub type Session = async_imap::Session<Box<dyn Io>>;

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {0}")]
    Connect(String),
    /// TLS could not be set up (untrusted certificate, wrong name, no STARTTLS).
    #[error("TLS: {0}")]
    Tls(String),
    /// The server refused the login: wrong user name or password, or a token it does not
    /// accept.
    #[error("login refused: {0}")]
    Auth(String),
    /// The server accepted the login but cannot serve the mailbox now (Exchange Online's
    /// "User is authenticated but not connected"): retried with the ordinary backoff.
    #[error("signed in, but not served: {0}")]
    NotServed(String),
    /// The server answered something unusable.
    #[error("IMAP: {0}")]
    Protocol(String),
}

/// The TLS client settings: public roots, plus the certificates in `ca_file`.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, ImapError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ImapError::Tls(format!("ca_file {}: {e}", path.display())))?;
        let mut n = 0;
        for cert in certs {
            let cert = cert.map_err(|e| ImapError::Tls(format!("ca_file {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| ImapError::Tls(format!("ca_file {}: {e}", path.display())))?;
            n += 1;
        }
        if n == 0 {
            return Err(ImapError::Tls(format!(
                "ca_file {}: no certificate in it",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The TLS client settings for `ca_file`, built once and shared by every session that uses the
/// same file as it is now (its size and time of change): each live connection holds its
/// settings, and a copy per session (every trust anchor again) cost tens of KB a mailbox. A CA
/// file replaced on disk gets settings of its own at the next connection.
pub fn shared_tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, ImapError> {
    type Key = Option<(std::path::PathBuf, u64, Option<std::time::SystemTime>)>;
    static SHARED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<Key, Arc<rustls::ClientConfig>>>,
    > = std::sync::OnceLock::new();
    let key: Key = ca_file.map(|p| {
        let meta = std::fs::metadata(p).ok();
        (
            p.to_path_buf(),
            meta.as_ref().map_or(0, |m| m.len()),
            meta.and_then(|m| m.modified().ok()),
        )
    });
    let shared = SHARED.get_or_init(Default::default);
    if let Some(c) = shared.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    let config = tls_config(ca_file)?;
    let mut map = shared.lock().unwrap_or_else(|p| p.into_inner());
    // A replaced file leaves its old settings behind: keep the map from growing for ever.
    if map.len() > 64 {
        map.clear();
    }
    map.insert(key, config.clone());
    Ok(config)
}

async fn handshake(
    stream: TcpStream,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Box<dyn Io>, ImapError> {
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| ImapError::Tls(format!("{host:?} is not a valid server name: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, stream)
        .await
        .map_err(|e| ImapError::Tls(e.to_string()))?;
    Ok(Box::new(stream))
}

/// Connects and signs in, all within [`CONNECT_TIMEOUT`]. The password or token is sent only
/// over TLS (or to a loopback host with `tls: none`) and never appears in an error.
pub async fn connect(cfg: &ImapConfig, credential: &Credential) -> Result<Session, ImapError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connect_inner(cfg, credential)).await {
        Ok(r) => r,
        Err(_) => Err(ImapError::Connect(format!(
            "{}:{}: no answer within {} s",
            cfg.host,
            cfg.port,
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

async fn connect_inner(cfg: &ImapConfig, credential: &Credential) -> Result<Session, ImapError> {
    let target = format!("{}:{}", cfg.host, cfg.port);
    let host = cfg.host.trim_matches(['[', ']']);
    let tcp = TcpStream::connect((host, cfg.port))
        .await
        .map_err(|e| ImapError::Connect(format!("{target}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = match cfg.tls {
        TlsMode::None => Box::new(tcp),
        TlsMode::Implicit => handshake(tcp, host, shared_tls_config(cfg.ca_file.as_deref())?).await?,
        TlsMode::Starttls => {
            let tls = shared_tls_config(cfg.ca_file.as_deref())?;
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, &target).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ImapError::Tls(format!("{target}: STARTTLS refused: {e}")))?;
            // Anything the server sent after its OK is dropped with the plain-text buffer.
            handshake(client.into_inner(), host, tls).await?
        }
    };
    let mut client = async_imap::Client::new(stream);
    if cfg.tls != TlsMode::Starttls {
        greeting(&mut client, &target).await?;
    }
    let refused = |e: async_imap::error::Error, why: Option<String>| match e {
        async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
            let text = crate::signin::endpoint::printable(&text, 300);
            let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
            // Throttled ("Request is throttled. Suggested Backoff Time: …") is not a refusal
            // either: the wait it asks for is obeyed, not the long one of a wrong password.
            if not_served(&text) || throttle_hint(&text).is_some() {
                ImapError::NotServed(format!("{target} as {}: {text}", cfg.username))
            } else {
                ImapError::Auth(format!("{target} as {}: {text}{why}", cfg.username))
            }
        }
        other => ImapError::Connect(format!("{target}: {other}")),
    };
    match credential {
        Credential::Password(password) => client
            .login(&cfg.username, password)
            .await
            .map_err(|(e, _)| refused(e, None)),
        Credential::Bearer(token) => {
            let offered = auth_mechanisms(&mut client, &target).await?;
            let Some(mechanism) = Mechanism::choose(offered.iter().map(String::as_str)) else {
                return Err(ImapError::Auth(format!(
                    "{target} offers neither OAUTHBEARER nor XOAUTH2 (it offers: {})",
                    if offered.is_empty() {
                        "none".to_string()
                    } else {
                        offered.join(", ")
                    }
                )));
            };
            let exchange = ImapExchange::new(mechanism, &cfg.username, token, host, cfg.port);
            let status = exchange.error.clone();
            client
                .authenticate(mechanism.as_str(), exchange)
                .await
                .map_err(|(e, _)| {
                    let why = status.lock().ok().and_then(|s| s.clone());
                    refused(e, why.map(|w| format!("{}: {w}", mechanism.as_str())))
                })
        }
    }
}

/// Longest wait a server's throttling answer is obeyed for.
pub const MAX_THROTTLE: Duration = Duration::from_secs(10 * 60);

/// The wait a throttling answer asks for: Exchange Online's `BAD Request is throttled.
/// Suggested Backoff Time: N milliseconds` (at most [`MAX_THROTTLE`]).
pub fn throttle_hint(text: &str) -> Option<Duration> {
    const KEY: &str = "suggested backoff time:";
    let end = (0..=text.len().min(4096))
        .rev()
        .find(|&i| text.is_char_boundary(i))?;
    let lower = text[..end].to_ascii_lowercase();
    let at = lower.find(KEY)? + KEY.len();
    let rest = lower[at..].trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).take(12).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = rest[digits.len()..].trim_start();
    let wait = if unit.starts_with("ms") || unit.starts_with("milli") {
        Duration::from_millis(n)
    } else if unit.starts_with('s') {
        Duration::from_secs(n)
    } else {
        Duration::from_millis(n)
    };
    Some(wait.min(MAX_THROTTLE))
}

/// Exchange Online's answer when the login worked but the mailbox cannot be served yet.
fn not_served(text: &str) -> bool {
    text.to_ascii_lowercase()
        .contains("authenticated but not connected")
}

/// The SASL mechanisms the server offers before login (`AUTH=…` capabilities).
async fn auth_mechanisms<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
    client: &mut async_imap::Client<T>,
    target: &str,
) -> Result<Vec<String>, ImapError> {
    use async_imap::imap_proto::{Capability, Response};
    use async_imap::types::UnsolicitedResponse;
    // The untagged CAPABILITY answer arrives as an unsolicited response.
    let (tx, rx) = async_channel::unbounded();
    client
        .run_command_and_check_ok("CAPABILITY", Some(tx))
        .await
        .map_err(|e| ImapError::Protocol(format!("{target}: CAPABILITY: {e}")))?;
    let mut offered = Vec::new();
    while let Ok(r) = rx.try_recv() {
        if let UnsolicitedResponse::Other(data) = r {
            if let Response::Capabilities(caps) = data.parsed() {
                for c in caps.iter().take(256) {
                    if let Capability::Auth(m) = c {
                        offered.push(m.to_string());
                    }
                }
            }
        }
    }
    Ok(offered)
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
    client: &mut async_imap::Client<T>,
    target: &str,
) -> Result<(), ImapError> {
    match client.read_response().await {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(ImapError::Connect(format!("{target}: {e}"))),
        None => Err(ImapError::Connect(format!(
            "{target}: closed before its greeting"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_share_their_tls_settings_until_the_ca_file_changes() {
        let a = shared_tls_config(None).unwrap();
        let b = shared_tls_config(None).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "one copy of the roots for every session");
        let dir = std::env::temp_dir().join(format!("bouncedoc-tls-share-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        // A certificate is not needed to tell files apart: an empty file is refused, a changed
        // one is read again.
        std::fs::write(&ca, "").unwrap();
        assert!(shared_tls_config(Some(&ca)).is_err());
        assert!(
            shared_tls_config(Some(&ca)).is_err(),
            "a refused file is not cached as good"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn throttling_answers_are_read_and_bounded() {
        assert_eq!(
            throttle_hint("IMAP: Bad(\"Request is throttled. Suggested Backoff Time: 299950 milliseconds\")"),
            Some(Duration::from_millis(299_950))
        );
        assert_eq!(
            throttle_hint("BAD Request is throttled. Suggested Backoff Time: 12 seconds"),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            throttle_hint("suggested backoff time: 99999999999 milliseconds"),
            Some(MAX_THROTTLE)
        );
        assert_eq!(throttle_hint("BAD Command Error. 10"), None);
        assert_eq!(throttle_hint("Suggested Backoff Time: soon"), None);
        // A long hostile answer costs one bounded look.
        assert_eq!(throttle_hint(&"Suggested Backoff Time: ".repeat(100_000)), None);
    }

    #[test]
    fn signed_in_but_not_served_is_told_apart_from_a_refusal() {
        assert!(not_served("User is authenticated but not connected."));
        assert!(not_served(
            "code: None, info: Some(\"User is authenticated but not connected.\")"
        ));
        assert!(!not_served("AUTHENTICATE failed."));
    }
}
