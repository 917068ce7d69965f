//! Processing one message of a watched mailbox: read it, and if it is a delay or failure
//! notice, diagnose it, decide, plan the thread's next step, compose the messages, and record
//! the notice, its thread, its answers and the mailbox's cursor in one transaction. A notice
//! whose DNS checks could not decide is kept and diagnosed again later; after the last
//! recheck it is forwarded with the gap stated.

use crate::compose::{self, Outgoing};
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

fn kind_name(kind: Kind) -> String {
    kind.as_str().to_string()
}

/// Where a notice sits and how often it was diagnosed.
struct Position<'a> {
    uidvalidity: u32,
    uid: u32,
    fingerprint: &'a str,
    checks: u32,
}

impl Answerer {
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
        // The bot's own messages (its answers land in the watched mailbox too) are never read
        // as notices: that would be a loop.
        let bot = self.config.from.as_ref().map(|f| f.address.as_str());
        let from_bot = envelope
            .from
            .iter()
            .any(|a| bot.is_some_and(|b| a.eq_ignore_ascii_case(b)));
        let sent_by_bot = match envelope.message_id.as_deref() {
            Some(id) => self.state.with(|s| s.is_ours(id))?,
            None => false,
        };
        let (section, _) = notice::mime::split(raw);
        let marked = notice::mime::find_header(section, crate::commands::BOT_HEADER).is_some();
        if from_bot || sent_by_bot || marked {
            tracing::debug!(uid, "the bot's own message; left alone");
            return Ok(Processed::NotANotice);
        }
        // A reply to one of the bot's messages is a command (or a refusal), never a notice,
        // even when it quotes the bot's words about a delay.
        let refs = crate::commands::referenced_ids(raw);
        let mut replies_to_bot = false;
        for id in &refs {
            if self.state.with(|s| s.is_ours(id))? {
                replies_to_bot = true;
                break;
            }
        }
        if replies_to_bot {
            return self.command(uidvalidity, uid, raw, &envelope, &refs).await;
        }
        let n = match notice::read(raw) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(uid, error = %e, "cannot read this message; skipped");
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
        let v = verdict::decide(&n, &diagnosis.findings);
        let answered = self.conclude(&pos, raw, &n, &envelope, &diagnosis.findings, v, true)?;
        Ok(Processed::Recorded { answered })
    }

    /// Diagnoses again every notice of this mailbox whose recheck is due. Returns how many.
    pub async fn rechecks(&self) -> Result<usize, ProcessError> {
        let name = self.mailbox.name.as_str();
        let due = self.state.with(|s| s.pending(name, now()))?;
        let count = due.len();
        for p in due {
            // A recheck that panics (a bug) must not come back at every pass: it is recorded
            // as skipped and leaves the pending list.
            let one = std::panic::AssertUnwindSafe(self.recheck(p.id, p.checks));
            match futures::FutureExt::catch_unwind(one).await {
                Ok(r) => r?,
                Err(_) => {
                    tracing::error!(
                        notice = p.id,
                        "diagnosing this notice again failed (a bug); skipped"
                    );
                    self.commit(|s| s.drop_pending(p.id, "recheck failed (a bug)"))?;
                }
            }
        }
        Ok(count)
    }

    /// Diagnoses one pending notice again and records what follows.
    async fn recheck(&self, id: i64, checks: u32) -> Result<(), ProcessError> {
        let Some((uidvalidity, uid, fp)) = self.state.with(|s| s.notice_position(id))? else {
            return Ok(());
        };
        let Some(raw) = self.state.with(|s| s.notice_raw(id))? else {
            return Ok(());
        };
        let n = match notice::read(&raw) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(uid, error = %e, "stored notice no longer reads; dropped");
                self.commit(|s| s.drop_pending(id, "the stored notice no longer reads"))?;
                return Ok(());
            }
        };
        let envelope = notice::envelope(&raw);
        let diagnosis = self.diagnose(&n).await;
        let v = verdict::decide(&n, &diagnosis.findings);
        let pos = Position {
            uidvalidity,
            uid,
            fingerprint: &fp,
            checks,
        };
        tracing::info!(uid, checks = checks + 1, action = ?v.action, "notice diagnosed again");
        self.conclude(&pos, &raw, &n, &envelope, &diagnosis.findings, v, false)?;
        Ok(())
    }

    /// When this mailbox's next recheck is due (Unix seconds), if any.
    pub fn next_recheck(&self) -> Result<Option<i64>, StoreError> {
        self.state.with(|s| s.next_pending(&self.mailbox.name))
    }

    /// What every record of this notice says about the notice itself; the caller adds what
    /// was decided.
    fn base_record<'a>(
        &'a self,
        pos: &'a Position<'a>,
        about: &'a (String, String, Option<String>),
        n: &'a Notice,
        envelope: &'a Envelope,
        move_cursor: bool,
        now: i64,
    ) -> Record<'a> {
        Record {
            mailbox: &self.mailbox.name,
            uidvalidity: pos.uidvalidity,
            uid: pos.uid,
            fingerprint: pos.fingerprint,
            message_id: envelope.message_id.as_deref(),
            kind: &about.0,
            recipients: &about.1,
            subject: n.original.as_ref().and_then(|o| o.subject.as_deref()),
            thread: None,
            reporter: about.2.as_deref(),
            verdict: None,
            summary: None,
            outcome: Outcome::Answered,
            raw: &[],
            pending: None,
            held: &[],
            answers: &[],
            via: self.via(),
            move_cursor,
            now,
        }
    }

    fn record_quiet(
        &self,
        pos: &Position<'_>,
        n: &Notice,
        envelope: &Envelope,
        outcome: Outcome,
        move_cursor: bool,
    ) -> Result<(), ProcessError> {
        let about = about_notice(n);
        let record = Record {
            outcome,
            ..self.base_record(pos, &about, n, envelope, move_cursor, now())
        };
        self.commit(|s| s.record(&record)).map(|_| ())
    }

    /// The verdict under this mailbox's `escalation`: `ask` invites a "support" reply instead
    /// of forwarding, `never` turns forwarding off.
    pub(crate) fn escalate(&self, n: &Notice, v: Verdict) -> Verdict {
        match self.mailbox.escalation {
            Escalation::Auto => v,
            Escalation::Ask => verdict::hold_forwarding(n, v, Forwarding::Invite),
            Escalation::Never => verdict::hold_forwarding(n, v, Forwarding::Off),
        }
    }

    /// Records a diagnosed notice and queues what its thread needs. Returns whether anything
    /// was queued.
    #[allow(clippy::too_many_arguments)]
    fn conclude(
        &self,
        pos: &Position<'_>,
        raw: &[u8],
        n: &Notice,
        envelope: &Envelope,
        findings: &[Finding],
        v: Verdict,
        move_cursor: bool,
    ) -> Result<bool, ProcessError> {
        let checks = pos.checks + 1;
        let v = if v.action == Action::Recheck && checks as usize > RECHECK_AFTER.len() {
            verdict::after_last_recheck(n, v, checks)
        } else {
            v
        };
        let v = self.escalate(n, v);
        let now = now();
        let about = about_notice(n);
        let key = conversation::verdict_key(&v);
        let summary = v.summary.clone();
        let base = Record {
            verdict: Some(&key),
            summary: Some(&summary),
            outcome: Outcome::Recheck,
            raw,
            ..self.base_record(pos, &about, n, envelope, move_cursor, now)
        };
        if v.action == Action::Recheck {
            let at = now + RECHECK_AFTER[(checks as usize - 1).min(RECHECK_AFTER.len() - 1)];
            tracing::info!(
                uid = pos.uid,
                recheck_in_s = at - now,
                "DNS checks inconclusive; nothing sent yet"
            );
            let record = Record {
                pending: Some((at, checks)),
                ..base
            };
            self.commit(|s| s.record(&record))?;
            return Ok(false);
        }
        let (original, recipient) = conversation::thread_key(n, pos.fingerprint);
        let name = self.mailbox.name.as_str();
        let thread = self.state.with(|s| s.thread(name, &original, &recipient))?;
        let mut plan = conversation::plan(n.kind, &v, thread.as_ref(), about.2.as_deref());
        // No package allowed this hour: the reply must not claim one went, and invites
        // "support" instead; the package is listed in the later summary to Support.
        let mut held_package = None;
        let v = if plan.package && !self.forward_allowed(now)? {
            plan.package = false;
            held_package = Some(self.held_line(n, &v));
            verdict::hold_forwarding(n, v, Forwarding::Invite)
        } else {
            v
        };
        let messages = match self.compose(raw, n, envelope, findings, &v, &plan, thread.as_ref()) {
            Ok(m) => m,
            Err(e) => {
                // Only a configured address can fail here; the notice is recorded unanswered.
                tracing::error!(uid = pos.uid, error = %e, "cannot compose the answer");
                Vec::new()
            }
        };
        let (kept, mut held) = self.within_limits(messages, n, &v, now)?;
        held.extend(held_package.map(|line| (Role::Package, line)));
        let answers: Vec<Answer<'_>> = kept
            .iter()
            .map(|(role, message)| Answer { role: *role, message })
            .collect();
        if !held.is_empty() {
            tracing::warn!(
                uid = pos.uid,
                held = held.len(),
                "hourly limit reached: held back, to be summarized later"
            );
        }
        // A disputed notice leaves the thread as it was: its verdict is not the thread's.
        let thread_verdict = match (&thread, plan.outcome) {
            (Some(t), Outcome::Disputed) => t.verdict.as_str(),
            _ => key.as_str(),
        };
        let record = Record {
            thread: Some((&original, &recipient, thread_verdict, plan.state)),
            outcome: if held.is_empty() {
                plan.outcome
            } else {
                Outcome::Held
            },
            answers: &answers,
            held: &held,
            ..base
        };
        self.commit(|s| s.record(&record))?;
        if !answers.is_empty() {
            self.outbox.ring();
        }
        tracing::info!(
            uid = pos.uid,
            kind = %about.0,
            recipients = %about.1,
            verdict = %key,
            outcome = plan.outcome.as_str(),
            queued = answers.len(),
            "notice processed"
        );
        Ok(!answers.is_empty())
    }

    #[allow(clippy::too_many_arguments)]
    fn compose(
        &self,
        raw: &[u8],
        n: &Notice,
        envelope: &Envelope,
        findings: &[Finding],
        v: &Verdict,
        plan: &conversation::Plan,
        thread: Option<&crate::store::Thread>,
    ) -> Result<Vec<(Role, Outgoing)>, compose::ComposeError> {
        let mut out = Vec::new();
        let Some(role) = plan.message else {
            return Ok(out);
        };
        let earlier: Vec<String> = thread.map(|t| t.messages.clone()).unwrap_or_default();
        let ctx = self.context(raw, envelope.message_id.as_deref(), &earlier, now());
        out.extend(answer_notice(&ctx, n, findings, v, role, plan.package)?);
        Ok(out)
    }
}

