//! The bot's state: one SQLite file (WAL) under `state_dir`, with schema migrations from day
//! one (`PRAGMA user_version`). It holds the outbox (every message is stored before it is sent,
//! and marked sent only after the SMTP server accepted it), each mailbox's cursor (UIDVALIDITY
//! and last UID seen), every processed notice, the threads that make repeated notices one
//! conversation, and which message the bot sent for what. Recording a notice, its thread, its
//! answers and the cursor is one transaction ([`Store::record`]).
//!
//! One file per concern, each adding its part of `impl Store`: `queue` (the outbox's rows),
//! `cursors`, `notices` (records, skips, rechecks, retention), `threads` (conversations, what
//! was sent, what the limits held), `commands`, `history`; `migrations` is the schema and `sql`
//! the vocabulary's words as SQL values.
//!
//! Everything else reaches the state through [`State`] and `Store`'s methods, never through
//! SQL: that is the seam a second backend (PostgreSQL, for several instances) fits behind — a
//! module of its own implementing the same methods, chosen when the state is opened. Async code
//! calls [`State::run`], which waits for the database on the blocking pool.

mod commands;
mod cursors;
mod db;
mod digest;
mod history;
mod leases;
mod migrations;
mod notices;
pub mod postgres;
mod queue;
mod threads;

use db::{p, Db, DbError};
use migrations::MIGRATIONS;
use rusqlite::Connection;
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
    /// PostgreSQL failed, or could not be reached.
    #[error("state database {database}: {source}")]
    Postgres {
        /// The database (without its password).
        database: String,
        /// The error.
        source: ::postgres::Error,
    },
    /// A stored value was not what the state expected (a database written by something else).
    #[error("state database {database}: {what}")]
    Decode {
        /// The database.
        database: String,
        /// What was wrong.
        what: String,
    },
    /// This instance no longer holds the mailbox's lease (another instance took it over):
    /// nothing was recorded.
    #[error("mailbox {mailbox} is no longer leased to this instance: nothing recorded")]
    NotOwner {
        /// The mailbox.
        mailbox: String,
    },
    /// `database.url` cannot be used.
    #[error(transparent)]
    Connect(#[from] postgres::ConnectError),
    /// There is no state database to read (nothing was recorded yet).
    #[error(
        "no state database at {path}: `bouncedoc run` has not recorded anything with this state_dir yet"
    )]
    Missing {
        /// The database file looked for.
        path: PathBuf,
    },
    /// The runtime is shutting down: the state call was not run.
    #[error("the state database was not written: the daemon is shutting down")]
    ShuttingDown,
    /// The state directory could not be created.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Now, in Unix seconds: the clock every record of the state is written with.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

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
pub use digest::{DigestItems, DigestLine};
pub use history::MailboxStanding;
pub use leases::{LeaseHolder, LeaseRound};
use std::collections::HashMap;

/// A message to queue with a notice, and its role in the thread.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// What the message is for.
    pub role: crate::vocab::Role,
    /// The message.
    pub message: &'a crate::compose::Outgoing,
}

/// A thread as one notice leaves it: which conversation, its verdict and its state.
#[derive(Debug, Clone, Copy)]
pub struct ThreadStep<'a> {
    /// The original message's identity (`mid:…`).
    pub original: &'a str,
    /// The recipient the thread is about.
    pub recipient: &'a str,
    /// The verdict (`action/cause`).
    pub verdict: &'a str,
    /// Open, closed or muted.
    pub state: crate::vocab::ThreadState,
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
    /// The thread and where it stands after this notice; `None` when the notice joins no
    /// thread (nothing decided yet).
    pub thread: Option<ThreadStep<'a>>,
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

/// The outbox at a glance (`status`, metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct QueueSummary {
    /// Messages waiting to be sent.
    pub queued: u64,
    /// When the oldest of them was stored (Unix seconds).
    pub oldest: Option<i64>,
    /// Messages refused for good.
    pub failed: u64,
    /// Waiting messages that failed at least once already.
    pub retrying: u64,
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

/// The handle everything else reaches the state through (the watchers, the commands, the
/// daemon, the outbox): one SQLite database with one writer at a time, or a few sessions of
/// the shared PostgreSQL database.
///
/// Database calls block (a commit waits for `fsync` or the network), so async code never makes
/// them on its own thread: it uses [`State::run`], which runs them on tokio's blocking pool.
/// [`State::with`] is for code already on a blocking thread (the processor, which runs each
/// message on one).
#[derive(Clone)]
pub struct State {
    backend: std::sync::Arc<Backend>,
}

