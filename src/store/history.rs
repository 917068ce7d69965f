//! What `bouncedoc history` lists.

use super::*;

impl Store {
    /// Recent notices, newest first, with what was sent for each.
    pub fn history(&self, mailbox: Option<&str>, limit: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = self
            .db
            .query(
                "SELECT id, mailbox, received, uid, kind, recipients, subject, verdict, outcome,
                        CASE WHEN outcome = 'skipped' THEN summary END FROM notice
                 WHERE CAST(?1 AS TEXT) IS NULL OR mailbox = ?1 ORDER BY received DESC, id DESC LIMIT ?2",
                p![mailbox, limit],
            )
            .or_store(self)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let read = || -> Result<HistoryEntry, DbError> {
                let sent = self.db.query(
                    "SELECT s.role, s.rcpt, COALESCE(o.state, 'unknown') FROM sent s
                     LEFT JOIN outbox o ON o.message_id = s.message_id WHERE s.notice_id = ?1
                     ORDER BY s.created, s.message_id",
                    p![r.int(0)?],
                )?;
                Ok(HistoryEntry {
                    mailbox: r.text(1)?,
                    received: r.int(2)?,
                    uid: r.u32(3)?,
                    kind: r.text(4)?,
                    recipients: r.text(5)?,
                    subject: r.opt_text(6)?,
                    verdict: r.opt_text(7)?,
                    outcome: r.text(8)?,
                    why: r.opt_text(9)?,
                    sent: sent
                        .iter()
                        .map(|s| Ok((s.text(0)?, s.text(1)?, s.text(2)?)))
                        .collect::<Result<_, DbError>>()?,
                })
            };
            out.push(read().or_store(self)?);
        }
        Ok(out)
    }
}

/// One mailbox as the state knows it (`bouncedoc status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailboxStanding {
    /// When the bot first watched it (Unix seconds), if it ever did.
    pub watched_since: Option<i64>,
    /// When its last notice was processed.
    pub last_notice: Option<i64>,
    /// Conversations still open.
    pub open_threads: u64,
    /// Messages the hourly limits hold back, not yet summarized.
    pub held: u64,
}

impl Store {
    /// `mailbox` as the state knows it.
    pub fn standing(&self, mailbox: &str) -> Result<MailboxStanding, StoreError> {
        self.db
            .query_one(
                "SELECT (SELECT since FROM cursor WHERE mailbox = ?1),
                        (SELECT MAX(received) FROM notice WHERE mailbox = ?1),
                        (SELECT COUNT(*) FROM thread WHERE mailbox = ?1 AND state = 'open'),
                        (SELECT COUNT(*) FROM held WHERE mailbox = ?1 AND summarized IS NULL)",
                p![mailbox],
            )
            .and_then(|r| {
                Ok(MailboxStanding {
                    watched_since: r.opt_int(0)?,
                    last_notice: r.opt_int(1)?,
                    open_threads: r.int(2)? as u64,
                    held: r.int(3)? as u64,
                })
            })
            .or_store(self)
    }
}
