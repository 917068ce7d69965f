//! Processed notices: one transaction per notice (its thread, answers and the cursor),
//! skipped messages, rechecks, retention.

use super::cursors::advance_cursor;
use super::queue::queue;
use super::threads::hold;
use super::*;

impl Store {
    /// Whether a notice with this fingerprint was already processed in the mailbox.
    pub fn seen(&self, mailbox: &str, fingerprint: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM notice WHERE mailbox = ?1 AND fingerprint = ?2",
            p![mailbox, fingerprint],
        )
    }

    /// Records a processed notice, its thread, its answers (queued in the outbox) and the
    /// mailbox's cursor, in one transaction: all of it or none of it. With leases, only while
    /// the mailbox is this instance's.
    pub fn record(&self, r: &Record<'_>) -> Result<i64, StoreError> {
        self.db.tx(|| self.record_tx(r)).or_store(self)
    }

    fn record_tx(&self, r: &Record<'_>) -> Result<i64, DbError> {
        self.fence(r.mailbox)?;
        let thread_id: Option<i64> = match r.thread {
            Some(t) => Some(
                self.db
                    .query_one(
                        "INSERT INTO thread (mailbox, original, recipient, verdict, state, created, updated, reporter)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
                         ON CONFLICT (mailbox, original, recipient)
                         DO UPDATE SET verdict = excluded.verdict, state = excluded.state, updated = excluded.updated,
                            reporter = COALESCE(thread.reporter, excluded.reporter)
                         RETURNING id",
                        p![r.mailbox, t.original, t.recipient, t.verdict, t.state, r.now, r.reporter],
                    )?
                    .int(0)?,
            ),
            None => None,
        };
        let (next_check, checks) = match r.pending {
            Some((at, checks)) => (Some(at), checks),
            None => (None, 0),
        };
        let notice_id = self
            .db
            .query_one(
                "INSERT INTO notice (mailbox, fingerprint, uidvalidity, uid, message_id, received, kind, recipients,
                                     subject, thread_id, verdict, summary, outcome, raw, next_check, checks)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (mailbox, fingerprint) DO UPDATE SET
                    thread_id = excluded.thread_id, verdict = excluded.verdict, summary = excluded.summary,
                    outcome = excluded.outcome, raw = excluded.raw, next_check = excluded.next_check,
                    checks = excluded.checks
                 RETURNING id",
                p![
                    r.mailbox,
                    r.fingerprint,
                    r.uidvalidity,
                    r.uid,
                    r.message_id,
                    r.now,
                    r.kind,
                    r.recipients,
                    r.subject,
                    thread_id,
                    r.verdict,
                    r.summary,
                    r.outcome,
                    r.raw,
                    next_check,
                    checks
                ],
            )?
            .int(0)?;
        queue(
            &self.db,
            r.mailbox,
            thread_id,
            Some(notice_id),
            r.answers,
            &r.via,
            r.now,
        )?;
        hold(&self.db, r.mailbox, r.held, r.now)?;
        if r.move_cursor {
            advance_cursor(&self.db, r.mailbox, r.uidvalidity, r.uid)?;
        }
        Ok(notice_id)
    }

    /// Records a message the watcher gave up on (`why`) and moves the cursor past it, in one
    /// transaction: `history` shows it, and it is never read again.
    pub fn record_skipped(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        uid: u32,
        why: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.db
            .tx(|| {
                self.fence(mailbox)?;
                self.db.execute(
                    "INSERT INTO notice (mailbox, fingerprint, uidvalidity, uid, received, kind, recipients, summary, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'unread', '', ?6, 'skipped')
                     ON CONFLICT (mailbox, fingerprint) DO NOTHING",
                    p![mailbox, format!("skipped:{uidvalidity}:{uid}"), uidvalidity, uid, now, why],
                )?;
                advance_cursor(&self.db, mailbox, uidvalidity, uid)
            })
            .or_store(self)
    }

    /// Notices of a mailbox due to be diagnosed again at `now`.
    pub fn pending(&self, mailbox: &str, now: i64) -> Result<Vec<Pending>, StoreError> {
        self.db
            .query(
                "SELECT id, checks FROM notice WHERE mailbox = ?1 AND next_check IS NOT NULL
                 AND next_check <= ?2 AND raw IS NOT NULL ORDER BY next_check LIMIT 50",
                p![mailbox, now],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(Pending {
                            id: r.int(0)?,
                            checks: r.u32(1)?,
                        })
                    })
                    .collect()
            })
            .or_store(self)
    }

    /// Takes a notice off the recheck list, recorded as skipped with `why`.
    pub fn drop_pending(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE notice SET next_check = NULL, outcome = 'skipped', summary = ?2 WHERE id = ?1",
                p![id, why],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// A recorded notice's bytes (pending notices are read one at a time: each may be
    /// megabytes).
    pub fn notice_raw(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .query_opt("SELECT raw FROM notice WHERE id = ?1", p![id])
            .and_then(|r| r.map(|r| r.opt_blob(0)).transpose())
            .map(Option::flatten)
            .or_store(self)
    }

    /// When the mailbox's next pending notice is due, if any.
    pub fn next_pending(&self, mailbox: &str) -> Result<Option<i64>, StoreError> {
        self.db
            .query_one(
                "SELECT MIN(next_check) FROM notice WHERE mailbox = ?1 AND next_check IS NOT NULL",
                p![mailbox],
            )
            .and_then(|r| r.opt_int(0))
            .or_store(self)
    }

    /// The notice row's (uidvalidity, uid, fingerprint), for re-recording a pending notice.
    pub fn notice_position(&self, id: i64) -> Result<Option<(u32, u32, String)>, StoreError> {
        self.db
            .query_opt(
                "SELECT uidvalidity, uid, fingerprint FROM notice WHERE id = ?1",
                p![id],
            )
            .and_then(|r| r.map(|r| Ok((r.u32(0)?, r.u32(1)?, r.text(2)?))).transpose())
            .or_store(self)
    }

    /// Deletes what is older than `cutoff` (Unix seconds): sent and failed messages with
    /// their bytes, notices (with their raw bytes) no longer waiting for a recheck, commands,
    /// summarized held items, the record of what was sent, and threads nothing refers to any
    /// more. Queued messages and pending notices stay whatever their age. Returns how many rows
    /// went. See [`Store::prune_some`] for doing it a little at a time.
    pub fn prune(&self, cutoff: i64) -> Result<usize, StoreError> {
        let mut removed = 0;
        loop {
            let n = self.prune_some(cutoff, 1000)?;
            removed += n;
            if n == 0 {
                return Ok(removed);
            }
        }
    }

    /// One step of [`Store::prune`]: at most `limit` rows per table, one short transaction
    /// (so the state is not held for long). Returns how many rows went; 0 when done.
    pub fn prune_some(&self, cutoff: i64, limit: usize) -> Result<usize, StoreError> {
        self.db
            .tx(|| {
                let mut removed = 0;
                for sql in [
                    "DELETE FROM outbox WHERE id IN
                     (SELECT id FROM outbox WHERE state <> 'queued' AND created < ?1 LIMIT ?2)",
                    "DELETE FROM sent WHERE message_id IN
                     (SELECT message_id FROM sent WHERE created < ?1 LIMIT ?2)",
                    "DELETE FROM notice WHERE id IN
                     (SELECT id FROM notice WHERE received < ?1 AND next_check IS NULL LIMIT ?2)",
                    "DELETE FROM command WHERE id IN (SELECT id FROM command WHERE received < ?1 LIMIT ?2)",
                    "DELETE FROM held WHERE id IN
                     (SELECT id FROM held WHERE summarized IS NOT NULL AND created < ?1 LIMIT ?2)",
                    "DELETE FROM thread WHERE id IN (SELECT t.id FROM thread t WHERE t.updated < ?1
                     AND NOT EXISTS (SELECT 1 FROM notice n WHERE n.thread_id = t.id)
                     AND NOT EXISTS (SELECT 1 FROM command c WHERE c.thread_id = t.id)
                     AND NOT EXISTS (SELECT 1 FROM sent s WHERE s.thread_id = t.id) LIMIT ?2)",
                ] {
                    removed += self.db.execute(sql, p![cutoff, limit])? as usize;
                }
                Ok(removed)
            })
            .or_store(self)
    }
}
