//! Email commands end to end: the user's replies travel through the real Postfix into the real
//! Dovecot INBOX the bot watches; the bot's answers come back the same way. Each command, each
//! refusal, a forged notice, two bots that could feed each other, and the hourly limits.

mod support;

use std::time::{Duration, Instant};
use support::bot::{
    bot_messages, exchange_notice, from_bot, header, settle, subject, text, Bot, Mailbox, Scene, World,
};
use support::imap;

/// The user's reply to `to` (a message of the bot) with `body`, sent through Postfix to
/// alice's address (the Reply-To of the bot's messages). Returns its Message-ID.
fn reply(w: &World, from: &str, to: &[u8], body: &str, extra: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let id = format!(
        "cmd{}.{}@corp.test",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let parent = header(to, "Message-ID").unwrap_or_default();
    let refs = header(to, "References").unwrap_or_default();
    let message = format!(
        "From: <{from}>\r\nTo: <alice@corp.test>\r\nSubject: Re: {}\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <{id}>\r\nIn-Reply-To: {parent}\r\nReferences: {refs} {parent}\r\nMIME-Version: 1.0\r\n{extra}\r\n{body}\r\n",
        subject(to).replace(['\r', '\n'], " "),
    );
    support::smtp::send_raw(w.postfix.addr, from, "alice@corp.test", &message);
    id
}

fn answer_to<'a>(all: &'a [Vec<u8>], command_id: &str) -> Option<&'a Vec<u8>> {
    all.iter()
        .find(|m| header(m, "In-Reply-To").as_deref() == Some(&format!("<{command_id}>")))
}

/// Waits until the bot answered `command_id`; returns that answer.
fn wait_answer(rt: &tokio::runtime::Runtime, w: &World, user: &str, command_id: &str, bot: &Bot) -> Vec<u8> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        let all = bot_messages(rt, w, user, 0, Duration::ZERO);
        if let Some(a) = answer_to(&all, command_id) {
            return a.clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no answer to {command_id}\n{}", bot.log_text());
}

fn start(tag: &str, mailbox: Mailbox, global: &str) -> (World, tokio::runtime::Runtime, Bot) {
    let Scene { w, rt, bot, .. } = Scene::start(tag, &[mailbox], Some(global), "watching");
    (w, rt, bot)
}

const HIGH: &str = "limits: {replies_per_hour: 1000, forwards_per_hour: 1000}\n";

#[test]
fn every_command_works_from_the_user() {
    let (w, rt, bot) = start("cmds", Mailbox::idle("alice"), HIGH);
    // An all-clear delay: the answer plus a package to Support.
    let n = exchange_notice(
        "alice@corp.test",
        "bob@partner.test",
        "orig-c@corp.test",
        "nc@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    let first = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).remove(0);
    assert_eq!(
        bot_messages(&rt, &w, "support", 1, Duration::from_secs(15)).len(),
        1
    );

    // recheck: diagnosed again, answered in the thread.
    let id = reply(
        &w,
        "alice@corp.test",
        &first,
        "Recheck\r\n\r\nOn Fri, bouncedoc wrote:\r\n> Delayed",
        "",
    );
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(
        subject(&a).starts_with("Delayed: Quarterly figures → bob@partner.test"),
        "{}",
        subject(&a)
    );
    assert!(header(&a, "References")
        .unwrap_or_default()
        .contains(&header(&first, "Message-ID").unwrap_or_default()));

    // support: the package already went with the first answer.
    let id = reply(&w, "alice@corp.test", &first, "support", "");
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(subject(&a).starts_with("Already with Support"), "{}", subject(&a));

    // status: the open delayed messages, with verdict and time left.
    let id = reply(&w, "alice@corp.test", &first, "STATUS", "");
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(subject(&a).starts_with("Status: 1 open"), "{}", subject(&a));
    let t = text(&a);
    assert!(
        t.contains("Quarterly figures → bob@partner.test") && t.contains("unexplained"),
        "{t}"
    );

    // help, and anything unknown, get the list of commands; an HTML-only reply is read too.
    let id = reply(&w, "alice@corp.test", &first, "thanks a lot", "");
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(text(&a).contains("recheck — check again now"), "{}", text(&a));
    let id = reply(
        &w,
        "alice@corp.test",
        &first,
        "<html><body><div>help</div><div id=\"divRplyFwdMsg\"><b>From:</b> bouncedoc</div></body></html>",
        "Content-Type: text/html; charset=utf-8\r\n",
    );
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert_eq!(subject(&a), "bouncedoc: commands");

    // mute: confirmed; then the final failure of that message brings no closing message.
    let id = reply(&w, "alice@corp.test", &first, "mute", "");
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(subject(&a).starts_with("Muted:"), "{}", subject(&a));
    let before = bot_messages(&rt, &w, "alice", 0, Duration::ZERO).len();
    let fail = exchange_notice(
        "alice@corp.test",
        "bob@partner.test",
        "orig-c@corp.test",
        "nc2@corp.test",
        true,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &fail));
    bot.expect_log("outcome=\"muted\"", 1, Duration::from_secs(15));
    assert_eq!(bot_messages(&rt, &w, "alice", 0, Duration::ZERO).len(), before);
}

