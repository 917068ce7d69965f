//! Replies to the bot: a command counts only when it comes from the mailbox's configured user
//! (From) AND replies to a message the bot sent to that user (In-Reply-To or References holds a
//! Message-ID it recorded). Anything else is ignored and logged, with no answer. Auto-submitted
//! and list mail is never answered.

use super::{fingerprint, Answerer, ProcessError, Processed, REPLY_ROLES};
use crate::commands::{self, Command};
use crate::compose::words::Said;
use crate::compose::{self, Lang, Outgoing};
use crate::config::Escalation;
use crate::conversation;
use crate::notice::{self, Envelope, Notice};
use crate::store::{now, Answer, CommandRecord, StoreError, Thread};
use crate::verdict::{self, Action, Forwarding};
use crate::vocab::{Outcome, Role, ThreadState};

/// What a command produced.
struct CommandResult {
    outcome: Outcome,
    messages: Vec<(Role, Outgoing)>,
    held: Vec<(Role, String)>,
    thread_state: Option<ThreadState>,
    thread_verdict: Option<String>,
}

impl CommandResult {
    /// Messages composed for a command, after the hourly limits: answered, or held.
    fn sent(
        messages: Vec<(Role, Outgoing)>,
        held: Vec<(Role, String)>,
        thread_verdict: Option<String>,
    ) -> CommandResult {
        CommandResult {
            outcome: if held.is_empty() {
                Outcome::Answered
            } else {
                Outcome::Held
            },
            messages,
            held,
            thread_state: None,
            thread_verdict,
        }
    }

    fn quiet(outcome: Outcome) -> CommandResult {
        CommandResult {
            outcome,
            messages: Vec::new(),
            held: Vec::new(),
            thread_state: None,
            thread_verdict: None,
        }
    }
}

impl Answerer {
    /// Handles a message that is not a notice: a command, a refusal, or ordinary mail (left
    /// alone).
    pub(super) async fn command(
        &self,
        uidvalidity: u32,
        uid: u32,
        raw: &[u8],
        envelope: &Envelope,
        refs: &[String],
    ) -> Result<Processed, ProcessError> {
        if refs.is_empty() {
            return Ok(Processed::NotANotice);
        }
        let name = self.mailbox.name.as_str();
        let user = self.mailbox.user.address.as_str();
        let Some(target) = self.state.with(|s| s.replied_to(name, user, refs))? else {
            // A reply, but not to anything the bot sent to this user: ordinary mail. One that
            // reads like a command is worth a line: someone may be trying.
            if !matches!(commands::parse(raw), Command::Unknown(_) | Command::Help) {
                tracing::info!(
                    uid,
                    "a command-like reply to nothing the bot sent to this user: ignored, not answered"
                );
            }
            return Ok(Processed::NotANotice);
        };
        let fp = fingerprint(envelope, raw);
        if self.state.with(|s| s.command_seen(name, &fp))? {
            return Ok(Processed::Seen);
        }
        let sender = envelope.from.first().cloned().unwrap_or_default();
        let from_user = envelope.from.len() == 1 && sender.eq_ignore_ascii_case(user);
        let now = now();
        let word = commands::parse(raw);
        let result = if !from_user {
            tracing::warn!(uid, sender = %sender, "a reply to the bot from someone other than the mailbox's user: ignored, not answered");
            CommandResult::quiet(Outcome::RefusedSender)
        } else if let Some(why) = commands::never_answer(raw) {
            tracing::info!(uid, why, "a reply that must not be answered: ignored");
            CommandResult::quiet(Outcome::RefusedAutomatic)
        } else if let Some(Err(why)) = self.config.commands.require_auth.as_deref().map(|id| {
            let domain = user.rsplit_once('@').map_or("", |(_, d)| d);
            commands::vouched(raw, id, domain)
        }) {
            tracing::warn!(uid, why = %why, "a command the receiving server did not vouch for (commands.require_auth): ignored, not answered");
            CommandResult::quiet(Outcome::RefusedUnauthenticated)
        } else {
            tracing::info!(uid, command = word.name(), "command");
            self.execute(&word, target, envelope, now).await?
        };
        let answers: Vec<Answer<'_>> = result
            .messages
            .iter()
            .map(|(role, message)| Answer { role: *role, message })
            .collect();
        let record = CommandRecord {
            mailbox: name,
            uidvalidity,
            uid,
            fingerprint: &fp,
            sender: &sender,
            word: word.name(),
            thread_id: target,
            thread_state: result.thread_state,
            thread_verdict: result.thread_verdict.as_deref(),
            outcome: result.outcome,
            answers: &answers,
            held: &result.held,
            via: self.via(),
            now,
        };
        self.commit(|s| s.record_command(&record))?;
        if !answers.is_empty() {
            self.outbox.ring();
        }
        Ok(Processed::Command {
            answered: !answers.is_empty(),
        })
    }

