//! One mailbox's task. It logs in, SELECTs the folder, and remembers the folder's UIDVALIDITY
//! and the last UID processed (in the state, with each notice). New messages are fetched with
//! `BODY.PEEK[]` (nothing is marked read) and handed to [`crate::process`]; then it waits with
//! IDLE (re-issued every [`IDLE_REFRESH`]) or polls. Any network error or server restart:
//! reconnect with exponential backoff and jitter (1 s to 5 min), then catch up. A refused
//! login: one clear line and a long wait ([`AUTH_BACKOFF`]), never a tight loop. A changed
//! UIDVALIDITY: rescan; notices answered before are recognized and not answered again.
//! The user's mail is never moved or flagged unless `after_processing` says so.

use super::imap::{self, ImapError, Session};
use crate::config::{AfterProcessing, WatchMode};
use crate::process::{Answerer, Processed};
use crate::store::{Cursor, StoreError};
use futures::TryStreamExt;
use std::time::Duration;
use tokio::sync::watch;

/// How long one IDLE lasts before it is re-issued (RFC 2177: before 29 minutes).
pub const IDLE_REFRESH: Duration = Duration::from_secs(25 * 60);
/// Shortest reconnect delay.
pub const FIRST_RECONNECT: Duration = Duration::from_secs(1);
/// Longest reconnect delay after network errors.
pub const MAX_RECONNECT: Duration = Duration::from_secs(300);
/// The delay after a refused login (a wrong password does not fix itself quickly; a reload
/// with the right one restarts the mailbox at once).
pub const AUTH_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Messages larger than this are not fetched (a notice is small; the original it quotes may
/// not be).
pub const MAX_MESSAGE: u32 = 25 * 1024 * 1024;
/// How often a mailbox with messages held back by the rate limits looks whether a summary
/// may go out.
pub const HELD_RECHECK: Duration = Duration::from_secs(60);
/// UIDs fetched per round trip.
const CHUNK: usize = 50;
/// A command that takes longer than this means the connection is dead.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// After shutdown is asked for, how long the current notice may still take.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Logging in failed.
    #[error(transparent)]
    Imap(#[from] ImapError),
    /// The session broke or the server answered an error.
    #[error("IMAP: {0}")]
    Session(String),
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn session_err(e: impl std::fmt::Display) -> WatchError {
    WatchError::Session(e.to_string())
}

async fn timed<T, E: std::fmt::Display>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, WatchError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(r) => r.map_err(|e| WatchError::Session(format!("{what}: {e}"))),
        Err(_) => Err(WatchError::Session(format!(
            "{what}: no answer in {} s",
            COMMAND_TIMEOUT.as_secs()
        ))),
    }
}

/// A number in [0, 1) that differs between calls (for jitter).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The delay before reconnect attempt `failures + 1`: doubling from 1 s to 5 min, with equal
/// jitter (half fixed, half random) so many mailboxes do not reconnect in step.
pub fn reconnect_delay(failures: u32) -> Duration {
    let full = (FIRST_RECONNECT * (1u32 << failures.min(16))).min(MAX_RECONNECT);
    let half = full / 2;
    (half + half.mul_f64(jitter())).max(FIRST_RECONNECT)
}

