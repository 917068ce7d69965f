//! How many logins run at once against one IMAP server (`imap_connect_concurrency`): a restart
//! of the bot, or of the server, brings thousands of mailboxes back in waves, never as a
//! thundering herd of TLS handshakes and logins at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The login slots per server (host and port).
#[derive(Debug)]
pub struct Logins {
    per_server: usize,
    servers: Mutex<HashMap<(String, u16), Arc<Semaphore>>>,
}

impl Logins {
    /// At most `per_server` logins in progress at once against each server.
    pub fn new(per_server: usize) -> Arc<Logins> {
        Arc::new(Logins {
            per_server: per_server.max(1),
            servers: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for a login slot at `host:port`; the slot is given back when the permit is
    /// dropped (once logged in, or failed).
    pub async fn slot(&self, host: &str, port: u16) -> Option<OwnedSemaphorePermit> {
        let gate = {
            let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
            servers
                .entry((host.to_ascii_lowercase(), port))
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_server)))
                .clone()
        };
        gate.acquire_owned().await.ok()
    }
}

/// How long the first login of `mailboxes` watchers is spread over at start: 2 ms a mailbox, at
/// most 30 s (10,000 mailboxes come up over 20 s, ten at once in a few milliseconds).
pub fn start_spread(mailboxes: usize) -> std::time::Duration {
    (std::time::Duration::from_millis(2) * u32::try_from(mailboxes).unwrap_or(u32::MAX))
        .min(std::time::Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_server_gets_at_most_its_slots_and_another_server_has_its_own() {
        let logins = Logins::new(2);
        let a1 = logins.slot("imap.a.example", 993).await;
        let a2 = logins.slot("IMAP.A.example", 993).await;
        assert!(a1.is_some() && a2.is_some());
        // The third waits: no slot is free at that server.
        let third = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            logins.slot("imap.a.example", 993),
        )
        .await;
        assert!(third.is_err(), "a third login at once");
        // Another server is not held up.
        assert!(logins.slot("imap.b.example", 993).await.is_some());
        drop(a1);
        assert!(logins.slot("imap.a.example", 993).await.is_some());
        assert_eq!(start_spread(10_000), std::time::Duration::from_secs(20));
        assert_eq!(start_spread(1_000_000), std::time::Duration::from_secs(30));
    }
}
