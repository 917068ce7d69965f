//! Hostile mail (issue "Hostile mail cannot stall, flood or fool the bot"): every shape of
//! `support/hostile.rs` through `bouncedoc parse`, and hostile messages in a watched mailbox
//! through the running daemon (real Dovecot, Postfix and Unbound).
//!
//! The figures per MB are `cargo bench --bench hostile`; here a shape only has to finish well
//! inside a bound that a quadratic reader misses by orders of magnitude (before the fix, a run
//! of dotted numbers took 5 s at 256 KB in a release build: minutes at 2 MB, hours at 8 MB).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::bot::{bot_messages, exchange_notice, header, Bot, Mailbox, Scene};
use support::{hostile, imap};

/// Runs `bouncedoc parse --json FILE`, killed after `within`; returns its stdout and how long
/// it took, or panics naming the file when it did not finish.
fn parse_within(file: &Path, within: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["parse", "--json"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run bouncedoc parse");
    // Read its output while it runs (a full pipe would stop it).
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!(
                "bouncedoc parse did not finish {} within {within:?}: a reader is not linear",
                file.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let out = reader.join().expect("reader thread").expect("parse output");
    (out, took)
}

#[test]
fn every_hostile_shape_reads_through_parse_in_bounded_time() {
    let dir = std::env::temp_dir().join(format!("bouncedoc-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    assert!(hostile::SHAPES.len() >= 50, "the shapes list lost entries");
    let mut report = Vec::new();
    for shape in hostile::SHAPES {
        let raw = hostile::message(shape, 2 << 20);
        assert!(raw.len() >= 2 << 20, "{shape}: {} bytes", raw.len());
        let file = dir.join(format!("{shape}.eml"));
        std::fs::write(&file, &raw).expect("write shape");
        // A debug build reads a few MB a second; a quadratic reader takes hours at 2 MB.
        let (out, took) = parse_within(&file, Duration::from_secs(60));
        let line: serde_json::Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("{shape}: not one JSON line ({e}): {out:.200}"));
        assert_eq!(line["file"], file.display().to_string(), "{shape}");
        // What comes out stays bounded whatever came in.
        if let Some(rs) = line["recipients"].as_array() {
            assert!(rs.len() <= 1000, "{shape}: {} recipients", rs.len());
            for r in rs {
                let diagnostic = r["diagnostic"].as_str().unwrap_or("");
                assert!(
                    diagnostic.len() <= 1000,
                    "{shape}: a diagnostic of {} bytes",
                    diagnostic.len()
                );
                let address = r["address"].as_str().unwrap_or("");
                assert!(
                    address.len() <= 320,
                    "{shape}: an address of {} bytes",
                    address.len()
                );
            }
        }
        if let Some(ips) = line["sending_ips"].as_array() {
            assert!(ips.len() <= 32, "{shape}: {} sending IPs", ips.len());
        }
        report.push(format!("{shape}: {} ms", took.as_millis()));
        let _ = std::fs::remove_file(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "2 MB hostile shapes through `bouncedoc parse` (debug build):\n  {}",
        report.join("\n  ")
    );
}

/// The `last_uid` the daemon logged when it began watching the `n`-th time.
fn watching_last_uid(bot: &Bot, n: usize) -> Option<u32> {
    let log = bot.log_text();
    let line = log.lines().filter(|l| l.contains("watching")).nth(n - 1)?;
    let at = line.find("last_uid=")? + "last_uid=".len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Restarts the bot and checks it starts watching with its cursor at `uid` or beyond.
fn restart_past(bot: &mut Bot, uid: u32) {
    bot.restart();
    bot.expect_log("watching", 2, Duration::from_secs(10));
    assert!(
        watching_last_uid(bot, 2).is_some_and(|u| u >= uid),
        "{}",
        bot.log_text()
    );
}

#[test]
fn a_hostile_message_does_not_hold_the_mailbox_and_is_not_read_again() {
    let Scene { w, rt, mut bot, .. } = Scene::start("hostile", &[Mailbox::idle("alice")], None, "watching");
    // Two hostile messages (the shapes that were quadratic), then a real notice.
    for shape in ["dsn-dotted-codes", "html-amps"] {
        rt.block_on(imap::append(
            w.dovecot.imap,
            "alice",
            "INBOX",
            &hostile::message(shape, 2 << 20),
        ));
    }
    let real = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-h@corp.test",
        "real-h@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &real));
    let start = Instant::now();
    let answered = |replies: &[Vec<u8>]| {
        replies
            .iter()
            .any(|r| header(r, "In-Reply-To").as_deref() == Some("<real-h@corp.test>"))
    };
    let mut replies = Vec::new();
    while start.elapsed() < Duration::from_secs(30) && !answered(&replies) {
        replies = bot_messages(&rt, &w, "alice", replies.len() + 1, Duration::from_secs(1));
    }
    assert!(
        answered(&replies),
        "the real notice was not answered:\n{}",
        bot.log_text()
    );
    // Processing runs on other threads, still logged under the mailbox's name.
    assert!(
        bot.log_text()
            .lines()
            .any(|l| l.contains("mailbox{name=alice}:") && l.contains("notice processed")),
        "{}",
        bot.log_text()
    );
    eprintln!(
        "real notice answered {} ms after the hostile messages",
        start.elapsed().as_millis()
    );

    // After a restart the cursor is past all three (the bot's own answers land in the INBOX
    // too, after them): none of them is read again.
    restart_past(&mut bot, 3);
    assert_eq!(bot.log_count("notice processed uid=1 "), 1, "{}", bot.log_text());
}

#[test]
fn a_message_over_its_time_budget_is_skipped_recorded_and_not_read_again() {
    // A budget that a 4 MB notice with a thousand recipients cannot meet in a debug build,
    // and that an ordinary notice meets easily.
    let Scene {
        w,
        rt,
        mut bot,
        config,
    } = Scene::start(
        "budget",
        &[Mailbox::idle("alice")],
        Some("limits: {replies_per_hour: 1000, forwards_per_hour: 1000, message_budget: 100ms}\n"),
        "watching",
    );
    rt.block_on(imap::append(
        w.dovecot.imap,
        "alice",
        "INBOX",
        &hostile::message("many-recipients-text", 4 << 20),
    ));
    bot.expect_log("took longer than its time budget", 1, Duration::from_secs(30));
    // The mailbox goes on: the next notice is answered.
    let real = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-b@corp.test",
        "real-b@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &real));
    let replies = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20));
    assert_eq!(replies.len(), 1, "{}", bot.log_text());
    assert_eq!(
        header(&replies[0], "In-Reply-To").as_deref(),
        Some("<real-b@corp.test>")
    );

    // `history` shows it, with why.
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["history", "--config"])
        .arg(&config)
        .output()
        .expect("history");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("uid 1 "))
        .unwrap_or_else(|| panic!("no history line for uid 1:\n{text}"));
    assert!(line.contains("skipped (over the time budget of 100ms)"), "{line}");

    // A restart does not read it again.
    restart_past(&mut bot, 2);
    assert_eq!(
        bot.log_count("took longer than its time budget"),
        1,
        "{}",
        bot.log_text()
    );
}
