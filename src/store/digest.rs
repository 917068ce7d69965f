//! The weekly digest's memory: when each mailbox last had one, and what its threads did since.

use super::*;

/// One conversation as the digest lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DigestLine {
    /// The original message's subject (as the latest notice gave it).
    pub subject: String,
    /// The recipient the mail is stuck for.
    pub recipient: String,
    /// The verdict last told (`action/cause`).
    pub verdict: String,
    /// When its last notice arrived (Unix seconds).
    pub last_notice: i64,
}

/// What a mailbox's threads did in one period.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DigestItems {
    /// Notices that arrived in the period.
    pub notices: u64,
    /// Threads with a notice in the period, still open.
    pub open: Vec<DigestLine>,
    /// Threads that went quiet: no notice for `quiet` seconds and no final failure (the mail
    /// most likely went through).
    pub resolved: Vec<DigestLine>,
    /// Threads the sending server gave up on in the period (a final failure).
    pub failed: Vec<DigestLine>,
}

/// Most lines of each kind in one digest.
const MAX_LINES: usize = 50;

impl Store {
    /// When `mailbox`'s last digest went, if the next one is due at `now` (one every `period`
    /// seconds). The first look only starts the clock.
    pub fn digest_due(&self, mailbox: &str, now: i64, period: i64) -> Result<Option<i64>, StoreError> {
        let last = self
            .db
            .query_opt("SELECT last FROM digest WHERE mailbox = ?1", p![mailbox])
            .and_then(|r| r.map(|r| r.int(0)).transpose())
            .or_store(self)?;
        match last {
            Some(t) => Ok((t + period <= now).then_some(t)),
            None => {
                self.db
                    .execute(
                        "INSERT INTO digest (mailbox, last) VALUES (?1, ?2) ON CONFLICT (mailbox) DO NOTHING",
                        p![mailbox, now],
                    )
                    .or_store(self)?;
                Ok(None)
            }
        }
    }

    /// What `mailbox`'s threads did since `since`; a thread with no notice for `quiet` seconds
    /// (and no final failure) counts as resolved.
    pub fn digest_items(
        &self,
        mailbox: &str,
        since: i64,
        quiet: i64,
        now: i64,
    ) -> Result<DigestItems, StoreError> {
        let notices = self
            .db
            .query_one(
                "SELECT COUNT(*) FROM notice WHERE mailbox = ?1 AND received >= ?2 AND thread_id IS NOT NULL",
                p![mailbox, since],
            )
            .and_then(|r| r.int(0))
            .or_store(self)? as u64;
        let rows = self
            .db
            .query(
                "SELECT EXISTS (SELECT 1 FROM notice n WHERE n.thread_id = t.id AND n.kind = 'failed'),
                        t.verdict, t.recipient, t.updated,
                        (SELECT MAX(n.received) FROM notice n WHERE n.thread_id = t.id),
                        (SELECT n.subject FROM notice n WHERE n.thread_id = t.id ORDER BY n.received DESC, n.id DESC LIMIT 1)
                   FROM thread t
                  WHERE t.mailbox = ?1 AND t.updated >= ?2
                  ORDER BY t.updated DESC, t.id DESC
                  LIMIT 1000",
                p![mailbox, since - quiet],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.flag(0)?,
                            r.text(1)?,
                            r.text(2)?,
                            r.int(3)?,
                            r.opt_int(4)?,
                            r.opt_text(5)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, DbError>>()
            })
            .or_store(self)?;
        let mut items = DigestItems {
            notices,
            ..DigestItems::default()
        };
        for (failed, verdict, recipient, updated, last, subject) in rows {
            let last_notice = last.unwrap_or(updated);
            let line = DigestLine {
                subject: subject.unwrap_or_else(|| "(no subject)".into()),
                recipient,
                verdict,
                last_notice,
            };
            // A final failure is one whatever the thread's state (a muted thread can fail too).
            let list = match failed {
                true if last_notice >= since => &mut items.failed,
                true => continue,
                false if now - last_notice >= quiet && last_notice >= since - quiet => &mut items.resolved,
                false if last_notice >= since => &mut items.open,
                false => continue,
            };
            if list.len() < MAX_LINES {
                list.push(line);
            }
        }
        Ok(items)
    }

    /// Queues `mailbox`'s digest and notes when it went, in one transaction.
    pub fn record_digest(
        &self,
        mailbox: &str,
        answer: &Answer<'_>,
        via: &crate::vocab::Via,
        now: i64,
    ) -> Result<(), StoreError> {
        self.db
            .tx(|| {
                super::queue::queue(
                    &self.db,
                    mailbox,
                    None,
                    None,
                    std::slice::from_ref(answer),
                    via,
                    now,
                )?;
                self.db
                    .execute(
                        "INSERT INTO digest (mailbox, last) VALUES (?1, ?2)
                         ON CONFLICT (mailbox) DO UPDATE SET last = excluded.last",
                        p![mailbox, now],
                    )
                    .map(|_| ())
            })
            .or_store(self)
    }
}
