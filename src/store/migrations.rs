//! The schema, one migration at a time; `PRAGMA user_version` counts how many ran. A
//! database written by an older release migrates forward on open.

/// The migrations, in order; `user_version` counts how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 5: one row rewritten by the readiness check (`/readyz`: the state can be written).
    "CREATE TABLE probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);",
    // 6: when each mailbox last had its weekly digest.
    "CREATE TABLE digest (mailbox TEXT PRIMARY KEY, last INTEGER NOT NULL);",
    // 7: several instances on one PostgreSQL database (unused by SQLite's one process): who is
    // alive until when, which instance watches which mailbox until when (milliseconds of the
    // database's clock), and which instance claimed a message it is sending.
    "CREATE TABLE instance (id TEXT PRIMARY KEY, started INTEGER NOT NULL, expires INTEGER NOT NULL);
    CREATE TABLE lease (mailbox TEXT PRIMARY KEY, owner TEXT NOT NULL, expires INTEGER NOT NULL);
    CREATE INDEX lease_owner ON lease (owner);
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;",
];
