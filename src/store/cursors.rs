//! Each mailbox's position: UIDVALIDITY, the last UID processed, the rescan flag.

use super::*;
use rusqlite::{params, OptionalExtension};

impl Store {
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
            .or_store(self)
    }

    /// Sets a mailbox's cursor (a new UIDVALIDITY: the watch keeps its start date).
    pub fn set_cursor(&self, mailbox: &str, c: Cursor) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE cursor SET uidvalidity = ?2, last_uid = ?3, rescan = ?4 WHERE mailbox = ?1",
                params![mailbox, c.uidvalidity, c.last_uid, c.rescan],
            )
            .map(|_| ())
            .or_store(self)
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
            .or_store(self)
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
            .or_store(self)
    }

    /// Moves a mailbox's cursor forward (never back) within the same UIDVALIDITY.
    pub fn set_cursor_forward(&self, mailbox: &str, c: Cursor) -> Result<(), StoreError> {
        advance_cursor(&self.conn, mailbox, c.uidvalidity, c.last_uid).or_store(self)
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
            .or_store(self)
    }
}

/// Moves a mailbox's cursor forward to `uid` (never back) within the same UIDVALIDITY; progress
/// past UID 0 ends a rescan.
pub(super) fn advance_cursor(
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