#[test]
fn support_sends_the_package_on_request_with_escalation_ask_and_never_refuses() {
    let mut m = Mailbox::idle("alice");
    m.extra = "    escalation: ask\n".into();
    let (w, rt, bot) = start("ask", m, HIGH);
    let n = exchange_notice(
        "alice@corp.test",
        "bob@partner.test",
        "orig-a@corp.test",
        "na@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    let first = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).remove(0);
    assert!(text(&first).contains("Reply \"support\""), "{}", text(&first));
    settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(15));
    assert!(
        bot_messages(&rt, &w, "support", 0, Duration::ZERO).is_empty(),
        "ask: nothing forwarded on its own"
    );
    let id = reply(&w, "alice@corp.test", &first, "support", "");
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(subject(&a).starts_with("Sent to Support"), "{}", subject(&a));
    let package = bot_messages(&rt, &w, "support", 1, Duration::from_secs(15));
    assert_eq!(package.len(), 1);
    assert!(String::from_utf8_lossy(&package[0]).contains("Content-Type: message/rfc822"));
    assert!(
        text(&package[0]).contains("Sent to Support on request"),
        "{}",
        text(&package[0])
    );

    // escalation: never.
    let mut m = Mailbox::idle("alice");
    m.extra = "    escalation: never\n".into();
    let (w, rt, bot) = start("never", m, HIGH);
    let n = exchange_notice(
        "alice@corp.test",
        "bob@partner.test",
        "orig-v@corp.test",
        "nv@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    let first = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).remove(0);
    // The reply does not invite a command that would be refused.
    let words = |m: &[u8]| text(m).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words(&first).contains("Forwarding to Support is turned off"),
        "{}",
        text(&first)
    );
    assert!(
        !text(&first).contains("Reply \"support\" to send"),
        "{}",
        text(&first)
    );
    let id = reply(&w, "alice@corp.test", &first, "support", "");
    let a = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(text(&a).contains("turned off"), "{}", text(&a));
    assert!(bot_messages(&rt, &w, "support", 0, Duration::ZERO).is_empty());
}

#[test]
fn commands_that_do_not_count_get_no_answer() {
    let (w, rt, bot) = start("refuse", Mailbox::idle("alice"), HIGH);
    let n = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-r@corp.test",
        "nr@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    let first = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).remove(0);
    // Someone else; a reply to nothing the bot sent; auto-submitted; list mail; bulk.
    reply(&w, "mallory@corp.test", &first, "support", "");
    let mut stranger = first.clone();
    let fake = String::from_utf8_lossy(&stranger).replace(
        &header(&first, "Message-ID").unwrap_or_default(),
        "<not-from-the-bot@corp.test>",
    );
    stranger = fake.into_bytes();
    reply(&w, "alice@corp.test", &stranger, "status", "");
    reply(
        &w,
        "alice@corp.test",
        &first,
        "status",
        "Auto-Submitted: auto-replied\r\n",
    );
    reply(
        &w,
        "alice@corp.test",
        &first,
        "status",
        "List-Id: <team.corp.test>\r\n",
    );
    reply(&w, "alice@corp.test", &first, "status", "Precedence: bulk\r\n");
    // A bounce of the bot's own answer (its original is the bot's message): never answered.
    let bot_id = header(&first, "Message-ID").unwrap_or_default();
    let bounce = exchange_notice(
        "alice@corp.test",
        "alice@corp.test",
        bot_id.trim_matches(['<', '>']),
        "bounce-of-bot@corp.test",
        true,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &bounce));
    // A last, valid command shows the others were all looked at before it.
    let id = reply(&w, "alice@corp.test", &first, "help", "");
    wait_answer(&rt, &w, "alice", &id, &bot);
    settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(15));
    let all = bot_messages(&rt, &w, "alice", 0, Duration::ZERO);
    assert_eq!(
        all.len(),
        2,
        "only the first answer and the help: {:?}",
        all.iter().map(|m| subject(m)).collect::<Vec<_>>()
    );
    let log = bot.log_text();
    assert!(log.contains("someone other than the mailbox's user"), "{log}");
    assert!(
        log.contains("a command-like reply to nothing the bot sent"),
        "{log}"
    );
    assert!(
        log.contains("a notice about the bot's own message; recorded, not answered"),
        "{log}"
    );
    assert_eq!(
        log.matches("a reply that must not be answered").count(),
        3,
        "{log}"
    );
    // The log names why; Postfix saw mail only for alice and support.
    assert!(
        !w.postfix.log().contains("to=<mallory@corp.test>"),
        "{}",
        w.postfix.log()
    );
}

