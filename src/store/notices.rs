//! Processed notices: one transaction per notice (its thread, answers and the cursor),
//! skipped messages, rechecks, retention.

use super::cursors::advance_cursor;
use super::queue::queue;
use super::threads::hold;
use super::*;
use rusqlite::{params, OptionalExtension};

impl Store {
    /// Whether a notice with this fingerprint was already processed in the mailbox.
    pub fn seen(&self, mailbox: &str, fingerprint: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM notice WHERE mailbox = ?1 AND fingerprint = ?2",
            params![mailbox, fingerprint],
        )
    }

    /// Records a processed notice, its thread, its answers (queued in the outbox) and the
    /// mailbox's cursor, in one transaction: all of it or none of it.
    pub fn record(&self, r: &Record<'_>) -> Result<i64, StoreError> {
        self.record_tx(r).or_store(self)
    }

    fn record_tx(&self, r: &Record<'_>) -> Result<i64, rusqlite::Error> {
        let tx = self.conn.unchecked_transaction()?;
        let thread_id: Option<i64> = match r.thread {
            Some(t) => Some(tx.query_row(
                "INSERT INTO thread (mailbox, original, recipient, verdict, state, created, updated, reporter)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
                 ON CONFLICT (mailbox, original, recipient)
                 DO UPDATE SET verdict = excluded.verdict, state = excluded.state, updated = excluded.updated,
                    reporter = COALESCE(thread.reporter, excluded.reporter)
                 RETURNING id",
                params![r.mailbox, t.original, t.recipient, t.verdict, t.state, r.now, r.reporter],
                |row| row.get(0),
            )?),
            None => None,
        };
        let raw = Some(r.raw);
        let (next_check, checks) = match r.pending {
            Some((at, checks)) => (Some(at), checks),
            None => (None, 0),
        };
        let notice_id: i64 = tx.query_row(
            "INSERT INTO notice (mailbox, fingerprint, uidvalidity, uid, message_id, received, kind, recipients,
                                 subject, thread_id, verdict, summary, outcome, raw, next_check, checks)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             ON CONFLICT (mailbox, fingerprint) DO UPDATE SET
                thread_id = excluded.thread_id, verdict = excluded.verdict, summary = excluded.summary,
                outcome = excluded.outcome, raw = excluded.raw, next_check = excluded.next_check,
                checks = excluded.checks
             RETURNING id",
            params![
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
                raw,
                next_check,
                checks
            ],
            |row| row.get(0),
        )?;
        queue(
            &tx,
            r.mailbox,
            thread_id,
            Some(notice_id),
            r.answers,
            &r.via,
            r.now,
        )?;
        hold(&tx, r.mailbox, r.held, r.now)?;
        if !r.move_cursor {
            tx.commit()?;
            return Ok(notice_id);
        }
        advance_cursor(&tx, r.mailbox, r.uidvalidity, r.uid)?;
        tx.commit()?;
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
        let tx = self.conn.unchecked_transaction().or_store(self)?;
        tx.execute(
            "INSERT INTO notice (mailbox, fingerprint, uidvalidity, uid, received, kind, recipients, summary, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, 'unread', '', ?6, 'skipped')
             ON CONFLICT (mailbox, fingerprint) DO NOTHING",
            params![mailbox, format!("skipped:{uidvalidity}:{uid}"), uidvalidity, uid, now, why],
        )
        .and_then(|_| advance_cursor(&tx, mailbox, uidvalidity, uid))
        .and_then(|_| tx.commit())
        .or_store(self)
    }

    /// Notices of a mailbox due to be diagnosed again at `now`.
    pub fn pending(&self, mailbox: &str, now: i64) -> Result<Vec<Pending>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, checks FROM notice WHERE mailbox = ?1 AND next_check IS NOT NULL
                 AND next_check <= ?2 AND raw IS NOT NULL ORDER BY next_check LIMIT 50",
            )
            .or_store(self)?;
        stmt.query_map(params![mailbox, now], |r| {
            Ok(Pending {
                id: r.get(0)?,
                checks: r.get(1)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .or_store(self)
    }

    /// Takes a notice off the recheck list, recorded as skipped with `why`.
    pub fn drop_pending(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE notice SET next_check = NULL, outcome = 'skipped', summary = ?2 WHERE id = ?1",
                params![id, why],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// A recorded notice's bytes (pending notices are read one at a time: each may be
    /// megabytes).
    pub fn notice_raw(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row("SELECT raw FROM notice WHERE id = ?1", params![id], |r| {
                r.get::<_, Option<Vec<u8>>>(0)
            })
            .optional()
            .map(Option::flatten)
            .or_store(self)
    }

    /// When the mailbox's next pending notice is due, if any.
    pub fn next_pending(&self, mailbox: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_check) FROM notice WHERE mailbox = ?1 AND next_check IS NOT NULL",
                params![mailbox],
                |r| r.get::<_, Option<i64>>(0),
            )
            .or_store(self)
    }

    /// The notice row's (uidvalidity, uid, fingerprint), for re-recording a pending notice.
    pub fn notice_position(&self, id: i64) -> Result<Option<(u32, u32, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT uidvalidity, uid, fingerprint FROM notice WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
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
        let tx = self.conn.unchecked_transaction().or_store(self)?;
        let mut removed = 0;
        for sql in [
            "DELETE FROM outbox WHERE id IN
             (SELECT id FROM outbox WHERE state <> 'queued' AND created < ?1 LIMIT ?2)",
            "DELETE FROM sent WHERE rowid IN (SELECT rowid FROM sent WHERE created < ?1 LIMIT ?2)",
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
            removed += tx.execute(sql, params![cutoff, limit as i64]).or_store(self)?;
        }
        tx.commit().or_store(self)?;
        Ok(removed)
    }
}
