//! Conversations, what the bot sent in them, and what the hourly limits held back.

use super::queue::queue;
use super::*;
use crate::vocab::Role;

impl Store {
    /// The thread about (original, recipient) in a mailbox, if there is one.
    pub fn thread(
        &self,
        mailbox: &str,
        original: &str,
        recipient: &str,
    ) -> Result<Option<Thread>, StoreError> {
        let row = self
            .db
            .query_opt(
                "SELECT id, verdict, state, reporter FROM thread WHERE mailbox = ?1 AND original = ?2 AND recipient = ?3",
                p![mailbox, original, recipient],
            )
            .or_store(self)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let read = || -> Result<Thread, DbError> {
            let id = row.int(0)?;
            let word = row.text(2)?;
            let state = crate::vocab::ThreadState::parse(&word)
                .ok_or_else(|| DbError::Decode(format!("unknown thread state {word:?}")))?;
            // In the order they were sent (a notice's row id grows with time).
            let sent = self.db.query(
                "SELECT message_id, role FROM sent WHERE thread_id = ?1
                 ORDER BY created, COALESCE(notice_id, 0), message_id",
                p![id],
            )?;
            let mut messages = Vec::new();
            let mut package_sent = false;
            for r in &sent {
                // A word no role has (none is written) counts as a message to the user.
                if Role::parse(&r.text(1)?) == Some(Role::Package) {
                    package_sent = true;
                } else {
                    messages.push(r.text(0)?);
                }
            }
            Ok(Thread {
                id,
                verdict: row.text(1)?,
                state,
                package_sent,
                messages,
                reporter: row.opt_text(3)?,
            })
        };
        read().map(Some).or_store(self)
    }

    /// A thread by id, with its latest notice's bytes.
    pub fn thread_by_id(&self, id: i64) -> Result<Option<(Thread, Vec<u8>)>, StoreError> {
        let row = self
            .db
            .query_opt(
                "SELECT mailbox, original, recipient FROM thread WHERE id = ?1",
                p![id],
            )
            .and_then(|r| r.map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?))).transpose())
            .or_store(self)?;
        let Some((mailbox, original, recipient)) = row else {
            return Ok(None);
        };
        let Some(thread) = self.thread(&mailbox, &original, &recipient)? else {
            return Ok(None);
        };
        let raw = self
            .db
            .query_opt(
                "SELECT raw FROM notice WHERE thread_id = ?1 AND raw IS NOT NULL ORDER BY id DESC LIMIT 1",
                p![id],
            )
            .and_then(|r| r.map(|r| r.blob(0)).transpose())
            .or_store(self)?;
        Ok(raw.map(|raw| (thread, raw)))
    }

    /// The open threads of a mailbox, oldest first, each with its latest notice's bytes.
    pub fn open_threads(&self, mailbox: &str) -> Result<Vec<(Thread, Vec<u8>)>, StoreError> {
        let ids = self
            .db
            .query(
                "SELECT id FROM thread WHERE mailbox = ?1 AND state = 'open' ORDER BY created, id LIMIT 50",
                p![mailbox],
            )
            .and_then(|rows| rows.iter().map(|r| r.int(0)).collect::<Result<Vec<i64>, _>>())
            .or_store(self)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.thread_by_id(id)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Which thread a reply refers to: `None` when none of `ids` is a message the bot sent to
    /// `user` from this mailbox; `Some(None)` for a bot message outside any thread (a status
    /// answer, a summary).
    pub fn replied_to(
        &self,
        mailbox: &str,
        user: &str,
        ids: &[String],
    ) -> Result<Option<Option<i64>>, StoreError> {
        let mut found: Option<Option<i64>> = None;
        for id in ids {
            let row = self
                .db
                .query_opt(
                    "SELECT thread_id FROM sent WHERE message_id = ?1 AND mailbox = ?2 AND LOWER(rcpt) = LOWER(?3)",
                    p![id, mailbox, user],
                )
                .and_then(|r| r.map(|r| r.opt_int(0)).transpose())
                .or_store(self)?;
            match row {
                Some(Some(t)) => return Ok(Some(Some(t))),
                Some(None) => found = Some(None),
                None => {}
            }
        }
        Ok(found)
    }

    /// Whether the bot itself sent a message with this Message-ID (a notice about it must not
    /// be answered: that would be a loop).
    pub fn is_ours(&self, message_id: &str) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM sent WHERE message_id = ?1", p![message_id])
    }

    /// How many messages of these roles the mailbox sent since `since` (for the rate limits).
    pub fn sent_since(
        &self,
        mailbox: &str,
        roles: &[crate::vocab::Role],
        since: i64,
    ) -> Result<u32, StoreError> {
        let mut n = 0u32;
        for role in roles {
            n += self
                .db
                .query_one(
                    "SELECT COUNT(*) FROM sent WHERE mailbox = ?1 AND role = ?2 AND created >= ?3",
                    p![mailbox, role, since],
                )
                .and_then(|r| r.u32(0))
                .or_store(self)?;
        }
        Ok(n)
    }

    /// What the rate limits held back and no summary told yet: (id, line), oldest first.
    pub fn held(&self, mailbox: &str, role: crate::vocab::Role) -> Result<Vec<(i64, String)>, StoreError> {
        self.db
            .query(
                "SELECT id, line FROM held WHERE mailbox = ?1 AND role = ?2 AND summarized IS NULL ORDER BY id LIMIT 500",
                p![mailbox, role],
            )
            .and_then(|rows| rows.iter().map(|r| Ok((r.int(0)?, r.text(1)?))).collect())
            .or_store(self)
    }

    /// Whether anything the rate limits held back waits for a summary.
    pub fn held_any(&self, mailbox: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM held WHERE mailbox = ?1 AND summarized IS NULL LIMIT 1",
            p![mailbox],
        )
    }

    /// Queues a summary of held items and marks them told, in one transaction.
    pub fn record_summary(
        &self,
        mailbox: &str,
        ids: &[i64],
        answer: &Answer<'_>,
        via: &crate::vocab::Via,
        now: i64,
    ) -> Result<(), StoreError> {
        self.db
            .tx(|| {
                queue(
                    &self.db,
                    mailbox,
                    None,
                    None,
                    std::slice::from_ref(answer),
                    via,
                    now,
                )?;
                for id in ids {
                    self.db
                        .execute("UPDATE held SET summarized = ?2 WHERE id = ?1", p![id, now])?;
                }
                Ok(())
            })
            .or_store(self)
    }
}

/// Records what the rate limits held back (inside the notice's or command's transaction).
pub(super) fn hold(
    db: &Db,
    mailbox: &str,
    held: &[(crate::vocab::Role, String)],
    now: i64,
) -> Result<(), DbError> {
    for (role, line) in held {
        db.execute(
            "INSERT INTO held (mailbox, role, line, created) VALUES (?1, ?2, ?3, ?4)",
            p![mailbox, role, line, now],
        )?;
    }
    Ok(())
}