    async fn execute(
        &self,
        word: &Command,
        target: Option<i64>,
        envelope: &Envelope,
        now: i64,
    ) -> Result<CommandResult, StoreError> {
        let thread = match target {
            Some(id) => self.state.with(|s| s.thread_by_id(id))?,
            None => None,
        };
        let command_id = envelope.message_id.as_deref();
        let needs_thread = matches!(
            word,
            Command::Support | Command::Recheck | Command::Mute | Command::Unmute
        );
        let Some((t, raw)) = thread.filter(|_| needs_thread) else {
            return Ok(match word {
                Command::Status => self.status(command_id, now)?,
                Command::Support | Command::Recheck | Command::Mute | Command::Unmute => self.answer(
                    command_id,
                    &[],
                    Said::NeedsThread(word.name()),
                    ("", self.lang()),
                    now,
                    Outcome::Answered,
                )?,
                _ => self.help(command_id, &[], now, self.lang())?,
            });
        };
        let n = match notice::read(&raw) {
            Ok(n) => n,
            Err(_) => return Ok(CommandResult::quiet(Outcome::NoNotice)),
        };
        let lang = self.lang_for(&n);
        let subject = compose::thread_subject(&n, lang);
        match word {
            Command::Mute => {
                let mut o = self.answer(
                    command_id,
                    &t.messages,
                    Said::Muted,
                    (&subject, lang),
                    now,
                    Outcome::Answered,
                )?;
                o.thread_state = Some(ThreadState::Muted);
                Ok(o)
            }
            Command::Unmute if t.state == ThreadState::Muted => {
                let mut o = self.answer(
                    command_id,
                    &t.messages,
                    Said::Unmuted,
                    (&subject, lang),
                    now,
                    Outcome::Answered,
                )?;
                o.thread_state = Some(ThreadState::Open);
                Ok(o)
            }
            Command::Unmute => self.answer(
                command_id,
                &t.messages,
                Said::NotMuted,
                (&subject, lang),
                now,
                Outcome::Answered,
            ),
            Command::Recheck => self.recheck_now(command_id, &t, &raw, &n, now).await,
            Command::Support => self.support_now(command_id, &t, &raw, &n, &subject, now).await,
            _ => self.help(command_id, &t.messages, now, lang),
        }
    }

