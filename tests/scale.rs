//! Many mailboxes at once against a real Dovecot: logins come in waves bounded by
//! `imap_connect_concurrency`, never as a herd, at start and after the server restarts. A proxy between the bot and Dovecot slows each
//! greeting down (as a loaded server does) and counts the logins in progress at once.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::bot::{Bot, Mailbox, World};

/// How long the proxy holds each greeting back.
const SLOW_GREETING: Duration = Duration::from_millis(150);

/// Logins in progress: now, and the most at once.
#[derive(Default)]
struct Count {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// A proxy to `server` on a free port; each connection counts as logging in from its accept
/// until the server's "Logged in".
fn proxy(server: SocketAddr) -> (SocketAddr, Arc<Count>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(Count::default());
    let c = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(server) else {
                continue;
            };
            let c = c.clone();
            let now = c.now.fetch_add(1, Ordering::SeqCst) + 1;
            c.most.fetch_max(now, Ordering::SeqCst);
            let (mut from_client, mut to_server) = (
                client.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = from_client.read(&mut buf) {
                    if n == 0 || to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to_server.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let (mut from_server, mut to_client) = (upstream, client);
                let mut buf = [0u8; 8192];
                let mut first = true;
                let mut logging_in = true;
                let mut seen = Vec::new();
                while let Ok(n) = from_server.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if first {
                        std::thread::sleep(SLOW_GREETING);
                        first = false;
                    }
                    if logging_in {
                        seen.extend_from_slice(&buf[..n]);
                        if seen.windows(9).any(|w| w == b"Logged in") {
                            logging_in = false;
                            c.now.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    if to_client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                if logging_in {
                    c.now.fetch_sub(1, Ordering::SeqCst);
                }
                // The server went away: so does the client's connection (as with a real server).
                let _ = to_client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (addr, count)
}

/// Starts `n` mailboxes through a slow proxy with `limit` logins at once; returns the most
/// logins that were in progress at once, at start and after Dovecot restarted under them.
fn most_at_once(tag: &str, n: usize, limit: usize) -> (usize, usize) {
    let mut w = World::start(tag);
    let (addr, count) = proxy(w.dovecot.imap);
    let mailboxes: Vec<Mailbox> = (0..n)
        .map(|i| {
            let mut m = Mailbox::idle(&format!("m{i}"));
            m.imap = Some(format!(
                "      host: 127.0.0.1\n      port: {}\n      tls: none\n",
                addr.port()
            ));
            m
        })
        .collect();
    let config = w.config_with(
        tag,
        &mailboxes,
        &format!("imap_connect_concurrency: {limit}\nlimits: {{replies_per_hour: 1000, forwards_per_hour: 1000}}\n"),
    );
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", n, Duration::from_secs(60));
    let at_start = count.most.swap(0, Ordering::SeqCst);
    // The server restarts: every session breaks at once, and all come back.
    w.dovecot.restart();
    bot.expect_log("watching", 2 * n, Duration::from_secs(60));
    (at_start, count.most.load(Ordering::SeqCst))
}

#[test]
fn logins_to_one_server_come_in_waves_no_larger_than_imap_connect_concurrency() {
    let (bounded, after_restart) = most_at_once("waves4", 40, 4);
    assert!(
        bounded <= 4,
        "{bounded} logins at once with imap_connect_concurrency: 4"
    );
    assert!(bounded >= 2, "the slots are used in parallel ({bounded})");
    assert!(
        (1..=4).contains(&after_restart),
        "{after_restart} logins at once coming back after the server restarted"
    );
    // The same start with room for all: the proxy does see them at once, so the bound above
    // is the setting's doing.
    let (unbounded, _) = most_at_once("waves40", 40, 40);
    assert!(unbounded > 4, "{unbounded} at most with room for 40");
    eprintln!(
        "most logins at once, 40 mailboxes: {bounded} with imap_connect_concurrency: 4 ({after_restart} after the server restarted), {unbounded} with 40"
    );
}
