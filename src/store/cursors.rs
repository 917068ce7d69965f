//! Each mailbox's position: UIDVALIDITY, the last UID processed, the rescan flag.

use super::*;

impl Store {
    /// A mailbox's cursor, if it has one.
    pub fn cursor(&self, mailbox: &str) -> Result<Option<Cursor>, StoreError> {
        self.db
            .query_opt(
                "SELECT uidvalidity, last_uid, rescan FROM cursor WHERE mailbox = ?1",
                p![mailbox],
            )
            .and_then(|r| match r {
                Some(r) => Ok(Some(Cursor {
                    uidvalidity: r.u32(0)?,
                    last_uid: r.u32(1)?,
                    rescan: r.flag(2)?,
                })),
                None => Ok(None),
            })
            .or_store(self)
    }

    /// Sets a mailbox's cursor (a new UIDVALIDITY: the watch keeps its start date).
    pub fn set_cursor(&self, mailbox: &str, c: Cursor) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE cursor SET uidvalidity = ?2, last_uid = ?3, rescan = ?4 WHERE mailbox = ?1",
                p![mailbox, c.uidvalidity, c.last_uid, c.rescan],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Starts a mailbox's cursor afresh: a first start, or a different server, account or
    /// folder (`identity`) than the cursor was kept for. The watch's start date is now.
    pub fn start_cursor(&self, mailbox: &str, identity: &str, c: Cursor) -> Result<(), StoreError> {
        self.db
            .execute(
                "INSERT INTO cursor (mailbox, identity, uidvalidity, last_uid, rescan, since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (mailbox) DO UPDATE SET identity = excluded.identity,
                    uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid,
                    rescan = excluded.rescan, since = excluded.since",
                p![mailbox, identity, c.uidvalidity, c.last_uid, c.rescan, now()],
            )
            .map(|_| ())
            .or_store(self)
    }

    /// Which server, account and folder a mailbox's cursor was kept for.
    pub fn cursor_identity(&self, mailbox: &str) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt("SELECT identity FROM cursor WHERE mailbox = ?1", p![mailbox])
            .and_then(|r| r.map(|r| r.text(0)).transpose())
            .or_store(self)
    }

    /// Moves a mailbox's cursor forward (never back) within the same UIDVALIDITY.
    pub fn set_cursor_forward(&self, mailbox: &str, c: Cursor) -> Result<(), StoreError> {
        advance_cursor(&self.db, mailbox, c.uidvalidity, c.last_uid).or_store(self)
    }

    /// When the bot started watching a mailbox (Unix seconds): a rescan after a UIDVALIDITY
    /// change looks no further back.
    pub fn cursor_since(&self, mailbox: &str) -> Result<Option<i64>, StoreError> {
        self.db
            .query_opt("SELECT since FROM cursor WHERE mailbox = ?1", p![mailbox])
            .and_then(|r| r.map(|r| r.int(0)).transpose())
            .or_store(self)
    }
}

/// Moves a mailbox's cursor forward to `uid` (never back) within the same UIDVALIDITY; progress
/// past UID 0 ends a rescan.
pub(super) fn advance_cursor(db: &Db, mailbox: &str, uidvalidity: u32, uid: u32) -> Result<(), DbError> {
    db.execute(
        "UPDATE cursor SET last_uid = CASE WHEN last_uid > ?3 THEN last_uid ELSE ?3 END,
                rescan = CASE WHEN ?3 = 0 THEN rescan ELSE 0 END
         WHERE mailbox = ?1 AND uidvalidity = ?2",
        p![mailbox, uidvalidity, uid],
    )
    .map(|_| ())
}
