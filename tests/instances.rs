//! Several `bouncedoc run` instances sharing one real PostgreSQL (started by the harness on
//! loopback) over one Dovecot: each mailbox watched by exactly one instance, the mailboxes
//! spread evenly and rebalanced when an instance joins, taken over within the lease when one
//! is killed (every notice answered exactly once), PostgreSQL restarted under them, and an
//! instance cut off from the database stopping before another may take its mailboxes.
//!
//! Which instance watches which mailbox is read from each instance's `/metrics`
//! (`bouncedoc_mailbox_up`: signed in and watching), not from the database.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::bot::{exchange_notice, from_bot, header, runtime, Bot, Mailbox, World};
use support::postgres::Postgres;

/// The lease the tests run with (renewed every 2 s; an instance stops 4 s after its last
/// renewal; a killed instance's mailboxes are free after 6 s).
const LEASE: u64 = 6;

/// One running instance.
struct Instance {
    bot: Bot,
    metrics: u16,
}

/// The servers, the database and the instances.
struct Fleet {
    w: World,
    pg: Postgres,
    rt: tokio::runtime::Runtime,
    names: Vec<String>,
    instances: Vec<Instance>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The mailboxes `/metrics` on `port` shows signed in and watching.
fn watching(port: u16) -> BTreeSet<String> {
    scrape(port)
        .lines()
        .filter_map(|l| l.strip_prefix("bouncedoc_mailbox_up{mailbox=\""))
        .filter_map(|l| l.split_once("\"} "))
        .filter(|(_, v)| v.trim() == "1")
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The value of the unlabelled gauge `name` on `/metrics` at `port`.
fn gauge(port: u16, name: &str) -> Option<i64> {
    scrape(port)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

/// `/metrics` at `port` (empty when it does not answer).
fn scrape(port: u16) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let Ok(mut r) = agent.get(&format!("http://127.0.0.1:{port}/metrics")).call() else {
        return String::new();
    };
    r.body_mut().read_to_string().unwrap_or_default()
}

impl Fleet {
    /// The world, PostgreSQL and `n` mailboxes; no instance yet.
    fn start(tag: &str, n: usize) -> Fleet {
        // One inotify instance per IDLE session in Dovecot, or it polls (test-env.md, fact 14).
        let _ = std::fs::write("/proc/sys/fs/inotify/max_user_instances", "16384");
        Fleet {
            w: World::start(tag),
            pg: Postgres::start(),
            rt: runtime(),
            names: (0..n).map(|i| format!("m{i:02}")).collect(),
            instances: Vec::new(),
        }
    }

    /// Starts one more instance reaching the database at `database` (default: directly).
    fn add(&mut self, database: Option<SocketAddr>) -> usize {
        let k = self.instances.len();
        let metrics = free_port();
        let url = match database {
            Some(a) => format!("postgres://bouncedoc@127.0.0.1:{}/bouncedoc", a.port()),
            None => self.pg.url(),
        };
        let mailboxes: Vec<Mailbox> = self.names.iter().map(|n| Mailbox::idle(n)).collect();
        let config = self.w.config_with(
            &format!("instance{k}"),
            &mailboxes,
            &format!(
                "database: {{url: \"{url}\", lease: {LEASE}s}}\nmetrics: {{listen: \"127.0.0.1:{metrics}\"}}\nlimits: {{replies_per_hour: 100000, forwards_per_hour: 100000}}\n"
            ),
        );
        let bot = Bot::start(&config, &self.w.dir.join(format!("instance{k}.log")));
        self.instances.push(Instance { bot, metrics });
        k
    }

    /// What each live instance watches, by instance.
    fn watched(&self, live: &[usize]) -> Vec<BTreeSet<String>> {
        live.iter()
            .map(|k| watching(self.instances[*k].metrics))
            .collect()
    }

    /// Waits until the instances `live` together watch every mailbox, each exactly once, and
    /// each within one of an even share; returns how long it took and what each watches.
    #[track_caller]
    fn wait_spread(&self, live: &[usize], within: Duration) -> (Duration, Vec<BTreeSet<String>>) {
        let start = Instant::now();
        let all: BTreeSet<String> = self.names.iter().cloned().collect();
        loop {
            let each = self.watched(live);
            let total: usize = each.iter().map(BTreeSet::len).sum();
            let union: BTreeSet<String> = each.iter().flatten().cloned().collect();
            let (least, most) = (
                each.iter().map(BTreeSet::len).min().unwrap_or(0),
                each.iter().map(BTreeSet::len).max().unwrap_or(0),
            );
            if union == all && total == all.len() && most - least <= 1 {
                return (start.elapsed(), each);
            }
            assert!(
                start.elapsed() < within,
                "not spread after {within:?}: {:?} watched, {total} sessions, shares {:?}\n{}",
                union.len(),
                each.iter().map(BTreeSet::len).collect::<Vec<_>>(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        self.instances
            .iter()
            .enumerate()
            .map(|(k, i)| format!("--- instance {k} ---\n{}", i.bot.log_text()))
            .collect()
    }

    /// Delivers notice number `i` to mailbox `name` (a new original each: one answer each).
    fn deliver(&self, name: &str, i: usize) {
        let raw = exchange_notice(
            &format!("{name}@corp.test"),
            &format!("r{i}@gone.test"),
            &format!("orig-{name}-{i}@corp.test"),
            &format!("notice-{name}-{i}@corp.test"),
            false,
        );
        self.rt
            .block_on(support::imap::append(self.w.dovecot.imap, name, "INBOX", &raw));
    }

    /// Waits until the database has recorded `n` notices and sent everything queued.
    #[track_caller]
    fn settle(&self, n: usize, within: Duration) {
        let start = Instant::now();
        loop {
            let recorded: usize = self
                .pg
                .psql("SELECT COUNT(*) FROM notice WHERE kind = 'delayed'")
                .parse()
                .unwrap_or(0);
            let queued: usize = self
                .pg
                .psql("SELECT COUNT(*) FROM outbox WHERE state <> 'sent'")
                .parse()
                .unwrap_or(1);
            if recorded >= n && queued == 0 && self.w.postfix.queued_for("corp.test") == 0 {
                return;
            }
            assert!(
                start.elapsed() < within,
                "{recorded} of {n} notices recorded, {queued} messages not sent\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// For each mailbox, the Message-IDs of the bot's answers it received (duplicates kept).
    fn answers(&self) -> BTreeMap<String, Vec<String>> {
        self.names
            .iter()
            .map(|name| {
                let all = self
                    .rt
                    .block_on(support::imap::fetch_all(self.w.dovecot.imap, name));
                let ids = from_bot(&all)
                    .iter()
                    .filter_map(|m| header(m, "Message-ID"))
                    .collect();
                (name.clone(), ids)
            })
            .collect()
    }

    /// Every notice delivered (`sent[name]` of them) was answered once: one answer recorded
    /// and queued per notice in the database, as many distinct answers received as notices,
    /// and at most `handed_twice` of them received twice (a killed instance may have handed
    /// its message in progress to the SMTP server without living to mark it sent: another
    /// instance sends it again, the documented rule of a crash mid-send).
    #[track_caller]
    fn assert_answered_once(&self, sent: &BTreeMap<String, usize>, handed_twice: usize) {
        let notices: usize = sent.values().sum();
        assert_eq!(
            self.pg.psql("SELECT COUNT(*) FROM outbox"),
            notices.to_string(),
            "one answer queued per notice"
        );
        let start = Instant::now();
        loop {
            let answers = self.answers();
            let mut twice = 0;
            let wrong: Vec<String> = self
                .names
                .iter()
                .filter_map(|n| {
                    let ids = answers.get(n).cloned().unwrap_or_default();
                    let distinct: BTreeSet<&String> = ids.iter().collect();
                    let want = sent.get(n).copied().unwrap_or(0);
                    twice += ids.len().saturating_sub(distinct.len());
                    (distinct.len() != want).then(|| {
                        format!(
                            "{n}: {} answers ({} distinct) for {want} notices",
                            ids.len(),
                            distinct.len()
                        )
                    })
                })
                .collect();
            if wrong.is_empty() && twice <= handed_twice {
                if twice > 0 {
                    eprintln!("{twice} answer(s) handed to the SMTP server twice: the killed instance's message in progress");
                }
                return;
            }
            // Postfix may still be handing the last ones to Dovecot.
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{wrong:?}, {twice} received twice (at most {handed_twice} allowed)\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn two_then_three_instances_watch_fifty_mailboxes_each_exactly_once() {
    let mut f = Fleet::start("spread", 50);
    let (a, b) = (f.add(None), f.add(None));
    let (took, each) = f.wait_spread(&[a, b], Duration::from_secs(40));
    eprintln!(
        "two instances: every mailbox watched once after {took:?}, shares {:?}",
        each.iter().map(BTreeSet::len).collect::<Vec<_>>()
    );
    // A third joins: the others hand mailboxes over until the shares are even (17/17/16).
    let c = f.add(None);
    let (took, each) = f.wait_spread(&[a, b, c], Duration::from_secs(40));
    eprintln!(
        "three instances: rebalanced after {took:?}, shares {:?}",
        each.iter().map(BTreeSet::len).collect::<Vec<_>>()
    );
    // The database agrees: 50 leases, three owners.
    assert_eq!(f.pg.psql("SELECT COUNT(*) FROM lease"), "50");
    assert_eq!(f.pg.psql("SELECT COUNT(DISTINCT owner) FROM lease"), "3");
    // And so do the metrics: what each instance owns, and how many instances there are.
    for (k, mine) in [a, b, c].iter().zip(&each) {
        let port = f.instances[*k].metrics;
        assert_eq!(gauge(port, "bouncedoc_mailboxes_owned"), Some(mine.len() as i64));
        assert_eq!(gauge(port, "bouncedoc_instances"), Some(3));
    }
    // One notice per mailbox: each answered exactly once, by whichever instance watches it.
    let mut sent = BTreeMap::new();
    for name in &f.names {
        f.deliver(name, 0);
        sent.insert(name.clone(), 1);
    }
    f.settle(50, Duration::from_secs(60));
    f.assert_answered_once(&sent, 0);
    // The commands read the database: status names the instance holding each mailbox,
    // history lists what any instance recorded, check-config reports the database.
    let config = f.w.dir.join("instance0.yaml");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("bouncedoc");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let status: serde_json::Value = serde_json::from_str(&run(&["status", "--json"])).expect("status --json");
    let lines = status["mailboxes"].as_array().expect("mailboxes");
    assert_eq!(lines.len(), 50);
    assert!(lines.iter().all(|m| m["watching"] == "watching"), "{status}");
    let holders: BTreeSet<&str> = lines.iter().filter_map(|m| m["instance"].as_str()).collect();
    assert_eq!(holders.len(), 3, "{status}");
    let history = run(&["history", "--limit", "100", "--json"]);
    let entries: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(entries.len(), 50, "{history}");
    assert!(entries.iter().all(|e| e["outcome"] == "answered"), "{history}");
    let check = run(&["check-config"]);
    assert!(
        check.contains(&format!(
            "database postgres://bouncedoc@127.0.0.1:{}/bouncedoc: schema",
            f.pg.port
        )) && check.contains("3 instances running"),
        "{check}"
    );
    // A clean stop gives the leases up at once: the other two take its share well before
    // its leases would have run out.
    f.instances[c].bot.signal("TERM");
    assert!(f.instances[c].bot.wait_exit(Duration::from_secs(15)).is_some());
    let (took, _) = f.wait_spread(&[a, b], Duration::from_secs(30));
    eprintln!("after a clean stop of one: all watched again after {took:?}");
    assert!(
        took < Duration::from_secs(LEASE),
        "taken over after {took:?}, not at once"
    );
}

#[test]
fn a_killed_instance_loses_no_notice_and_each_is_answered_once() {
    let mut f = Fleet::start("kill", 50);
    let (a, b, c) = (f.add(None), f.add(None), f.add(None));
    f.wait_spread(&[a, b, c], Duration::from_secs(40));
    let mut sent: BTreeMap<String, usize> = BTreeMap::new();
    let mut i = 0;
    let mut deliver_round = |f: &Fleet, sent: &mut BTreeMap<String, usize>| {
        for name in &f.names {
            f.deliver(name, i);
            *sent.entry(name.clone()).or_default() += 1;
        }
        i += 1;
    };
    deliver_round(&f, &mut sent);
    // Killed while notices arrive: some are in flight in its watchers.
    let victim = f.watched(&[b])[0].clone();
    deliver_round(&f, &mut sent);
    f.instances[b].bot.kill9();
    let killed = Instant::now();
    deliver_round(&f, &mut sent);
    let (_, each) = f.wait_spread(&[a, c], Duration::from_secs(LEASE + 30));
    let took = killed.elapsed();
    eprintln!(
        "killed an instance watching {} mailboxes: all watched again {took:?} after the kill (lease {LEASE} s), shares {:?}",
        victim.len(),
        each.iter().map(BTreeSet::len).collect::<Vec<_>>()
    );
    assert!(
        took < Duration::from_secs(LEASE + 10),
        "its mailboxes were watched again only after {took:?}"
    );
    deliver_round(&f, &mut sent);
    let total: usize = sent.values().sum();
    f.settle(total, Duration::from_secs(90));
    f.assert_answered_once(&sent, 1);
}

#[test]
fn instances_reconnect_after_postgresql_restarts_and_go_on() {
    let mut f = Fleet::start("pgrestart", 10);
    let (a, b) = (f.add(None), f.add(None));
    f.wait_spread(&[a, b], Duration::from_secs(40));
    f.pg.stop(false);
    std::thread::sleep(Duration::from_secs(1));
    f.pg.restart();
    // Both go on: the mailboxes are watched (again, if the outage outlasted the leases), and
    // a notice to each is answered.
    f.wait_spread(&[a, b], Duration::from_secs(40));
    let mut sent = BTreeMap::new();
    for name in &f.names {
        f.deliver(name, 0);
        sent.insert(name.clone(), 1);
    }
    f.settle(10, Duration::from_secs(60));
    f.assert_answered_once(&sent, 0);
}

/// A TCP relay to `server` that can be cut: while cut, bytes go nowhere (connections stay
/// open, as across a network partition, and new ones are accepted but never answered).
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

fn relay(server: SocketAddr) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let cut = Arc::new(AtomicBool::new(false));
    let flag = cut.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            if flag.load(Ordering::SeqCst) {
                // Held open, never answered.
                std::mem::forget(client);
                continue;
            }
            let Ok(upstream) = TcpStream::connect(server) else {
                continue;
            };
            for (mut from, mut to) in [
                (
                    client.try_clone().expect("clone"),
                    upstream.try_clone().expect("clone"),
                ),
                (upstream, client),
            ] {
                let flag = flag.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        while flag.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    Relay { addr, cut }
}

#[test]
fn an_instance_cut_off_from_the_database_stops_watching_before_its_leases_run_out() {
    let mut f = Fleet::start("partition", 20);
    let pg: SocketAddr = format!("127.0.0.1:{}", f.pg.port).parse().expect("addr");
    let link = relay(pg);
    let (a, b) = (f.add(Some(link.addr)), f.add(None));
    let (_, each) = f.wait_spread(&[a, b], Duration::from_secs(40));
    let cut_off = each[0].clone();
    link.cut.store(true, Ordering::SeqCst);
    let cut = Instant::now();
    // From now on no mailbox may be watched by both; A stops, then B takes A's share.
    let mut stopped_after = None;
    loop {
        let now = f.watched(&[a, b]);
        let both: Vec<&String> = now[0].intersection(&now[1]).collect();
        assert!(
            both.is_empty(),
            "watched by both instances {:?} after the cut: {both:?}\n{}",
            cut.elapsed(),
            f.logs()
        );
        if now[0].is_empty() && stopped_after.is_none() {
            stopped_after = Some(cut.elapsed());
        }
        if now[1].len() == f.names.len() {
            break;
        }
        assert!(
            cut.elapsed() < Duration::from_secs(LEASE + 30),
            "B never took over\n{}",
            f.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let taken = cut.elapsed();
    let stopped = stopped_after.expect("A stopped before B took all");
    eprintln!(
        "cut off: A (watching {}) stopped {stopped:?} after the cut, B watched all {taken:?} after (lease {LEASE} s)",
        cut_off.len()
    );
    assert!(
        stopped < Duration::from_secs(LEASE),
        "A stopped only after {stopped:?}"
    );
    assert!(
        f.instances[a].bot.log_count("could not be renewed in time") >= 1,
        "{}",
        f.logs()
    );
    // Healed: A comes back and takes its share again.
    link.cut.store(false, Ordering::SeqCst);
    f.wait_spread(&[a, b], Duration::from_secs(60));
}