enum Backend {
    /// SQLite: one connection, one caller at a time.
    One(std::sync::Mutex<Store>),
    /// PostgreSQL: a few sessions, each lent to one caller at a time.
    Pool(Pool),
}

/// Sessions of the shared database, lent out one caller at a time.
struct Pool {
    free: std::sync::Mutex<Vec<Store>>,
    returned: std::sync::Condvar,
    instance: Option<String>,
    connect: Box<postgres::Connect>,
}

/// Sessions one instance keeps open to PostgreSQL (the leases use one more of their own).
pub const POOL_SIZE: usize = 4;

impl State {
    /// A handle over an open store.
    pub fn new(store: Store) -> State {
        State {
            backend: std::sync::Arc::new(Backend::One(std::sync::Mutex::new(store))),
        }
    }

    /// The state a configuration names: the shared PostgreSQL database (`database`), opened and
    /// migrated, with this instance's name `instance`; else SQLite in `state_dir`.
    pub fn open(config: &crate::config::Config, instance: Option<&str>) -> Result<State, StoreError> {
        let Some(db) = &config.database else {
            return Ok(State::new(Store::open(&config.state_dir)?));
        };
        let connect = postgres::Connect::for_config(db)?;
        let first = Store::open_postgres(&connect, instance)?;
        let mut free = vec![first];
        // The others connect when first lent.
        for _ in 1..POOL_SIZE {
            free.push(Store::postgres_later(&connect, instance));
        }
        Ok(State {
            backend: std::sync::Arc::new(Backend::Pool(Pool {
                free: std::sync::Mutex::new(free),
                returned: std::sync::Condvar::new(),
                instance: instance.map(str::to_string),
                connect: Box::new(connect),
            })),
        })
    }

    /// One more session of the shared database, apart from the pool (the leases' rounds must
    /// not wait behind the watchers); `None` with SQLite.
    pub fn own_session(&self) -> Option<State> {
        match &*self.backend {
            Backend::One(_) => None,
            Backend::Pool(p) => Some(State::new(Store::postgres_later(
                &p.connect,
                p.instance.as_deref(),
            ))),
        }
    }

    /// Runs `f` with the database, here (a notice and its answers are one transaction inside
    /// it). Blocks: only for code off the async workers.
    pub fn with<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        match &*self.backend {
            Backend::One(store) => {
                let guard = store.lock().unwrap_or_else(|p| p.into_inner());
                f(&guard)
            }
            Backend::Pool(pool) => {
                let store = {
                    let mut free = pool.free.lock().unwrap_or_else(|p| p.into_inner());
                    loop {
                        if let Some(s) = free.pop() {
                            break s;
                        }
                        free = pool.returned.wait(free).unwrap_or_else(|p| p.into_inner());
                    }
                };
                // Given back even when `f` panics.
                struct Lent<'a>(Option<Store>, &'a Pool);
                impl Drop for Lent<'_> {
                    fn drop(&mut self) {
                        if let Some(mut s) = self.0.take() {
                            // A session left mid-transaction by a panic is not lent again.
                            if std::thread::panicking() {
                                s = Store::postgres_later(&self.1.connect, self.1.instance.as_deref());
                            }
                            self.1.free.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                            self.1.returned.notify_one();
                        }
                    }
                }
                let lent = Lent(Some(store), pool);
                match &lent.0 {
                    Some(s) => f(s),
                    None => unreachable!("a lent session is present until dropped"),
                }
            }
        }
    }

    /// Runs `f` with the database on the blocking pool and waits for it without holding an
    /// async worker: what the watchers, the senders and the daemon's timers use.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let state = self.clone();
        off_workers(move || state.with(f)).await
    }
}

/// The runtime is shutting down: work sent to the blocking pool did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShuttingDown;

impl From<ShuttingDown> for StoreError {
    fn from(_: ShuttingDown) -> StoreError {
        StoreError::ShuttingDown
    }
}

/// Runs `f` (blocking work: the state, an authorization server) on tokio's blocking pool and
/// waits for it without holding an async worker. A panic in `f` goes on in the caller.
pub async fn off_workers<T: Send + 'static, E: From<ShuttingDown> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ShuttingDown.into()),
    }
}

