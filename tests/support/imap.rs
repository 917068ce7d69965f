//! Reading a test mailbox back over IMAP (async-imap against the test Dovecot).
#![allow(dead_code)]

use futures::TryStreamExt;
use std::net::SocketAddr;

/// A logged-in session as `user` (password [`super::dovecot::PASSWORD`]).
pub async fn login(addr: SocketAddr, user: &str) -> async_imap::Session<tokio::net::TcpStream> {
    login_with(addr, user, super::dovecot::PASSWORD).await
}

/// A logged-in session as `user` with `password`.
pub async fn login_with(
    addr: SocketAddr,
    user: &str,
    password: &str,
) -> async_imap::Session<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect imap");
    let mut client = async_imap::Client::new(stream);
    let _greeting = client.read_response().await;
    client
        .login(user, password)
        .await
        .map_err(|e| e.0)
        .expect("login")
}

/// Appends `raw` to `user`'s `folder` (created if missing).
pub async fn append(addr: SocketAddr, user: &str, folder: &str, raw: &[u8]) {
    let mut s = login(addr, user).await;
    let _ = s.create(folder).await;
    s.append(folder, None, None, raw).await.expect("append");
    let _ = s.logout().await;
}

/// Each message of `user`'s `folder`: its flags (as IMAP text) and bytes.
pub async fn fetch_flags(addr: SocketAddr, user: &str, folder: &str) -> Vec<(Vec<String>, Vec<u8>)> {
    let mut s = login(addr, user).await;
    let mb = s.select(folder).await.expect("select");
    let mut out = Vec::new();
    if mb.exists > 0 {
        let fetches: Vec<_> = s
            .fetch("1:*", "(FLAGS BODY.PEEK[])")
            .await
            .expect("fetch")
            .try_collect()
            .await
            .expect("fetch stream");
        for f in fetches {
            let flags = f.flags().map(|fl| format!("{fl:?}")).collect();
            out.push((flags, f.body().map(<[u8]>::to_vec).unwrap_or_default()));
        }
    }
    let _ = s.logout().await;
    out
}

/// Every message in `user`'s INBOX, as raw bytes (BODY.PEEK[]: nothing is marked read).
pub async fn fetch_all(addr: SocketAddr, user: &str) -> Vec<Vec<u8>> {
    fetch_flags(addr, user, "INBOX")
        .await
        .into_iter()
        .map(|(_, raw)| raw)
        .collect()
}

/// Waits until `user`'s INBOX holds at least `n` messages (delivery is asynchronous).
pub async fn wait_for(addr: SocketAddr, user: &str, n: usize) -> Vec<Vec<u8>> {
    wait_for_within(addr, user, n, std::time::Duration::from_secs(20)).await
}

/// As [`wait_for`], giving up after `within`.
pub async fn wait_for_within(
    addr: SocketAddr,
    user: &str,
    n: usize,
    within: std::time::Duration,
) -> Vec<Vec<u8>> {
    let start = std::time::Instant::now();
    loop {
        let all = fetch_all(addr, user).await;
        if all.len() >= n || start.elapsed() > within {
            return all;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The highest UID in `user`'s INBOX (0 when empty).
pub async fn max_uid(addr: SocketAddr, user: &str) -> u32 {
    let mut s = login(addr, user).await;
    s.select("INBOX").await.expect("select");
    let uids = s.uid_search("ALL").await.expect("uid search");
    let _ = s.logout().await;
    uids.into_iter().max().unwrap_or(0)
}
