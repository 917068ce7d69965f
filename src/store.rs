//! The bot's state: one SQLite file (WAL) under `state_dir`, with schema migrations from day
//! one (`PRAGMA user_version`). It holds the outbox (every message is stored before it is sent,
//! and marked sent only after the SMTP server accepted it), each mailbox's cursor (UIDVALIDITY
//! and last UID seen), every processed notice, the threads that make repeated notices one
//! conversation, and which message the bot sent for what. Recording a notice, its thread, its
//! answers and the cursor is one transaction ([`Store::record`]).

use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// Why the state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("state database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// There is no state database to read (nothing was recorded yet).
    #[error(
        "no state database at {path}: `bouncedoc run` has not recorded anything with this state_dir yet"
    )]
    Missing {
        /// The database file looked for.
        path: PathBuf,
    },
    /// The state directory could not be created.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

use crate::vocab::Role;

/// A sender is stored as its key (`""`: the global server).
impl rusqlite::types::ToSql for crate::vocab::Via {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.key().into())
    }
}

/// Outcomes are stored as their words.
impl rusqlite::types::ToSql for crate::vocab::Outcome {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Roles are stored as their words.
impl rusqlite::types::ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Thread states are stored as their words.
impl rusqlite::types::ToSql for crate::vocab::ThreadState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for crate::vocab::ThreadState {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let word = value.as_str()?;
        crate::vocab::ThreadState::parse(word).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown thread state {word:?}").into())
        })
    }
}

/// Now, in Unix seconds: the clock every record of the state is written with.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Moves a mailbox's cursor forward to `uid` (never back) within the same UIDVALIDITY; progress
/// past UID 0 ends a rescan.
fn advance_cursor(
    conn: &Connection,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
) -> Result<(), rusqlite::Error> {
    conn.execute(
        "UPDATE cursor SET last_uid = MAX(last_uid, ?3), rescan = rescan AND ?3 = 0
         WHERE mailbox = ?1 AND uidvalidity = ?2",
        params![mailbox, uidvalidity, uid],
    )
    .map(|_| ())
}

/// The migrations, in order; `user_version` counts how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: the outbox.
    "CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        mail_from TEXT NOT NULL,
        rcpt_to TEXT NOT NULL,
        raw BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error TEXT,
        created INTEGER NOT NULL,
        sent_at INTEGER
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt);",
    // 2: the watcher's state: cursors, notices, threads, and what was sent for them.
    "ALTER TABLE outbox ADD COLUMN via TEXT NOT NULL DEFAULT '';
    CREATE TABLE cursor (
        mailbox TEXT PRIMARY KEY,
        identity TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL,
        rescan INTEGER NOT NULL DEFAULT 0,
        since INTEGER NOT NULL
    );
    CREATE TABLE thread (
        id INTEGER PRIMARY KEY,
        mailbox TEXT NOT NULL,
        original TEXT NOT NULL,
        recipient TEXT NOT NULL,
        verdict TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed', 'muted')),
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        UNIQUE (mailbox, original, recipient)
    );
    CREATE TABLE notice (
        id INTEGER PRIMARY KEY,
        mailbox TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        message_id TEXT,
        received INTEGER NOT NULL,
        kind TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT,
        thread_id INTEGER REFERENCES thread (id),
        verdict TEXT,
        summary TEXT,
        outcome TEXT NOT NULL,
        raw BLOB,
        next_check INTEGER,
        checks INTEGER NOT NULL DEFAULT 0,
        UNIQUE (mailbox, fingerprint)
    );
    CREATE INDEX notice_pending ON notice (mailbox, next_check) WHERE next_check IS NOT NULL;
    CREATE TABLE sent (
        message_id TEXT PRIMARY KEY,
        mailbox TEXT NOT NULL,
        thread_id INTEGER REFERENCES thread (id),
        notice_id INTEGER REFERENCES notice (id),
        role TEXT NOT NULL,
        rcpt TEXT NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX sent_thread ON sent (thread_id);",
    // 3: email commands, and what the rate limits held back.
    "CREATE TABLE command (
        id INTEGER PRIMARY KEY,
        mailbox TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        sender TEXT NOT NULL,
        word TEXT NOT NULL,
        thread_id INTEGER REFERENCES thread (id),
        outcome TEXT NOT NULL,
        received INTEGER NOT NULL,
        UNIQUE (mailbox, fingerprint)
    );
    CREATE TABLE held (
        id INTEGER PRIMARY KEY,
        mailbox TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('reply', 'package')),
        line TEXT NOT NULL,
        created INTEGER NOT NULL,
        summarized INTEGER
    );
    CREATE INDEX held_open ON held (mailbox, role) WHERE summarized IS NULL;
    CREATE INDEX sent_recent ON sent (mailbox, created);",
    // 4: a message is claimed before it is sent (a storage fault after the server accepted it
    // must not make it go out again); retention prunes by age.
    "ALTER TABLE outbox ADD COLUMN claimed INTEGER;
    ALTER TABLE thread ADD COLUMN reporter TEXT;
    CREATE INDEX notice_thread ON notice (thread_id);
    CREATE INDEX command_thread ON command (thread_id);
    CREATE INDEX outbox_created ON outbox (created);
    CREATE INDEX notice_received ON notice (received);",
];

