//! The weekly digest (`digest: weekly`): once a week, what was stuck, what was resolved, what
//! gave up, what is still open, to the mailbox's user.

use super::*;
use crate::store::{now, Answer};
use crate::vocab::Role;

/// How often a digest goes out.
pub const DIGEST_EVERY: i64 = 7 * 86_400;
/// A thread with no notice for this long, and no final failure, counts as resolved.
pub const QUIET_FOR: i64 = 5 * 86_400;

impl Answerer {
    /// Sends the mailbox's digest when one is due. Returns whether one was queued.
    pub fn send_digest(&self) -> Result<bool, StoreError> {
        if self.mailbox.digest != crate::config::Digest::Weekly {
            return Ok(false);
        }
        let name = self.mailbox.name.as_str();
        let now = now();
        // Everything since the last digest, however late this one is.
        let Some(since) = self.state.with(|s| s.digest_due(name, now, DIGEST_EVERY))? else {
            return Ok(false);
        };
        let items = self.state.with(|s| s.digest_items(name, since, QUIET_FOR, now))?;
        let ctx = self.context(&[], None, &[], now, self.lang());
        let message = match compose::digest(&ctx, &items, since) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "cannot compose the digest");
                return Ok(false);
            }
        };
        let answer = Answer {
            role: Role::Digest,
            message: &message,
        };
        self.state
            .with(|s| s.record_digest(name, &answer, &self.via(), now))?;
        self.outbox.ring();
        tracing::info!(
            notices = items.notices,
            still_stuck = items.open.len(),
            "weekly digest queued"
        );
        Ok(true)
    }
}