    async fn recheck_now(
        &self,
        command_id: Option<&str>,
        t: &Thread,
        raw: &[u8],
        n: &Notice,
        now: i64,
    ) -> Result<CommandResult, StoreError> {
        let diagnosis = self.diagnose(n).await;
        let v = verdict::decide(&diagnosis.findings);
        let mut held = Vec::new();
        let v = match self.mailbox.escalation {
            Escalation::Auto
                if v.action == Action::ForwardSupport && !t.package_sent && !self.forward_allowed(now)? =>
            {
                held.push((Role::Package, self.held_line(n, &v, Lang::En)));
                verdict::hold_forwarding(v, Forwarding::Invite)
            }
            _ => self.escalate(v),
        };
        let ctx = self.context(raw, command_id, &t.messages, now, self.lang_for(n));
        let package = v.action == Action::ForwardSupport && !t.package_sent;
        let messages = match super::answer_notice(&ctx, n, &diagnosis.findings, &v, Role::Command, package) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "cannot compose the recheck answer");
                return Ok(CommandResult::quiet(Outcome::Error));
            }
        };
        let (messages, more) = self.within_limits(messages, n, &v, now)?;
        held.extend(more);
        Ok(CommandResult::sent(
            messages,
            held,
            Some(conversation::verdict_key(&v)),
        ))
    }

    async fn support_now(
        &self,
        command_id: Option<&str>,
        t: &Thread,
        raw: &[u8],
        n: &Notice,
        subject: &str,
        now: i64,
    ) -> Result<CommandResult, StoreError> {
        if self.mailbox.escalation == Escalation::Never {
            return self.answer(
                command_id,
                &t.messages,
                Said::ForwardingOff,
                (subject, self.lang_for(n)),
                now,
                Outcome::RefusedNever,
            );
        }
        if t.package_sent {
            return self.answer(
                command_id,
                &t.messages,
                Said::AlreadyWithSupport,
                (subject, self.lang_for(n)),
                now,
                Outcome::Answered,
            );
        }
        if !self.forward_allowed(now)? {
            let mut o = self.answer(
                command_id,
                &t.messages,
                Said::SupportHeld(self.config.limits.forwards_per_hour),
                (subject, self.lang_for(n)),
                now,
                Outcome::Held,
            )?;
            // Listed to Support: English.
            o.held.push((
                Role::Package,
                format!("requested by the user: {}", compose::thread_subject(n, Lang::En)),
            ));
            return Ok(o);
        }
        let diagnosis = self.diagnose(n).await;
        // The package says it was asked for, whatever the verdict would have done.
        let decided = verdict::decide(&diagnosis.findings);
        let v = verdict::Verdict {
            action: if decided.action == Action::ForwardSupport {
                Action::ReplyUser
            } else {
                decided.action
            },
            forwarding: Forwarding::Sent,
            ..decided
        };
        let ctx = self.context(raw, command_id, &t.messages, now, self.lang_for(n));
        let mut json = compose::diagnosis_json("notice.eml", n, &diagnosis.findings, &v, &ctx.clock);
        json["requested_by"] = ctx.user.into();
        let package = match compose::support_package(&ctx, n, &diagnosis.findings, &v, &json.to_string()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot compose the package");
                return Ok(CommandResult::quiet(Outcome::Error));
            }
        };
        let (confirm_subject, confirm_body) =
            compose::words::command_answer(&Said::SentToSupport(ctx.support), subject, ctx.lang);
        let confirmation = match compose::short_message(&ctx, ctx.user, &confirm_subject, &confirm_body) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "cannot compose the confirmation");
                return Ok(CommandResult::quiet(Outcome::Error));
            }
        };
        let (messages, held) = self.within_limits(
            vec![(Role::Package, package), (Role::Command, confirmation)],
            n,
            &v,
            now,
        )?;
        Ok(CommandResult::sent(messages, held, None))
    }

    fn status(&self, command_id: Option<&str>, now: i64) -> Result<CommandResult, StoreError> {
        let open = self.state.with(|s| s.open_threads(&self.mailbox.name))?;
        let mut lines = Vec::new();
        for (t, raw) in &open {
            let Ok(n) = notice::read(raw) else { continue };
            let lang = self.lang();
            lines.push((
                compose::thread_subject(&n, lang),
                compose::words::cause_words(&t.verdict, lang),
                compose::words::time_left(&n, now, lang),
            ));
        }
        self.answer(
            command_id,
            &[],
            Said::Status(&lines),
            ("", self.lang()),
            now,
            Outcome::Answered,
        )
    }

    fn help(
        &self,
        command_id: Option<&str>,
        thread: &[String],
        now: i64,
        lang: Lang,
    ) -> Result<CommandResult, StoreError> {
        self.answer(command_id, thread, Said::Help, ("", lang), now, Outcome::Answered)
    }

    /// One short message to the user, within the hourly limit: `said` about the thread whose
    /// subject is the pair's first, in the pair's language.
    fn answer(
        &self,
        command_id: Option<&str>,
        thread: &[String],
        said: Said<'_>,
        (thread_subject, lang): (&str, Lang),
        now: i64,
        outcome: Outcome,
    ) -> Result<CommandResult, StoreError> {
        let ctx = self.context(&[], command_id, thread, now, lang);
        let (subject, body) = compose::words::command_answer(&said, thread_subject, ctx.lang);
        let m = match compose::short_message(&ctx, ctx.user, &subject, &body) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "cannot compose the answer");
                return Ok(CommandResult::quiet(Outcome::Error));
            }
        };
        let name = self.mailbox.name.as_str();
        let used = self.state.with(|s| s.sent_since(name, REPLY_ROLES, now - 3600))?;
        if used >= self.config.limits.replies_per_hour {
            return Ok(CommandResult {
                outcome: Outcome::Held,
                messages: Vec::new(),
                held: vec![(Role::Reply, compose::words::held_command_line(&subject, ctx.lang))],
                thread_state: None,
                thread_verdict: None,
            });
        }
        Ok(CommandResult {
            outcome,
            messages: vec![(Role::Command, m)],
            held: Vec::new(),
            thread_state: None,
            thread_verdict: None,
        })
    }
}