#[test]
fn a_forged_notice_naming_outside_addresses_sends_nothing_there() {
    let (w, rt, bot) = start("forged", Mailbox::idle("alice"), HIGH);
    let forged = "From: \"Mail Delivery\" <mailer-daemon@evil.test>\r\nTo: victim@elsewhere.test, alice@corp.test\r\nCc: cc-victim@elsewhere.test\r\nReply-To: attacker@evil.test\r\nSubject: Delivery delayed: invoice\r\nMessage-ID: <forged@evil.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nDelivery is delayed to these recipients or groups:\r\n\r\ntarget@elsewhere.test\r\n\r\n--F\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.evil.test\r\n\r\nFinal-Recipient: rfc822; target@elsewhere.test\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\n--F\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: victim@elsewhere.test\r\nTo: target@elsewhere.test\r\nReply-To: attacker@evil.test\r\nSubject: invoice\r\nMessage-ID: <o@elsewhere.test>\r\n\r\n--F--\r\n";
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", forged.as_bytes()));
    let replies = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15));
    assert_eq!(replies.len(), 1, "{}", bot.log_text());
    assert_eq!(header(&replies[0], "To").as_deref(), Some("<alice@corp.test>"));
    settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(15));
    let log = w.postfix.log();
    let recipients: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("to=<").nth(1))
        .filter_map(|r| r.split('>').next())
        .collect();
    assert!(!recipients.is_empty(), "{log}");
    assert!(
        recipients
            .iter()
            .all(|r| ["alice@corp.test", "support@corp.test"].contains(r)),
        "the bot wrote to {recipients:?}"
    );
}

#[test]
fn two_bots_whose_answers_could_feed_each_other_stay_quiet() {
    // Bot 1 watches alice's INBOX for alice; bot 2 (another process, another identity) watches
    // the same INBOX and answers bea. Each one's answers are mail the other one sees.
    let (w, rt, bot1) = start("feed", Mailbox::idle("alice"), HIGH);
    let mut shadow = Mailbox::idle("alice");
    shadow.name = "alice".into();
    let config2 = w.config_with("feed2", &[shadow], HIGH);
    let text2 = std::fs::read_to_string(&config2)
        .expect("read")
        .replace("bouncedoc@corp.test", "otherbot@corp.test")
        .replace("user: alice@corp.test", "user: bea@corp.test")
        .replace(
            &format!("state_dir: {}", w.dir.join("state").display()),
            &format!("state_dir: {}", w.dir.join("state2").display()),
        );
    std::fs::write(&config2, text2).expect("write");
    let bot2 = Bot::start(&config2, &w.dir.join("bot2.log"));
    bot2.expect_log("watching", 1, Duration::from_secs(10));
    let n = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-f@corp.test",
        "nf@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).len(),
        1
    );
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        let bea = rt.block_on(imap::fetch_all(w.dovecot.imap, "bea"));
        if !bea.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Both answered once; once both bots have nothing left to do, nothing more.
    settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(15));
    settle(
        &rt,
        &w,
        &w.dir.join("state2"),
        &["alice"],
        Duration::from_secs(15),
    );
    let alice = rt.block_on(imap::fetch_all(w.dovecot.imap, "alice"));
    let bea = rt.block_on(imap::fetch_all(w.dovecot.imap, "bea"));
    assert_eq!(
        from_bot(&alice).len(),
        1,
        "{}\n{}",
        bot1.log_text(),
        bot2.log_text()
    );
    assert_eq!(bea.len(), 1, "{}\n{}", bot1.log_text(), bot2.log_text());
    assert_eq!(alice.len(), 2, "the notice and one answer");
}

