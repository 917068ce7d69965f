//! The time one message may take. Processing runs on a blocking thread (never on the async
//! workers, which keep every other mailbox, the timers and the watchdog going); the watcher
//! waits for it at most [`crate::config::Limits::message_budget`], not counting the time spent
//! waiting for DNS (which has its own budget, `dns.budget`). A message over its budget is given
//! up: it may not write anything after that (see [`Budget::commit`]), and the watcher records
//! it as skipped and moves on.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a message's processing stands, as far as writing its results goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Still working; nothing written yet.
    Running,
    /// The watcher gave up on it: it must not write.
    Abandoned,
    /// It began writing its results: the watcher waits for them.
    Committing,
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// When the work began on its thread (time waiting for a free thread does not count).
    started: Option<Instant>,
    /// DNS waiting time already finished.
    excluded: Duration,
    /// When the DNS wait under way began.
    waiting_since: Option<Instant>,
}

/// One message's time budget, shared by the processing thread and the watcher.
#[derive(Debug)]
pub struct Budget {
    limit: Duration,
    /// When the work was handed to the blocking pool.
    created: Instant,
    inner: Mutex<Inner>,
}

/// How long work may wait for a free blocking thread before it is given up (only when every
/// thread is busy: with linear readers, a sign that the machine cannot keep up).
pub const QUEUE_ALLOWANCE: Duration = Duration::from_secs(300);

impl Budget {
    /// A budget of `limit`; its clock starts with [`Budget::begin`] (for the work that
    /// [`run`] runs, when a thread takes it up).
    pub fn new(limit: Duration) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            created: Instant::now(),
            inner: Mutex::new(Inner {
                started: None,
                state: State::Running,
                excluded: Duration::ZERO,
                waiting_since: None,
            }),
        })
    }

    /// A budget that is never exceeded (work outside the watcher's per-message loop).
    pub fn unlimited() -> Arc<Budget> {
        Budget::new(Duration::MAX)
    }

    /// The configured limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the clock (once; later calls change nothing).
    pub fn begin(&self) {
        self.lock().started.get_or_insert_with(Instant::now);
    }

    /// The time used so far, not counting DNS waits (nothing before [`Budget::begin`]).
    pub fn used(&self) -> Duration {
        let inner = self.lock();
        let Some(started) = inner.started else {
            return Duration::ZERO;
        };
        let waiting = inner.waiting_since.map_or(Duration::ZERO, |t| t.elapsed());
        started
            .elapsed()
            .saturating_sub(inner.excluded)
            .saturating_sub(waiting)
    }

    /// Whether the work began (a thread took it up).
    pub fn begun(&self) -> bool {
        self.lock().started.is_some()
    }

    /// How long until the budget runs out (zero when it has). Before the work begins, how long
    /// it may still wait for a thread ([`QUEUE_ALLOWANCE`]).
    pub fn remaining(&self) -> Duration {
        if !self.begun() {
            return QUEUE_ALLOWANCE.saturating_sub(self.created.elapsed());
        }
        self.limit.saturating_sub(self.used())
    }

    /// Runs `f` (a DNS diagnosis) without counting its time against the budget.
    pub async fn excluding<F: Future>(&self, f: F) -> F::Output {
        let since = Instant::now();
        self.lock().waiting_since = Some(since);
        let out = f.await;
        let mut inner = self.lock();
        inner.waiting_since = None;
        inner.excluded += since.elapsed();
        out
    }

    /// Called by the processing before its first write: true when it may write (and from then
    /// on the watcher waits for it), false when the watcher already gave up on it.
    pub fn commit(&self) -> bool {
        let mut inner = self.lock();
        match inner.state {
            State::Running | State::Committing => {
                inner.state = State::Committing;
                true
            }
            State::Abandoned => false,
        }
    }

    /// Called by the watcher when the budget ran out: true when the processing is now given up
    /// (it will write nothing), false when it is already writing (wait for it).
    pub fn abandon(&self) -> bool {
        let mut inner = self.lock();
        match inner.state {
            State::Running | State::Abandoned => {
                inner.state = State::Abandoned;
                true
            }
            State::Committing => false,
        }
    }
}

/// Why budgeted work produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Overrun {
    /// It took longer than its budget (DNS waits not counted) and was given up.
    #[error("over the time budget of {0:?}")]
    OverBudget(Duration),
    /// It panicked (a bug).
    #[error("processing failed (a bug)")]
    Panicked,
    /// No thread was free to take it up within [`QUEUE_ALLOWANCE`].
    #[error("no thread was free to read it within {0:?}")]
    NotStarted(Duration),
}

