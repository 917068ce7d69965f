//! Processing one message of a watched mailbox: read it, and if it is a delay or failure
//! notice, diagnose it, decide, plan the thread's next step, compose the messages, and record
//! the notice, its thread, its answers and the mailbox's cursor in one transaction. A notice
//! whose DNS checks could not decide is kept and diagnosed again later; after the last
//! recheck it is forwarded with the gap stated.

use crate::compose::{self, Lang, Outgoing};
use crate::config::{Config, Escalation, MailboxConfig};
use crate::conversation;
use crate::diagnose::{Checks, Finding};
use crate::notice::{self, Envelope, Kind, Notice};
use crate::outbox::Outbox;
use crate::store::{now, Answer, Record, StoreError};
use crate::verdict::{self, Action, Forwarding, Verdict};
use crate::vocab::{Outcome, Role};
use std::sync::Arc;

mod budget;
mod command;
mod digest;
mod gate;
mod limits;
mod notices;

use gate::Gate;
pub use limits::{FORWARD_ROLES, REPLY_ROLES};
pub(crate) use notices::answer_notice;

pub use budget::{run as budget_run, Budget, Overrun};

/// Delays before each recheck of a notice whose DNS checks failed; after the last, it is
/// forwarded with the gap stated.
pub const RECHECK_AFTER: [i64; 3] = [5 * 60, 15 * 60, 45 * 60];

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processed {
    /// Not a delay or failure notice: left alone.
    NotANotice,
    /// A notice that could not be read: logged and skipped.
    Unreadable,
    /// A notice processed before (under another UID or UIDVALIDITY): skipped.
    Seen,
    /// A notice about a message the bot itself sent: recorded, never answered.
    Ours,
    /// Recorded; `answered` when something was queued for it.
    Recorded {
        /// Whether messages were queued.
        answered: bool,
    },
    /// A reply to the bot: a command (answered or refused), recorded.
    Command {
        /// Whether messages were queued.
        answered: bool,
    },
    /// Given up (over its time budget, or the processing failed): recorded as skipped, never
    /// read again.
    Skipped,
}

/// Why a message's processing stopped without a result.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The state database failed: the message is processed again on the next pass.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The watcher gave up on this message (over its time budget) before anything was written.
    #[error("over the message's time budget; given up")]
    Abandoned,
}

/// Answers one mailbox's notices.
#[derive(Clone)]
pub struct Answerer {
    /// The whole configuration (bot identity, support, limits).
    pub config: Arc<Config>,
    /// This mailbox.
    pub mailbox: MailboxConfig,
    /// Where messages are queued (rung when answers are recorded).
    pub outbox: Outbox,
    /// The state: cursors, notices, threads, what was sent.
    pub state: crate::store::State,
    /// The checks (DNS, with this mailbox's sending IPs; fixed findings in unit tests).
    pub diagnoser: Arc<dyn Checks>,
    /// The time the message being processed may still take ([`Budget::unlimited`] outside
    /// the watcher's per-message loop).
    pub budget: Arc<Budget>,
    /// The daemon's access tokens (the watcher signs in with them).
    pub tokens: Arc<crate::signin::Tokens>,
    /// The login slots per IMAP server (`imap_connect_concurrency`).
    pub logins: Arc<crate::watch::logins::Logins>,
}

/// What identifies a notice across UIDs: its Message-ID, else a hash of its bytes.
pub fn fingerprint(envelope: &Envelope, raw: &[u8]) -> String {
    match &envelope.message_id {
        Some(id) if !id.is_empty() && id.len() < 512 => format!("mid:{}", id.to_ascii_lowercase()),
        _ => {
            // FNV-1a twice with different bases: stable across builds (unlike std's hasher).
            let fnv = |basis: u64| {
                raw.iter()
                    .fold(basis, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
            };
            format!(
                "raw:{:016x}{:016x}:{}",
                fnv(0xcbf2_9ce4_8422_2325),
                fnv(0x6c62_272e_07bb_0142),
                raw.len()
            )
        }
    }
}

/// Where a notice sits and how often it was diagnosed.
struct Position<'a> {
    uidvalidity: u32,
    uid: u32,
    fingerprint: &'a str,
    checks: u32,
}

impl Answerer {
    /// The language of this mailbox's messages to its user about no single notice (help,
    /// status, the digest): the configured `language`, else English. What goes to Support is
    /// English.
    pub fn lang(&self) -> Lang {
        Lang::pick(self.mailbox.language.fixed(), None)
    }

    /// The language of this mailbox's messages about notice `n`: the configured `language`,
    /// else (`language: auto`) the notice's own (its `Content-Language`), else English.
    pub fn lang_for(&self, n: &crate::notice::Notice) -> Lang {
        Lang::pick(self.mailbox.language.fixed(), n.language.as_deref())
    }

