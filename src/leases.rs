//! Which mailboxes this instance watches when several share one PostgreSQL database
//! (`database:`). Every third of `lease` a round renews the instance's leases, takes free or
//! expired mailboxes up to its fair share and names its surplus ([`Store::lease_round`]); the
//! daemon watches exactly what the last round left it with, and only until a little before
//! those leases could run out. An instance cut off from the database therefore stops watching
//! before another may take its mailboxes over; a killed one's mailboxes are taken over once
//! its leases run out.
//!
//! The rounds run on a session of their own, so a busy pool never delays a renewal.

use crate::store::{State, Store, StoreError};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// What the last successful round left this instance with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leased {
    /// The mailboxes to watch: leased to this instance and within its share.
    pub watch: BTreeSet<String>,
    /// Leased to it beyond its share: stop watching them, then release them.
    pub surplus: Vec<String>,
    /// Until when the leases are surely this instance's (the round began earlier than the
    /// database renewed them; a third of the lease is left for stopping).
    pub valid_until: Instant,
}

/// A name for this run of the daemon: host, process and a random part (a restarted process
/// is a new instance; its predecessor's leases run out, or it left them).
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let mut random = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}/{}/{random}", std::process::id())
}

/// How long after a round began its leases surely hold: two thirds of the lease (the last
/// third is for stopping the watchers before any other instance may take the mailboxes).
pub fn valid_for(lease: Duration) -> Duration {
    lease - lease / 3
}

/// Runs lease rounds for instance `me` until `shutdown`: `names` gives the configured
/// mailboxes (changed on reload); each successful round is published on `leased`.
pub async fn run(
    session: State,
    me: String,
    lease: Duration,
    names: watch::Receiver<Vec<String>>,
    leased: watch::Sender<Option<Leased>>,
    mut shutdown: broadcast::Receiver<()>,
) {
    let every = lease / 3;
    let mut failing = false;
    loop {
        let began = Instant::now();
        let wanted = names.borrow().clone();
        let who = me.clone();
        let lease_ms = lease.as_millis() as i64;
        let round = session
            .run(move |s: &Store| {
                let round = s.lease_round(&who, &wanted, lease_ms)?;
                // Messages claimed by instances that are gone go back to the queue.
                let released = s.release_claims()?;
                Ok::<_, StoreError>((round, released))
            })
            .await;
        let wait = match round {
            Ok((round, released)) => {
                if failing {
                    tracing::info!("the database answers again: leases renewed");
                    failing = false;
                }
                if released > 0 {
                    tracing::warn!(
                        messages = released,
                        "messages claimed by an instance that is gone are queued again"
                    );
                }
                let surplus: BTreeSet<&String> = round.surplus.iter().collect();
                let watch: BTreeSet<String> = round
                    .owned
                    .iter()
                    .filter(|m| !surplus.contains(m))
                    .cloned()
                    .collect();
                crate::metrics::get().instances.set(round.instances as i64);
                tracing::debug!(
                    owned = round.owned.len(),
                    surplus = round.surplus.len(),
                    instances = round.instances,
                    "lease round"
                );
                let _ = leased.send(Some(Leased {
                    watch,
                    surplus: round.surplus,
                    valid_until: began + valid_for(lease),
                }));
                every.saturating_sub(began.elapsed())
            }
            Err(e) => {
                if !failing {
                    tracing::error!(error = %e, "cannot renew the mailbox leases: this instance stops watching before they run out, and tries again");
                    failing = true;
                }
                Duration::from_secs(1).min(every)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.recv() => return,
        }
    }
}
