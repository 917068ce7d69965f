//! The daemon's speed with real servers (`cargo bench --bench daemon`): Dovecot, Postfix and
//! Unbound on loopback, `bouncedoc run` (release build) as a child process.
//!
//! 1. Latency: a notice appended to the INBOX → the answer accepted by Postfix (the bot's
//!    "sent" log line), IDLE mode, one notice at a time: p50 and p95.
//! 2. 100 idle mailboxes in one process: resident memory, and CPU used over 10 s at rest.
//! 3. Catch-up: 1,000 notices waiting in one mailbox when the bot starts: notices per second.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime};
use support::bot::{exchange_notice, Bot, Mailbox, Scene, World};
use support::imap;

/// The UTC timestamp at the start of a log line, as seconds since the epoch.
fn log_time(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?;
    let dt = mail_parser::DateTime::parse_rfc3339(stamp)?;
    let frac = stamp
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches('Z'))
        .and_then(|f| format!("0.{f}").parse::<f64>().ok())
        .unwrap_or(0.0);
    Some(dt.to_timestamp() as f64 + frac)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn latency(n: usize) {
    let Scene { w, rt, bot, .. } = Scene::start("bench-latency", &[Mailbox::idle("alice")], None, "watching");
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let notice = exchange_notice(
            "alice@corp.test",
            &format!("b{i}@gone.test"),
            &format!("lat{i}@corp.test"),
            &format!("latn{i}@corp.test"),
            false,
        );
        rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &notice));
        let delivered = now();
        assert!(
            bot.wait_log(" sent ", i + 1, Duration::from_secs(20)),
            "{}",
            bot.log_text()
        );
        let log = bot.log_text();
        let sent = log
            .lines()
            .filter(|l| l.contains(" sent "))
            .nth(i)
            .and_then(log_time)
            .expect("a sent line with a time");
        samples.push(sent - delivered);
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "latency, notice appended → answer accepted by SMTP (IDLE, {n} notices): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(&samples, 0.5) * 1000.0,
        percentile(&samples, 0.95) * 1000.0,
        samples.last().copied().unwrap_or(0.0) * 1000.0
    );
}

fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn idle_mailboxes(count: usize) {
    let w = World::start("bench-idle");
    let mailboxes: Vec<Mailbox> = (0..count).map(|i| Mailbox::idle(&format!("u{i}"))).collect();
    let config = w.config("many", &mailboxes);
    let started = Instant::now();
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    assert!(
        bot.wait_log("watching", count, Duration::from_secs(60)),
        "{}",
        bot.log_text()
    );
    let all_up = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    let pid = bot.pid();
    let before = cpu_ticks(pid).expect("stat");
    std::thread::sleep(Duration::from_secs(10));
    let after = cpu_ticks(pid).expect("stat");
    let rss_kb = proc_status(pid, "VmRSS:").expect("VmRSS");
    let hwm_kb = proc_status(pid, "VmHWM:").expect("VmHWM");
    println!(
        "{count} idle mailboxes in one process: all watching after {:.2} s; RSS {:.1} MB (peak {:.1} MB); CPU at rest {} ticks (1/100 s) in 10 s",
        all_up.as_secs_f64(),
        rss_kb as f64 / 1024.0,
        hwm_kb as f64 / 1024.0,
        after - before
    );
}

fn catch_up(n: usize) {
    // A first start records where the mailbox stands; then the bot is down while notices pile up.
    let Scene { w, rt, mut bot, .. } =
        Scene::start("bench-catchup", &[Mailbox::idle("alice")], None, "watching");
    bot.signal("TERM");
    bot.wait_exit(Duration::from_secs(10)).expect("stopped");
    rt.block_on(async {
        let mut s = imap::login(w.dovecot.imap, "alice").await;
        for i in 0..n {
            let notice = exchange_notice(
                "alice@corp.test",
                &format!("c{i}@gone.test"),
                &format!("cu{i}@corp.test"),
                &format!("cun{i}@corp.test"),
                false,
            );
            s.append("INBOX", None, None, &notice).await.expect("append");
        }
        let _ = s.logout().await;
    });
    let log_before = bot.log_count("notice processed");
    let started = now();
    bot.restart();
    assert!(
        bot.wait_log("notice processed", log_before + n, Duration::from_secs(300)),
        "{}",
        bot.log_text()
    );
    let log = bot.log_text();
    let last = log
        .lines()
        .rfind(|l| l.contains("notice processed"))
        .and_then(log_time)
        .expect("time");
    assert!(
        bot.wait_log(" sent ", n, Duration::from_secs(300)),
        "all answers sent"
    );
    let sent_last = bot
        .log_text()
        .lines()
        .rfind(|l| l.contains(" sent "))
        .and_then(log_time)
        .expect("time");
    println!(
        "catch-up of {n} notices waiting in one mailbox: processed in {:.2} s = {:.0} notices/s (all {n} answers accepted by SMTP after {:.2} s)",
        last - started,
        n as f64 / (last - started),
        sent_last - started
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run only for real.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    latency(40);
    idle_mailboxes(100);
    catch_up(1000);
}
