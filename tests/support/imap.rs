//! Reading a test mailbox back over IMAP (async-imap against the test Dovecot).
#![allow(dead_code)]

use futures::TryStreamExt;
use std::net::SocketAddr;

/// Every message in `user`'s INBOX, as raw bytes (BODY.PEEK[]: nothing is marked read).
pub async fn fetch_all(addr: SocketAddr, user: &str) -> Vec<Vec<u8>> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect imap");
    let mut client = async_imap::Client::new(stream);
    let _greeting = client.read_response().await;
    let mut session = client
        .login(user, super::dovecot::PASSWORD)
        .await
        .map_err(|e| e.0)
        .expect("login");
    let mailbox = session.select("INBOX").await.expect("select");
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<_> = session
            .fetch("1:*", "BODY.PEEK[]")
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetch stream");
        for f in fetches {
            if let Some(b) = f.body() {
                out.push(b.to_vec());
            }
        }
    }
    let _ = session.logout().await;
    out
}

/// Waits until `user`'s INBOX holds at least `n` messages (delivery is asynchronous).
pub async fn wait_for(addr: SocketAddr, user: &str, n: usize) -> Vec<Vec<u8>> {
    let start = std::time::Instant::now();
    loop {
        let all = fetch_all(addr, user).await;
        if all.len() >= n || start.elapsed() > std::time::Duration::from_secs(20) {
            return all;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
