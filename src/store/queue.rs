//! The outbox's rows: queued, claimed before each attempt, marked after. With several
//! instances on PostgreSQL a claim carries the instance's name and skips a row another
//! instance is claiming (`FOR UPDATE SKIP LOCKED`), so no two instances send one message.

use super::db::Row;
use super::*;

/// Claims taken by instances whose lease on the database ran out (killed, cut off); never
/// this instance's own (its senders may be mid-attempt).
const DEAD_CLAIMS: &str = concat!(
    "UPDATE outbox SET claimed = NULL, claimed_by = NULL
     WHERE state = 'queued' AND claimed IS NOT NULL AND claimed_by IS DISTINCT FROM ?1
       AND (claimed_by IS NULL OR claimed_by NOT IN (SELECT id FROM instance WHERE expires > ",
    now_ms!(),
    "))"
);

fn queued(r: &Row) -> Result<Queued, DbError> {
    Ok(Queued {
        id: r.int(0)?,
        message_id: r.text(1)?,
        mail_from: r.text(2)?,
        rcpt_to: r.text(3)?,
        raw: r.blob(4)?,
        attempts: r.u32(5)?,
    })
}

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
        self.db
            .execute(
                "INSERT INTO outbox (message_id, mail_from, rcpt_to, raw, next_attempt, created) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (message_id) DO NOTHING",
                p![message_id, mail_from, rcpt_to, raw, now],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Messages due for an attempt at `now` through the SMTP server `via`, oldest first.
    pub fn due(&self, now: i64, limit: usize, via: &crate::vocab::Via) -> Result<Vec<Queued>, StoreError> {
        self.db
            .query(
                "SELECT id, message_id, mail_from, rcpt_to, raw, attempts FROM outbox
                 WHERE state = 'queued' AND claimed IS NULL AND next_attempt <= ?1 AND via = ?3
                 ORDER BY next_attempt, id LIMIT ?2",
                p![now, limit, via],
            )
            .and_then(|rows| rows.iter().map(queued).collect())
            .or_store(self)
    }

    /// When the next queued message through `via` is due, if any is queued.
    pub fn next_due(&self, via: &crate::vocab::Via) -> Result<Option<i64>, StoreError> {
        self.db
            .query_one(
                "SELECT MIN(next_attempt) FROM outbox WHERE state = 'queued' AND claimed IS NULL AND via = ?1",
                p![via],
            )
            .and_then(|r| r.opt_int(0))
            .or_store(self)
    }

    /// Claims a queued message before it is sent: true when this caller may send it. A
    /// claimed message is never picked again until its outcome is marked (or, after a crash,
    /// [`Store::release_claims`] gives it back). On PostgreSQL a row another instance is
    /// claiming at this moment is skipped, not waited for.
    pub fn claim(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let sql = if self.db.is_postgres() {
            "UPDATE outbox SET claimed = ?2, claimed_by = ?3 WHERE id = (
                 SELECT id FROM outbox WHERE id = ?1 AND state = 'queued' AND claimed IS NULL
                 FOR UPDATE SKIP LOCKED)"
        } else {
            "UPDATE outbox SET claimed = ?2, claimed_by = ?3 WHERE id = ?1 AND state = 'queued' AND claimed IS NULL"
        };
        self.db
            .execute(sql, p![id, now, self.claimer()])
            .map(|n| n == 1)
            .or_store(self)
    }

    /// Gives back the messages claimed when the bot stopped without marking them (a crash
    /// between the server's answer and the mark): they are sent again, which may deliver one
    /// twice. On PostgreSQL, only the claims of instances that are gone (their lease ran
    /// out), never those of a running instance: called at start and after each lease round.
    /// Returns how many.
    pub fn release_claims(&self) -> Result<usize, StoreError> {
        let sql = if self.db.is_postgres() {
            DEAD_CLAIMS
        } else {
            "UPDATE outbox SET claimed = NULL, claimed_by = NULL
             WHERE state = 'queued' AND claimed IS NOT NULL AND ?1 = ?1"
        };
        self.db
            .execute(sql, p![self.claimer()])
            .map(|n| n as usize)
            .or_store(self)
    }

    /// Gives back the claims of sender `via` (its task ended mid-attempt: aborted, or a bug),
    /// except `keep` (attempts whose outcome is known but not yet recorded). Only this
    /// instance's claims. Returns how many.
    pub fn release_claims_of(&self, via: &crate::vocab::Via, keep: &[i64]) -> Result<usize, StoreError> {
        let ids = self
            .db
            .query(
                "SELECT id FROM outbox WHERE via = ?1 AND state = 'queued' AND claimed IS NOT NULL
                 AND COALESCE(claimed_by, '') = ?2",
                p![via, self.claimer()],
            )
            .and_then(|rows| rows.iter().map(|r| r.int(0)).collect::<Result<Vec<i64>, _>>())
            .or_store(self)?;
        let mut released = 0;
        for id in ids.into_iter().filter(|id| !keep.contains(id)) {
            released += self
                .db
                .execute(
                    "UPDATE outbox SET claimed = NULL, claimed_by = NULL WHERE id = ?1",
                    p![id],
                )
                .or_store(self)? as usize;
        }
        Ok(released)
    }

    /// Records that the server accepted a message: it is never sent again.
    pub fn mark_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?2, attempts = attempts + 1, claimed = NULL, claimed_by = NULL WHERE id = ?1",
                p![id, now],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Records a transient failure and when to try again.
    pub fn mark_retry(&self, id: i64, next_attempt: i64, error: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3, claimed = NULL, claimed_by = NULL WHERE id = ?1",
                p![id, next_attempt, error],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Records a permanent failure: the message is not tried again.
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2, claimed = NULL, claimed_by = NULL WHERE id = ?1",
                p![id, error],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Hands the queued messages of a sender that is gone (`from`) to another (`to`).
    /// Returns how many.
    pub fn reassign(&self, from: &crate::vocab::Via, to: &crate::vocab::Via) -> Result<usize, StoreError> {
        self.db
            .execute(
                "UPDATE outbox SET via = ?2 WHERE via = ?1 AND state = 'queued'",
                p![from, to],
            )
            .map(|n| n as usize)
            .or_store(self)
    }

    /// How many messages wait in the queue of sender `via`.
    pub fn queued(&self, via: &crate::vocab::Via) -> Result<usize, StoreError> {
        self.db
            .query_one(
                "SELECT COUNT(*) FROM outbox WHERE via = ?1 AND state = 'queued'",
                p![via],
            )
            .and_then(|r| r.int(0))
            .map(|n| n as usize)
            .or_store(self)
    }

    /// The whole queue at a glance: how many messages wait, when the oldest was stored, and how
    /// many failed for good (every sender).
    pub fn queue_summary(&self) -> Result<QueueSummary, StoreError> {
        self.db
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE state = 'queued'),
                        MIN(created) FILTER (WHERE state = 'queued'),
                        COUNT(*) FILTER (WHERE state = 'failed'),
                        COUNT(*) FILTER (WHERE state = 'queued' AND attempts > 0)
                   FROM outbox",
                p![],
            )
            .and_then(|r| {
                Ok(QueueSummary {
                    queued: r.int(0)? as u64,
                    oldest: r.opt_int(1)?,
                    failed: r.int(2)? as u64,
                    retrying: r.int(3)? as u64,
                })
            })
            .or_store(self)
    }

    /// The role of a message the bot sent (`reply`, `package`, …), if it was recorded with one.
    pub fn role_of(&self, message_id: &str) -> Result<Option<crate::vocab::Role>, StoreError> {
        self.db
            .query_opt("SELECT role FROM sent WHERE message_id = ?1", p![message_id])
            .and_then(|r| match r {
                Some(r) => r.text(0).map(|w| crate::vocab::Role::parse(&w)),
                None => Ok(None),
            })
            .or_store(self)
    }

    /// A write that proves the state can be written now (readiness): one row, rewritten.
    pub fn probe_write(&self, now: i64) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO probe (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                p![now],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Where a message stands, by Message-ID.
    pub fn status(&self, message_id: &str) -> Result<Option<Status>, StoreError> {
        self.db
            .query_opt(
                "SELECT state, attempts, last_error FROM outbox WHERE message_id = ?1",
                p![message_id],
            )
            .and_then(|r| match r {
                Some(r) => Ok(Some(Status {
                    state: r.text(0)?,
                    attempts: r.u32(1)?,
                    last_error: r.opt_text(2)?,
                })),
                None => Ok(None),
            })
            .or_store(self)
    }
}

/// Queues answers in the outbox and records them as sent for the thread and notice (inside
/// the notice's or command's transaction).
pub(super) fn queue(
    db: &Db,
    mailbox: &str,
    thread_id: Option<i64>,
    notice_id: Option<i64>,
    answers: &[Answer<'_>],
    via: &crate::vocab::Via,
    now: i64,
) -> Result<(), DbError> {
    for a in answers {
        let m = a.message;
        db.execute(
            "INSERT INTO outbox (message_id, mail_from, rcpt_to, raw, next_attempt, created, via)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) ON CONFLICT (message_id) DO NOTHING",
            p![m.message_id, m.from, m.to, m.raw, now, via],
        )?;
        db.execute(
            "INSERT INTO sent (message_id, mailbox, thread_id, notice_id, role, rcpt, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (message_id) DO NOTHING",
            p![m.message_id, mailbox, thread_id, notice_id, a.role, m.to, now],
        )?;
    }
    Ok(())
}
