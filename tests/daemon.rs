//! `bouncedoc run` end to end: real Dovecot (the users' mailboxes, IDLE), real Postfix (the
//! bot's SMTP server), real Unbound (DNS), the binary as a child process. Notices arrive by IMAP
//! APPEND (Exchange-style) or from Postfix itself; answers are read back over IMAP.

mod support;

use std::time::{Duration, Instant};
use support::bot::{exchange_notice, from_bot, header, subject, text, Bot, Mailbox, World};
use support::imap;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Waits until `user`'s INBOX holds `n` messages from the bot; returns them.
fn bot_messages(rt: &tokio::runtime::Runtime, w: &World, user: &str, n: usize, within: Duration) -> Vec<Vec<u8>> {
    let start = Instant::now();
    loop {
        let all = rt.block_on(imap::fetch_all(w.dovecot.imap, user));
        let mine: Vec<Vec<u8>> = from_bot(&all).into_iter().cloned().collect();
        if mine.len() >= n || start.elapsed() > within {
            return mine;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn exchange_notices_appended_are_answered_with_idle_and_the_mail_is_untouched() {
    let w = World::start("idle");
    let rt = runtime();
    let config = w.config("idle", &[Mailbox::idle("alice")]);
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    assert!(bot.wait_log("watching", 1, Duration::from_secs(10)), "{}", bot.log_text());

    // A recipient domain that does not exist: advice to the user.
    let gone = exchange_notice("alice@corp.test", "bob@gone.test", "orig-1@corp.test", "n1@corp.test", false);
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &gone));
    let replies = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15));
    assert_eq!(replies.len(), 1, "{}", bot.log_text());
    let r = &replies[0];
    assert_eq!(header(r, "To").as_deref(), Some("<alice@corp.test>"));
    assert_eq!(header(r, "In-Reply-To").as_deref(), Some("<n1@corp.test>"));
    assert_eq!(header(r, "Auto-Submitted").as_deref(), Some("auto-generated"));
    let subject = subject(r);
    assert!(subject.contains("bob@gone.test") && subject.contains("their domain does not exist"), "{subject}");
    assert!(text(r).contains("contact the recipient by another channel"), "{}", text(r));

    // An ordinary message is left alone; an all-clear delay goes to Support as a package.
    rt.block_on(imap::append(
        w.dovecot.imap,
        "alice",
        "INBOX",
        b"From: carol@partner.test\r\nTo: alice@corp.test\r\nSubject: lunch?\r\nMessage-ID: <lunch@partner.test>\r\n\r\nNoon?\r\n",
    ));
    let clear = exchange_notice("alice@corp.test", "dan@partner.test", "orig-2@corp.test", "n2@corp.test", false);
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &clear));
    let replies = bot_messages(&rt, &w, "alice", 2, Duration::from_secs(15));
    assert_eq!(replies.len(), 2, "{}", bot.log_text());
    let package = bot_messages(&rt, &w, "support", 1, Duration::from_secs(15));
    assert_eq!(package.len(), 1, "{}", bot.log_text());
    assert!(String::from_utf8_lossy(&package[0]).contains("Content-Type: message/rfc822"));
    assert_eq!(header(&package[0], "Reply-To").as_deref(), Some("<alice@corp.test>"));

    // The user's own messages: still unread, unflagged, in place.
    let inbox = rt.block_on(imap::fetch_flags(w.dovecot.imap, "alice", "INBOX"));
    for (flags, raw) in &inbox {
        if header(raw, "From").is_some_and(|f| !f.contains("bouncedoc@corp.test")) {
            assert!(flags.is_empty(), "the user's mail was touched: {flags:?}");
        }
    }
    assert_eq!(inbox.len(), 5, "3 of the user's + 2 answers");
}
