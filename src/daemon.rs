//! `bouncedoc run`: wires the pieces together. One watcher task per mailbox, one sender task
//! per SMTP server, systemd notifications (READY, WATCHDOG, RELOADING, STOPPING), SIGHUP to
//! reload the configuration (mailboxes added, removed or changed restart alone; the others go
//! on), SIGTERM/SIGINT to stop: no new work, the current notice finished, the outbox flushed
//! as far as it goes, LOGOUT, exit — all within [`STOP_WITHIN`].

use crate::config::{Config, MailboxConfig, SmtpConfig};
use crate::diagnose::Diagnoser;
use crate::outbox::{via_of, Outbox, Sender};
use crate::process::Answerer;
use crate::store::State;
use crate::vocab::Via;
use crate::watch::mailbox;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How long a stop may take in all (systemd's TimeoutStopSec is larger).
pub const STOP_WITHIN: Duration = Duration::from_secs(10);
/// Of that, how long the watchers get to finish their current notice and log out.
const WATCHERS_WITHIN: Duration = Duration::from_secs(7);
/// And the outbox's last delivery pass.
const OUTBOX_WITHIN: Duration = Duration::from_secs(2);
/// How long a reload waits for a changed sender to finish before starting its successor.
const SENDER_RESTART_WITHIN: Duration = Duration::from_secs(10);
/// How often watcher tasks are checked (one that ended on its own is restarted).
const SUPERVISE_EVERY: Duration = Duration::from_secs(5);
/// How often what is older than `retention` is pruned from the state.
const PRUNE_EVERY: Duration = Duration::from_secs(6 * 3600);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The state database could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// DNS could not be set up.
    #[error(transparent)]
    Diagnose(#[from] crate::diagnose::DiagnoseError),
    /// A signal handler could not be installed.
    #[error("signals: {0}")]
    Signal(std::io::Error),
    /// The metrics listener could not be opened.
    #[error("{0}")]
    Listen(String),
}

/// Sends a state line to systemd when it started us with `Type=notify` (`$NOTIFY_SOCKET`);
/// does nothing otherwise.
pub fn sd_notify(state: &str) {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(name).and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

struct Watcher {
    config: MailboxConfig,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
    /// When the watcher's task was last scheduled (see [`HEARTBEAT`]).
    beat: Arc<std::sync::Mutex<tokio::time::Instant>>,
}

/// How often a watcher's task marks itself alive (10,000 watchers: a few hundred wakeups a
/// second at most).
const HEARTBEAT: Duration = Duration::from_secs(30);
/// A watcher whose task has not been scheduled for this long is stuck: the systemd watchdog is
/// no longer fed, and systemd restarts the service.
pub const STUCK_AFTER: Duration = Duration::from_secs(120);

/// The watchers that are not alive: their task ended, or it has not run for [`STUCK_AFTER`].
pub fn not_alive<'a>(
    watchers: impl IntoIterator<Item = (&'a str, bool, tokio::time::Instant)>,
    now: tokio::time::Instant,
) -> Vec<&'a str> {
    watchers
        .into_iter()
        .filter(|(_, finished, beat)| *finished || now.saturating_duration_since(*beat) > STUCK_AFTER)
        .map(|(name, _, _)| name)
        .collect()
}

struct SenderTask {
    smtp: SmtpConfig,
    shutdown: broadcast::Sender<()>,
    handle: JoinHandle<()>,
}

/// The running daemon.
struct Daemon {
    path: PathBuf,
    config: Arc<Config>,
    outbox: Outbox,
    state: State,
    diagnoser: Diagnoser,
    /// What `/readyz` looks at.
    health: Arc<crate::metrics::Health>,
    /// The login slots per IMAP server (replaced when `imap_connect_concurrency` changes,
    /// which restarts every watcher).
    logins: Arc<crate::watch::logins::Logins>,
    /// Access tokens, shared by every watcher and sender (kept across reloads).
    tokens: Arc<crate::signin::Tokens>,
    watchers: HashMap<String, Watcher>,
    senders: HashMap<Via, SenderTask>,
    /// With several instances on PostgreSQL: which mailboxes are this instance's.
    leases: Option<Leases>,
}

/// This instance's part in sharing the mailboxes with others (`database:`).
struct Leases {
    /// Its name in the database.
    me: String,
    /// How long a lease lasts.
    lease: Duration,
    /// What the lease rounds leave it with.
    leased: watch::Receiver<Option<crate::leases::Leased>>,
    /// The configured mailboxes, for the rounds.
    names: watch::Sender<Vec<String>>,
    /// Stops the rounds.
    stop: broadcast::Sender<()>,
    /// The rounds' task.
    task: JoinHandle<()>,
}

impl Leases {
    /// The mailboxes to watch now: those of the last round, while its leases surely hold.
    fn watch_now(&self) -> (std::collections::BTreeSet<String>, Vec<String>) {
        match &*self.leased.borrow() {
            Some(l) if l.valid_until > tokio::time::Instant::now() => (l.watch.clone(), l.surplus.clone()),
            _ => Default::default(),
        }
    }

    /// When the leases of the last round may no longer hold.
    fn valid_until(&self) -> Option<tokio::time::Instant> {
        self.leased.borrow().as_ref().map(|l| l.valid_until)
    }
}

/// The SMTP servers needed: `""` for the global one (when a mailbox uses it), else the name
/// of a mailbox with its own `smtp` block.
fn smtp_servers(config: &Config) -> HashMap<Via, SmtpConfig> {
    config
        .mailboxes
        .iter()
        .filter_map(|m| Some((via_of(m), config.smtp_for(m)?.clone())))
        .collect()
}

/// The configuration without its mailboxes (what every watcher shares).
fn shared_part(c: &Config) -> Config {
    Config {
        mailboxes: Vec::new(),
        refused: Vec::new(),
        refused_files: Vec::new(),
        // Only read at start (a change is logged); it restarts no watcher.
        metrics: None,
        ..c.clone()
    }
}

impl Daemon {
    fn answerer(&self, m: &MailboxConfig) -> Answerer {
        Answerer {
            config: self.config.clone(),
            mailbox: m.clone(),
            outbox: self.outbox.clone(),
            state: self.state.clone(),
            diagnoser: Arc::new(self.diagnoser.with_sending_ips(&m.sending_ips)),
            budget: crate::process::Budget::unlimited(),
            tokens: self.tokens.clone(),
            logins: self.logins.clone(),
        }
    }

    fn start_watcher(&mut self, m: &MailboxConfig) {
        let (stop, rx) = watch::channel(false);
        let span = tracing::info_span!("mailbox", name = %m.name);
        let beat = Arc::new(std::sync::Mutex::new(tokio::time::Instant::now()));
        let beating = beat.clone();
        let watching = mailbox::watch(self.answerer(m), rx);
        // The heartbeat runs in the watcher's own task: a task that is never scheduled again
        // (a blocking call that does not return) stops it.
        let handle = tokio::spawn(
            async move {
                let heartbeat = async {
                    loop {
                        *beating.lock().unwrap_or_else(|p| p.into_inner()) = tokio::time::Instant::now();
                        tokio::time::sleep(HEARTBEAT).await;
                    }
                };
                tokio::select! {
                    _ = watching => {}
                    _ = heartbeat => {}
                }
            }
            .instrument(span),
        );
        self.watchers.insert(
            m.name.clone(),
            Watcher {
                config: m.clone(),
                stop,
                handle,
                beat,
            },
        );
    }

    /// Whether the systemd watchdog may be fed: every watcher's task is alive. The first time
    /// one is not, the log says which.
    fn watchers_alive(&self) -> bool {
        let now = tokio::time::Instant::now();
        let states: Vec<(&str, bool, tokio::time::Instant)> = self
            .watchers
            .iter()
            .map(|(n, w)| {
                (
                    n.as_str(),
                    w.handle.is_finished(),
                    *w.beat.lock().unwrap_or_else(|p| p.into_inner()),
                )
            })
            .collect();
        let dead = not_alive(states, now);
        if !dead.is_empty() {
            tracing::error!(mailboxes = ?dead, "watchers are stuck or gone: the systemd watchdog is not fed (systemd restarts the service)");
        }
        dead.is_empty()
    }

    async fn stop_watchers(&mut self, names: &[String], within: Duration) {
        let mut handles = Vec::new();
        for name in names {
            if let Some(w) = self.watchers.remove(name) {
                let _ = w.stop.send(true);
                handles.push((name.clone(), w.handle));
            }
        }
        let deadline = tokio::time::Instant::now() + within;
        for (name, mut handle) in handles {
            if tokio::time::timeout_at(deadline, &mut handle).await.is_err() {
                tracing::warn!(mailbox = %name, "watcher did not stop in time; aborted");
                handle.abort();
            }
        }
    }

    async fn start_sender(&mut self, via: Via, smtp: SmtpConfig) {
        let (shutdown, _) = broadcast::channel(1);
        let rx = shutdown.subscribe();
        let outbox = self.outbox.clone();
        let label = via.to_string();
        let key = via.clone();
        let config = smtp.clone();
        let tokens = self.tokens.clone();
        let handle = tokio::spawn(
            async move {
                let mut rx = rx;
                let mut failures = 0u32;
                loop {
                    // A sender that cannot be set up (an unreadable CA file, say) is tried
                    // again; what is queued waits.
                    let (c, tokens) = (config.clone(), tokens.clone());
                    let result = match tokio::task::spawn_blocking(move || Sender::new(&c, &tokens)).await {
                        Ok(Ok(sender)) => outbox
                            .run_via(sender, &key, rx.resubscribe())
                            .await
                            .map_err(|e| e.to_string()),
                        Ok(Err(e)) => Err(format!("cannot set up sending ({e}); answers stay queued")),
                        Err(e) => Err(format!("sender setup failed: {e}")),
                    };
                    let wait = match result {
                        Ok(()) => return,
                        Err(e) => {
                            let wait = crate::outbox::server_backoff(failures);
                            failures = failures.saturating_add(1);
                            tracing::error!(error = %e, retry_in_s = wait.as_secs(), "outbox stopped; retrying");
                            wait
                        }
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = rx.recv() => return,
                    }
                }
            }
            .instrument(tracing::info_span!("outbox", smtp = %label)),
        );
        self.senders.insert(
            via,
            SenderTask {
                smtp,
                shutdown,
                handle,
            },
        );
    }

    async fn stop_senders(&mut self, vias: &[Via], within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let mut handles = Vec::new();
        for via in vias {
            if let Some(s) = self.senders.remove(via) {
                let _ = s.shutdown.send(());
                handles.push((via.clone(), s.handle));
            }
        }
        for (via, mut handle) in handles {
            if tokio::time::timeout_at(deadline, &mut handle).await.is_err() {
                tracing::warn!(
                    "outbox did not finish its last pass in time; what is queued goes out on the next start"
                );
                handle.abort();
                let _ = handle.await;
                self.outbox.release_claims_of(&via).await;
            }
        }
    }

    /// Makes the sender tasks match the configuration: changed servers restart (the old task
    /// ends before the new one starts, so nothing is sent twice).
    async fn sync_senders(&mut self) {
        let wanted = smtp_servers(&self.config);
        let stale: Vec<Via> = self
            .senders
            .iter()
            .filter(|(via, s)| wanted.get(*via) != Some(&s.smtp))
            .map(|(via, _)| via.clone())
            .collect();
        self.stop_senders(&stale, SENDER_RESTART_WITHIN).await;
        // A mailbox that lost its own SMTP server (removed, renamed, now using the global one)
        // leaves its queue to the global sender rather than stranded.
        for via in stale
            .iter()
            .filter(|v| **v != Via::Global && !wanted.contains_key(*v))
        {
            let (from, global) = (via.clone(), wanted.contains_key(&Via::Global));
            let counts = self
                .state
                .run(move |s| {
                    let moved = if global {
                        s.reassign(&from, &Via::Global)?
                    } else {
                        0
                    };
                    Ok((moved, s.queued(&from)?))
                })
                .await;
            let (moved, left) = counts.unwrap_or_else(|e| {
                tracing::error!(from = %via, error = %e, "cannot hand queued answers to another SMTP server; they wait");
                (0, 0)
            });
            if moved > 0 {
                tracing::info!(from = %via, moved, "queued answers handed to the global SMTP server");
            }
            if left > 0 {
                tracing::warn!(from = %via, left, "queued answers have no SMTP server any more; they wait until one is configured");
            }
        }
        for (via, smtp) in wanted {
            if !self.senders.contains_key(&via) {
                self.start_sender(via, smtp).await;
            }
        }
    }

    async fn reload(&mut self) {
        sd_notify("RELOADING=1");
        let mut new = match Config::load(&self.path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "reload refused: the configuration is not valid; the running one stays");
                sd_notify("READY=1");
                return;
            }
        };
        refused_files(&new);
        // A mailbox whose file is now refused keeps running as it was: a typo or a file caught
        // half-written must not silently stop watching a user.
        let kept: Vec<MailboxConfig> = self
            .watchers
            .values()
            .map(|w| w.config.clone())
            .filter(|m| m.source.as_ref().is_some_and(|f| new.refused_files.contains(f)))
            .filter(|m| !new.mailboxes.iter().any(|n| n.name == m.name))
            .collect();
        for m in kept {
            tracing::warn!(mailbox = %m.name, "its file was refused: it keeps running with its last good configuration");
            new.mailboxes.push(m);
        }
        if new.state_dir != self.config.state_dir {
            tracing::warn!(
                state_dir = %self.config.state_dir.display(),
                "state_dir cannot change while running: restart the service to move it"
            );
            new.state_dir = self.config.state_dir.clone();
        }
        let everything = shared_part(&new) != shared_part(&self.config);
        let old: HashMap<String, MailboxConfig> = self
            .watchers
            .iter()
            .map(|(n, w)| (n.clone(), w.config.clone()))
            .collect();
        let restart: Vec<String> = old
            .iter()
            .filter(|(name, cfg)| everything || new.mailboxes.iter().find(|m| &&m.name == name) != Some(*cfg))
            .map(|(name, _)| name.clone())
            .collect();
        self.stop_watchers(&restart, WATCHERS_WITHIN).await;
        if new.imap_connect_concurrency != self.config.imap_connect_concurrency {
            self.logins = crate::watch::logins::Logins::new(new.imap_connect_concurrency);
        }
        if everything {
            match Diagnoser::new(&new) {
                Ok(d) => self.diagnoser = d,
                Err(e) => tracing::error!(error = %e, "DNS settings not usable; the old ones stay"),
            }
        }
        for gone in old
            .keys()
            .filter(|n| !new.mailboxes.iter().any(|m| &&m.name == n))
        {
            crate::metrics::get().forget(gone);
        }
        *self.health.refused.lock().unwrap_or_else(|p| p.into_inner()) = new.refused.clone();
        if new.metrics != self.config.metrics {
            tracing::warn!("metrics.listen cannot change while running: restart the service to move it");
        }
        self.config = Arc::new(new);
        self.sync_senders().await;
        if let Some(l) = &self.leases {
            let _ = l
                .names
                .send(self.config.mailboxes.iter().map(|m| m.name.clone()).collect());
        }
        let mut started = Vec::new();
        let owned = self.leases.as_ref().map(|l| l.watch_now().0);
        for m in self.config.mailboxes.clone() {
            if !self.watchers.contains_key(&m.name) && owned.as_ref().is_none_or(|o| o.contains(&m.name)) {
                self.start_watcher(&m);
                started.push(m.name.clone());
            }
        }
        self.note_watched();
        let removed = restart.iter().filter(|n| !self.watchers.contains_key(*n)).count();
        tracing::info!(
            restarted_or_added = ?started,
            removed,
            unchanged = self.watchers.len() - started.len(),
            "configuration reloaded"
        );
        sd_notify("READY=1");
    }

    /// With leases: watches exactly the mailboxes of the last lease round while its leases
    /// surely hold (none once they may not), and releases the surplus once its watchers
    /// stopped.
    async fn follow_leases(&mut self) {
        let Some(l) = &self.leases else {
            return;
        };
        let (owned, surplus) = l.watch_now();
        let me = l.me.clone();
        // Well inside the third of the lease left for stopping (a notice in progress is cut
        // short: it is not recorded, and the next owner reads it again).
        let within = (l.lease / 6).clamp(Duration::from_secs(1), WATCHERS_WITHIN);
        let lost = l.valid_until().is_some_and(|v| v <= tokio::time::Instant::now());
        let stop: Vec<String> = self
            .watchers
            .keys()
            .filter(|n| !owned.contains(*n))
            .cloned()
            .collect();
        if !stop.is_empty() {
            if lost {
                tracing::error!(mailboxes = stop.len(), "the mailbox leases could not be renewed in time: stopped watching before another instance may take them over");
            } else {
                tracing::info!(mailboxes = ?stop, "handing mailboxes over to other instances");
            }
            self.stop_watchers(&stop, within).await;
            for name in &stop {
                crate::metrics::get().forget(name);
            }
        }
        let release: Vec<String> = surplus
            .into_iter()
            .filter(|n| !self.watchers.contains_key(n))
            .collect();
        if !release.is_empty() {
            if let Err(e) = self.state.run(move |s| s.release_leases(&me, &release)).await {
                tracing::warn!(error = %e, "could not release surplus mailboxes; they pass to other instances when their leases run out");
            }
        }
        let start: Vec<MailboxConfig> = self
            .config
            .mailboxes
            .iter()
            .filter(|m| owned.contains(&m.name) && !self.watchers.contains_key(&m.name))
            .cloned()
            .collect();
        if !start.is_empty() {
            tracing::info!(
                mailboxes = start.len(),
                "watching mailboxes leased to this instance"
            );
        }
        for m in &start {
            self.start_watcher(m);
        }
        self.note_watched();
    }

    /// Tells `/readyz` and the metrics which mailboxes this instance is to watch.
    fn note_watched(&self) {
        let names: Vec<String> = match &self.leases {
            None => self.config.mailboxes.iter().map(|m| m.name.clone()).collect(),
            Some(l) => {
                let owned = l.watch_now().0;
                self.config
                    .mailboxes
                    .iter()
                    .filter(|m| owned.contains(&m.name))
                    .map(|m| m.name.clone())
                    .collect()
            }
        };
        crate::metrics::get().mailboxes_owned.set(names.len() as i64);
        *self.health.mailboxes.lock().unwrap_or_else(|p| p.into_inner()) = names;
    }

    /// Restarts any watcher that ended without being asked to (a bug, a panic): one mailbox
    /// must never stay unwatched.
    fn supervise(&mut self) {
        let ended: Vec<MailboxConfig> = self
            .watchers
            .values()
            .filter(|w| w.handle.is_finished() && !*w.stop.borrow())
            .filter(|w| {
                self.leases
                    .as_ref()
                    .is_none_or(|l| l.watch_now().0.contains(&w.config.name))
            })
            .map(|w| w.config.clone())
            .collect();
        for m in ended {
            tracing::error!(mailbox = %m.name, "watcher ended unexpectedly; restarting it");
            self.start_watcher(&m);
        }
    }

    /// Restarts any sender task that ended without being asked to (stopped senders leave
    /// the map before they end).
    async fn supervise_senders(&mut self) {
        let ended: Vec<(Via, SmtpConfig)> = self
            .senders
            .iter()
            .filter(|(_, s)| s.handle.is_finished())
            .map(|(via, s)| (via.clone(), s.smtp.clone()))
            .collect();
        for (via, smtp) in ended {
            tracing::error!(smtp = %via, "sender ended unexpectedly; restarting it");
            self.senders.remove(&via);
            self.outbox.release_claims_of(&via).await;
            self.start_sender(via, smtp).await;
        }
    }

    /// Deletes what is older than `retention`, in the background and a little at a time
    /// (the state is shared with the watchers and senders; the first prune of a large old
    /// database must not hold it, nor the signals and the watchdog, for long).
    fn prune(&self) -> JoinHandle<()> {
        let state = self.state.clone();
        let cutoff = crate::store::now() - self.config.retention.as_secs() as i64;
        tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            loop {
                match state.with(|s| s.prune_some(cutoff, 500)) {
                    Ok(0) => break,
                    Ok(n) => removed += n,
                    Err(e) => {
                        tracing::warn!(error = %e, "pruning old records failed; tried again later");
                        break;
                    }
                }
                // Let the watchers and senders at the state between steps.
                std::thread::sleep(Duration::from_millis(5));
            }
            if removed > 0 {
                tracing::info!(rows = removed, "pruned records older than the retention period");
            }
        })
    }

    async fn shutdown(&mut self) {
        sd_notify("STOPPING=1");
        tracing::info!("stopping: finishing the current notices");
        let names: Vec<String> = self.watchers.keys().cloned().collect();
        self.stop_watchers(&names, WATCHERS_WITHIN).await;
        if let Some(mut l) = self.leases.take() {
            // A round under way finishes first (it could otherwise take leases back after
            // they were given up).
            let _ = l.stop.send(());
            if tokio::time::timeout(OUTBOX_WITHIN, &mut l.task).await.is_err() {
                l.task.abort();
            }
            let me = l.me.clone();
            // Leaving at once lets the other instances take the mailboxes without waiting
            // for the leases to run out.
            match tokio::time::timeout(OUTBOX_WITHIN, self.state.run(move |s| s.leave(&me))).await {
                Ok(Ok(())) => tracing::info!("mailbox leases given up: the other instances take them over"),
                _ => tracing::warn!("could not give up the mailbox leases: the other instances take them over when they run out"),
            }
        }
        let vias: Vec<Via> = self.senders.keys().cloned().collect();
        self.stop_senders(&vias, OUTBOX_WITHIN).await;
        tracing::info!("stopped");
    }
}

