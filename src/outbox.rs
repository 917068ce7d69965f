//! The outbox: messages are stored (see [`crate::store`]) before they are sent; a sender task
//! delivers what is due over SMTP (lettre's connection, tokio, rustls): implicit TLS, STARTTLS,
//! or plain text to loopback hosts; SMTP AUTH with the password read again at every
//! connection, or with an OAuth 2.0 token (OAUTHBEARER when offered, else XOAUTH2; a cached
//! token the server refuses is replaced once); a private CA.
//!
//! Each message is claimed in the state before it is sent and marked after the server's
//! answer, so a storage fault can never make it go out twice: a message the server accepted
//! but whose mark could not be written stays claimed, the outcome is kept in memory, and
//! sending stops (logged as an error) until the state can be written again.
//!
//! Which failures are final is decided by where in the SMTP conversation they happen: only a
//! rejection of the message itself (a 5xx after DATA) or of its recipient (a bad address) is
//! final. Connection, TLS, authentication (530, 535, …) and policy refusals (relay denied,
//! sender refused) keep the message queued with its error, retried with backoff: a wrong
//! password or a relay setting is fixed by an administrator, not by dropping the answers.

use crate::compose::Outgoing;
use crate::config::{SignIn, SmtpConfig, TlsMode};
use crate::signin::sasl::Mechanism;
use crate::signin::{Credential, Renew, SignInError, Tokens};
use crate::store::{now, State, Store, StoreError};
use crate::vocab::Via;
use lettre::address::Address;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Severity;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// First retry delay; it doubles per attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// Longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The longest one SMTP step may take (lettre's own timeout covers only connecting).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the sender could not be set up, or the outbox could not go on.
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
    /// Try again later (4xx, connection, TLS, authentication and policy failures).
    Transient(String),
    /// Do not try again (the message or its recipient was refused).
    Permanent(String),
}

/// Where in the SMTP conversation a delivery failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Connecting, the greeting, EHLO, STARTTLS.
    Connect,
    /// SMTP AUTH (or reading the password).
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command.
    Data,
    /// The message itself (the answer after its end).
    Message,
}

impl Stage {
    fn word(self) -> &'static str {
        match self {
            Stage::Connect => "connection",
            Stage::Auth => "login",
            Stage::Mail => "MAIL FROM",
            Stage::Rcpt => "RCPT TO",
            Stage::Data => "DATA",
            Stage::Message => "message",
        }
    }
}

/// Whether a failure at `stage` with SMTP reply `code` (if any) and server text `text` is
/// final: only the message refused after DATA, or a bad recipient. Credentials (530, 534,
/// 535, 538), relay and other policy refusals (5.7.x) are for an administrator to fix: the
/// message waits.
pub fn is_final(stage: Stage, code: Option<u16>, text: &str) -> bool {
    let Some(code) = code else { return false };
    if code < 500 {
        return false;
    }
    // The enhanced status code decides when there is one (RFC 3463: 5.7.x is policy or
    // security; 5.1.x, 5.2.x, 5.3.x are the address, mailbox or message); the words only
    // when there is none ("User unknown in relay recipient table" is a bad address).
    let enhanced = crate::notice::codes::status_code(crate::notice::bounded::prefix(text.trim_start(), 16));
    let policy = match enhanced.as_deref() {
        Some(c) => c.starts_with("5.7."),
        None => {
            let lower = text.to_ascii_lowercase();
            matches!(code, 530 | 534 | 535 | 538)
                || lower.contains("relay access denied")
                || lower.contains("relaying denied")
                || lower.contains("authenticat")
        }
    };
    match stage {
        Stage::Message => true,
        Stage::Rcpt => !policy,
        _ => false,
    }
}

/// A failure at one stage, classified.
fn failed(stage: Stage, e: &lettre::transport::smtp::Error) -> Attempt {
    let code = e.status().map(u16::from);
    let text = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let message = format!("{}: {e}", stage.word());
    if is_final(stage, code, &text) {
        Attempt::Permanent(message)
    } else {
        Attempt::Transient(message)
    }
}

/// An SMTP client for the configured server.
#[derive(Clone)]
pub struct Sender {
    cfg: SmtpConfig,
    tls: Option<TlsParameters>,
    tokens: Arc<Tokens>,
}

