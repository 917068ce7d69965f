//! What `bouncedoc history` lists.

use super::*;
use rusqlite::params;

impl Store {
    /// Recent notices, newest first, with what was sent for each.
    pub fn history(&self, mailbox: Option<&str>, limit: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, mailbox, received, uid, kind, recipients, subject, verdict, outcome,
                        CASE WHEN outcome = 'skipped' THEN summary END FROM notice
                 WHERE ?1 IS NULL OR mailbox = ?1 ORDER BY received DESC, id DESC LIMIT ?2",
            )
            .or_store(self)?;
        let rows = stmt
            .query_map(params![mailbox, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    HistoryEntry {
                        mailbox: r.get(1)?,
                        received: r.get(2)?,
                        uid: r.get(3)?,
                        kind: r.get(4)?,
                        recipients: r.get(5)?,
                        subject: r.get(6)?,
                        verdict: r.get(7)?,
                        outcome: r.get(8)?,
                        why: r.get(9)?,
                        sent: Vec::new(),
                    },
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .or_store(self)?;
        let mut sent = self
            .conn
            .prepare(
                "SELECT s.role, s.rcpt, COALESCE(o.state, 'unknown') FROM sent s
                 LEFT JOIN outbox o ON o.message_id = s.message_id WHERE s.notice_id = ?1 ORDER BY s.rowid",
            )
            .or_store(self)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut entry) in rows {
            entry.sent = sent
                .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .or_store(self)?;
            out.push(entry);
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
        self.conn
            .query_row(
                "SELECT (SELECT since FROM cursor WHERE mailbox = ?1),
                        (SELECT MAX(received) FROM notice WHERE mailbox = ?1),
                        (SELECT COUNT(*) FROM thread WHERE mailbox = ?1 AND state = 'open'),
                        (SELECT COUNT(*) FROM held WHERE mailbox = ?1 AND summarized IS NULL)",
                rusqlite::params![mailbox],
                |r| {
                    Ok(MailboxStanding {
                        watched_since: r.get(0)?,
                        last_notice: r.get(1)?,
                        open_threads: r.get(2)?,
                        held: r.get(3)?,
                    })
                },
            )
            .or_store(self)
    }
}