/// The user's message about a notice (in `role`) and, when `package`, the Support package.
pub(crate) fn answer_notice(
    ctx: &compose::Context<'_>,
    n: &Notice,
    findings: &[Finding],
    v: &Verdict,
    role: Role,
    package: bool,
) -> Result<Vec<(Role, Outgoing)>, compose::ComposeError> {
    let mut out = vec![(role, compose::user_reply(ctx, n, findings, v)?)];
    if package {
        let json = compose::diagnosis_json("notice.eml", n, findings, v);
        out.push((
            Role::Package,
            compose::support_package(ctx, n, findings, v, &json.to_string())?,
        ));
    }
    Ok(out)
}

/// Composed messages with their roles, and what the limits held back (role, summary line).
pub(crate) type Limited = (Vec<(Role, Outgoing)>, Vec<(Role, String)>);

/// Roles that count against `limits.replies_per_hour` (messages to the user).
pub const REPLY_ROLES: &[Role] = Role::TO_USER;
/// Roles that count against `limits.forwards_per_hour` (messages to Support).
pub const FORWARD_ROLES: &[Role] = Role::TO_SUPPORT;

impl Answerer {
    /// Splits composed messages into those the hourly limits allow and those held back (one
    /// summary line each).
    fn within_limits(
        &self,
        messages: Vec<(Role, Outgoing)>,
        n: &Notice,
        v: &Verdict,
        now: i64,
    ) -> Result<Limited, StoreError> {
        if messages.is_empty() {
            return Ok((messages, Vec::new()));
        }
        let name = self.mailbox.name.as_str();
        let since = now - 3600;
        let mut replies = self.state.with(|s| s.sent_since(name, REPLY_ROLES, since))?;
        let mut forwards = self.state.with(|s| s.sent_since(name, FORWARD_ROLES, since))?;
        let limits = self.config.limits;
        let state = if n.kind == Kind::Failed {
            "Not delivered"
        } else {
            "Delayed"
        };
        let mut kept = Vec::new();
        let mut held = Vec::new();
        for (role, m) in messages {
            if role == Role::Package {
                if forwards < limits.forwards_per_hour {
                    forwards += 1;
                    kept.push((role, m));
                } else {
                    held.push((
                        Role::Package,
                        format!("{}: {} — {}", state, compose::thread_subject(n), v.cause.label()),
                    ));
                }
            } else if replies < limits.replies_per_hour {
                replies += 1;
                kept.push((role, m));
            } else {
                held.push((
                    Role::Reply,
                    format!("{}: {} — {}", state, compose::thread_subject(n), v.cause.label()),
                ));
            }
        }
        Ok((kept, held))
    }