/// A mailbox's position: the folder's UIDVALIDITY and the last UID processed in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The folder's UIDVALIDITY when the UIDs were seen.
    pub uidvalidity: u32,
    /// The highest UID processed.
    pub last_uid: u32,
    /// A rescan after a UIDVALIDITY change is under way (it looks back only to `since`).
    pub rescan: bool,
}

/// A conversation as the state keeps it (the type lives with the pure thread logic).
pub use crate::conversation::Thread;

/// A message to queue with a notice, and its role in the thread.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// What the message is for.
    pub role: crate::vocab::Role,
    /// The message.
    pub message: &'a crate::compose::Outgoing,
}

/// Everything recorded about one processed notice, in one transaction.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// The mailbox's name.
    pub mailbox: &'a str,
    /// Where the notice sits: the folder's UIDVALIDITY and its UID.
    pub uidvalidity: u32,
    /// The notice's UID.
    pub uid: u32,
    /// What identifies the notice across UIDVALIDITY changes.
    pub fingerprint: &'a str,
    /// The notice's own Message-ID.
    pub message_id: Option<&'a str>,
    /// `delayed`, `failed`, ...
    pub kind: &'a str,
    /// The recipients, comma-separated.
    pub recipients: &'a str,
    /// The original message's subject.
    pub subject: Option<&'a str>,
    /// The thread (original, recipient), its verdict and state after this notice; `None`
    /// when the notice joins no thread (nothing decided yet).
    pub thread: Option<(&'a str, &'a str, &'a str, crate::vocab::ThreadState)>,
    /// The organisation whose server wrote the notice (kept by a new thread, compared when a
    /// final failure would close it).
    pub reporter: Option<&'a str>,
    /// The verdict (`action/cause`).
    pub verdict: Option<&'a str>,
    /// The verdict's summary.
    pub summary: Option<&'a str>,
    /// What was done: `answered`, `updated`, `closed`, `repeat`, `recheck`, `after-close`.
    pub outcome: crate::vocab::Outcome,
    /// The notice's bytes (kept: a "support" or "recheck" reply needs them later).
    pub raw: &'a [u8],
    /// For a notice to diagnose again: when, and how many checks ran.
    pub pending: Option<(i64, u32)>,
    /// What the rate limits held back: (`reply` or `package`, one summary line).
    pub held: &'a [(crate::vocab::Role, String)],
    /// Messages queued with it.
    pub answers: &'a [Answer<'a>],
    /// Which SMTP server sends them (`""`: the global one, else the mailbox's name).
    pub via: crate::vocab::Via,
    /// Whether the mailbox's cursor moves to this UID (not for a recheck of an older notice).
    pub move_cursor: bool,
    /// Now (Unix seconds).
    pub now: i64,
}

/// Everything recorded about one command, in one transaction.
#[derive(Debug, Clone)]
pub struct CommandRecord<'a> {
    /// The mailbox.
    pub mailbox: &'a str,
    /// The folder's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The reply's UID.
    pub uid: u32,
    /// The reply's identity (Message-ID, else a hash).
    pub fingerprint: &'a str,
    /// Who sent it.
    pub sender: &'a str,
    /// The command word (`support`, …, `unknown`).
    pub word: &'a str,
    /// The thread it is about, if any.
    pub thread_id: Option<i64>,
    /// A new state for the thread (`muted`).
    pub thread_state: Option<crate::vocab::ThreadState>,
    /// A new verdict for the thread (after `recheck`).
    pub thread_verdict: Option<&'a str>,
    /// What was done: `answered`, `held`, `refused-sender`, `refused-auto`, …
    pub outcome: crate::vocab::Outcome,
    /// Messages queued.
    pub answers: &'a [Answer<'a>],
    /// What the rate limits held back.
    pub held: &'a [(crate::vocab::Role, String)],
    /// The SMTP server (`via`).
    pub via: crate::vocab::Via,
    /// Now (Unix seconds).
    pub now: i64,
}