/// One line sent as is (a SASL response), CRLF-terminated.
struct Line(String);

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\r\n", self.0)
    }
}

impl Sender {
    /// Prepares the client: reads the private CA (the password or token is had at each
    /// connection, from `tokens`, and never logged).
    pub fn new(cfg: &SmtpConfig, tokens: &Arc<Tokens>) -> Result<Sender, OutboxError> {
        let tls = match cfg.tls {
            TlsMode::None => None,
            _ => {
                let mut params = TlsParameters::builder(cfg.host.clone());
                if let Some(ca) = &cfg.ca_file {
                    let pem = std::fs::read(ca)
                        .map_err(|e| OutboxError::Smtp(format!("ca_file {}: {e}", ca.display())))?;
                    let cert = Certificate::from_pem(&pem)
                        .map_err(|e| OutboxError::Smtp(format!("ca_file {}: {e}", ca.display())))?;
                    params = params.add_root_certificate(cert);
                }
                Some(
                    params
                        .build_rustls()
                        .map_err(|e| OutboxError::Smtp(format!("TLS: {e}")))?,
                )
            }
        };
        Ok(Sender {
            cfg: cfg.clone(),
            tls,
            tokens: tokens.clone(),
        })
    }

    /// Connects, says EHLO, starts TLS and logs in (the password read now).
    async fn open(&self) -> Result<AsyncSmtpConnection, Attempt> {
        let hello = ClientId::default();
        let implicit = match self.cfg.tls {
            TlsMode::Implicit => self.tls.clone(),
            _ => None,
        };
        let connect = AsyncSmtpConnection::connect_tokio1(
            (self.cfg.host.as_str(), self.cfg.port),
            Some(Duration::from_secs(30)),
            &hello,
            implicit,
            None,
        );
        let mut c = step(Stage::Connect, connect).await?;
        if self.cfg.tls == TlsMode::Starttls {
            let Some(params) = self.tls.clone() else {
                return Err(Attempt::Transient("connection: no TLS parameters".into()));
            };
            if !c.can_starttls() {
                c.abort().await;
                return Err(Attempt::Transient(
                    "connection: the server does not offer STARTTLS (tls: starttls requires it)".into(),
                ));
            }
            if let Err(e) = step(Stage::Connect, c.starttls(params, &hello)).await {
                c.abort().await;
                return Err(e);
            }
        }
        if let Some((user, how)) = &self.cfg.auth {
            if let Err(e) = self.sign_in(&mut c, user, how).await {
                c.abort().await;
                return Err(e);
            }
        }
        Ok(c)
    }

    /// SMTP AUTH as `user`: with the password, or with a token (a refused cached token is
    /// replaced once, on the same connection).
    async fn sign_in(&self, c: &mut AsyncSmtpConnection, user: &str, how: &SignIn) -> Result<(), Attempt> {
        let login = |e: SignInError| Attempt::Transient(format!("login: {e}"));
        let (credential, cached) = self.tokens.credential(how, Renew::Cached).await.map_err(login)?;
        let token = match credential {
            Credential::Password(password) => {
                let credentials = Credentials::new(user.to_string(), password);
                return step(Stage::Auth, c.auth(DEFAULT_MECHANISMS, &credentials))
                    .await
                    .map(|_| ());
            }
            Credential::Bearer(token) => token,
        };
        // lettre knows XOAUTH2 only: the offered mechanisms come from the EHLO lines.
        let ehlo = step(Stage::Auth, c.command(Ehlo::new(ClientId::default()))).await?;
        let offered: Vec<String> = ehlo
            .message()
            .filter_map(|l| {
                let l = l.trim();
                l.get(..5)
                    .filter(|k| k.eq_ignore_ascii_case("AUTH ") || k.eq_ignore_ascii_case("AUTH="))
                    .map(|_| l[5..].to_string())
            })
            .flat_map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let Some(mechanism) = Mechanism::choose(offered.iter().map(String::as_str)) else {
            return Err(Attempt::Transient(format!(
                "login: {}:{} offers neither OAUTHBEARER nor XOAUTH2 (it offers: {})",
                self.cfg.host,
                self.cfg.port,
                if offered.is_empty() {
                    "none".to_string()
                } else {
                    offered.join(", ")
                }
            )));
        };
        match self.bearer(c, mechanism, user, &token).await {
            Err(Attempt::Transient(e)) if cached => {
                tracing::info!(error = %e, "the SMTP server refused a cached access token; trying once with a new one");
                let (fresh, _) = self
                    .tokens
                    .credential(how, Renew::Not(&token))
                    .await
                    .map_err(login)?;
                let Credential::Bearer(token) = fresh else {
                    return Err(Attempt::Transient(e));
                };
                self.bearer(c, mechanism, user, &token).await
            }
            other => other,
        }
    }

