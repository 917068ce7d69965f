//! Conversations, what the bot sent in them, and what the hourly limits held back.

use super::queue::queue;
use super::*;
use crate::vocab::Role;
use rusqlite::{params, OptionalExtension};

impl Store {
    /// The thread about (original, recipient) in a mailbox, if there is one.
    pub fn thread(
        &self,
        mailbox: &str,
        original: &str,
        recipient: &str,
    ) -> Result<Option<Thread>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, verdict, state, reporter FROM thread WHERE mailbox = ?1 AND original = ?2 AND recipient = ?3",
                params![mailbox, original, recipient],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, crate::vocab::ThreadState>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()
            .or_store(self)?;
        let Some((id, verdict, state, reporter)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT message_id, role FROM sent WHERE thread_id = ?1 ORDER BY created, rowid")
            .or_store(self)?;
        let sent = stmt
            .query_map(params![id], |r| {
                // A word no role has (none is written) counts as a message to the user.
                Ok((r.get::<_, String>(0)?, Role::parse(&r.get::<_, String>(1)?)))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .or_store(self)?;
        Ok(Some(Thread {
            id,
            verdict,
            state,
            package_sent: sent.iter().any(|(_, role)| *role == Some(Role::Package)),
            messages: sent
                .into_iter()
                .filter(|(_, role)| *role != Some(Role::Package))
                .map(|(m, _)| m)
                .collect(),
            reporter,
        }))
    }

    /// A thread by id, with its latest notice's bytes.
    pub fn thread_by_id(&self, id: i64) -> Result<Option<(Thread, Vec<u8>)>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT mailbox, original, recipient FROM thread WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .or_store(self)?;
        let Some((mailbox, original, recipient)) = row else {
            return Ok(None);
        };
        let Some(thread) = self.thread(&mailbox, &original, &recipient)? else {
            return Ok(None);
        };
        let raw: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT raw FROM notice WHERE thread_id = ?1 AND raw IS NOT NULL ORDER BY id DESC LIMIT 1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .or_store(self)?;
        Ok(raw.map(|raw| (thread, raw)))
    }

    /// The open threads of a mailbox, oldest first, each with its latest notice's bytes.
    pub fn open_threads(&self, mailbox: &str) -> Result<Vec<(Thread, Vec<u8>)>, StoreError> {
        let ids: Vec<i64> = self
            .conn
            .prepare(
                "SELECT id FROM thread WHERE mailbox = ?1 AND state = 'open' ORDER BY created, id LIMIT 50",
            )
            .and_then(|mut st| {
                st.query_map(params![mailbox], |r| r.get(0))
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
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
                .conn
                .query_row(
                    "SELECT thread_id FROM sent WHERE message_id = ?1 AND mailbox = ?2 AND rcpt = ?3 COLLATE NOCASE",
                    params![id, mailbox, user],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .optional()
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
        self.exists("SELECT 1 FROM sent WHERE message_id = ?1", params![message_id])
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
            let c: u32 = self
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM sent WHERE mailbox = ?1 AND role = ?2 AND created >= ?3",
                    params![mailbox, role, since],
                    |r| r.get(0),
                )
                .or_store(self)?;
            n += c;
        }
        Ok(n)
    }

    /// What the rate limits held back and no summary told yet: (id, line), oldest first.
    pub fn held(&self, mailbox: &str, role: crate::vocab::Role) -> Result<Vec<(i64, String)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT id, line FROM held WHERE mailbox = ?1 AND role = ?2 AND summarized IS NULL ORDER BY id LIMIT 500",
            )
            .and_then(|mut st| {
                st.query_map(params![mailbox, role], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            })
            .or_store(self)
    }

    /// Whether anything the rate limits held back waits for a summary.
    pub fn held_any(&self, mailbox: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM held WHERE mailbox = ?1 AND summarized IS NULL)",
                params![mailbox],
                |r| r.get(0),
            )
            .or_store(self)
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
        let run = || -> Result<(), rusqlite::Error> {
            let tx = self.conn.unchecked_transaction()?;
            queue(&tx, mailbox, None, None, std::slice::from_ref(answer), via, now)?;
            for id in ids {
                tx.execute("UPDATE held SET summarized = ?2 WHERE id = ?1", params![id, now])?;
            }
            tx.commit()
        };
        run().or_store(self)
    }
}

pub(super) fn hold(
    tx: &Connection,
    mailbox: &str,
    held: &[(crate::vocab::Role, String)],
    now: i64,
) -> Result<(), rusqlite::Error> {
    for (role, line) in held {
        tx.execute(
            "INSERT INTO held (mailbox, role, line, created) VALUES (?1, ?2, ?3, ?4)",
            params![mailbox, role, line, now],
        )?;
    }
    Ok(())
}
