//! One mailbox's task. It logs in, SELECTs the folder, and remembers the folder's UIDVALIDITY
//! and the last UID processed (in the state, with each notice). New messages are fetched with
//! `BODY.PEEK[]` (nothing is marked read) and handed to [`crate::process`]; then it waits with
//! IDLE (re-issued every [`IDLE_REFRESH`]) or polls. Any network error or server restart:
//! reconnect with exponential backoff and jitter (1 s to 5 min), then catch up. A refused
//! login: one clear line and a long wait ([`AUTH_BACKOFF`]), never a tight loop. A changed
//! UIDVALIDITY: rescan; notices answered before are recognized and not answered again.
//! The user's mail is never moved or flagged unless `after_processing` says so.

use super::imap::{self, throttle_hint, ImapError, Session};
use crate::config::{AfterProcessing, WatchMode};
use crate::process::{Answerer, Budget, Overrun, ProcessError, Processed};
use crate::signin::{Credential, Renew};
use crate::store::{now, Cursor, StoreError};
use futures::TryStreamExt;
use std::time::Duration;
use tokio::sync::watch;

/// How long one IDLE lasts before it is re-issued (RFC 2177: before 29 minutes; Exchange Online
/// silently stops pushing in an IDLE older than 30 minutes; sooner keeps NAT mappings alive and
/// bounds how late a missed EXISTS can be noticed).
pub const IDLE_REFRESH: Duration = Duration::from_secs(5 * 60);
/// Shortest reconnect delay.
pub const FIRST_RECONNECT: Duration = Duration::from_secs(1);
/// Longest reconnect delay after network errors.
pub const MAX_RECONNECT: Duration = Duration::from_secs(300);
/// The delay after a refused login (a wrong password does not fix itself quickly; a reload
/// with the right one restarts the mailbox at once).
pub const AUTH_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Messages larger than this are not fetched (a notice is small; the original it quotes may
/// not be).
pub const MAX_MESSAGE: u32 = 10 * 1024 * 1024;
/// Bytes fetched per round trip at most (one larger message is fetched alone).
const FETCH_BUDGET: u64 = 8 * 1024 * 1024;
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
    /// No password or token could be had.
    #[error(transparent)]
    SignIn(#[from] crate::signin::SignInError),
}

impl From<ProcessError> for WatchError {
    fn from(e: ProcessError) -> WatchError {
        match e {
            ProcessError::Store(e) => WatchError::Store(e),
            ProcessError::Abandoned => WatchError::Session("processing given up".into()),
        }
    }
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

/// The delay before trying again after the state database failed `failures` times in a row:
/// 2 s doubling to 30 s (space freed on a full disk should be used soon).
pub fn store_retry_delay(failures: u32) -> Duration {
    (Duration::from_secs(2) * (1u32 << failures.min(4))).min(Duration::from_secs(30))
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

/// Watches one mailbox until `stop` says true: sessions, reconnects, backoff.
pub async fn watch(answerer: Answerer, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    let name = answerer.mailbox.name.clone();
    let metrics = crate::metrics::get();
    metrics.set_up(&name, false);
    let mut sessions = 0u64;
    // The first logins of many mailboxes are spread out, not all in the same instant.
    let spread = crate::watch::logins::start_spread(answerer.config.mailboxes.len());
    tokio::select! {
        _ = tokio::time::sleep(spread.mul_f64(jitter())) => {}
        _ = stopped(&mut stop) => return,
    }
    loop {
        if *stop.borrow() {
            return;
        }
        if sessions > 0 {
            metrics.imap_reconnects.with_label_values(&[&name]).inc();
        }
        sessions += 1;
        let mut connected = false;
        let result = session(&answerer, &mut stop, &mut connected).await;
        metrics.set_up(&name, false);
        // A session that got going resets the backoff, unless the state database is what
        // failed (then the waits grow while it stays broken).
        if connected && !matches!(result, Err(WatchError::Store(_))) {
            failures = 0;
        }
        let delay = match result {
            Ok(()) => return,
            Err(WatchError::Store(e)) => {
                // Disk full, or a broken database: nothing new is taken; the cursor did not
                // move, so what arrived meanwhile is read once the state can be written.
                let d = store_retry_delay(failures);
                failures = failures.saturating_add(1);
                tracing::error!(
                    error = %e,
                    retry_in_s = d.as_secs(),
                    "the state database cannot be written (disk full?): no new notices are taken until it can; the mailbox's position is kept, nothing is lost"
                );
                d
            }
            Err(WatchError::Imap(ImapError::Auth(e))) => {
                let what = match answerer.mailbox.imap.sign_in {
                    crate::config::SignIn::Password(_) => "check the mailbox's username and password",
                    _ => "check the mailbox's username and what its token may access (the application's permission on this mailbox)",
                };
                tracing::error!(
                    error = %e,
                    retry_in_s = AUTH_BACKOFF.as_secs(),
                    "IMAP login refused: {what}; other mailboxes go on"
                );
                AUTH_BACKOFF
            }
            Err(WatchError::SignIn(e)) if e.needs_a_person() => {
                tracing::error!(
                    error = %e,
                    retry_in_s = AUTH_BACKOFF.as_secs(),
                    "cannot sign in to the mailbox; other mailboxes go on"
                );
                // A new `bouncedoc login` ends the wait at once.
                if let Some(file) = login_file(&answerer) {
                    tokio::select! {
                        _ = tokio::time::sleep(AUTH_BACKOFF) => {}
                        _ = changed(&file) => tracing::info!("a new sign-in was stored; signing in"),
                        _ = stopped(&mut stop) => return,
                    }
                    continue;
                }
                AUTH_BACKOFF
            }
            Err(e) => {
                let mut d = reconnect_delay(failures);
                failures = failures.saturating_add(1);
                if let Some(asked) = throttle_hint(&e.to_string()) {
                    tracing::warn!(
                        wait_ms = asked.as_millis() as u64,
                        "the server asks us to slow down; obeyed"
                    );
                    d = d.max(asked);
                }
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

/// The refresh token file this mailbox's IMAP sign-in uses, if it uses one.
fn login_file(a: &Answerer) -> Option<std::path::PathBuf> {
    match &a.mailbox.imap.sign_in {
        crate::config::SignIn::OAuth2(o) if o.flow == crate::config::Flow::RefreshToken => {
            Some(crate::signin::refresh::path(&a.config.state_dir, &o.owner))
        }
        _ => None,
    }
}

/// Returns when `file` is written (looked at every few seconds: a stat, no more).
async fn changed(file: &std::path::Path) {
    let stamp = |f: &std::path::Path| std::fs::metadata(f).and_then(|m| m.modified()).ok();
    let before = stamp(file);
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if stamp(file) != before {
            return;
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
    // A login slot at this server, held until logged in (or failed): restarts come back in
    // waves, never as a herd.
    let slot = a.logins.slot(&cfg.imap.host, cfg.imap.port).await;
    let (credential, cached) = a.tokens.credential(&cfg.imap.sign_in, Renew::Cached).await?;
    let mut s = match imap::connect(&cfg.imap, &credential).await {
        // A token the server no longer takes (revoked, or its session ended early): one new
        // token, one more try, before the long wait of a refused login.
        Err(ImapError::Auth(e)) if cached => {
            tracing::info!(error = %e, "the server refused a cached access token; trying once with a new one");
            let refused = match &credential {
                Credential::Bearer(t) => Renew::Not(t),
                Credential::Password(_) => Renew::Fresh,
            };
            let (fresh, _) = a.tokens.credential(&cfg.imap.sign_in, refused).await?;
            imap::connect(&cfg.imap, &fresh).await?
        }
        other => other?,
    };
    drop(credential);
    drop(slot);
    let caps = timed("CAPABILITY", s.capabilities()).await?;
    let can_idle = caps.has_str("IDLE");
    let can_move = caps.has_str("MOVE");
    let can_expunge_uids = caps.has_str("UIDPLUS");
    if let AfterProcessing::MoveTo(folder) = &cfg.after_processing {
        if !can_move && !can_expunge_uids {
            tracing::warn!(to = %folder, "the server offers neither MOVE nor UIDPLUS: answered notices are left in place");
        }
    }
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
    // The cursor belongs to one server, account and folder: another one starts afresh.
    let identity = format!(
        "{}@{}:{}/{}",
        cfg.imap.username, cfg.imap.host, cfg.imap.port, cfg.folder
    );
    let owned = name.to_string();
    let (stored, kept) = a
        .state
        .run(move |st| Ok((st.cursor_identity(&owned)?, st.cursor(&owned)?)))
        .await?;
    let kept = match kept {
        Some(c) if stored.as_deref() == Some(identity.as_str()) => Some(c),
        Some(_) => {
            tracing::warn!(now = %identity, "the mailbox's server, account or folder changed: starting afresh from its newest message");
            None
        }
        None => None,
    };
    let mut cursor = match kept {
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
                rescan: true,
            };
            let owned = name.to_string();
            a.state.run(move |st| st.set_cursor(&owned, c)).await?;
            c
        }
        None => {
            // First start: what is already in the folder is history, not news.
            let c = Cursor {
                uidvalidity,
                last_uid: mb.uid_next.map_or(0, |n| n.saturating_sub(1)),
                rescan: false,
            };
            tracing::info!(
                existing = mb.exists,
                "first start: messages already in the folder are left alone"
            );
            let (owned, identity) = (name.to_string(), identity.clone());
            a.state
                .run(move |st| st.start_cursor(&owned, &identity, c))
                .await?;
            c
        }
    };
    // A rescan looks back no further than the bot watched, nor than the state keeps records
    // (an older notice could not be recognized as answered); the search adds a day of margin
    // below, so two days come off the retention here.
    let kept = a.config.retention.saturating_sub(Duration::from_secs(2 * 86_400));
    let owned = name.to_string();
    let since = a
        .state
        .run(move |st| st.cursor_since(&owned))
        .await?
        .unwrap_or_else(now)
        .max(now() - kept.as_secs() as i64);
    *connected = true;
    tracing::info!(folder = %cfg.folder, idle, uidvalidity, last_uid = cursor.last_uid, "watching");
    crate::metrics::get().set_up(name, true);
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
        if !catch_up(a, &mut s, stop, &mut cursor, since, (can_move, can_expunge_uids)).await? {
            break;
        }
        // Rechecks (DNS and deciding) run off the async workers too; only when one is due,
        // so that idle mailboxes start no threads.
        if in_state(a, |w| w.next_recheck())
            .await?
            .is_some_and(|at| at <= now())
        {
            on_thread(a, &Budget::unlimited(), |w| async move { w.rechecks().await })
                .await
                .map_err(|e| WatchError::Session(format!("rechecks: {e}")))??;
        }
        let (next_recheck, held) = in_state(a, |w| {
            w.summarize_held()?;
            w.send_digest()?;
            Ok((w.next_recheck()?, w.has_held()?))
        })
        .await?;
        if *stop.borrow() {
            break;
        }
        if drain(&mut s) {
            // Something arrived during the last commands: look before waiting.
            continue;
        }
        let mut wait = if idle { IDLE_REFRESH } else { cfg.poll_interval };
        if let Some(at) = next_recheck {
            wait = wait.min(Duration::from_secs((at - now()).clamp(1, i64::MAX) as u64));
        }
        if held {
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

/// Empties the unsolicited responses async-imap kept; true when one announced new mail
/// (EXISTS, RECENT), which IDLE would not announce again.
fn drain(s: &mut Session) -> bool {
    use async_imap::types::UnsolicitedResponse;
    let mut news = false;
    while let Ok(r) = s.unsolicited_responses.try_recv() {
        news |= matches!(r, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
    }
    news
}

/// Fetches and processes everything after the cursor, in UID order. Returns `false` when
/// asked to stop (between messages: the current notice is finished first).
async fn catch_up(
    a: &Answerer,
    s: &mut Session,
    stop: &mut watch::Receiver<bool>,
    cursor: &mut Cursor,
    since: i64,
    caps: (bool, bool),
) -> Result<bool, WatchError> {
    let name = a.mailbox.name.as_str();
    loop {
        let mut query = format!("UID {}:*", cursor.last_uid.saturating_add(1));
        if cursor.rescan {
            // A rescan: only what arrived since the bot started watching (a day of margin:
            // SINCE compares dates in the server's time zone).
            query.push_str(&format!(" SINCE {}", imap_date(since - 86_400)));
        }
        let found = timed("UID SEARCH", s.uid_search(&query)).await?;
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > cursor.last_uid).collect();
        if uids.is_empty() {
            return Ok(true);
        }
        uids.sort_unstable();
        for chunk in uids.chunks(CHUNK) {
            let sizes: Vec<_> = timed("UID FETCH", async {
                s.uid_fetch(uid_set(chunk), "(UID RFC822.SIZE)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            let mut wanted: Vec<(u32, u32)> = Vec::new();
            for f in &sizes {
                match (f.uid, f.size) {
                    (Some(uid), Some(size)) if size <= MAX_MESSAGE => wanted.push((uid, size)),
                    (Some(uid), size) => {
                        tracing::warn!(uid, size, "message too large to be a notice; skipped");
                        crate::metrics::get().skip(&a.mailbox.name, "too_large");
                    }
                    _ => {}
                }
            }
            wanted.sort_unstable();
            // Bodies in batches of at most FETCH_BUDGET bytes, each with time for its size.
            let mut batches: Vec<Vec<(u32, u32)>> = Vec::new();
            let mut bytes = 0u64;
            for w in wanted {
                if batches.is_empty() || bytes + u64::from(w.1) > FETCH_BUDGET {
                    batches.push(Vec::new());
                    bytes = 0;
                }
                bytes += u64::from(w.1);
                if let Some(last) = batches.last_mut() {
                    last.push(w);
                }
            }
            for batch in batches {
                let uids: Vec<u32> = batch.iter().map(|(u, _)| *u).collect();
                let size: u64 = batch.iter().map(|(_, z)| u64::from(*z)).sum();
                let within = COMMAND_TIMEOUT + Duration::from_secs(size / 100_000);
                let fetched = tokio::time::timeout(within, async {
                    s.uid_fetch(uid_set(&uids), "(UID BODY.PEEK[])")
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                })
                .await
                .map_err(|_| WatchError::Session(format!("UID FETCH: no answer in {} s", within.as_secs())))?
                .map_err(|e| WatchError::Session(format!("UID FETCH: {e}")))?;
                let mut bodies: Vec<(u32, Vec<u8>)> = fetched
                    .iter()
                    .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
                    .collect();
                drop(fetched);
                bodies.sort_by_key(|(uid, _)| *uid);
                for uid in &uids {
                    if !bodies.iter().any(|(u, _)| u == uid) {
                        tracing::warn!(uid, "the server did not return this message's body; skipped");
                    }
                }
                let mut handled = Vec::new();
                for (uid, raw) in bodies {
                    if *stop.borrow() {
                        after_processing(a, s, &handled, caps).await;
                        return Ok(false);
                    }
                    let budget = Budget::new(a.config.limits.message_budget);
                    let work = process(a, &budget, cursor.uidvalidity, uid, raw);
                    let processed = tokio::select! {
                        r = work => r?,
                        _ = async { stopped(stop).await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                            // Whatever the message's thread still does, it writes nothing now.
                            budget.abandon();
                            tracing::warn!(uid, "shutdown: left this notice for the next start");
                            after_processing(a, s, &handled, caps).await;
                            return Ok(false);
                        }
                    };
                    if matches!(processed, Processed::Recorded { .. }) {
                        handled.push(uid);
                    }
                    cursor.last_uid = cursor.last_uid.max(uid);
                }
                after_processing(a, s, &handled, caps).await;
            }
            // Messages that were not notices (or too large) move the cursor too.
            cursor.last_uid = chunk.iter().copied().fold(cursor.last_uid, u32::max);
            cursor.rescan = false;
            let (owned, at) = (name.to_string(), *cursor);
            a.state.run(move |st| st.set_cursor_forward(&owned, at)).await?;
        }
    }
}

/// Runs `work` with a copy of the answerer on a blocking thread under `budget` (driving its
/// async parts, the DNS checks, from there): reading and deciding never occupy an async
/// worker, so the other mailboxes, the timers and the watchdog go on whatever one message
/// costs. The thread logs under the mailbox's span; if the watcher goes away meanwhile
/// (stopped, reloaded), the work can write nothing more.
async fn on_thread<T, F>(
    a: &Answerer,
    budget: &std::sync::Arc<Budget>,
    work: impl FnOnce(Answerer) -> F + Send + 'static,
) -> Result<T, Overrun>
where
    F: std::future::Future<Output = T>,
    T: Send + 'static,
{
    let mut worker = a.clone();
    worker.budget = budget.clone();
    let handle = tokio::runtime::Handle::current();
    let span = tracing::Span::current();
    crate::process::budget_run(budget, move || {
        handle.block_on(tracing::Instrument::instrument(work(worker), span))
    })
    .await
}

/// Runs a short step of the answerer's bookkeeping (`f` reads or writes the state: what is held,
/// the next recheck, a skip) on the blocking pool, under the mailbox's log span: the database
/// waits for the disk, the async workers do not.
async fn in_state<T: Send + 'static>(
    a: &Answerer,
    f: impl FnOnce(&Answerer) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let worker = a.clone();
    let span = tracing::Span::current();
    crate::store::off_workers(move || span.in_scope(|| f(&worker))).await
}

/// Processes one message on a blocking thread under `budget`. A message over its budget, or
/// whose processing panics (a bug), is recorded as skipped with the reason and the cursor
/// moves past it: it is never read again, and the mailbox goes on.
async fn process(
    a: &Answerer,
    budget: &std::sync::Arc<Budget>,
    uidvalidity: u32,
    uid: u32,
    raw: Vec<u8>,
) -> Result<Processed, WatchError> {
    let work = move |w: Answerer| async move { w.message(uidvalidity, uid, &raw).await };
    let overrun = match on_thread(a, budget, work).await {
        Ok(Ok(p)) => return Ok(p),
        Ok(Err(ProcessError::Store(e))) => return Err(e.into()),
        Ok(Err(ProcessError::Abandoned)) => return Ok(Processed::Skipped),
        Err(o) => o,
    };
    match overrun {
        Overrun::Panicked => tracing::error!(
            uid,
            "processing this message failed (a bug: please report it with the message); skipped, it will not be read again"
        ),
        Overrun::OverBudget(limit) => tracing::warn!(
            uid,
            budget_ms = limit.as_millis() as u64,
            "this message took longer than its time budget; skipped, it will not be read again"
        ),
        Overrun::NotStarted(waited) => tracing::error!(
            uid,
            waited_s = waited.as_secs(),
            "no thread was free to read this message (the machine cannot keep up); skipped, it will not be read again"
        ),
    }
    let reason = match overrun {
        Overrun::Panicked => "failed",
        Overrun::OverBudget(_) => "over_budget",
        Overrun::NotStarted(_) => "no_thread",
    };
    crate::metrics::get().skip(&a.mailbox.name, reason);
    let why = overrun.to_string();
    in_state(a, move |w| w.skip(uidvalidity, uid, &why)).await?;
    Ok(Processed::Skipped)
}

/// An IMAP UID set: `1,2,5`.
fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Sets the configured keyword on, or moves, the notices just recorded. A refusal is logged;
/// the watch goes on (a broken connection shows at the next command).
async fn after_processing(a: &Answerer, s: &mut Session, uids: &[u32], (can_move, uidplus): (bool, bool)) {
    if uids.is_empty() {
        return;
    }
    let set = uid_set(uids);
    let result = match &a.mailbox.after_processing {
        AfterProcessing::Leave => Ok(()),
        AfterProcessing::Keyword(k) => timed("UID STORE", async {
            s.uid_store(&set, format!("+FLAGS.SILENT ({k})"))
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await
        .map(|_| ()),
        AfterProcessing::MoveTo(folder) if can_move => timed("UID MOVE", s.uid_mv(&set, folder)).await,
        AfterProcessing::MoveTo(folder) if uidplus => move_by_copy(s, &set, folder).await,
        AfterProcessing::MoveTo(_) => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(uids = %set, error = %e, "after_processing failed; the notices stay as they are");
    }
}

/// MOVE for servers without it: COPY, \Deleted, and UID EXPUNGE (UIDPLUS) of those UIDs only.
async fn move_by_copy(s: &mut Session, set: &str, folder: &str) -> Result<(), WatchError> {
    timed("UID COPY", s.uid_copy(set, folder)).await?;
    timed("UID STORE", async {
        s.uid_store(set, "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    timed("UID EXPUNGE", async {
        s.uid_expunge(set).await?.try_collect::<Vec<_>>().await
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_double_with_jitter_from_1s_to_5min() {
        // The full delay per attempt, written out (not the production formula again).
        let table = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300];
        for failures in 0..20u32 {
            let full = Duration::from_secs(table[(failures as usize).min(table.len() - 1)]);
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