    /// One AUTH exchange with a bearer token. An error challenge (334 with the server's JSON)
    /// is answered as the mechanism says; the server's refusal follows.
    async fn bearer(
        &self,
        c: &mut AsyncSmtpConnection,
        mechanism: Mechanism,
        user: &str,
        token: &str,
    ) -> Result<(), Attempt> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let initial = mechanism.initial(user, token, &self.cfg.host, self.cfg.port);
        let answer = step(
            Stage::Auth,
            c.command(Line(format!(
                "AUTH {} {}",
                mechanism.as_str(),
                b64.encode(initial)
            ))),
        )
        .await?;
        if answer.code().severity == Severity::PositiveCompletion {
            return Ok(());
        }
        // 334: the error challenge. The answer to it draws the final refusal (an error here).
        let status = answer
            .message()
            .next()
            .and_then(|m| b64.decode(m.trim()).ok())
            .and_then(|j| crate::signin::sasl::error_status(&j));
        let end = step(Stage::Auth, c.command(Line(b64.encode(mechanism.after_error())))).await;
        Err(match end {
            Err(Attempt::Transient(e) | Attempt::Permanent(e)) => Attempt::Transient(match status {
                Some(s) => format!("{e} ({}: {s})", mechanism.as_str()),
                None => e,
            }),
            _ => {
                // Another challenge instead of the refusal: cancel the exchange (RFC 4954).
                let _ = step(Stage::Auth, c.command(Line("*".into()))).await;
                Attempt::Transient(format!("login: {} ended without an answer", mechanism.as_str()))
            }
        })
    }

    /// Connects, logs in (when configured) and says goodbye, sending nothing: for
    /// `bouncedoc check-config`.
    pub async fn check(&self) -> Result<(), String> {
        let mut c = self.open().await.map_err(|a| match a {
            Attempt::Transient(e) | Attempt::Permanent(e) => e,
            Attempt::Sent => String::new(),
        })?;
        let _ = tokio::time::timeout(STEP_TIMEOUT, c.quit()).await;
        Ok(())
    }

    /// One mail transaction on an open connection: MAIL, RCPT, DATA, the message.
    async fn transaction(
        &self,
        c: &mut AsyncSmtpConnection,
        mail_from: &str,
        rcpt_to: &str,
        raw: &[u8],
    ) -> Attempt {
        let from = match mail_from.parse::<Address>() {
            Ok(a) => a,
            Err(e) => return Attempt::Permanent(format!("invalid sender {mail_from:?}: {e}")),
        };
        let to = match rcpt_to.parse::<Address>() {
            Ok(a) => a,
            Err(e) => return Attempt::Permanent(format!("invalid recipient {rcpt_to:?}: {e}")),
        };
        let mut parameters = Vec::new();
        if !raw.is_ascii() && c.server_info().supports_feature(Extension::EightBitMime) {
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let result = async {
            step(Stage::Mail, c.command(Mail::new(Some(from), parameters))).await?;
            step(Stage::Rcpt, c.command(Rcpt::new(to, Vec::new()))).await?;
            step(Stage::Data, c.command(Data)).await?;
            step(Stage::Message, c.message(raw)).await
        }
        .await;
        match result {
            Ok(_) => Attempt::Sent,
            Err(a) => a,
        }
    }

    /// Tries to deliver one message on a connection of its own.
    pub async fn send(&self, mail_from: &str, rcpt_to: &str, raw: &[u8]) -> Attempt {
        let mut c = match self.open().await {
            Ok(c) => c,
            Err(a) => return a,
        };
        let a = self.transaction(&mut c, mail_from, rcpt_to, raw).await;
        if a == Attempt::Sent {
            let _ = tokio::time::timeout(STEP_TIMEOUT, c.quit()).await;
        } else {
            c.abort().await;
        }
        a
    }
}