    /// Whether another package may go to Support this hour.
    pub(crate) fn forward_allowed(&self, now: i64) -> Result<bool, StoreError> {
        let name = self.mailbox.name.as_str();
        let used = self
            .state
            .with(|s| s.sent_since(name, FORWARD_ROLES, now - 3600))?;
        Ok(used < self.config.limits.forwards_per_hour)
    }

    /// One line naming a notice and its verdict, for a summary.
    pub(crate) fn held_line(&self, n: &Notice, v: &Verdict) -> String {
        let state = if n.kind == Kind::Failed {
            "Not delivered"
        } else {
            "Delayed"
        };
        format!("{}: {} — {}", state, compose::thread_subject(n), v.cause.label())
    }

    /// Sends one summary of what the hourly limits held back, to the user and (for packages)
    /// to Support, once the limit allows a message again. Returns how many summaries went out.
    pub fn summarize_held(&self) -> Result<usize, StoreError> {
        let name = self.mailbox.name.as_str();
        let now = now();
        let mut sent = 0;
        for (role, roles, limit) in [
            (Role::Reply, REPLY_ROLES, self.config.limits.replies_per_hour),
            (Role::Package, FORWARD_ROLES, self.config.limits.forwards_per_hour),
        ] {
            let items = self.state.with(|s| s.held(name, role))?;
            if items.is_empty() {
                continue;
            }
            if self.state.with(|s| s.sent_since(name, roles, now - 3600))? >= limit {
                continue;
            }
            let ctx = self.context(&[], None, &[], now);
            let (to, subject, intro, summary_role) = if role == Role::Reply {
                (
                    ctx.user,
                    format!("bouncedoc: {} more notices while the hourly limit was reached", items.len()),
                    format!(
                        "These notices arrived while this mailbox had reached its limit of {} messages an hour, so they were not answered one by one:",
                        self.config.limits.replies_per_hour
                    ),
                    Role::Summary,
                )
            } else {
                (
                    ctx.support,
                    format!("[bouncedoc] {} reports for {} held by the hourly limit", items.len(), ctx.user),
                    format!(
                        "These reports for {} were not forwarded one by one: the limit of {} forwards an hour was reached. Ask the user to reply \"support\" to the bot's message about one to get its full report.",
                        ctx.user, self.config.limits.forwards_per_hour
                    ),
                    Role::PackageSummary,
                )
            };
            let mut body = intro;
            body.push('\n');
            for (_, line) in &items {
                body.push_str(&format!("\n- {line}"));
            }
            let message = match compose::short_message(&ctx, to, &subject, &body) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "cannot compose the summary");
                    continue;
                }
            };
            let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
            let answer = Answer {
                role: summary_role,
                message: &message,
            };
            self.state
                .with(|s| s.record_summary(name, &ids, &answer, &self.via(), now))?;
            self.outbox.ring();
            tracing::info!(items = ids.len(), to = %to, "summary of what the hourly limit held back queued");
            sent += 1;
        }
        Ok(sent)
    }

    /// Whether anything is held back waiting for a summary.
    pub fn has_held(&self) -> Result<bool, StoreError> {
        self.state.with(|s| s.held_any(&self.mailbox.name))
    }

    /// The addresses and threading every message of this mailbox uses.
    pub(crate) fn context<'a>(
        &'a self,
        raw: &'a [u8],
        in_reply_to: Option<&'a str>,
        thread: &'a [String],
        now: i64,
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
            now,
        }
    }
}

/// A notice's kind, recipients and reporting organisation, as its records keep them.
fn about_notice(n: &Notice) -> (String, String, Option<String>) {
    (
        kind_name(n.kind),
        recipient_list(n),
        n.reporting_mta.as_deref().and_then(conversation::reporter_domain),
    )
}

/// The recipients as the record and the log list them (up to 20).
fn recipient_list(n: &Notice) -> String {
    let list: Vec<&str> = n.recipients.iter().take(20).map(|r| r.address.as_str()).collect();
    list.join(", ")
}

#[cfg(test)]
mod tests;
