//! Which instance watches which mailbox when several share PostgreSQL: a lease row per
//! mailbox (owner, expiry on the database's clock), an instance row per running instance
//! (alive until its expiry). One round renews what an instance holds, takes free mailboxes
//! up to its fair share, and names what it holds beyond that share, for it to stop watching
//! and then release ([`Store::release_leases`]).

use super::*;

/// The database's clock in milliseconds.
const NOW_MS: &str = now_ms!();

/// What one lease round left this instance with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRound {
    /// The mailboxes leased to this instance now (renewed or newly taken), sorted.
    pub owned: Vec<String>,
    /// Of those, the ones beyond its fair share: stop watching them, then release them.
    pub surplus: Vec<String>,
    /// Instances alive now (this one included).
    pub instances: usize,
}

/// A mailbox's lease as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeaseHolder {
    /// The instance watching it.
    pub instance: String,
    /// When its lease runs out unless renewed (Unix milliseconds, the database's clock).
    pub expires_ms: i64,
}

impl Store {
    /// One round for instance `me` over the configured mailboxes `names`, in one transaction:
    /// marks `me` alive for `lease_ms`, forgets leases of mailboxes no longer configured,
    /// renews its leases, takes free or expired ones up to its share (the mailboxes divided by
    /// the instances alive, rounded up), and names its surplus.
    pub fn lease_round(&self, me: &str, names: &[String], lease_ms: i64) -> Result<LeaseRound, StoreError> {
        let (me, names) = (me.to_string(), names.to_vec());
        self.db
            .postgres(move |c| {
                let mut tx = c.transaction()?;
                tx.execute(
                    &format!(
                        "INSERT INTO instance (id, started, expires) VALUES ($1, {NOW_MS}, {NOW_MS} + $2)
                         ON CONFLICT (id) DO UPDATE SET expires = excluded.expires"
                    ),
                    &[&me, &lease_ms],
                )?;
                let instances: i64 = tx
                    .query_one(&format!("SELECT COUNT(*) FROM instance WHERE expires > {NOW_MS}"), &[])?
                    .get(0);
                tx.execute(
                    &format!("DELETE FROM instance WHERE expires < {NOW_MS} - 86400000"),
                    &[],
                )?;
                tx.execute(
                    "DELETE FROM lease WHERE owner = $1 AND NOT (mailbox = ANY($2))",
                    &[&me, &names],
                )?;
                let mut owned: Vec<String> = tx
                    .query(
                        &format!("UPDATE lease SET expires = {NOW_MS} + $2 WHERE owner = $1 RETURNING mailbox"),
                        &[&me, &lease_ms],
                    )?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let instances = instances.max(1) as usize;
                let share = names.len().div_ceil(instances);
                if owned.len() < share {
                    let need = (share - owned.len()) as i64;
                    let taken = tx.query(
                        &format!(
                            "INSERT INTO lease (mailbox, owner, expires)
                             SELECT m, $1, {NOW_MS} + $3 FROM unnest($2::text[]) AS m
                              WHERE NOT EXISTS (SELECT 1 FROM lease l WHERE l.mailbox = m AND l.expires > {NOW_MS})
                              ORDER BY random() LIMIT $4
                             ON CONFLICT (mailbox) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
                              WHERE lease.expires <= {NOW_MS}
                             RETURNING mailbox"
                        ),
                        &[&me, &names, &lease_ms, &need],
                    )?;
                    owned.extend(taken.iter().map(|r| r.get::<_, String>(0)));
                }
                tx.commit()?;
                owned.sort();
                let surplus = if owned.len() > share {
                    owned[share..].to_vec()
                } else {
                    Vec::new()
                };
                Ok(LeaseRound {
                    owned,
                    surplus,
                    instances,
                })
            })
            .or_store(self)
    }

    /// Gives up `me`'s leases of `mailboxes` (their watchers stopped): another instance may
    /// take them at once.
    pub fn release_leases(&self, me: &str, mailboxes: &[String]) -> Result<usize, StoreError> {
        let (me, mailboxes) = (me.to_string(), mailboxes.to_vec());
        self.db
            .postgres(move |c| {
                c.execute(
                    "DELETE FROM lease WHERE owner = $1 AND mailbox = ANY($2)",
                    &[&me, &mailboxes],
                )
            })
            .map(|n| n as usize)
            .or_store(self)
    }

    /// An instance stopping cleanly: its leases and its row go (the others take its mailboxes
    /// at once instead of after the lease).
    pub fn leave(&self, me: &str) -> Result<(), StoreError> {
        let me = me.to_string();
        self.db
            .postgres(move |c| {
                let mut tx = c.transaction()?;
                tx.execute("DELETE FROM lease WHERE owner = $1", &[&me])?;
                tx.execute("DELETE FROM instance WHERE id = $1", &[&me])?;
                tx.commit()
            })
            .or_store(self)
    }

    /// Who watches each leased mailbox (live leases only), for `status`.
    pub fn lease_holders(&self) -> Result<HashMap<String, LeaseHolder>, StoreError> {
        if !self.db.is_postgres() {
            return Ok(HashMap::new());
        }
        self.db
            .query(
                &format!("SELECT mailbox, owner, expires FROM lease WHERE expires > {NOW_MS}"),
                p![],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.text(0)?,
                            LeaseHolder {
                                instance: r.text(1)?,
                                expires_ms: r.int(2)?,
                            },
                        ))
                    })
                    .collect()
            })
            .or_store(self)
    }

    /// How many instances are alive (`check-config`, `status`).
    pub fn instances_alive(&self) -> Result<usize, StoreError> {
        self.db
            .query_one(
                &format!("SELECT COUNT(*) FROM instance WHERE expires > {NOW_MS}"),
                p![],
            )
            .and_then(|r| r.int(0))
            .map(|n| n as usize)
            .or_store(self)
    }
}
