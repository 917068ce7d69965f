//! Email commands, recorded with their answers.

use super::cursors::advance_cursor;
use super::queue::queue;
use super::threads::hold;
use super::*;

impl Store {
    /// Whether a command with this fingerprint was already handled in the mailbox.
    pub fn command_seen(&self, mailbox: &str, fingerprint: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM command WHERE mailbox = ?1 AND fingerprint = ?2",
            p![mailbox, fingerprint],
        )
    }

    /// Records a command, its answers, a new thread state or verdict, and what was held back,
    /// in one transaction (with leases, only while the mailbox is this instance's).
    pub fn record_command(&self, c: &CommandRecord<'_>) -> Result<(), StoreError> {
        self.db
            .tx(|| {
                self.fence(c.mailbox)?;
                self.db.execute(
                    "INSERT INTO command (mailbox, fingerprint, uidvalidity, uid, sender, word, thread_id, outcome, received)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (mailbox, fingerprint) DO NOTHING",
                    p![c.mailbox, c.fingerprint, c.uidvalidity, c.uid, c.sender, c.word, c.thread_id, c.outcome, c.now],
                )?;
                if let (Some(id), Some(state)) = (c.thread_id, c.thread_state) {
                    self.db.execute(
                        "UPDATE thread SET state = ?2, updated = ?3 WHERE id = ?1",
                        p![id, state, c.now],
                    )?;
                }
                if let (Some(id), Some(verdict)) = (c.thread_id, c.thread_verdict) {
                    self.db.execute(
                        "UPDATE thread SET verdict = ?2, updated = ?3 WHERE id = ?1",
                        p![id, verdict, c.now],
                    )?;
                }
                queue(&self.db, c.mailbox, c.thread_id, None, c.answers, &c.via, c.now)?;
                hold(&self.db, c.mailbox, c.held, c.now)?;
                advance_cursor(&self.db, c.mailbox, c.uidvalidity, c.uid)
            })
            .or_store(self)
    }
}