/// Runs one SMTP step under [`STEP_TIMEOUT`], classifying its failure.
async fn step<T>(
    stage: Stage,
    fut: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, Attempt> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failed(stage, &e)),
        Err(_) => Err(Attempt::Transient(format!(
            "{}: no answer in {} s",
            stage.word(),
            STEP_TIMEOUT.as_secs()
        ))),
    }
}

/// Which sender a mailbox's answers go through: its own `smtp` block, or the global one.
pub fn via_of(m: &crate::config::MailboxConfig) -> Via {
    if m.smtp.is_some() {
        Via::Mailbox(m.name.clone())
    } else {
        Via::Global
    }
}

/// The delay before attempt `attempts + 1` of one message.
pub fn backoff(attempts: u32) -> Duration {
    let factor = 1u64 << attempts.min(16);
    (FIRST_BACKOFF * factor as u32).min(MAX_BACKOFF)
}

/// The outbox: the store, and a bell rung when messages are queued (every sender task hears
/// it).
#[derive(Clone)]
pub struct Outbox {
    state: State,
    bell: Arc<watch::Sender<u64>>,
    /// Outcomes of attempts the state could not record (a storage fault): written before
    /// anything else is sent.
    unrecorded: Arc<Mutex<Vec<Unrecorded>>>,
}

/// An attempt whose outcome is known but not yet written to the state.
#[derive(Debug, Clone)]
struct Unrecorded {
    id: i64,
    message_id: String,
    attempts: u32,
    attempt: Attempt,
}

/// Counts a failed delivery attempt (`transient` or `permanent`).
fn failure_counted(kind: &str) {
    crate::metrics::get()
        .send_failures
        .with_label_values(&[kind])
        .inc();
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Messages the server accepted.
    pub sent: usize,
    /// The server could not be reached or refused the login: the pass stopped early.
    pub server_down: bool,
}

/// How long a sender waits after its server could not be reached (or refused the login)
/// `failures` times in a row: 5 s doubling to 5 min.
pub fn server_backoff(failures: u32) -> Duration {
    (Duration::from_secs(5) * (1u32 << failures.min(6))).min(Duration::from_secs(300))
}

impl Outbox {
    /// An outbox over an open store. Messages a previous run claimed and never marked (it
    /// crashed between the server's answer and the mark) are given back to be sent.
    pub fn new(store: Store) -> Outbox {
        Outbox::over(State::new(store))
    }