#[test]
fn the_hourly_limit_holds_answers_back_and_summarizes_them_later() {
    let limits = "limits: {replies_per_hour: 2, forwards_per_hour: 1}\n";
    let (w, rt, bot) = start("limit", Mailbox::idle("alice"), limits);
    // Four all-clear notices: 2 replies and 1 package go out; the rest is held, not dropped.
    for i in 0..4 {
        let n = exchange_notice(
            "alice@corp.test",
            &format!("r{i}@partner.test"),
            &format!("orig-l{i}@corp.test"),
            &format!("nl{i}@corp.test"),
            false,
        );
        rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    }
    bot.expect_log("notice processed", 4, Duration::from_secs(15));
    settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(15));
    let replies = bot_messages(&rt, &w, "alice", 0, Duration::ZERO);
    assert_eq!(replies.len(), 2, "{}", bot.log_text());
    // The second reply's package was held: it must not claim one went, and invites "support".
    let second = replies
        .iter()
        .find(|m| subject(m).contains("r1@partner.test"))
        .expect("the second reply");
    assert!(
        !text(second).contains("has been sent to Support"),
        "{}",
        text(second)
    );
    assert!(text(second).contains("Reply \"support\""), "{}", text(second));
    assert_eq!(bot_messages(&rt, &w, "support", 0, Duration::ZERO).len(), 1);
    assert_eq!(bot.log_count("hourly limit reached"), 3, "{}", bot.log_text());
    // An hour passes (the record of what was sent ages), and the next wake-up summarizes.
    let db = rusqlite::Connection::open(w.dir.join("state/bouncedoc.sqlite")).expect("state");
    db.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    db.execute("UPDATE sent SET created = created - 3601", [])
        .expect("age");
    rt.block_on(imap::append(
        w.dovecot.imap,
        "alice",
        "INBOX",
        b"Subject: wake up\r\n\r\nx\r\n",
    ));
    let alice = bot_messages(&rt, &w, "alice", 3, Duration::from_secs(15));
    let summary = alice
        .iter()
        .find(|m| subject(m).contains("more notices while the hourly limit was reached"))
        .unwrap_or_else(|| panic!("no summary\n{}", bot.log_text()));
    assert!(
        subject(summary).starts_with("bouncedoc: 2 more notices"),
        "{}",
        subject(summary)
    );
    let t = text(summary);
    assert!(
        t.contains("r2@partner.test") && t.contains("r3@partner.test"),
        "{t}"
    );
    let support = bot_messages(&rt, &w, "support", 2, Duration::from_secs(15));
    let held = support
        .iter()
        .find(|m| subject(m).contains("held by the hourly limit"))
        .unwrap_or_else(|| panic!("no Support summary\n{}", bot.log_text()));
    assert!(
        subject(held).starts_with("[bouncedoc] 3 reports for alice@corp.test"),
        "{}",
        subject(held)
    );
}

/// Every message the bot sent to `user` that answers `command_id`.
fn answers_to(rt: &tokio::runtime::Runtime, w: &World, user: &str, command_id: &str) -> usize {
    bot_messages(rt, w, user, 0, Duration::ZERO)
        .iter()
        .filter(|m| header(m, "In-Reply-To").as_deref() == Some(&format!("<{command_id}>")))
        .count()
}

#[test]
fn a_command_forged_with_a_support_packages_headers_does_not_count() {
    let (w, rt, bot) = start("pkgforge", Mailbox::idle("alice"), HIGH);
    // An all-clear delay: the user's answer and a package to Support.
    let n = exchange_notice(
        "alice@corp.test",
        "bob@partner.test",
        "orig-p@corp.test",
        "np@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    let first = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).remove(0);
    let package = bot_messages(&rt, &w, "support", 1, Duration::from_secs(15)).remove(0);
    // The package names no message the bot sent to the user.
    let first_id = header(&first, "Message-ID").unwrap_or_default();
    let refs = format!(
        "{} {}",
        header(&package, "In-Reply-To").unwrap_or_default(),
        header(&package, "References").unwrap_or_default()
    );
    assert!(
        !refs.contains(&first_id),
        "the package threads onto the user's answer: {refs}"
    );
    // Someone at Support (or their ticket system) replies to the package as the user.
    let forged = reply(&w, "alice@corp.test", &package, "support", "");
    // A real command after it: once that is answered, the forged one was looked at too.
    let real = reply(&w, "alice@corp.test", &first, "help", "");
    wait_answer(&rt, &w, "alice", &real, &bot);
    settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(15));
    assert_eq!(answers_to(&rt, &w, "alice", &forged), 0, "{}", bot.log_text());
    assert_eq!(
        bot_messages(&rt, &w, "support", 0, Duration::ZERO).len(),
        1,
        "no second package"
    );
}