/// The one way a query's error becomes a [`StoreError`] (naming the database file):
/// `query.or_store(self)`.
trait OrStore<T> {
    fn or_store(self, store: &Store) -> Result<T, StoreError>;
}

impl<T> OrStore<T> for Result<T, DbError> {
    fn or_store(self, store: &Store) -> Result<T, StoreError> {
        self.map_err(|e| store.err(e))
    }
}

impl<T> OrStore<T> for rusqlite::Result<T> {
    fn or_store(self, store: &Store) -> Result<T, StoreError> {
        self.map_err(|e| store.err(DbError::Sqlite(e)))
    }
}

/// The state database: the SQLite file, or one session of the shared PostgreSQL database.
pub struct Store {
    db: Db,
    /// The database named for errors: the SQLite file, or the PostgreSQL URL without its
    /// password.
    path: PathBuf,
    /// This instance's name when several share PostgreSQL: the mailboxes it records for must
    /// be leased to it, and the messages it claims carry it.
    instance: Option<String>,
}

/// The database's clock in milliseconds, in SQL (PostgreSQL): leases and instances live by it,
/// so no skew between machines decides who owns what.
macro_rules! now_ms {
    () => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    };
}
use now_ms;

/// Whether the PostgreSQL schema was created (by any instance).
const SCHEMA_CREATED: &str = "SELECT 1 FROM pg_tables WHERE tablename = 'schema_version'";

/// The lock that makes instances starting together run the schema's migrations one at a time.
const MIGRATION_LOCK: i64 = 0x626f_756e_6365;

