//! The outbox: messages are stored (see [`crate::store`]) before they are sent; a sender task
//! delivers what is due through lettre (tokio, rustls): implicit TLS, STARTTLS, or plain text
//! to loopback hosts; SMTP AUTH; a private CA. Transient SMTP errors (4xx, no connection) retry
//! with exponential backoff; permanent ones (5xx) are recorded and logged, not retried. After a
//! restart, what was not sent goes out; what was sent never goes out again.

use crate::compose::Outgoing;
use crate::config::{SmtpConfig, TlsMode};
use crate::store::{now, Store, StoreError};
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// First retry delay; it doubles per attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// Longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Why the sender could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The SMTP settings cannot be used.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The server accepted the message.
    Sent,
    /// Try again later (4xx, connection failures).
    Transient(String),
    /// Do not try again (5xx, a bad address).
    Permanent(String),
}

/// An SMTP client for the configured server.
#[derive(Clone)]
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Sender {
    /// Builds the client (the password is read now, and never logged).
    pub fn new(cfg: &SmtpConfig) -> Result<Sender, OutboxError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
            .port(cfg.port)
            .timeout(Some(Duration::from_secs(30)));
        let tls = match cfg.tls {
            TlsMode::None => Tls::None,
            mode => {
                let mut params = TlsParameters::builder(cfg.host.clone());
                if let Some(ca) = &cfg.ca_file {
                    let pem = std::fs::read(ca)
                        .map_err(|e| OutboxError::Smtp(format!("ca_file {}: {e}", ca.display())))?;
                    let cert = Certificate::from_pem(&pem)
                        .map_err(|e| OutboxError::Smtp(format!("ca_file {}: {e}", ca.display())))?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|e| OutboxError::Smtp(format!("TLS: {e}")))?;
                if mode == TlsMode::Implicit {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        builder = builder.tls(tls);
        if let Some((user, secret)) = &cfg.auth {
            let password = secret.resolve().map_err(OutboxError::Smtp)?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Sender {
            transport: builder.build(),
        })
    }

    /// Connects, logs in (when configured) and says goodbye, sending nothing: for
    /// `bouncedoc check-config`.
    pub async fn check(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the server did not answer NOOP".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Tries to deliver one message.
    pub async fn send(&self, mail_from: &str, rcpt_to: &str, raw: &[u8]) -> Attempt {
        let from = match mail_from.parse::<Address>() {
            Ok(a) => a,
            Err(e) => return Attempt::Permanent(format!("invalid sender {mail_from:?}: {e}")),
        };
        let to = match rcpt_to.parse::<Address>() {
            Ok(a) => a,
            Err(e) => return Attempt::Permanent(format!("invalid recipient {rcpt_to:?}: {e}")),
        };
        let envelope = match Envelope::new(Some(from), vec![to]) {
            Ok(e) => e,
            Err(e) => return Attempt::Permanent(e.to_string()),
        };
        match self.transport.send_raw(&envelope, raw).await {
            Ok(_) => Attempt::Sent,
            Err(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
            Err(e) => Attempt::Transient(e.to_string()),
        }
    }
}

/// Which sender a mailbox's answers go through: its name when it has its own `smtp` block,
/// `""` (the global server) otherwise.
pub fn via_of(m: &crate::config::MailboxConfig) -> &str {
    if m.smtp.is_some() {
        &m.name
    } else {
        ""
    }
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(attempts: u32) -> Duration {
    let factor = 1u64 << attempts.min(16);
    (FIRST_BACKOFF * factor as u32).min(MAX_BACKOFF)
}

/// The outbox: the store, and a bell rung when messages are queued (every sender task hears
/// it).
#[derive(Clone)]
pub struct Outbox {
    store: Arc<Mutex<Store>>,
    bell: Arc<watch::Sender<u64>>,
}

impl Outbox {
    /// An outbox over an open store.
    pub fn new(store: Store) -> Outbox {
        Outbox {
            store: Arc::new(Mutex::new(store)),
            bell: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Runs `f` with the state database (the watcher records notices through it, so that a
    /// notice and its answers are one transaction).
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Wakes the sender tasks: something was queued.
    pub fn ring(&self) {
        self.bell.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Stores a composed message for sending (before anything is sent).
    pub fn enqueue(&self, m: &Outgoing) -> Result<(), StoreError> {
        self.with_store(|s| s.enqueue(&m.message_id, &m.from, &m.to, &m.raw, now()))?;
        self.ring();
        Ok(())
    }

    /// Where a message stands.
    pub fn status(&self, message_id: &str) -> Result<Option<crate::store::Status>, StoreError> {
        self.with_store(|s| s.status(message_id))
    }

    /// Attempts every message due now, once. Returns how many were sent.
    pub async fn deliver_due(&self, sender: &Sender) -> Result<usize, StoreError> {
        self.deliver_due_at(sender, now()).await
    }

    /// As [`Outbox::deliver_due`] for the messages that go through the SMTP server `via`
    /// (`""` is the global one; a mailbox with its own `smtp` block uses its name).
    pub async fn deliver_due_via(&self, sender: &Sender, via: &str) -> Result<usize, StoreError> {
        self.deliver(sender, now(), via).await
    }

    /// As [`Outbox::deliver_due`], as if the time were `at` (Unix seconds): for tests of
    /// backoff, without waiting.
    pub async fn deliver_due_at(&self, sender: &Sender, at: i64) -> Result<usize, StoreError> {
        self.deliver(sender, at, "").await
    }

    async fn deliver(&self, sender: &Sender, at: i64, via: &str) -> Result<usize, StoreError> {
        let due = self.with_store(|s| s.due(at, 100, via))?;
        let mut sent = 0;
        for q in due {
            match sender.send(&q.mail_from, &q.rcpt_to, &q.raw).await {
                Attempt::Sent => {
                    self.with_store(|s| s.mark_sent(q.id, now()))?;
                    tracing::info!(message_id = %q.message_id, to = %q.rcpt_to, "sent");
                    sent += 1;
                }
                Attempt::Transient(e) => {
                    let wait = backoff(q.attempts);
                    self.with_store(|s| s.mark_retry(q.id, now() + wait.as_secs() as i64, &e))?;
                    tracing::warn!(message_id = %q.message_id, error = %e, retry_in_s = wait.as_secs(), "not sent; will retry");
                }
                Attempt::Permanent(e) => {
                    self.with_store(|s| s.mark_failed(q.id, &e))?;
                    tracing::error!(message_id = %q.message_id, to = %q.rcpt_to, error = %e, "not sent; permanent failure, not retried");
                }
            }
        }
        Ok(sent)
    }

    /// The sender task for the global SMTP server: see [`Outbox::run_via`].
    pub async fn run(&self, sender: Sender, shutdown: broadcast::Receiver<()>) -> Result<(), StoreError> {
        self.run_via(sender, "", shutdown).await
    }

    /// The sender task for the messages through `via`: delivers what is due, then sleeps until
    /// the next message is due, a message is queued, or shutdown. On shutdown it makes one last
    /// pass and returns.
    pub async fn run_via(
        &self,
        sender: Sender,
        via: &str,
        mut shutdown: broadcast::Receiver<()>,
    ) -> Result<(), StoreError> {
        let mut bell = self.bell.subscribe();
        loop {
            bell.mark_unchanged();
            self.deliver(&sender, now(), via).await?;
            let wait = match self.with_store(|s| s.next_due(via))? {
                Some(at) => Duration::from_secs((at - now()).clamp(0, 3600) as u64),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
                _ = bell.changed() => {}
                _ = shutdown.recv() => {
                    self.deliver(&sender, now(), via).await?;
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(3), Duration::from_secs(240));
        assert_eq!(backoff(20), MAX_BACKOFF);
    }
}