    /// How times are shown to this mailbox's user, now.
    pub fn clock(&self, now: i64) -> compose::words::Clock {
        compose::words::Clock::in_zone(self.config.timezone.as_deref(), now)
    }

    /// The SMTP server this mailbox's answers go through.
    pub fn via(&self) -> crate::vocab::Via {
        crate::outbox::via_of(&self.mailbox)
    }

    /// Writes to the state, unless the watcher gave up on this message (its budget ran out):
    /// then nothing is written and [`ProcessError::Abandoned`] comes back.
    fn commit<T>(
        &self,
        f: impl FnOnce(&crate::store::Store) -> Result<T, StoreError>,
    ) -> Result<T, ProcessError> {
        if !self.budget.commit() {
            return Err(ProcessError::Abandoned);
        }
        Ok(self.state.with(f)?)
    }

    /// The DNS checks of a notice (their time does not count against the message's budget).
    async fn diagnose(&self, n: &Notice) -> crate::diagnose::Diagnosis {
        self.budget.excluding(self.diagnoser.diagnose(n)).await
    }

    /// Records a message the watcher gave up on (`why`: over its time budget, or the
    /// processing failed) and moves the cursor past it, so that it is never read again.
    pub fn skip(&self, uidvalidity: u32, uid: u32, why: &str) -> Result<(), StoreError> {
        let name = self.mailbox.name.as_str();
        self.state
            .with(|s| s.record_skipped(name, uidvalidity, uid, why, now()))
    }

    /// Processes one message (UID `uid` in a folder with `uidvalidity`). A store error means
    /// the message is processed again on the next pass.
    pub async fn message(&self, uidvalidity: u32, uid: u32, raw: &[u8]) -> Result<Processed, ProcessError> {
        let envelope = notice::envelope(raw);
        let refs = match self.gate(raw, &envelope)? {
            Gate::Own => {
                tracing::debug!(uid, "the bot's own message; left alone");
                return Ok(Processed::NotANotice);
            }
            Gate::ReplyToBot(refs) => return self.command(uidvalidity, uid, raw, &envelope, &refs).await,
            Gate::Other(refs) => refs,
        };
        let n = match notice::read(raw) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(uid, error = %e, "cannot read this message; skipped");
                crate::metrics::get().skip(&self.mailbox.name, "unreadable");
                return Ok(Processed::Unreadable);
            }
        };
        if !matches!(n.kind, Kind::Delayed | Kind::Failed) {
            tracing::debug!(uid, kind = ?n.kind, "not a delay or failure notice");
            return self.command(uidvalidity, uid, raw, &envelope, &refs).await;
        }
        let fp = fingerprint(&envelope, raw);
        let name = self.mailbox.name.as_str();
        if self.state.with(|s| s.seen(name, &fp))? {
            tracing::info!(uid, "notice already processed (seen under another UID); skipped");
            return Ok(Processed::Seen);
        }
        let pos = Position {
            uidvalidity,
            uid,
            fingerprint: &fp,
            checks: 0,
        };
        let ours = match n.original.as_ref().and_then(|o| o.message_id.as_deref()) {
            Some(id) => self.state.with(|s| s.is_ours(id))?,
            None => false,
        };
        if ours {
            tracing::info!(
                uid,
                "a notice about the bot's own message; recorded, not answered"
            );
            self.record_quiet(&pos, &n, &envelope, Outcome::Ours, true)?;
            return Ok(Processed::Ours);
        }
        let diagnosis = self.diagnose(&n).await;
        let v = verdict::decide(&diagnosis.findings);
        let answered = self.conclude(&pos, raw, &n, &envelope, &diagnosis.findings, v, true)?;
        Ok(Processed::Recorded { answered })
    }

    /// The addresses and threading every message of this mailbox uses.
    pub(crate) fn context<'a>(
        &'a self,
        raw: &'a [u8],
        in_reply_to: Option<&'a str>,
        thread: &'a [String],
        now: i64,
        lang: Lang,
    ) -> compose::Context<'a> {
        let from = self.config.from.as_ref();
        let bot_address = from.map_or("bouncedoc@localhost", |f| f.address.as_str());
        let support = self
            .config
            .support_for(&self.mailbox)
            .map_or(bot_address, |s| s.address.as_str());
        let user = self.mailbox.user.address.as_str();
        compose::Context {
            bot_name: from.and_then(|f| f.name.as_deref()),
            bot_address,
            user,
            reply_to: self
                .mailbox
                .reply_to
                .as_ref()
                .map_or(user, |r| r.address.as_str()),
            support,
            notice_raw: raw,
            notice_message_id: in_reply_to,
            thread,
            clock: self.clock(now),
            lang,
        }
    }
}

#[cfg(test)]
mod tests;