/// A notice waiting to be diagnosed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Row id (its bytes: [`Store::notice_raw`], read one notice at a time).
    pub id: i64,
    /// Checks so far.
    pub checks: u32,
}

/// One line of `bouncedoc history`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The mailbox.
    pub mailbox: String,
    /// When it was processed (Unix seconds).
    pub received: i64,
    /// The notice's UID.
    pub uid: u32,
    /// `delayed`, `failed`, ...
    pub kind: String,
    /// Its recipients.
    pub recipients: String,
    /// The original subject.
    pub subject: Option<String>,
    /// The verdict (`action/cause`).
    pub verdict: Option<String>,
    /// What was done.
    pub outcome: String,
    /// Why a message was skipped (outcome `skipped`): over its time budget, or its processing
    /// failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// What was sent for it: (role, recipient, outbox state).
    pub sent: Vec<(String, String, String)>,
}

/// A queued message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Row id.
    pub id: i64,
    /// Message-ID (without brackets).
    pub message_id: String,
    /// Envelope sender.
    pub mail_from: String,
    /// Envelope recipient.
    pub rcpt_to: String,
    /// The message bytes.
    pub raw: Vec<u8>,
    /// Attempts so far.
    pub attempts: u32,
}

/// Where a stored message stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `queued`, `sent` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// The state database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating and migrating) `bouncedoc.sqlite` in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::Dir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join("bouncedoc.sqlite");
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let mut store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the state for reading only (`bouncedoc history`): nothing is created, migrated or
    /// written.
    pub fn open_read_only(state_dir: &Path) -> Result<Store, StoreError> {
        let path = state_dir.join("bouncedoc.sqlite");
        if !path.is_file() {
            return Err(StoreError::Missing { path });
        }
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|source| StoreError::Sqlite {
                path: path.clone(),
                source,
            })?;
        Ok(Store { conn, path })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: usize = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
            tx.execute_batch(sql).map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
            tx.pragma_update(None, "user_version", i + 1)
                .map_err(|e| StoreError::Sqlite {
                    path: self.path.clone(),
                    source: e,
                })?;
            tx.commit().map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
        }
        Ok(())
    }

    /// The schema version (how many migrations ran).
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

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
            .map_err(|e| self.err(e))
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
            .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
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
            .map_err(|e| self.err(e))
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
            .map_err(|e| self.err(e))
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
            .map_err(|e| self.err(e))
    }

    /// Gives back the claims of sender `via` (its task ended mid-attempt: aborted, or a bug),
    /// except `keep` (attempts whose outcome is known but not yet recorded). Returns how many.
    pub fn release_claims_of(&self, via: &crate::vocab::Via, keep: &[i64]) -> Result<usize, StoreError> {
        let mut released = 0;
        let ids: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM outbox WHERE via = ?1 AND state = 'queued' AND claimed IS NOT NULL")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map(params![via], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
                .map_err(|e| self.err(e))?;
            rows
        };
        for id in ids.into_iter().filter(|id| !keep.contains(id)) {
            released += self
                .conn
                .execute("UPDATE outbox SET claimed = NULL WHERE id = ?1", params![id])
                .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))
    }

    /// Records a transient failure and when to try again.
    pub fn mark_retry(&self, id: i64, next_attempt: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3, claimed = NULL WHERE id = ?1",
                params![id, next_attempt, error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a permanent failure: the message is not tried again.
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2, claimed = NULL WHERE id = ?1",
                params![id, error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// A mailbox's cursor, if it has one.
    pub fn cursor(&self, mailbox: &str) -> Result<Option<Cursor>, StoreError> {
        self.conn
            .query_row(
                "SELECT uidvalidity, last_uid, rescan FROM cursor WHERE mailbox = ?1",
                params![mailbox],
                |r| {
                    Ok(Cursor {
                        uidvalidity: r.get(0)?,
                        last_uid: r.get(1)?,
                        rescan: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a mailbox's cursor (a new UIDVALIDITY: the watch keeps its start date).
    pub fn set_cursor(&self, mailbox: &str, c: Cursor) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE cursor SET uidvalidity = ?2, last_uid = ?3, rescan = ?4 WHERE mailbox = ?1",
                params![mailbox, c.uidvalidity, c.last_uid, c.rescan],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Starts a mailbox's cursor afresh: a first start, or a different server, account or
    /// folder (`identity`) than the cursor was kept for. The watch's start date is now.
    pub fn start_cursor(&self, mailbox: &str, identity: &str, c: Cursor) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO cursor (mailbox, identity, uidvalidity, last_uid, rescan, since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![mailbox, identity, c.uidvalidity, c.last_uid, c.rescan, now()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Which server, account and folder a mailbox's cursor was kept for.
    pub fn cursor_identity(&self, mailbox: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT identity FROM cursor WHERE mailbox = ?1",
                params![mailbox],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Hands the queued messages of a sender that is gone (`from`) to another (`to`).
    /// Returns how many.
    pub fn reassign(&self, from: &crate::vocab::Via, to: &crate::vocab::Via) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET via = ?2 WHERE via = ?1 AND state = 'queued'",
                params![from, to],
            )
            .map_err(|e| self.err(e))
    }

    /// How many messages wait in the queue of sender `via`.
    pub fn queued(&self, via: &crate::vocab::Via) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE via = ?1 AND state = 'queued'",
                params![via],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Moves a mailbox's cursor forward (never back) within the same UIDVALIDITY.
    pub fn set_cursor_forward(&self, mailbox: &str, c: Cursor) -> Result<(), StoreError> {
        advance_cursor(&self.conn, mailbox, c.uidvalidity, c.last_uid).map_err(|e| self.err(e))
    }

    /// When the bot started watching a mailbox (Unix seconds): a rescan after a UIDVALIDITY
    /// change looks no further back.
    pub fn cursor_since(&self, mailbox: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT since FROM cursor WHERE mailbox = ?1",
                params![mailbox],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Whether a notice with this fingerprint was already processed in the mailbox.
    pub fn seen(&self, mailbox: &str, fingerprint: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM notice WHERE mailbox = ?1 AND fingerprint = ?2",
                params![mailbox, fingerprint],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

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
            .map_err(|e| self.err(e))?;
        let Some((id, verdict, state, reporter)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT message_id, role FROM sent WHERE thread_id = ?1 ORDER BY created, rowid")
            .map_err(|e| self.err(e))?;
        let sent = stmt
            .query_map(params![id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(Some(Thread {
            id,
            verdict,
            state,
            package_sent: sent.iter().any(|(_, role)| role == Role::Package.as_str()),
            messages: sent
                .into_iter()
                .filter(|(_, role)| role != Role::Package.as_str())
                .map(|(m, _)| m)
                .collect(),
            reporter,
        }))
    }

    /// Records a processed notice, its thread, its answers (queued in the outbox) and the
    /// mailbox's cursor, in one transaction: all of it or none of it.
    pub fn record(&self, r: &Record<'_>) -> Result<i64, StoreError> {
        self.record_tx(r).map_err(|e| self.err(e))
    }

    fn record_tx(&self, r: &Record<'_>) -> Result<i64, rusqlite::Error> {
        let tx = self.conn.unchecked_transaction()?;
        let thread_id: Option<i64> = match r.thread {
            Some((original, recipient, verdict, state)) => Some(tx.query_row(
                "INSERT INTO thread (mailbox, original, recipient, verdict, state, created, updated, reporter)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
                 ON CONFLICT (mailbox, original, recipient)
                 DO UPDATE SET verdict = excluded.verdict, state = excluded.state, updated = excluded.updated,
                    reporter = COALESCE(thread.reporter, excluded.reporter)
                 RETURNING id",
                params![r.mailbox, original, recipient, verdict, state, r.now, r.reporter],
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
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO notice (mailbox, fingerprint, uidvalidity, uid, received, kind, recipients, summary, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, 'unread', '', ?6, 'skipped')
             ON CONFLICT (mailbox, fingerprint) DO NOTHING",
            params![mailbox, format!("skipped:{uidvalidity}:{uid}"), uidvalidity, uid, now, why],
        )
        .and_then(|_| advance_cursor(&tx, mailbox, uidvalidity, uid))
        .and_then(|_| tx.commit())
        .map_err(|e| self.err(e))
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
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
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
            removed += tx
                .execute(sql, params![cutoff, limit as i64])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(removed)
    }

    /// Notices of a mailbox due to be diagnosed again at `now`.
    pub fn pending(&self, mailbox: &str, now: i64) -> Result<Vec<Pending>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, checks FROM notice WHERE mailbox = ?1 AND next_check IS NOT NULL
                 AND next_check <= ?2 AND raw IS NOT NULL ORDER BY next_check LIMIT 50",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![mailbox, now], |r| {
            Ok(Pending {
                id: r.get(0)?,
                checks: r.get(1)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| self.err(e))
    }

    /// Takes a notice off the recheck list, recorded as skipped with `why`.
    pub fn drop_pending(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE notice SET next_check = NULL, outcome = 'skipped', summary = ?2 WHERE id = ?1",
                params![id, why],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
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
            .map_err(|e| self.err(e))
    }

    /// When the mailbox's next pending notice is due, if any.
    pub fn next_pending(&self, mailbox: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_check) FROM notice WHERE mailbox = ?1 AND next_check IS NOT NULL",
                params![mailbox],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map_err(|e| self.err(e))
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
            .map_err(|e| self.err(e))
    }

    /// Recent notices, newest first, with what was sent for each.
    pub fn history(&self, mailbox: Option<&str>, limit: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, mailbox, received, uid, kind, recipients, subject, verdict, outcome,
                        CASE WHEN outcome = 'skipped' THEN summary END FROM notice
                 WHERE ?1 IS NULL OR mailbox = ?1 ORDER BY received DESC, id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))?;
        let mut sent = self
            .conn
            .prepare(
                "SELECT s.role, s.rcpt, COALESCE(o.state, 'unknown') FROM sent s
                 LEFT JOIN outbox o ON o.message_id = s.message_id WHERE s.notice_id = ?1 ORDER BY s.rowid",
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, mut entry) in rows {
            entry.sent = sent
                .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.err(e))?;
            out.push(entry);
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
                .map_err(|e| self.err(e))?;
            match row {
                Some(Some(t)) => return Ok(Some(Some(t))),
                Some(None) => found = Some(None),
                None => {}
            }
        }
        Ok(found)
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
            .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.thread_by_id(id)? {
                out.push(t);
            }
        }
        Ok(out)
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
                .map_err(|e| self.err(e))?;
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
            .map_err(|e| self.err(e))
    }

    /// Whether anything the rate limits held back waits for a summary.
    pub fn held_any(&self, mailbox: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM held WHERE mailbox = ?1 AND summarized IS NULL)",
                params![mailbox],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
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
        run().map_err(|e| self.err(e))
    }

    /// Whether a command with this fingerprint was already handled in the mailbox.
    pub fn command_seen(&self, mailbox: &str, fingerprint: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM command WHERE mailbox = ?1 AND fingerprint = ?2",
                params![mailbox, fingerprint],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Records a command, its answers, a new thread state or verdict, and what was held back,
    /// in one transaction.
    pub fn record_command(&self, c: &CommandRecord<'_>) -> Result<(), StoreError> {
        let run = || -> Result<(), rusqlite::Error> {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute(
                "INSERT OR IGNORE INTO command (mailbox, fingerprint, uidvalidity, uid, sender, word, thread_id, outcome, received)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![c.mailbox, c.fingerprint, c.uidvalidity, c.uid, c.sender, c.word, c.thread_id, c.outcome, c.now],
            )?;
            if let (Some(id), Some(state)) = (c.thread_id, c.thread_state) {
                tx.execute(
                    "UPDATE thread SET state = ?2, updated = ?3 WHERE id = ?1",
                    params![id, state, c.now],
                )?;
            }
            if let (Some(id), Some(verdict)) = (c.thread_id, c.thread_verdict) {
                tx.execute(
                    "UPDATE thread SET verdict = ?2, updated = ?3 WHERE id = ?1",
                    params![id, verdict, c.now],
                )?;
            }
            queue(&tx, c.mailbox, c.thread_id, None, c.answers, &c.via, c.now)?;
            hold(&tx, c.mailbox, c.held, c.now)?;
            advance_cursor(&tx, c.mailbox, c.uidvalidity, c.uid)?;
            tx.commit()
        };
        run().map_err(|e| self.err(e))
    }

    /// Whether the bot itself sent a message with this Message-ID (a notice about it must not
    /// be answered: that would be a loop).
    pub fn is_ours(&self, message_id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sent WHERE message_id = ?1",
                params![message_id],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
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
            .map_err(|e| self.err(e))
    }
}

/// Queues answers in the outbox and records them as sent for the thread and notice.
fn queue(
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

fn hold(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_send_retry_fail_and_reopen() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let s = Store::open(&dir).unwrap();
            assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len());
            s.enqueue("a@x", "bot@x", "u@x", b"raw a", 100).unwrap();
            s.enqueue("a@x", "bot@x", "u@x", b"raw a", 100).unwrap();
            s.enqueue("b@x", "bot@x", "u@x", b"raw b", 100).unwrap();
            let due = s.due(100, 10, &crate::vocab::Via::Global).unwrap();
            assert_eq!(due.len(), 2, "stored once per Message-ID");
            s.mark_sent(due[0].id, 101).unwrap();
            s.mark_retry(due[1].id, 200, "451 try later").unwrap();
            assert!(s.due(150, 10, &crate::vocab::Via::Global).unwrap().is_empty());
            assert_eq!(s.next_due(&crate::vocab::Via::Global).unwrap(), Some(200));
        }
        // Reopened (a restart): the sent one stays sent, the other is still queued.
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.status("a@x").unwrap().unwrap().state, "sent");
        let due = s.due(200, 10, &crate::vocab::Via::Global).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].message_id, "b@x");
        s.mark_failed(due[0].id, "550 no such user").unwrap();
        assert_eq!(s.status("b@x").unwrap().unwrap().state, "failed");
        assert_eq!(s.next_due(&crate::vocab::Via::Global).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_notice_its_thread_answers_and_cursor_are_one_record() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-store-rec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).unwrap();
        let c = Cursor {
            uidvalidity: 7,
            last_uid: 3,
            rescan: true,
        };
        s.start_cursor("alice", "u@h:993/INBOX", c).unwrap();
        let reply = crate::compose::Outgoing {
            message_id: "r1@bot".into(),
            from: "bot@x".into(),
            to: "alice@x".into(),
            raw: b"raw".to_vec(),
        };
        let answers = [Answer {
            role: Role::Reply,
            message: &reply,
        }];
        let record = Record {
            mailbox: "alice",
            uidvalidity: 7,
            uid: 5,
            fingerprint: "mid:n1@x",
            message_id: Some("n1@x"),
            kind: "delayed",
            recipients: "bob@y",
            subject: Some("Hi"),
            thread: Some((
                "mid:o1@x",
                "bob@y",
                "reply_user/recipient_domain",
                crate::vocab::ThreadState::Open,
            )),
            reporter: None,
            verdict: Some("reply_user/recipient_domain"),
            summary: Some("..."),
            outcome: crate::vocab::Outcome::Answered,
            raw: b"notice",
            pending: None,
            held: &[],
            answers: &answers,
            via: crate::vocab::Via::Global,
            move_cursor: true,
            now: 100,
        };
        s.record(&record).unwrap();
        assert!(s.seen("alice", "mid:n1@x").unwrap());
        assert!(s.is_ours("r1@bot").unwrap());
        // Progress ends a rescan.
        assert_eq!(
            s.cursor("alice").unwrap(),
            Some(Cursor {
                last_uid: 5,
                rescan: false,
                ..c
            })
        );
        assert_eq!(
            s.cursor_identity("alice").unwrap().as_deref(),
            Some("u@h:993/INBOX")
        );
        assert_eq!(s.due(100, 10, &crate::vocab::Via::Global).unwrap().len(), 1);
        let t = s.thread("alice", "mid:o1@x", "bob@y").unwrap().unwrap();
        assert_eq!(
            (t.messages, t.package_sent, t.state.as_str()),
            (vec!["r1@bot".to_string()], false, "open")
        );
        // A recheck of an older notice never moves the cursor; a cursor never moves back.
        let older = Record {
            uid: 2,
            fingerprint: "mid:n0@x",
            answers: &[],
            thread: None,
            move_cursor: false,
            ..record.clone()
        };
        s.record(&older).unwrap();
        s.set_cursor_forward("alice", Cursor { last_uid: 4, ..c })
            .unwrap();
        assert_eq!(s.cursor("alice").unwrap().unwrap().last_uid, 5);
        let h = s.history(Some("alice"), 10).unwrap();
        assert_eq!(h.len(), 2);
        assert!(h
            .iter()
            .any(|e| e.sent == vec![("reply".to_string(), "alice@x".to_string(), "queued".to_string())]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn retention_prunes_old_records_and_keeps_what_is_pending() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-store-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Store::open(&dir).unwrap();
        let out = |id: &str| crate::compose::Outgoing {
            message_id: id.into(),
            from: "bot@x".into(),
            to: "alice@x".into(),
            raw: b"raw".to_vec(),
        };
        let (old, new) = (out("old@bot"), out("new@bot"));
        for (now, uid, fp, m, pending) in [
            (100, 1, "mid:old", &old, None),
            (100, 2, "mid:pending", &old, Some((5_000, 1))),
            (10_000, 3, "mid:new", &new, None),
        ] {
            let answers = [Answer {
                role: Role::Reply,
                message: m,
            }];
            let thread_key = format!("o-{fp}");
            s.record(&Record {
                mailbox: "alice",
                uidvalidity: 1,
                uid,
                fingerprint: fp,
                message_id: None,
                kind: "delayed",
                recipients: "bob@y",
                subject: None,
                thread: Some((
                    &thread_key,
                    "bob@y",
                    "reply_user/unexplained",
                    crate::vocab::ThreadState::Open,
                )),
                reporter: None,
                verdict: None,
                summary: None,
                outcome: crate::vocab::Outcome::Answered,
                raw: b"notice",
                pending,
                held: &[],
                answers: if pending.is_some() { &[] } else { &answers },
                via: crate::vocab::Via::Global,
                move_cursor: true,
                now,
            })
            .unwrap();
        }
        let id = s.due(i64::MAX, 10, &crate::vocab::Via::Global).unwrap()[0].id;
        s.mark_sent(id, 100).unwrap();
        // A queued message stays, however old.
        s.enqueue("queued@bot", "bot@x", "alice@x", b"q", 50).unwrap();
        // Pending notices are listed without their bytes (each may be megabytes), which are
        // read one at a time.
        let pending = s.pending("alice", 10_000).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            s.notice_raw(pending[0].id).unwrap().as_deref(),
            Some(&b"notice"[..])
        );
        assert!(s.prune(1_000).unwrap() >= 4);
        assert!(!s.seen("alice", "mid:old").unwrap());
        assert!(s.seen("alice", "mid:pending").unwrap(), "a pending recheck stays");
        assert!(s.seen("alice", "mid:new").unwrap());
        assert!(
            s.status("old@bot").unwrap().is_none(),
            "the old sent message is gone"
        );
        assert!(s.status("new@bot").unwrap().is_some());
        assert_eq!(s.status("queued@bot").unwrap().unwrap().state, "queued");
        assert!(s.thread("alice", "o-mid:old", "bob@y").unwrap().is_none());
        assert!(s.thread("alice", "o-mid:new", "bob@y").unwrap().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_database_of_the_previous_schema_migrates_forward() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-store-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The schema the previous release wrote (migrations 1-3), with its rows.
        {
            let conn = Connection::open(dir.join("bouncedoc.sqlite")).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute_batch(
                "INSERT INTO outbox (message_id, mail_from, rcpt_to, raw, next_attempt, created)
                     VALUES ('q@bot', 'bot@x', 'alice@x', X'726177', 0, 0);
                 INSERT INTO thread (mailbox, original, recipient, verdict, state, created, updated)
                     VALUES ('alice', 'mid:o@x', 'bob@y', 'reply_user/recipient_domain', 'muted', 0, 0);
                 INSERT INTO cursor (mailbox, identity, uidvalidity, last_uid, since)
                     VALUES ('alice', 'u@h:993/INBOX', 7, 12, 0);",
            )
            .unwrap();
        }
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len());
        let due = s.due(1, 10, &crate::vocab::Via::Global).unwrap();
        assert_eq!(due.len(), 1, "an unclaimed queued message is due");
        assert!(s.claim(due[0].id, 1).unwrap());
        let t = s.thread("alice", "mid:o@x", "bob@y").unwrap().unwrap();
        assert_eq!((t.state, t.reporter), (crate::vocab::ThreadState::Muted, None));
        assert_eq!(s.cursor("alice").unwrap().unwrap().last_uid, 12);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