/// Logs each file of `mailboxes_dir` that was refused (the other mailboxes are watched).
fn refused_files(config: &Config) {
    for why in &config.refused {
        tracing::error!(file = %why, "mailbox file refused: fix it and reload; the other mailboxes are watched");
    }
}

/// Runs the daemon until SIGTERM or SIGINT. `path` is re-read on SIGHUP.
pub async fn run(path: &Path, config: Config) -> Result<(), DaemonError> {
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let me = config.database.as_ref().map(|_| crate::leases::instance_name());
    let state = {
        let (config, me) = (config.clone(), me.clone());
        crate::store::off_workers(move || State::open(&config, me.as_deref())).await?
    };
    let diagnoser = Diagnoser::new(&config)?;
    let config_state_dir = config.state_dir.clone();
    let config_concurrency = config.imap_connect_concurrency;
    let health = Arc::new(crate::metrics::Health {
        mailboxes: std::sync::Mutex::new(config.mailboxes.iter().map(|m| m.name.clone()).collect()),
        refused: std::sync::Mutex::new(config.refused.clone()),
        probed: std::sync::Mutex::new(None),
        state: state.clone(),
    });
    let (stop_listener, listener_stopped) = broadcast::channel(1);
    if let Some(addr) = config.metrics {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| DaemonError::Listen(format!("metrics.listen {addr}: {e}")))?;
        tracing::info!(listen = %addr, "serving /metrics, /livez, /readyz");
        tokio::spawn(crate::metrics::serve(listener, health.clone(), listener_stopped));
    }
    let outbox = {
        let state = state.clone();
        crate::store::off_workers(move || Ok::<_, crate::store::StoreError>(Outbox::over(state))).await?
    };
    let leases = match (me, &config.database, state.own_session()) {
        (Some(me), Some(db), Some(session)) => {
            let lease = db.lease;
            let (names, names_rx) = watch::channel(config.mailboxes.iter().map(|m| m.name.clone()).collect());
            let (leased_tx, leased) = watch::channel(None);
            let (stop, stop_rx) = broadcast::channel(1);
            tracing::info!(instance = %me, lease = ?lease, "sharing the mailboxes with the other instances of the database");
            let task = tokio::spawn(crate::leases::run(
                session,
                me.clone(),
                lease,
                names_rx,
                leased_tx,
                stop_rx,
            ));
            Some(Leases {
                me,
                lease,
                leased,
                names,
                stop,
                task,
            })
        }
        _ => None,
    };
    let mut d = Daemon {
        path: path.to_path_buf(),
        config: Arc::new(config),
        outbox,
        state,
        logins: crate::watch::logins::Logins::new(config_concurrency),
        diagnoser,
        health,
        tokens: crate::signin::Tokens::new(&config_state_dir, path),
        watchers: HashMap::new(),
        senders: HashMap::new(),
        leases,
    };
    refused_files(&d.config);
    if d.config.mailboxes.is_empty() {
        tracing::warn!("no mailboxes configured: nothing to watch (add some and reload)");
    }
    d.sync_senders().await;
    if d.leases.is_none() {
        for m in d.config.mailboxes.clone() {
            d.start_watcher(&m);
        }
    }
    d.note_watched();
    tracing::info!(
        mailboxes = d.watchers.len(),
        state = %d.config.state_dir.display(),
        "bouncedoc running"
    );
    sd_notify("READY=1");
    let watchdog = std::env::var("WATCHDOG_USEC")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|us| *us > 0)
        .map(|us| Duration::from_micros(us / 2));
    let mut tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut supervise = tokio::time::interval(SUPERVISE_EVERY);
    // The first tick comes at once: the state is pruned at start, then every few hours.
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    let mut pruning: Option<JoinHandle<()>> = None;
    loop {
        // With leases: a new round, or the moment the last one's leases may no longer hold.
        let expiry = d.leases.as_ref().and_then(Leases::valid_until);
        let watching = !d.watchers.is_empty();
        let lease_change = async {
            match d.leases.as_mut() {
                Some(l) => l.leased.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = lease_change => {
                if changed {
                    d.follow_leases().await;
                }
            }
            _ = async {
                match expiry {
                    Some(at) if watching => tokio::time::sleep_until(at).await,
                    _ => std::future::pending().await,
                }
            } => d.follow_leases().await,
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                // A stop asked for during a reload wins; the reload is cut short.
                let stop = tokio::select! {
                    _ = d.reload() => false,
                    _ = term.recv() => true,
                    _ = int.recv() => true,
                };
                if stop {
                    break;
                }
            }
            _ = prune.tick() => {
                if pruning.as_ref().is_none_or(|p| p.is_finished()) {
                    pruning = Some(d.prune());
                }
            }
            _ = supervise.tick() => {
                d.supervise();
                d.supervise_senders().await;
            }
            _ = tick.tick() => {
                if watchdog.is_some() && d.watchers_alive() {
                    sd_notify("WATCHDOG=1");
                }
            }
        }
    }
    let _ = tokio::time::timeout(STOP_WITHIN, d.shutdown()).await;
    let _ = stop_listener.send(());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_fed_only_while_every_watcher_runs() {
        let start = tokio::time::Instant::now();
        let now = start + STUCK_AFTER + Duration::from_secs(1);
        let fresh = start + STUCK_AFTER;
        assert!(not_alive([("alice", false, fresh), ("bea", false, fresh)], now).is_empty());
        // A task that ended, and one not scheduled since the start: both named.
        assert_eq!(
            not_alive(
                [
                    ("alice", true, fresh),
                    ("bea", false, start),
                    ("carl", false, fresh)
                ],
                now
            ),
            vec!["alice", "bea"]
        );
    }
}