    /// An outbox over the shared state handle (see [`Outbox::new`]).
    pub fn over(state: State) -> Outbox {
        match state.with(Store::release_claims) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                messages = n,
                "messages were being sent when the bot stopped: they are sent again (a server may have received one already)"
            ),
            Err(e) => tracing::error!(error = %e, "cannot release claimed messages"),
        }
        Outbox {
            state,
            bell: Arc::new(watch::Sender::new(0)),
            unrecorded: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// After the sender task of `via` ended mid-attempt (aborted on a reload or a stop, or a
    /// bug), its claimed messages go back to the queue — all but those whose outcome is known
    /// and only waits to be recorded.
    pub async fn release_claims_of(&self, via: &Via) {
        let keep: Vec<i64> = self
            .unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|u| u.id)
            .collect();
        let from = via.clone();
        match self.state.run(move |s| s.release_claims_of(&from, &keep)).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(messages = n, "a sender stopped mid-attempt: its messages go back to the queue (a server may have received one already)"),
            Err(e) => tracing::error!(error = %e, "cannot give back a stopped sender's messages; they go out after a restart"),
        }
    }

    /// Wakes the sender tasks: something was queued.
    pub fn ring(&self) {
        self.bell.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Stores a composed message for sending (before anything is sent). Blocks: for code off
    /// the async workers (the processor queues its answers inside its own transaction).
    pub fn enqueue(&self, m: &Outgoing) -> Result<(), StoreError> {
        self.state
            .with(|s| s.enqueue(&m.message_id, &m.from, &m.to, &m.raw, now()))?;
        self.ring();
        Ok(())
    }

    /// Where a message stands. Blocks, as [`Outbox::enqueue`].
    pub fn status(&self, message_id: &str) -> Result<Option<crate::store::Status>, StoreError> {
        self.state.with(|s| s.status(message_id))
    }

    /// Attempts every message due now, once. Returns how many were sent.
    pub async fn deliver_due(&self, sender: &Sender) -> Result<usize, StoreError> {
        self.deliver_due_at(sender, now()).await
    }

    /// As [`Outbox::deliver_due`] for the messages that go through the SMTP server `via`.
    pub async fn deliver_due_via(&self, sender: &Sender, via: &Via) -> Result<usize, StoreError> {
        self.deliver(sender, now(), via).await.map(|p| p.sent)
    }

    /// As [`Outbox::deliver_due`], as if the time were `at` (Unix seconds): for tests of
    /// backoff, without waiting.
    pub async fn deliver_due_at(&self, sender: &Sender, at: i64) -> Result<usize, StoreError> {
        self.deliver(sender, at, &Via::Global).await.map(|p| p.sent)
    }

    /// Writes the outcomes a storage fault kept from being recorded. Until this succeeds,
    /// nothing else is sent.
    async fn record_unrecorded(&self) -> Result<(), StoreError> {
        loop {
            let first = self
                .unrecorded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .first()
                .cloned();
            let Some(u) = first else { return Ok(()) };
            self.mark(u.id, u.attempts, &u.attempt).await?;
            tracing::info!(message_id = %u.message_id, "the outcome kept in memory is now recorded");
            self.unrecorded
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|kept| kept.id != u.id);
        }
    }

    async fn mark(&self, id: i64, attempts: u32, attempt: &Attempt) -> Result<(), StoreError> {
        let attempt = attempt.clone();
        let retry_at = now() + backoff(attempts).as_secs() as i64;
        self.state
            .run(move |s| match &attempt {
                Attempt::Sent => s.mark_sent(id, now()),
                Attempt::Transient(e) => s.mark_retry(id, retry_at, e),
                Attempt::Permanent(e) => s.mark_failed(id, e),
            })
            .await
    }

    async fn deliver(&self, sender: &Sender, at: i64, via: &Via) -> Result<Pass, StoreError> {
        self.record_unrecorded().await?;
        let from = via.clone();
        let due = self.state.run(move |s| s.due(at, 100, &from)).await?;
        let mut pass = Pass::default();
        let mut conn: Option<AsyncSmtpConnection> = None;
        for q in due {
            let id = q.id;
            if !self.state.run(move |s| s.claim(id, now())).await? {
                continue;
            }
            // The connection of the message before, else a new one.
            let open = match conn.take() {
                Some(c) => Ok(c),
                None => sender.open().await,
            };
            let attempt = match open {
                Ok(mut c) => {
                    let a = sender.transaction(&mut c, &q.mail_from, &q.rcpt_to, &q.raw).await;
                    conn = Some(c);
                    a
                }
                Err(a) => {
                    pass.server_down = true;
                    a
                }
            };
            if attempt != Attempt::Sent {
                // The conversation is in an unknown state: the next message starts afresh.
                if let Some(mut c) = conn.take() {
                    c.abort().await;
                }
            }
            if let Err(e) = self.mark(q.id, q.attempts, &attempt).await {
                let sent = attempt == Attempt::Sent;
                self.unrecorded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Unrecorded {
                        id: q.id,
                        message_id: q.message_id.clone(),
                        attempts: q.attempts,
                        attempt,
                    });
                tracing::error!(
                    message_id = %q.message_id,
                    sent,
                    error = %e,
                    "the state database cannot record this delivery: the message stays claimed and is NOT sent again; sending stops until the state can be written (disk full?)"
                );
                if let Some(mut c) = conn.take() {
                    let _ = tokio::time::timeout(STEP_TIMEOUT, c.quit()).await;
                }
                return Err(e);
            }
            match &attempt {
                Attempt::Sent => {
                    tracing::info!(message_id = %q.message_id, to = %q.rcpt_to, "sent");
                    pass.sent += 1;
                    let mid = q.message_id.clone();
                    let role = self.state.run(move |s| s.role_of(&mid)).await.ok().flatten();
                    crate::metrics::get()
                        .sent
                        .with_label_values(&[role.map_or("other", |r| r.as_str())])
                        .inc();
                }
                Attempt::Transient(e) => {
                    failure_counted("transient");
                    tracing::warn!(message_id = %q.message_id, error = %e, retry_in_s = backoff(q.attempts).as_secs(), "not sent; will retry");
                }
                Attempt::Permanent(e) => {
                    failure_counted("permanent");
                    tracing::error!(message_id = %q.message_id, to = %q.rcpt_to, error = %e, "not sent; permanent failure, not retried");
                }
            }
            if pass.server_down {
                // The server cannot be reached or refuses the login: the other messages
                // wait for the sender's next try instead of each failing the same way.
                break;
            }
        }
        if let Some(mut c) = conn.take() {
            let _ = tokio::time::timeout(STEP_TIMEOUT, c.quit()).await;
        }
        Ok(pass)
    }

    /// The sender task for the global SMTP server: see [`Outbox::run_via`].
    pub async fn run(&self, sender: Sender, shutdown: broadcast::Receiver<()>) -> Result<(), StoreError> {
        self.run_via(sender, &Via::Global, shutdown).await
    }

    /// The sender task for the messages through `via`: delivers what is due, then sleeps until
    /// the next message is due, a message is queued, or shutdown. A server that cannot be
    /// reached (or refuses the login) is tried again after [`server_backoff`]. On shutdown it
    /// makes one last pass and returns. A state database that cannot be written stops it with
    /// the error (its caller retries).
    pub async fn run_via(
        &self,
        sender: Sender,
        via: &Via,
        mut shutdown: broadcast::Receiver<()>,
    ) -> Result<(), StoreError> {
        let mut bell = self.bell.subscribe();
        let mut failures = 0u32;
        loop {
            bell.mark_unchanged();
            let pass = self.deliver(&sender, now(), via).await?;
            let from = via.clone();
            let due = match self.state.run(move |s| s.next_due(&from)).await? {
                Some(at) => Duration::from_secs((at - now()).clamp(0, 3600) as u64),
                None => Duration::from_secs(3600),
            };
            let wait = if pass.server_down {
                failures = failures.saturating_add(1);
                due.max(server_backoff(failures - 1))
            } else {
                failures = 0;
                due
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
                _ = bell.changed(), if !pass.server_down => {}
                _ = shutdown.recv() => {
                    if !pass.server_down {
                        self.deliver(&sender, now(), via).await?;
                    }
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
    fn only_a_refused_message_or_recipient_is_final() {
        use Stage::*;
        // Bad recipients, whatever the words.
        assert!(is_final(
            Rcpt,
            Some(550),
            "5.1.1 <x@y>: Recipient address rejected: User unknown in relay recipient table"
        ));
        assert!(is_final(Rcpt, Some(553), "5.1.3 bad address syntax"));
        assert!(is_final(Rcpt, Some(550), "mailbox unavailable"));
        // Policy and credentials wait for an administrator.
        assert!(!is_final(Rcpt, Some(554), "5.7.1 <x@y>: Relay access denied"));
        assert!(!is_final(Rcpt, Some(554), "Relay access denied"));
        assert!(!is_final(Rcpt, Some(530), "Authentication required"));
        assert!(!is_final(Auth, Some(535), "5.7.8 Error: authentication failed"));
        assert!(!is_final(Mail, Some(553), "5.7.1 sender not owned by user"));
        assert!(!is_final(Data, Some(554), "5.5.1 no valid recipients"));
        // The message itself, after DATA: final, policy included.
        assert!(is_final(Message, Some(550), "5.7.1 message content rejected"));
        // Never a 4xx, never without a code.
        assert!(!is_final(Message, Some(451), "4.3.0 try later"));
        assert!(!is_final(Rcpt, None, "connection lost"));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(3), Duration::from_secs(240));
        assert_eq!(backoff(20), MAX_BACKOFF);
    }
}
