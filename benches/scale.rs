//! Many mailboxes in one process against a real Dovecot over implicit TLS, IDLE each: how long
//! until all watch, resident memory per mailbox, CPU at rest. Dovecot is set up for thousands of
//! sessions as `../shared/notes/test-env.md` (fact 13) says: idle sessions parked in
//! `imap-hibernate`, `imap-login` serving many clients per process, inotify instances raised.
//!
//! `cargo bench --bench scale` runs 100 and 1,000 mailboxes; `BOUNCEDOC_SCALE=100,1000,10000`
//! picks the sizes, `BOUNCEDOC_SCALE_TLS=none` connects in plain text (what TLS costs). Prints one line per size and the marginal memory per mailbox between sizes.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::bot::{Bot, Mailbox, World};
use support::dovecot::{Dovecot, PASSWORD};

fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Dovecot's settings for many sessions (test-env.md, fact 13).
const MANY: &str = "imap_hibernate_timeout = 2s\ndefault_client_limit = 30000\nservice imap {\n  process_limit = 12000\n  unix_listener imap-master {\n    user = $default_internal_user\n  }\n}\nservice imap-hibernate {\n  client_limit = 12000\n  unix_listener imap-hibernate {\n    mode = 0666\n  }\n}\nservice imap-login {\n  service_count = 0\n  client_limit = 12000\n  process_min_avail = 8\n}\nmail_max_userip_connections = 20000\n";

/// One run of `n` mailboxes: (seconds to all watching, RSS in KB, CPU ticks in 10 s at rest).
fn run(n: usize) -> (f64, u64, u64) {
    let dovecot = Dovecot::start_with(PASSWORD, true, MANY);
    let imaps = dovecot.imaps.expect("imaps");
    let imap = dovecot.imap;
    // BOUNCEDOC_SCALE_TLS=none: plain text to loopback, to see what TLS costs.
    let plain = std::env::var("BOUNCEDOC_SCALE_TLS").is_ok_and(|v| v == "none");
    let ca = dovecot.ca_file.clone().expect("ca");
    let w = World::start_with(&format!("scale{n}"), dovecot);
    let mailboxes: Vec<Mailbox> = (0..n)
        .map(|i| {
            let mut m = Mailbox::idle(&format!("s{i}"));
            m.imap = Some(if plain {
                format!(
                    "      host: 127.0.0.1\n      port: {}\n      tls: none\n",
                    imap.port()
                )
            } else {
                format!(
                    "      host: 127.0.0.1\n      port: {}\n      tls: implicit\n      ca_file: {}\n",
                    imaps.port(),
                    ca.display()
                )
            });
            m
        })
        .collect();
    let config = w.config_with(
        &format!("scale{n}"),
        &mailboxes,
        "imap_connect_concurrency: 64\nlimits: {replies_per_hour: 1000, forwards_per_hour: 1000}\n",
    );
    let started = Instant::now();
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    assert!(
        bot.wait_log("watching", n, Duration::from_secs(600)),
        "{} of {n} watching:\n{}",
        bot.log_count("watching"),
        bot.log_text()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let all_up = started.elapsed().as_secs_f64();
    // Let Dovecot park the sessions and the bot settle.
    std::thread::sleep(Duration::from_secs(5));
    let pid = bot.pid();
    let before = cpu_ticks(pid).expect("stat");
    std::thread::sleep(Duration::from_secs(10));
    let after = cpu_ticks(pid).expect("stat");
    let rss = proc_status(pid, "VmRSS:").expect("VmRSS");
    let reconnects = bot.log_count("mailbox disconnected");
    let rate = notice_rate(&w, n);
    println!(
        "{n:>6} mailboxes (IDLE, {}): all watching after {all_up:.1} s; RSS {:.1} MB ({:.1} KB a mailbox); CPU at rest {} ticks (1/100 s) in 10 s; {reconnects} reconnects; {rate}",
        if plain { "plain text" } else { "implicit TLS" },
        rss as f64 / 1024.0,
        rss as f64 / n as f64,
        after - before
    );
    (all_up, rss, after - before)
}

/// How many notices the bot reads, diagnoses, answers and records per second while all `n`
/// sessions are up: one Exchange delay notice each to up to 2,000 mailboxes (spread over
/// all of them), delivered by 32 IMAP clients at once; timed from the first delivery until
/// the state holds every notice.
fn notice_rate(w: &World, n: usize) -> String {
    let k = n.min(2000);
    let step = n / k;
    let db = w.dir.join("state").join("bouncedoc.sqlite");
    let count = || -> usize {
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM notice WHERE kind = 'delayed'", [], |r| {
                    r.get(0)
                })
            })
            .unwrap_or(0)
    };
    let rt = support::bot::runtime();
    let started = Instant::now();
    let imap = w.dovecot.imap;
    rt.block_on(async {
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= k {
                        return;
                    }
                    let user = format!("s{}", i * step);
                    let raw = support::bot::exchange_notice(
                        &format!("{user}@corp.test"),
                        &format!("r{i}@gone.test"),
                        &format!("orig-{i}@corp.test"),
                        &format!("notice-{i}@corp.test"),
                        false,
                    );
                    support::imap::append(imap, &user, "INBOX", &raw).await;
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let delivered = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(600);
    while count() < k && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let recorded = count();
    let all = started.elapsed().as_secs_f64();
    // The bot's own pace: from its first "notice processed" line to its last (the time before
    // is Dovecot's: waking parked sessions to tell them of new mail).
    let log = std::fs::read_to_string(w.dir.join("bot.log")).unwrap_or_default();
    let stamps: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("notice processed"))
        .filter_map(|l| {
            let t = l.get(11..26)?;
            let (h, rest) = t.split_once(':')?;
            let (m, s) = rest.split_once(':')?;
            Some(h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
        })
        .collect();
    // The central 80 % (one notice Dovecot tells early or late does not set the pace).
    let mut sorted = stamps.clone();
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = (sorted.len() / 10, sorted.len() * 9 / 10);
    let (rate, span) = match (sorted.get(lo), sorted.get(hi.saturating_sub(1))) {
        (Some(a), Some(b)) if b > a => ((hi - lo) as f64 / (b - a), b - a),
        _ => (f64::NAN, f64::NAN),
    };
    format!(
        "{recorded} of {k} notices recorded; the bot processed them at {rate:.0}/s (the central 80 % of {} in {span:.2} s); end to end {all:.1} s, delivering them took {delivered:.1} s",
        stamps.len()
    )
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run only for real.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // One inotify instance per IDLE session in Dovecot, or it polls (test-env.md, fact 14).
    let _ = std::fs::write("/proc/sys/fs/inotify/max_user_instances", "16384");
    let sizes: Vec<usize> = std::env::var("BOUNCEDOC_SCALE")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000]);
    let mut results = Vec::new();
    for n in sizes {
        results.push((n, run(n)));
    }
    for pair in results.windows(2) {
        let ((n1, (_, rss1, _)), (n2, (_, rss2, _))) = (pair[0], pair[1]);
        println!(
            "marginal memory from {n1} to {n2} mailboxes: {:.1} KB a mailbox",
            (rss2 as f64 - rss1 as f64) / (n2 - n1) as f64
        );
    }
}
