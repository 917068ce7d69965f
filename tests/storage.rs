//! The state on a full disk, for real: `bouncedoc run` with its state directory on a small
//! tmpfs that the test fills. No notice may be lost: the bot stops taking new work, says so,
//! keeps its cursor, and goes on when space returns.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::bot::{bot_messages, exchange_notice, header, runtime, Bot, Mailbox, World};
use support::imap;

/// A small tmpfs mounted at a directory; unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).expect("mount point");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot mount a tmpfs at {} (the disk-full test needs root, as .ci/run has)",
            at.display()
        );
        SmallDisk(at.to_path_buf())
    }

    /// Writes a filler file until the disk is full.
    fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=4k"])
            .arg(format!("of={}", filler.display()))
            .stderr(std::process::Stdio::null())
            .status();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_pauses_the_mailbox_and_nothing_is_lost() {
    let w = World::start("diskfull");
    let rt = runtime();
    let disk = SmallDisk::mount(&w.dir.join("state"), "8M");
    let config = w.config("diskfull", &[Mailbox::idle("alice")]);
    let mut bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(10));

    // The disk fills up; a notice arrives.
    let filler = disk.fill();
    let notice = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-d@corp.test",
        "full-1@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &notice));
    bot.expect_log("the state database cannot be written", 1, Duration::from_secs(20));
    assert_eq!(bot.log_count("notice processed"), 0, "{}", bot.log_text());

    // Space returns: the notice is answered, once.
    std::fs::remove_file(&filler).expect("free the disk");
    let replies = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(60));
    assert_eq!(replies.len(), 1, "{}", bot.log_text());
    assert_eq!(
        header(&replies[0], "In-Reply-To").as_deref(),
        Some("<full-1@corp.test>")
    );
    assert_eq!(bot.log_count("notice processed uid=1 "), 1, "{}", bot.log_text());

    // A marker after it: once its answer is in, the first notice still has exactly one.
    let marker = exchange_notice(
        "alice@corp.test",
        "carol@gone.test",
        "orig-m@corp.test",
        "marker@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &marker));
    let replies = bot_messages(&rt, &w, "alice", 2, Duration::from_secs(20));
    let to_first = replies
        .iter()
        .filter(|r| header(r, "In-Reply-To").as_deref() == Some("<full-1@corp.test>"))
        .count();
    assert_eq!((replies.len(), to_first), (2, 1), "{}", bot.log_text());
    bot.kill9();
}

#[test]
fn a_sender_that_cannot_start_is_retried_and_then_sends() {
    let w = World::start("senderretry");
    let rt = runtime();
    // A second Postfix, implicit TLS with AUTH and a private CA, delivering corp.test too.
    let tls = support::postfix::Postfix::start_tls_auth(("corp.test", w.dovecot.lmtp), w.dovecot.auth);
    let smtps = tls.smtps.expect("smtps listener");
    // The CA file the mailbox's sender needs is not there yet: the sender cannot start.
    let ca = w.dir.join("late-ca.pem");
    let mut m = Mailbox::idle("alice");
    m.extra = format!(
        "    smtp:\n      host: 127.0.0.1\n      port: {}\n      tls: implicit\n      ca_file: {}\n      username: alice\n      password: \"{}\"\n",
        smtps.port(),
        ca.display(),
        support::dovecot::PASSWORD
    );
    let config = w.config("senderretry", &[m]);
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(10));
    bot.expect_log("cannot set up sending", 1, Duration::from_secs(10));
    let notice = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-s@corp.test",
        "late-1@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &notice));
    bot.expect_log("notice processed", 1, Duration::from_secs(15));
    // The administrator puts the CA in place: the sender starts on its next try and sends.
    std::fs::copy(tls.ca_file.as_ref().expect("test CA"), &ca).expect("install the CA");
    let replies = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(30));
    assert_eq!(replies.len(), 1, "{}", bot.log_text());
    assert_eq!(
        header(&replies[0], "In-Reply-To").as_deref(),
        Some("<late-1@corp.test>")
    );
}