/// Gives work up when its waiter goes away (a watcher stopped, a reload): a thread still
/// running it may then write nothing.
struct GiveUpOnDrop<'a> {
    budget: &'a Budget,
    finished: bool,
}

impl Drop for GiveUpOnDrop<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.budget.abandon();
        }
    }
}

/// Runs `work` on a blocking thread and waits for it at most `budget` (DNS waits that `work`
/// reports through [`Budget::excluding`] not counted). When the budget runs out before `work`
/// began writing ([`Budget::commit`]), `work` is given up: its thread may run on, but it can
/// write nothing.
pub async fn run<T: Send + 'static>(
    budget: &Arc<Budget>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Overrun> {
    let clock = budget.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        clock.begin();
        work()
    });
    let mut guard = GiveUpOnDrop {
        budget,
        finished: false,
    };
    loop {
        tokio::select! {
            r = &mut task => {
                guard.finished = true;
                return r.map_err(|_| Overrun::Panicked);
            }
            // Until a thread takes the work up, look often: its own clock starts then.
            _ = tokio::time::sleep(if budget.begun() {
                budget.remaining()
            } else {
                budget.remaining().min(Duration::from_millis(20))
            }) => {
                // Time spent waiting for DNS does not count, and a write under way is
                // waited for: look again.
                let begun = budget.begun();
                if budget.remaining().is_zero() && budget.abandon() {
                    guard.finished = true;
                    return Err(if begun {
                        Overrun::OverBudget(budget.limit())
                    } else {
                        Overrun::NotStarted(QUEUE_ALLOWANCE)
                    });
                }
                if budget.remaining().is_zero() {
                    // Writing: that is quick; poll for its end without spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_over_budget_is_given_up_and_cannot_write() {
        let budget = Budget::new(Duration::from_millis(50));
        let (tx, rx) = std::sync::mpsc::channel();
        let b = budget.clone();
        let r = run(&budget, move || {
            std::thread::sleep(Duration::from_millis(300));
            tx.send(b.commit()).ok();
        })
        .await;
        assert_eq!(r, Err(Overrun::OverBudget(Duration::from_millis(50))));
        let may_write = rx.recv_timeout(Duration::from_secs(5)).expect("the work ends");
        assert!(!may_write, "given-up work must not write");
    }

    #[tokio::test]
    async fn a_panic_is_reported_not_propagated() {
        let budget = Budget::new(Duration::from_secs(5));
        let r: Result<(), Overrun> = run(&budget, || panic!("a bug")).await;
        assert_eq!(r, Err(Overrun::Panicked));
        let budget = Budget::new(Duration::from_secs(5));
        assert_eq!(run(&budget, || 7).await, Ok(7));
    }

    #[tokio::test]
    async fn work_whose_waiter_goes_away_cannot_write() {
        let budget = Budget::new(Duration::from_secs(60));
        let (tx, rx) = std::sync::mpsc::channel();
        let b = budget.clone();
        let waiter = run(&budget, move || {
            std::thread::sleep(Duration::from_millis(200));
            tx.send(b.commit()).ok();
        });
        // The waiter is dropped before the work ends (a watcher stopped by a reload).
        let _ = tokio::time::timeout(Duration::from_millis(20), waiter).await;
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
    }

    #[tokio::test]
    async fn a_write_under_way_is_waited_for() {
        let budget = Budget::new(Duration::from_millis(30));
        let b = budget.clone();
        let r = run(&budget, move || {
            assert!(b.commit());
            std::thread::sleep(Duration::from_millis(200));
            "written"
        })
        .await;
        assert_eq!(r, Ok("written"));
    }

    #[test]
    fn commit_and_abandon_exclude_each_other() {
        let b = Budget::new(Duration::from_secs(1));
        assert!(b.abandon());
        assert!(!b.commit(), "abandoned work must not write");
        let b = Budget::new(Duration::from_secs(1));
        assert!(b.commit());
        assert!(b.commit(), "later writes of the same message go on");
        assert!(!b.abandon(), "the watcher waits for a write under way");
    }

    #[tokio::test]
    async fn dns_waits_do_not_count() {
        let b = Budget::new(Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(120));
        assert!(!b.begun());
        assert!(
            b.remaining() > Duration::from_secs(60),
            "before begin(), the queue allowance"
        );
        b.begin();
        b.excluding(async { std::thread::sleep(Duration::from_millis(150)) })
            .await;
        assert!(b.remaining() > Duration::from_millis(50), "{:?}", b.remaining());
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(b.remaining(), Duration::ZERO);
    }
}
