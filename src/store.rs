//! The bot's state: one SQLite file (WAL) under `state_dir`, with schema migrations from day
//! one (`PRAGMA user_version`). For now it holds the outbox: every message is stored before it
//! is sent, and marked sent only after the SMTP server accepted it.

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
    /// The state directory could not be created.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
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
];

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

    /// Messages due for an attempt at `now`, oldest first.
    pub fn due(&self, now: i64, limit: usize) -> Result<Vec<Queued>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, message_id, mail_from, rcpt_to, raw, attempts FROM outbox
                 WHERE state = 'queued' AND next_attempt <= ?1 ORDER BY next_attempt, id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![now, limit as i64], |r| {
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

    /// When the next queued message is due, if any is queued.
    pub fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT MIN(next_attempt) FROM outbox WHERE state = 'queued'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// Records that the server accepted a message: it is never sent again.
    pub fn mark_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?2, attempts = attempts + 1 WHERE id = ?1",
                params![id, now],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a transient failure and when to try again.
    pub fn mark_retry(&self, id: i64, next_attempt: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3 WHERE id = ?1",
                params![id, next_attempt, error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a permanent failure: the message is not tried again.
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )
            .map(|_| ())
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
            let due = s.due(100, 10).unwrap();
            assert_eq!(due.len(), 2, "stored once per Message-ID");
            s.mark_sent(due[0].id, 101).unwrap();
            s.mark_retry(due[1].id, 200, "451 try later").unwrap();
            assert!(s.due(150, 10).unwrap().is_empty());
            assert_eq!(s.next_due().unwrap(), Some(200));
        }
        // Reopened (a restart): the sent one stays sent, the other is still queued.
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.status("a@x").unwrap().unwrap().state, "sent");
        let due = s.due(200, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].message_id, "b@x");
        s.mark_failed(due[0].id, "550 no such user").unwrap();
        assert_eq!(s.status("b@x").unwrap().unwrap().state, "failed");
        assert_eq!(s.next_due().unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