impl Store {
    /// Opens (creating and migrating) `bouncedoc.sqlite` in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::Dir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join("bouncedoc.sqlite");
        let conn = Connection::open(&path).and_then(|conn| {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(conn)
        });
        Store::migrated(conn, path)
    }

    /// A state in memory (the processor's unit tests): migrated, nothing on disk.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::migrated(Connection::open_in_memory(), PathBuf::from(":memory:"))
    }

    /// Opens a session of the shared PostgreSQL database and runs the migrations not yet run
    /// (one instance at a time). `instance` names this instance when it leases mailboxes.
    pub fn open_postgres(connect: &postgres::Connect, instance: Option<&str>) -> Result<Store, StoreError> {
        let store = Store::postgres_later(connect, instance);
        store.migrate().or_store(&store)?;
        Ok(store)
    }

    /// A session of the shared database that connects when first used (the pool's others).
    fn postgres_later(connect: &postgres::Connect, instance: Option<&str>) -> Store {
        Store {
            db: Db::Postgres(db::Pg::new(connect.clone())),
            path: PathBuf::from(connect.label()),
            instance: instance.map(str::to_string),
        }
    }

    fn migrated(conn: rusqlite::Result<Connection>, path: PathBuf) -> Result<Store, StoreError> {
        let store = Store::over(conn, path)?;
        store.migrate().or_store(&store)?;
        Ok(store)
    }

    fn over(conn: rusqlite::Result<Connection>, path: PathBuf) -> Result<Store, StoreError> {
        match conn {
            Ok(conn) => Ok(Store {
                db: Db::Sqlite(conn),
                path,
                instance: None,
            }),
            Err(source) => Err(StoreError::Sqlite { path, source }),
        }
    }

    /// Opens a session of the shared PostgreSQL database for reading only (`status`,
    /// `history`, `check-config`): nothing is created, migrated or written. `Ok(None)` when
    /// no instance has created the schema yet.
    pub fn look_postgres(connect: &postgres::Connect) -> Result<Option<Store>, StoreError> {
        let store = Store::postgres_later(connect, None);
        store
            .db
            .batch("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            .or_store(&store)?;
        let created = store.db.exists(SCHEMA_CREATED, p![]).or_store(&store)?;
        Ok(created.then_some(store))
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
        .and_then(|conn| {
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(conn)
        });
        Store::over(conn, path)
    }

    /// Whether this is the shared PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    fn err(&self, e: DbError) -> StoreError {
        match e {
            DbError::Sqlite(source) => StoreError::Sqlite {
                path: self.path.clone(),
                source,
            },
            DbError::Postgres(source) => StoreError::Postgres {
                database: self.path.display().to_string(),
                source,
            },
            DbError::Decode(what) => StoreError::Decode {
                database: self.path.display().to_string(),
                what,
            },
            DbError::NotOwner(mailbox) => StoreError::NotOwner { mailbox },
        }
    }

    /// Whether the query `sql` (a `SELECT 1 …`) finds a row.
    fn exists(&self, sql: &str, params: &[db::Param<'_>]) -> Result<bool, StoreError> {
        self.db.exists(sql, params).or_store(self)
    }

    /// What claims carry: this instance's name (`""` for the one process of SQLite).
    fn claimer(&self) -> &str {
        self.instance.as_deref().unwrap_or("")
    }

    /// Inside a transaction that records for `mailbox`: with leases, the mailbox must still be
    /// this instance's (the row is held until the commit, so no other instance takes it over
    /// half-way). Without leases there is nothing to check.
    fn fence(&self, mailbox: &str) -> Result<(), DbError> {
        let Some(me) = self.instance.as_deref() else {
            return Ok(());
        };
        let mine = self.db.exists(
            concat!(
                "SELECT 1 FROM lease WHERE mailbox = ?1 AND owner = ?2 AND expires > ",
                now_ms!(),
                " FOR SHARE"
            ),
            p![mailbox, me],
        )?;
        if mine {
            Ok(())
        } else {
            Err(DbError::NotOwner(mailbox.to_string()))
        }
    }

    /// Runs the migrations not yet run, each in its own transaction with its version.
    fn migrate(&self) -> Result<(), DbError> {
        if self.db.is_postgres() {
            return self.db.tx(|| {
                self.db
                    .execute("SELECT pg_advisory_xact_lock(?1)", p![MIGRATION_LOCK])?;
                let created = self.db.exists(SCHEMA_CREATED, p![])?;
                if !created {
                    self.db
                        .batch("CREATE TABLE schema_version (version BIGINT NOT NULL)")?;
                }
                let version = match self.db.query_opt("SELECT version FROM schema_version", p![])? {
                    Some(r) => r.int(0)? as usize,
                    None => {
                        self.db
                            .execute("INSERT INTO schema_version (version) VALUES (0)", p![])?;
                        0
                    }
                };
                for sql in MIGRATIONS.iter().skip(version) {
                    self.db.batch(&db::dialect(sql))?;
                }
                self.db
                    .execute("UPDATE schema_version SET version = ?1", p![MIGRATIONS.len()])?;
                Ok(())
            });
        }
        let Db::Sqlite(conn) = &self.db else {
            return Ok(());
        };
        let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version (how many migrations ran).
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        match &self.db {
            Db::Sqlite(conn) => conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .or_store(self),
            Db::Postgres(_) => self
                .db
                .query_one("SELECT version FROM schema_version", p![])
                .and_then(|r| r.int(0))
                .map(|v| v as usize)
                .or_store(self),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Role;

    #[test]
    fn a_state_call_waiting_for_the_database_does_not_hold_the_async_worker() {
        // One async worker: were `run` to wait for the database on it, nothing else could run
        // until the database was free, so the release below could never be sent.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let state = State::new(Store::open_in_memory().unwrap());
        let busy = state.backend.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let Backend::One(store) = &*busy else {
                unreachable!("SQLite")
            };
            let _writing = store.lock().unwrap();
            locked_tx.send(()).unwrap();
            // True when released by the async side, false when it gave up waiting.
            release_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .is_ok()
        });
        locked_rx.recv().unwrap();
        let version = rt.block_on(async {
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let call = tokio::spawn(async move {
                let _ = started_tx.send(());
                state.run(|s| s.schema_version()).await
            });
            // The call has begun and waits for the database; this task still runs.
            started_rx.await.unwrap();
            release_tx.send(()).unwrap();
            call.await.unwrap()
        });
        assert!(
            holder.join().unwrap(),
            "the database was released by the async side"
        );
        assert_eq!(version.unwrap(), MIGRATIONS.len());
    }

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
            thread: Some(ThreadStep {
                original: "mid:o1@x",
                recipient: "bob@y",
                verdict: "reply_user/recipient_domain",
                state: crate::vocab::ThreadState::Open,
            }),
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
                thread: Some(ThreadStep {
                    original: &thread_key,
                    recipient: "bob@y",
                    verdict: "reply_user/unexplained",
                    state: crate::vocab::ThreadState::Open,
                }),
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
