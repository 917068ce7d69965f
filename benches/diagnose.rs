//! Diagnosis speed against a DNS server that delays every answer by 200 ms (a UDP proxy in
//! front of a real Unbound). A full diagnosis asks 20+ questions; the longest chain that must
//! wait (MX → the MX host's address → blocklist) is three round trips, 600 ms. Target: at most
//! 1.5× that, not the sum of all queries. Then a server that never answers: the diagnosis must
//! return within the budget + 0.5 s, with a `recheck` verdict.
//!
//! `cargo bench --bench diagnose` (needs `unbound`, which .ci/run installs).

#[path = "../tests/support/unbound.rs"]
mod unbound;

use bouncedoc::config::Config;
use bouncedoc::diagnose::Diagnoser;
use bouncedoc::verdict;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

const DELAY: Duration = Duration::from_millis(200);

const ZONE: &[&str] = &[
    "partner.example. MX 10 mx1.partner.example.",
    "mx1.partner.example. A 192.0.2.25",
    "corp.example. A 198.51.100.1",
    "corp.example. MX 10 mail.corp.example.",
    "mail.corp.example. A 203.0.113.5",
    "5.113.0.203.in-addr.arpa. PTR mail.corp.example.",
    "2.0.0.127.bl1.test. A 127.0.0.2",
    "2.0.0.127.bl2.test. A 127.0.0.2",
    "2.0.0.127.bl3.test. A 127.0.0.2",
    "2.0.0.127.bl4.test. A 127.0.0.2",
];

/// A UDP proxy to `upstream` that answers every query `DELAY` after receiving it.
async fn delaying_proxy(upstream: SocketAddr, count: Arc<AtomicUsize>) -> SocketAddr {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind proxy"));
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, client)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            count.fetch_add(1, Ordering::Relaxed);
            let query = buf[..n].to_vec();
            let socket = socket.clone();
            tokio::spawn(async move {
                let received = tokio::time::Instant::now();
                let Ok(up) = UdpSocket::bind("127.0.0.1:0").await else {
                    return;
                };
                if up.send_to(&query, upstream).await.is_err() {
                    return;
                }
                let mut reply = vec![0u8; 4096];
                let Ok(Ok(m)) = tokio::time::timeout(Duration::from_secs(2), up.recv(&mut reply)).await
                else {
                    return;
                };
                tokio::time::sleep_until(received + DELAY).await;
                let _ = socket.send_to(&reply[..m], client).await;
            });
        }
    });
    addr
}

fn notice() -> bouncedoc::notice::Notice {
    let raw = "From: MAILER-DAEMON@mx.corp.example\nTo: alice@corp.example\nSubject: Delayed Mail (still being retried)\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.corp.example\n\nFinal-Recipient: rfc822; bob@partner.example\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; conversation timed out\n\n--B\nContent-Type: text/rfc822-headers\n\nFrom: alice@corp.example\nTo: bob@partner.example\nSubject: figures\n\n--B--\n";
    bouncedoc::notice::read(raw.as_bytes()).expect("notice")
}

fn config(dns: SocketAddr, budget: Duration) -> Config {
    let mut c = Config::default();
    c.dns.nameservers = vec![dns];
    c.dns.timeout = Duration::from_secs(1);
    c.dns.attempts = 1;
    c.dns.budget = budget;
    c.dnsbl_zones = ["bl1.test", "bl2.test", "bl3.test", "bl4.test"]
        .iter()
        .map(|z| z.to_string())
        .collect();
    c.sending_ips = vec!["203.0.113.5".parse().expect("ip")];
    c
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let unbound = unbound::Unbound::start(ZONE, &[]);
    let count = Arc::new(AtomicUsize::new(0));
    let proxy = runtime.block_on(delaying_proxy(unbound.addr, count.clone()));
    let n = notice();

    let critical = DELAY * 3;
    let mut times = Vec::new();
    let mut queries = 0;
    for _ in 0..10 {
        // A fresh resolver and blocklist cache each time: nothing is answered from a cache.
        let diagnoser = Diagnoser::new(&config(proxy, Duration::from_secs(10))).expect("diagnoser");
        let before = count.load(Ordering::Relaxed);
        let start = Instant::now();
        let d = runtime.block_on(diagnoser.diagnose(&n));
        times.push(start.elapsed());
        queries = count.load(Ordering::Relaxed) - before;
        let v = verdict::decide(&d.findings);
        assert_eq!(v.cause, verdict::Cause::Unexplained, "{:?}", d.findings);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "delayed DNS ({} ms per answer): {queries} queries per diagnosis; median {:.0} ms, min {:.0} ms, max {:.0} ms; critical path {} ms; sum of all queries {} ms; median / critical path = {:.2} (target <= 1.5)",
        DELAY.as_millis(),
        median.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        critical.as_millis(),
        DELAY.as_millis() as usize * queries,
        median.as_secs_f64() / critical.as_secs_f64()
    );

    // A server that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let _tcp = std::net::TcpListener::bind(silent_addr).ok();
    let budget = Duration::from_secs(3);
    let diagnoser = Diagnoser::new(&config(silent_addr, budget)).expect("diagnoser");
    let start = Instant::now();
    let d = runtime.block_on(diagnoser.diagnose(&n));
    let took = start.elapsed();
    let v = verdict::decide(&d.findings);
    println!(
        "silent DNS, budget {} s: diagnosis returned after {:.0} ms (limit {} ms) with verdict {:?} / {:?}",
        budget.as_secs(),
        took.as_secs_f64() * 1000.0,
        (budget + Duration::from_millis(500)).as_millis(),
        v.action,
        v.cause
    );
    drop(unbound);
}