#[test]
fn require_auth_counts_only_commands_the_receiving_server_vouches_for() {
    let global =
        "limits: {replies_per_hour: 1000, forwards_per_hour: 1000}\ncommands: {require_auth: mx.corp.test}\n";
    let (w, rt, bot) = start("reqauth", Mailbox::idle("alice"), global);
    let n = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-q@corp.test",
        "nq@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    let first = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).remove(0);
    // No results; results from another server; a failing DKIM and no DMARC pass.
    let none = reply(&w, "alice@corp.test", &first, "status", "");
    let other = reply(
        &w,
        "alice@corp.test",
        &first,
        "status",
        "Authentication-Results: mx.evil.test; dmarc=pass header.from=corp.test\r\n",
    );
    let failing = reply(
        &w,
        "alice@corp.test",
        &first,
        "status",
        "Authentication-Results: mx.corp.test; dkim=fail header.d=corp.test; dmarc=fail header.from=corp.test\r\n",
    );
    // Vouched for: answered (and it shows the others were looked at first).
    let good = reply(
        &w,
        "alice@corp.test",
        &first,
        "status",
        "Authentication-Results: mx.corp.test; dkim=pass header.d=corp.test; dmarc=pass header.from=corp.test\r\n",
    );
    wait_answer(&rt, &w, "alice", &good, &bot);
    settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(15));
    for id in [&none, &other, &failing] {
        assert_eq!(answers_to(&rt, &w, "alice", id), 0, "{id}\n{}", bot.log_text());
    }
    assert_eq!(
        bot.log_count("did not vouch for (commands.require_auth)"),
        3,
        "{}",
        bot.log_text()
    );
}

#[test]
fn unmute_brings_a_muted_thread_back() {
    let (w, rt, bot) = start("unmute", Mailbox::idle("alice"), HIGH);
    let n = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-u@corp.test",
        "nu1@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    let first = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15)).remove(0);
    let mute = reply(&w, "alice@corp.test", &first, "mute", "");
    let a = wait_answer(&rt, &w, "alice", &mute, &bot);
    assert!(subject(&a).starts_with("Muted"), "{}", subject(&a));
    let unmute = reply(&w, "alice@corp.test", &first, "unmute", "");
    let a = wait_answer(&rt, &w, "alice", &unmute, &bot);
    assert!(subject(&a).starts_with("Unmuted"), "{}", subject(&a));
    // The final failure of that message is told again (muted, it would be silent).
    let fin = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-u@corp.test",
        "nu2@corp.test",
        true,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &fin));
    wait_answer(&rt, &w, "alice", "nu2@corp.test", &bot);
    assert_eq!(
        answers_to(&rt, &w, "alice", "nu2@corp.test"),
        1,
        "{}",
        bot.log_text()
    );
}

#[test]
fn a_forged_final_failure_cannot_close_a_thread() {
    let (w, rt, bot) = start("forgedfinal", Mailbox::idle("alice"), HIGH);
    let n = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-f@corp.test",
        "nf1@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    bot_messages(&rt, &w, "alice", 1, Duration::from_secs(15));
    // A stranger's "final failure" for the same message, written by another organisation's
    // server: recorded, not answered, and the thread stays open.
    let forged = String::from_utf8_lossy(&exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-f@corp.test",
        "nf-forged@evil.test",
        true,
    ))
    .replace("MBX01.corp.test", "mx1.evil.test")
    .into_bytes();
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &forged));
    // The real final failure, from the thread's own server, closes it with one message.
    let real = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-f@corp.test",
        "nf2@corp.test",
        true,
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &real));
    wait_answer(&rt, &w, "alice", "nf2@corp.test", &bot);
    assert_eq!(
        answers_to(&rt, &w, "alice", "nf2@corp.test"),
        1,
        "{}",
        bot.log_text()
    );
    assert_eq!(
        answers_to(&rt, &w, "alice", "nf-forged@evil.test"),
        0,
        "{}",
        bot.log_text()
    );
    assert!(
        bot.log_text().contains("outcome=\"disputed\""),
        "{}",
        bot.log_text()
    );
}

