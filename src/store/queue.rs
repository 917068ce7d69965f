//! The outbox's rows: queued, claimed before each attempt, marked after.

use super::*;
use rusqlite::{params, OptionalExtension};

impl Store {
    /// Stores a message to be sent (idempotent by Message-ID: storing twice keeps one).
    pub fn enqueue(
        &self,
        message_id: &str,
        mail_from: &str,
        rcpt_to: &str,
        raw: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO outbox (message_id, mail_from, rcpt_to, raw, next_attempt, created) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![message_id, mail_from, rcpt_to, raw, now],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Messages due for an attempt at `now` through the SMTP server `via`, oldest first.
    pub fn due(&self, now: i64, limit: usize, via: &crate::vocab::Via) -> Result<Vec<Queued>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, message_id, mail_from, rcpt_to, raw, attempts FROM outbox
                 WHERE state = 'queued' AND claimed IS NULL AND next_attempt <= ?1 AND via = ?3
                 ORDER BY next_attempt, id LIMIT ?2",
            )
            .or_store(self)?;
        let rows = stmt
            .query_map(params![now, limit as i64, via], |r| {
                Ok(Queued {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    mail_from: r.get(2)?,
                    rcpt_to: r.get(3)?,
                    raw: r.get(4)?,
                    attempts: r.get(5)?,
                })
            })
            .or_store(self)?;
        rows.collect::<Result<Vec<_>, _>>().or_store(self)
    }

    /// When the next queued message through `via` is due, if any is queued.
    pub fn next_due(&self, via: &crate::vocab::Via) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_attempt) FROM outbox WHERE state = 'queued' AND claimed IS NULL AND via = ?1",
                params![via],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(Option::flatten)
            .or_store(self)
    }

    /// Claims a queued message before it is sent: true when this caller may send it. A
    /// claimed message is never picked again until its outcome is marked (or, after a crash,
    /// [`Store::release_claims`] gives it back).
    pub fn claim(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET claimed = ?2 WHERE id = ?1 AND state = 'queued' AND claimed IS NULL",
                params![id, now],
            )
            .map(|n| n == 1)
            .or_store(self)
    }

    /// Gives back the messages claimed when the bot stopped without marking them (a crash
    /// between the server's answer and the mark): they are sent again, which may deliver one
    /// twice. Returns how many.
    pub fn release_claims(&self) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET claimed = NULL WHERE state = 'queued' AND claimed IS NOT NULL",
                [],
            )
            .or_store(self)
    }

    /// Gives back the claims of sender `via` (its task ended mid-attempt: aborted, or a bug),
    /// except `keep` (attempts whose outcome is known but not yet recorded). Returns how many.
    pub fn release_claims_of(&self, via: &crate::vocab::Via, keep: &[i64]) -> Result<usize, StoreError> {
        let mut released = 0;
        let ids: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM outbox WHERE via = ?1 AND state = 'queued' AND claimed IS NOT NULL")
                .or_store(self)?;
            let rows = stmt
                .query_map(params![via], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
                .or_store(self)?;
            rows
        };
        for id in ids.into_iter().filter(|id| !keep.contains(id)) {
            released += self
                .conn
                .execute("UPDATE outbox SET claimed = NULL WHERE id = ?1", params![id])
                .or_store(self)?;
        }
        Ok(released)
    }

    /// Records that the server accepted a message: it is never sent again.
    pub fn mark_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?2, attempts = attempts + 1, claimed = NULL WHERE id = ?1",
                params![id, now],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Records a transient failure and when to try again.
    pub fn mark_retry(&self, id: i64, next_attempt: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3, claimed = NULL WHERE id = ?1",
                params![id, next_attempt, error],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Records a permanent failure: the message is not tried again.
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2, claimed = NULL WHERE id = ?1",
                params![id, error],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Hands the queued messages of a sender that is gone (`from`) to another (`to`).
    /// Returns how many.
    pub fn reassign(&self, from: &crate::vocab::Via, to: &crate::vocab::Via) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET via = ?2 WHERE via = ?1 AND state = 'queued'",
                params![from, to],
            )
            .or_store(self)
    }

    /// How many messages wait in the queue of sender `via`.
    pub fn queued(&self, via: &crate::vocab::Via) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE via = ?1 AND state = 'queued'",
                params![via],
                |r| r.get(0),
            )
            .or_store(self)
    }

    /// The whole queue at a glance: how many messages wait, when the oldest was stored, and how
    /// many failed for good (every sender).
    pub fn queue_summary(&self) -> Result<QueueSummary, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FILTER (WHERE state = 'queued'),
                        MIN(created) FILTER (WHERE state = 'queued'),
                        COUNT(*) FILTER (WHERE state = 'failed'),
                        COUNT(*) FILTER (WHERE state = 'queued' AND attempts > 0)
                   FROM outbox",
                [],
                |r| {
                    Ok(QueueSummary {
                        queued: r.get(0)?,
                        oldest: r.get(1)?,
                        failed: r.get(2)?,
                        retrying: r.get(3)?,
                    })
                },
            )
            .or_store(self)
    }

    /// The role of a message the bot sent (`reply`, `package`, …), if it was recorded with one.
    pub fn role_of(&self, message_id: &str) -> Result<Option<crate::vocab::Role>, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row(
                "SELECT role FROM sent WHERE message_id = ?1",
                params![message_id],
                |r| r.get::<_, crate::vocab::Role>(0),
            )
            .optional()
            .or_store(self)
    }

    /// A write that proves the state can be written now (readiness): one row, rewritten.
    pub fn probe_write(&self, now: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO probe (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                params![now],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Where a message stands, by Message-ID.
    pub fn status(&self, message_id: &str) -> Result<Option<Status>, StoreError> {
        self.conn
            .query_row(
                "SELECT state, attempts, last_error FROM outbox WHERE message_id = ?1",
                params![message_id],
                |r| {
                    Ok(Status {
                        state: r.get(0)?,
                        attempts: r.get(1)?,
                        last_error: r.get(2)?,
                    })
                },
            )
            .optional()
            .or_store(self)
    }
}

/// Queues a notice's or command's answers in its transaction.
/// Queues answers in the outbox and records them as sent for the thread and notice.
pub(super) fn queue(
    tx: &Connection,
    mailbox: &str,
    thread_id: Option<i64>,
    notice_id: Option<i64>,
    answers: &[Answer<'_>],
    via: &crate::vocab::Via,
    now: i64,
) -> Result<(), rusqlite::Error> {
    for a in answers {
        let m = a.message;
        tx.execute(
            "INSERT OR IGNORE INTO outbox (message_id, mail_from, rcpt_to, raw, next_attempt, created, via)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![m.message_id, m.from, m.to, m.raw, now, via],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO sent (message_id, mailbox, thread_id, notice_id, role, rcpt, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![m.message_id, mailbox, thread_id, notice_id, a.role, m.to, now],
        )?;
    }
    Ok(())
}
