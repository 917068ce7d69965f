//! A notice: decided, its thread's next step planned, its answers composed, and all of it
//! recorded in one transaction; rechecks of notices whose DNS could not decide.

use super::*;

impl Answerer {
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
    pub(super) async fn recheck(&self, id: i64, checks: u32) -> Result<(), ProcessError> {
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
        let v = verdict::decide(&diagnosis.findings);
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
    pub(super) fn base_record<'a>(
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

    pub(super) fn record_quiet(
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
    pub(crate) fn escalate(&self, v: Verdict) -> Verdict {
        match self.mailbox.escalation {
            Escalation::Auto => v,
            Escalation::Ask => verdict::hold_forwarding(v, Forwarding::Invite),
            Escalation::Never => verdict::hold_forwarding(v, Forwarding::Off),
        }
    }

    /// Records a diagnosed notice and queues what its thread needs. Returns whether anything
    /// was queued.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conclude(
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
            verdict::after_last_recheck(v, checks)
        } else {
            v
        };
        let v = self.escalate(v);
        let now = now();
        let about = about_notice(n);
        let key = conversation::verdict_key(&v);
        // The record's summary is for logs and `history`: English.
        let summary = compose::words::summary(n, &v, &self.clock(now), Lang::En);
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
            held_package = Some(self.held_line(n, &v, Lang::En));
            verdict::hold_forwarding(v, Forwarding::Invite)
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
            thread: Some(crate::store::ThreadStep {
                original: &original,
                recipient: &recipient,
                verdict: thread_verdict,
                state: plan.state,
            }),
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
        let metrics = crate::metrics::get();
        if move_cursor {
            // A recheck is the same notice again: counted once, when it arrived.
            metrics.notice(&self.mailbox.name, n.kind.as_str());
        }
        metrics.verdict(&self.mailbox.name, v.cause.as_str(), v.action.as_str());
        for (role, _) in &held {
            let limit = if *role == crate::vocab::Role::Reply {
                "replies_per_hour"
            } else {
                "forwards_per_hour"
            };
            metrics.held.with_label_values(&[limit]).inc();
        }
        Ok(!answers.is_empty())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn compose(
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
        let ctx = self.context(
            raw,
            envelope.message_id.as_deref(),
            &earlier,
            now(),
            self.lang_for(n),
        );
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
        let json = compose::diagnosis_json("notice.eml", n, findings, v, &ctx.clock);
        out.push((
            Role::Package,
            compose::support_package(ctx, n, findings, v, &json.to_string())?,
        ));
    }
    Ok(out)
}

/// A notice's kind, recipients and reporting organisation, as its records keep them.
pub(super) fn about_notice(n: &Notice) -> (String, String, Option<String>) {
    (
        n.kind.as_str().to_string(),
        recipient_list(n),
        n.reporting_mta.as_deref().and_then(conversation::reporter_domain),
    )
}

/// The recipients as the record and the log list them (up to 20).
fn recipient_list(n: &Notice) -> String {
    let list: Vec<&str> = n.recipients.iter().take(20).map(|r| r.address.as_str()).collect();
    list.join(", ")
}