/// One of the repository's Exchange notices in another language (tests/fixtures/locales),
/// sent to `user` about `recipient` (a domain of the test DNS), with its own Message-ID.
fn localized_notice(
    fixture: &str,
    fixture_recipient: &str,
    user: &str,
    recipient: &str,
    id: &str,
) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/locales/{fixture}.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = String::from_utf8(std::fs::read(&path).expect("locale fixture")).expect("utf-8 fixture");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header section");
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.starts_with("Message-ID:") {
                format!("Message-ID: <{id}>")
            } else {
                l.replace("alice@corp.example", user)
            }
        })
        .collect();
    // The HTML alternative is base64: the recipient is replaced there too.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let marker = "Content-Transfer-Encoding: base64\r\n\r\n";
    let start = body.find(marker).expect("a base64 HTML part") + marker.len();
    let end = start + body[start..].find("\r\n--").expect("the part's end");
    let html = b64.decode(body[start..end].replace("\r\n", "")).expect("base64");
    let html = String::from_utf8(html)
        .expect("utf-8 html")
        .replace(fixture_recipient, recipient);
    let body = format!("{}{}{}", &body[..start], b64.encode(html), &body[end..]);
    format!("{}\r\n\r\n{body}", head.join("\r\n"))
        .replace(fixture_recipient, recipient)
        .into_bytes()
}

#[test]
fn answers_speak_the_notices_language_or_the_configured_one() {
    let mut bea = Mailbox::idle("bea");
    bea.extra = "    language: de\n".into();
    let Scene { w, rt, bot, .. } =
        Scene::start("langs", &[Mailbox::idle("alice"), bea], Some(HIGH), "watching");
    // The bot's `n`th message to `user`.
    let nth = |user: &str, n: usize| {
        let all = bot_messages(&rt, &w, user, n, Duration::from_secs(20));
        assert_eq!(all.len(), n, "{}", bot.log_text());
        all[n - 1].clone()
    };

    // language: auto — a French Exchange notice (no delivery-status part) is answered in French.
    let fr = localized_notice(
        "exchange-fr-delay-no-dsn",
        "claire@atelier.example",
        "alice@corp.test",
        "claire@gone.test",
        "fr-1@corp.test",
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &fr));
    let a = nth("alice", 1);
    let (s, t) = (subject(&a), text(&a));
    assert!(
        s.contains("Retardé") && s.contains("son domaine n'existe pas"),
        "{s}"
    );
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(t.contains("n'a pas encore été distribué"), "{t}");
    assert!(!t.contains("has not been delivered yet"), "{t}");

    // Its commands are answered in French too.
    let id = reply(&w, "alice@corp.test", &a, "mute", "");
    let muted = wait_answer(&rt, &w, "alice", &id, &bot);
    assert!(subject(&muted).contains("En sourdine"), "{}", subject(&muted));

    // Spanish likewise; Japanese has no translation: English.
    let es = localized_notice(
        "exchange-es-delay-no-dsn",
        "lucia@taller.example",
        "alice@corp.test",
        "lucia@gone.test",
        "es-1@corp.test",
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &es));
    let a = nth("alice", 3);
    assert!(
        subject(&a).contains("Retrasado") && subject(&a).contains("su dominio no existe"),
        "{}",
        subject(&a)
    );
    let ja = localized_notice(
        "exchange-ja-delay-no-dsn",
        "sato@kojo.example",
        "alice@corp.test",
        "sato@gone.test",
        "ja-1@corp.test",
    );
    rt.block_on(imap::append(w.dovecot.imap, "alice", "INBOX", &ja));
    let a = nth("alice", 4);
    assert!(
        subject(&a).starts_with("Delayed:") && subject(&a).contains("their domain does not exist"),
        "{}",
        subject(&a)
    );

    // language: de — an English notice is answered in German.
    let en = exchange_notice(
        "bea@corp.test",
        "tom@gone.test",
        "orig-de@corp.test",
        "de-1@corp.test",
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, "bea", "INBOX", &en));
    let a = nth("bea", 1);
    assert!(
        subject(&a).contains("Verzögert") && subject(&a).contains("die Domain existiert nicht"),
        "{}",
        subject(&a)
    );
    let t = text(&a).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(t.contains("wurde noch nicht zugestellt"), "{t}");
}