/// Resolves when `stop` says true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// IMAP SEARCH's date form, e.g. `27-Nov-2026`.
fn imap_date(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let dt = mail_parser::DateTime::from_timestamp(unix);
    let month = MONTHS[(dt.month.clamp(1, 12) - 1) as usize];
    format!("{}-{month}-{}", dt.day, dt.year)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Watches one mailbox until `stop` says true: sessions, reconnects, backoff.
pub async fn watch(answerer: Answerer, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut connected = false;
        let result = session(&answerer, &mut stop, &mut connected).await;
        if connected {
            failures = 0;
        }
        let delay = match result {
            Ok(()) => return,
            Err(WatchError::Imap(ImapError::Auth(e))) => {
                tracing::error!(
                    error = %e,
                    retry_in_s = AUTH_BACKOFF.as_secs(),
                    "IMAP login refused: check the mailbox's username and password; other mailboxes go on"
                );
                AUTH_BACKOFF
            }
            Err(e) => {
                let d = reconnect_delay(failures);
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "mailbox disconnected; reconnecting");
                d
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// One IMAP session: log in, select, catch up, wait for more; returns `Ok` when stopped.
async fn session(
    a: &Answerer,
    stop: &mut watch::Receiver<bool>,
    connected: &mut bool,
) -> Result<(), WatchError> {
    let cfg = &a.mailbox;
    let secret = cfg.imap.password.clone();
    let password = tokio::task::spawn_blocking(move || secret.resolve())
        .await
        .map_err(session_err)?
        .map_err(ImapError::Secret)?;
    let mut s = imap::connect(&cfg.imap, &password).await?;
    drop(password);
    let caps = timed("CAPABILITY", s.capabilities()).await?;
    let can_idle = caps.has_str("IDLE");
    let can_move = caps.has_str("MOVE");
    let idle = cfg.mode == WatchMode::Idle && can_idle;
    if cfg.mode == WatchMode::Idle && !can_idle {
        tracing::warn!(
            poll_interval_s = cfg.poll_interval.as_secs(),
            "server does not offer IDLE; polling"
        );
    }
    let mb = timed("SELECT", s.select(&cfg.folder)).await?;
    let uidvalidity = mb
        .uid_validity
        .ok_or_else(|| WatchError::Session("SELECT gave no UIDVALIDITY".into()))?;
    let name = cfg.name.as_str();
    let mut cursor = match a.outbox.with_store(|st| st.cursor(name))? {
        Some(c) if c.uidvalidity == uidvalidity => c,
        Some(old) => {
            tracing::warn!(
                old = old.uidvalidity,
                new = uidvalidity,
                "UIDVALIDITY changed: rescanning the folder; notices answered before are recognized and not answered again"
            );
            let c = Cursor {
                uidvalidity,
                last_uid: 0,
            };
            a.outbox.with_store(|st| st.set_cursor(name, c))?;
            c
        }
        None => {
            // First start: what is already in the folder is history, not news.
            let c = Cursor {
                uidvalidity,
                last_uid: mb.uid_next.map_or(0, |n| n.saturating_sub(1)),
            };
            tracing::info!(
                existing = mb.exists,
                "first start: messages already in the folder are left alone"
            );
            a.outbox.with_store(|st| st.set_cursor(name, c))?;
            c
        }
    };
    let since = a
        .outbox
        .with_store(|st| st.cursor_since(name))?
        .unwrap_or_else(now);
    *connected = true;
    tracing::info!(folder = %cfg.folder, idle, uidvalidity, last_uid = cursor.last_uid, "watching");
    let mut selected = tokio::time::Instant::now();
    loop {
        // The server tells a selected session little about its folder being replaced: look
        // again at each poll and each IDLE renewal.
        if !idle || selected.elapsed() >= IDLE_REFRESH {
            let again = timed("SELECT", s.select(&cfg.folder)).await?;
            if again.uid_validity != Some(uidvalidity) {
                return Err(WatchError::Session(
                    "the folder's UIDVALIDITY changed while selected".into(),
                ));
            }
            selected = tokio::time::Instant::now();
        }
        if !catch_up(a, &mut s, stop, &mut cursor, since, can_move).await? {
            break;
        }
        a.rechecks().await?;
        a.summarize_held()?;
        if *stop.borrow() {
            break;
        }
        drain(&mut s);
        let mut wait = if idle { IDLE_REFRESH } else { cfg.poll_interval };
        if let Some(at) = a.next_recheck()? {
            wait = wait.min(Duration::from_secs((at - now()).clamp(1, i64::MAX) as u64));
        }
        if a.has_held()? {
            // The hourly window frees up a little every so often: look again in a minute.
            wait = wait.min(HELD_RECHECK);
        }
        if idle {
            let mut h = s.idle();
            timed("IDLE", h.init()).await?;
            let stopping = {
                // The server's keep-alives reset async-imap's own timeout: the outer sleep
                // makes sure IDLE is re-issued in time, and a dead connection is noticed.
                let (fut, interrupt) = h.wait_with_timeout(wait);
                let stopping = tokio::select! {
                    r = fut => { r.map_err(session_err)?; false }
                    _ = tokio::time::sleep(wait) => false,
                    _ = stopped(stop) => true,
                };
                drop(interrupt);
                stopping
            };
            s = timed("DONE", h.done()).await?;
            if stopping {
                break;
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped(stop) => break,
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), s.logout()).await;
    tracing::info!("logged out");
    Ok(())
}

/// Drops the unsolicited responses async-imap kept (EXISTS, EXPUNGE): the next UID SEARCH
/// finds what is new.
fn drain(s: &mut Session) {
    while s.unsolicited_responses.try_recv().is_ok() {}
}

/// Fetches and processes everything after the cursor, in UID order. Returns `false` when
/// asked to stop (between messages: the current notice is finished first).
async fn catch_up(
    a: &Answerer,
    s: &mut Session,
    stop: &mut watch::Receiver<bool>,
    cursor: &mut Cursor,
    since: i64,
    can_move: bool,
) -> Result<bool, WatchError> {
    let name = a.mailbox.name.as_str();
    loop {
        let query = if cursor.last_uid == 0 {
            // A rescan: only what arrived since the bot started watching this mailbox.
            format!("UID 1:* SINCE {}", imap_date(since))
        } else {
            format!("UID {}:*", cursor.last_uid.saturating_add(1))
        };
        let found = timed("UID SEARCH", s.uid_search(&query)).await?;
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > cursor.last_uid).collect();
        if uids.is_empty() {
            return Ok(true);
        }
        uids.sort_unstable();
        for chunk in uids.chunks(CHUNK) {
            let set = chunk.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let sizes: Vec<_> = timed("UID FETCH", async {
                s.uid_fetch(&set, "(UID RFC822.SIZE)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            let wanted: Vec<u32> = sizes
                .iter()
                .filter_map(|f| match (f.uid, f.size) {
                    (Some(uid), Some(size)) if size <= MAX_MESSAGE => Some(uid),
                    (Some(uid), size) => {
                        tracing::warn!(uid, size, "message too large to be a notice; skipped");
                        None
                    }
                    _ => None,
                })
                .collect();
            let mut bodies: Vec<(u32, Vec<u8>)> = Vec::with_capacity(wanted.len());
            if !wanted.is_empty() {
                let set = wanted.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                let fetched: Vec<_> = timed("UID FETCH", async {
                    s.uid_fetch(&set, "(UID BODY.PEEK[])")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
                for f in fetched {
                    if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                        bodies.push((uid, body.to_vec()));
                    }
                }
                bodies.sort_by_key(|(uid, _)| *uid);
            }
            let mut handled = Vec::new();
            for (uid, raw) in &bodies {
                if *stop.borrow() {
                    after_processing(a, s, &handled, can_move).await?;
                    return Ok(false);
                }
                let processed = tokio::select! {
                    r = a.message(cursor.uidvalidity, *uid, raw) => r?,
                    _ = async { stopped(stop).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                        tracing::warn!(uid, "shutdown: left this notice for the next start");
                        after_processing(a, s, &handled, can_move).await?;
                        return Ok(false);
                    }
                };
                if matches!(processed, Processed::Recorded { .. }) {
                    handled.push(*uid);
                }
                cursor.last_uid = cursor.last_uid.max(*uid);
            }
            // Messages that were not notices (or too large) move the cursor too.
            cursor.last_uid = chunk.iter().copied().fold(cursor.last_uid, u32::max);
            a.outbox.with_store(|st| st.set_cursor_forward(name, *cursor))?;
            after_processing(a, s, &handled, can_move).await?;
        }
    }
}

/// Sets the configured keyword on, or moves, the notices just recorded.
async fn after_processing(
    a: &Answerer,
    s: &mut Session,
    uids: &[u32],
    can_move: bool,
) -> Result<(), WatchError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    match &a.mailbox.after_processing {
        AfterProcessing::Leave => {}
        AfterProcessing::Keyword(k) => {
            timed("UID STORE", async {
                s.uid_store(&set, format!("+FLAGS.SILENT ({k})"))
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
        }
        AfterProcessing::MoveTo(folder) => {
            if can_move {
                timed("UID MOVE", s.uid_mv(&set, folder)).await?;
            } else {
                timed("UID COPY", s.uid_copy(&set, folder)).await?;
                timed("UID STORE", async {
                    s.uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await?;
                timed("UID EXPUNGE", async {
                    s.uid_expunge(&set).await?.try_collect::<Vec<_>>().await
                })
                .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_double_with_jitter_from_1s_to_5min() {
        for failures in 0..20 {
            let full = (FIRST_RECONNECT * (1u32 << failures.min(16))).min(MAX_RECONNECT);
            for _ in 0..20 {
                let d = reconnect_delay(failures);
                assert!(
                    d >= FIRST_RECONNECT.max(full / 2) && d <= full,
                    "{failures}: {d:?}"
                );
            }
        }
        assert!(reconnect_delay(30) <= MAX_RECONNECT);
        // RFC 2177: IDLE is renewed before the server's 30-minute timeout (29 with margin).
        assert!(IDLE_REFRESH < Duration::from_secs(29 * 60));
    }

    #[test]
    fn imap_dates() {
        assert_eq!(imap_date(1_795_816_143), "27-Nov-2026");
        assert_eq!(imap_date(0), "1-Jan-1970");
    }
}
