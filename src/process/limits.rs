//! The hourly limits: what may go out now, what is held back, and the summaries of it.

use super::*;

/// Composed messages with their roles, and what the limits held back (role, summary line).
pub(crate) type Limited = (Vec<(Role, Outgoing)>, Vec<(Role, String)>);
/// Roles that count against `limits.replies_per_hour` (messages to the user).
pub const REPLY_ROLES: &[Role] = Role::TO_USER;
/// Roles that count against `limits.forwards_per_hour` (messages to Support).
pub const FORWARD_ROLES: &[Role] = Role::TO_SUPPORT;

impl Answerer {
    /// Splits composed messages into those the hourly limits allow and those held back (one
    /// summary line each).
    pub(super) fn within_limits(
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
        let mut kept = Vec::new();
        let mut held = Vec::new();
        for (role, m) in messages {
            // A package counts against the forwards, everything else against the replies.
            let (used, limit, held_as) = if role == Role::Package {
                (&mut forwards, limits.forwards_per_hour, Role::Package)
            } else {
                (&mut replies, limits.replies_per_hour, Role::Reply)
            };
            if *used < limit {
                *used += 1;
                kept.push((role, m));
            } else {
                // A held package is listed to Support, in English.
                let lang = if held_as == Role::Package {
                    Lang::En
                } else {
                    self.lang()
                };
                held.push((held_as, self.held_line(n, v, lang)));
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

    /// One line naming a notice and its verdict, for a summary, in `lang` (English for the
    /// summary to Support).
    pub(crate) fn held_line(&self, n: &Notice, v: &Verdict, lang: Lang) -> String {
        compose::words::held_line(
            n.kind == Kind::Failed,
            &compose::thread_subject(n, lang),
            v.cause.label_in(lang),
            lang,
        )
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
            let ctx = self.context(&[], None, &[], now, self.lang());
            let (to, (subject, intro), summary_role) = if role == Role::Reply {
                (
                    ctx.user,
                    compose::words::held_summary_to_user(
                        items.len(),
                        self.config.limits.replies_per_hour,
                        ctx.lang,
                    ),
                    Role::Summary,
                )
            } else {
                (
                    ctx.support,
                    compose::words::held_summary_to_support(
                        ctx.user,
                        items.len(),
                        self.config.limits.forwards_per_hour,
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
}
