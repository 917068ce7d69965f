//! Sending through the outbox, with a real Postfix delivering into a real Dovecot, read back
//! over IMAP: the user's reply and the Support package arrive whole; SMTP down means messages
//! wait and go out when it returns; a restarted sender sends each message exactly once.

mod support;

use bouncedoc::compose::{self, Context, Outgoing};
use bouncedoc::config::{SmtpConfig, TlsMode};
use bouncedoc::diagnose::{Finding, Found, OurListing};
use bouncedoc::outbox::{Outbox, Sender};
use bouncedoc::store::Store;
use bouncedoc::{notice, verdict};
use mail_parser::{MessageParser, MimeHeaders};
use std::path::{Path, PathBuf};
use support::dovecot::Dovecot;
use support::imap;
use support::postfix::Postfix;

fn example() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exchange-delay.eml")).expect("example")
}

fn state_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bouncedoc-outbox-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// TLS with SMTP AUTH as `bouncedoc`.
/// A sender signing in with its configured password (no token is ever asked for here).
fn sender(cfg: &SmtpConfig) -> Sender {
    let tokens = bouncedoc::signin::Tokens::new(
        std::path::Path::new("/nonexistent"),
        std::path::Path::new("config.yaml"),
    );
    Sender::new(cfg, &tokens).expect("sender")
}

fn smtp_tls(port: u16, tls: TlsMode, ca_file: Option<PathBuf>, password: &str) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls,
        ca_file,
        auth: Some((
            "bouncedoc".into(),
            bouncedoc::config::SignIn::Password(bouncedoc::config::Secret::Plain(password.into())),
        )),
    }
}

fn smtp(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        ca_file: None,
        auth: None,
    }
}

fn messages(raw: &[u8], thread: &[String]) -> (Outgoing, Outgoing) {
    let n = notice::read(raw).expect("notice");
    let findings = vec![Finding {
        found: Found::SenderListed(OurListing::Listed),
        subject: "203.0.113.77".into(),
        detail: "203.0.113.77 is listed on zen.spamhaus.org".into(),
    }];
    let v = verdict::decide(&findings);
    let ctx = Context {
        bot_name: Some("bouncedoc"),
        bot_address: "bouncedoc@northwind.example",
        user: "maria@northwind.example",
        reply_to: "bouncedoc@northwind.example",
        support: "support@northwind.example",
        notice_raw: raw,
        notice_message_id: Some("5c1e0a7b2d4f@MBX02.northwind.example"),
        thread,
        clock: bouncedoc::compose::words::Clock::utc(1_795_800_000),
        lang: bouncedoc::compose::Lang::En,
    };
    let reply = compose::user_reply(&ctx, &n, &findings, &v).expect("reply");
    let package = compose::support_package(&ctx, &n, &findings, &v, "{\"verdict\":\"sender_listed\"}")
        .expect("package");
    (reply, package)
}

/// What the outbox has stored about the message `id` (it must be there).
fn stored(outbox: &Outbox, id: &str) -> bouncedoc::store::Status {
    outbox.status(id).expect("status").expect("stored")
}

fn by_id<'a>(all: &'a [Vec<u8>], id: &str) -> Vec<&'a Vec<u8>> {
    all.iter()
        .filter(|raw| {
            MessageParser::default()
                .parse(raw.as_slice())
                .and_then(|m| m.message_id().map(|i| i == id))
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_and_package_arrive_whole() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_with(false, None, Some(("northwind.example", dovecot.lmtp)));
    let raw = example();
    let earlier = vec!["bouncedoc.first.1@northwind.example".to_string()];
    let (reply, package) = messages(&raw, &earlier);
    let outbox = Outbox::new(Store::open(&state_dir("whole")).expect("store"));
    outbox.enqueue(&reply).expect("queued");
    outbox.enqueue(&package).expect("queued");
    let sender = sender(&smtp(postfix.addr.port()));
    assert_eq!(outbox.deliver_due(&sender).await.expect("delivered"), 2);

    let inbox = imap::wait_for(dovecot.imap, "maria", 1).await;
    let found = by_id(&inbox, &reply.message_id);
    assert_eq!(found.len(), 1, "the reply arrives once");
    let m = MessageParser::default()
        .parse(found[0].as_slice())
        .expect("parses");
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        m.in_reply_to().as_text(),
        Some("5c1e0a7b2d4f@MBX02.northwind.example")
    );
    assert_eq!(
        m.references()
            .as_text_list()
            .map(|l| l.to_vec())
            .unwrap_or_default(),
        vec![
            "bouncedoc.first.1@northwind.example",
            "5c1e0a7b2d4f@MBX02.northwind.example"
        ]
    );
    assert!(m.body_text(0).is_some_and(|t| t.contains("What to do")));
    assert!(m.body_html(0).is_some_and(|h| h.contains("<table")));

    let support = imap::wait_for(dovecot.imap, "support", 1).await;
    let found = by_id(&support, &package.message_id);
    assert_eq!(found.len(), 1, "the package arrives once");
    let m = MessageParser::default()
        .parse(found[0].as_slice())
        .expect("parses");
    assert_eq!(
        m.reply_to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("maria@northwind.example")
    );
    let bytes = support::attached_message(&m).expect("attachment");
    assert!(
        bytes == raw,
        "the attached notice is byte-identical ({} vs {} bytes)",
        bytes.len(),
        raw.len()
    );
    assert!(m
        .parts
        .iter()
        .any(|p| p.attachment_name() == Some("diagnosis.json")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_then_back_and_restart_sends_each_once() {
    let dovecot = Dovecot::start();
    let port = support::unbound::free_port();
    let dir = state_dir("down");
    let raw = example();
    let mut ids = Vec::new();
    {
        let outbox = Outbox::new(Store::open(&dir).expect("store"));
        for i in 0..4 {
            let thread = vec![format!("bouncedoc.t{i}@northwind.example")];
            let (reply, _) = messages(&raw, &thread);
            ids.push(reply.message_id.clone());
            outbox.enqueue(&reply).expect("queued");
        }
        // Nobody listens: the attempt is transient; the pass stops at the first connection
        // failure (the others would fail the same way) and every message waits in the outbox.
        let sender = sender(&smtp(port));
        assert_eq!(outbox.deliver_due(&sender).await.expect("pass"), 0);
        for (i, id) in ids.iter().enumerate() {
            let s = outbox.status(id).expect("status").expect("stored");
            let tried = u32::from(i == 0);
            assert_eq!((s.state.as_str(), s.attempts), ("queued", tried), "{s:?}");
            assert_eq!(s.last_error.is_some(), i == 0, "{s:?}");
        }
    }
    // SMTP comes back; the process restarts: the stored messages go out, once.
    let postfix = Postfix::start_with(false, Some(port), Some(("northwind.example", dovecot.lmtp)));
    let sender = sender(&smtp(postfix.addr.port()));
    {
        let outbox = Outbox::new(Store::open(&dir).expect("reopened"));
        // The retry is due after the backoff: pretend the time has come.
        let sent = outbox.deliver_due_at(&sender, i64::MAX / 2).await.expect("pass");
        assert_eq!(sent, 4);
    }
    {
        // Another restart: nothing is sent again.
        let outbox = Outbox::new(Store::open(&dir).expect("reopened"));
        assert_eq!(
            outbox.deliver_due_at(&sender, i64::MAX / 2).await.expect("pass"),
            0
        );
    }
    // A marker sent after everything else, through the same server: once it is in, any
    // second copy would be too.
    let (marker, _) = messages(&raw, &["marker@northwind.example".to_string()]);
    {
        let outbox = Outbox::new(Store::open(&dir).expect("reopened"));
        outbox.enqueue(&marker).expect("queued");
        assert_eq!(outbox.deliver_due(&sender).await.expect("pass"), 1);
    }
    let start = std::time::Instant::now();
    let inbox = loop {
        let inbox = imap::fetch_all(dovecot.imap, "maria").await;
        if !by_id(&inbox, &marker.message_id).is_empty()
            || start.elapsed() > std::time::Duration::from_secs(20)
        {
            break inbox;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(by_id(&inbox, &marker.message_id).len(), 1);
    for id in &ids {
        assert_eq!(by_id(&inbox, id).len(), 1, "{id} arrives exactly once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_rejection_is_recorded_not_retried() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_with(false, None, Some(("northwind.example", dovecot.lmtp)));
    let outbox = Outbox::new(Store::open(&state_dir("permanent")).expect("store"));
    let (mut reply, _) = messages(&example(), &[]);
    // The test Postfix delivers only to northwind.example; other recipients are refused (5xx).
    reply.to = "someone@elsewhere.example".into();
    outbox.enqueue(&reply).expect("queued");
    let sender = sender(&smtp(postfix.addr.port()));
    assert_eq!(outbox.deliver_due(&sender).await.expect("pass"), 0);
    let s = stored(&outbox, &reply.message_id);
    assert_eq!(s.state, "failed", "{s:?}");
    assert!(
        s.last_error.as_deref().unwrap_or("").contains("(55"),
        "a 5xx reply: {s:?}"
    );
    // Not tried again, whatever the time.
    assert_eq!(
        outbox.deliver_due_at(&sender, i64::MAX / 2).await.expect("pass"),
        0
    );
    assert_eq!(stored(&outbox, &reply.message_id).attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_and_starttls_with_auth_and_a_private_ca() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_tls_auth(("northwind.example", dovecot.lmtp), dovecot.auth);
    let ca = postfix.ca_file.clone().expect("test CA");
    let outbox = Outbox::new(Store::open(&state_dir("tls")).expect("store"));
    let mut sent_ids = Vec::new();
    for (mode, addr) in [
        (TlsMode::Implicit, postfix.smtps),
        (TlsMode::Starttls, postfix.submission),
    ] {
        let addr = addr.expect("listener");
        let cfg = smtp_tls(addr.port(), mode, Some(ca.clone()), support::dovecot::PASSWORD);
        let (reply, _) = messages(&example(), &[]);
        outbox.enqueue(&reply).expect("queued");
        assert_eq!(
            outbox.deliver_due(&sender(&cfg)).await.expect("pass"),
            1,
            "{mode:?}"
        );
        sent_ids.push(reply.message_id);
    }
    // Without the private CA the server is not trusted: nothing is sent (TLS verified by default).
    let smtps_port = postfix.smtps.expect("smtps").port();
    let untrusted = smtp_tls(smtps_port, TlsMode::Implicit, None, support::dovecot::PASSWORD);
    let (reply, _) = messages(&example(), &[]);
    outbox.enqueue(&reply).expect("queued");
    assert_eq!(outbox.deliver_due(&sender(&untrusted)).await.expect("pass"), 0);
    assert_eq!(stored(&outbox, &reply.message_id).state, "queued");
    // A wrong password is refused.
    let wrong = smtp_tls(smtps_port, TlsMode::Implicit, Some(ca.clone()), "wrong");
    let (reply2, _) = messages(&example(), &[]);
    outbox.enqueue(&reply2).expect("queued");
    assert_eq!(outbox.deliver_due(&sender(&wrong)).await.expect("pass"), 0);
    let inbox = imap::wait_for(dovecot.imap, "maria", 2).await;
    for id in &sent_ids {
        assert_eq!(by_id(&inbox, id).len(), 1, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_task_sends_what_is_queued_and_stops_on_shutdown() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_with(false, None, Some(("northwind.example", dovecot.lmtp)));
    let outbox = Outbox::new(Store::open(&state_dir("task")).expect("store"));
    let sender = sender(&smtp(postfix.addr.port()));
    let (stop, rx) = tokio::sync::broadcast::channel(1);
    let task = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.run(sender, rx).await }
    });
    // Queued while the task sleeps: the bell wakes it.
    let (reply, _) = messages(&example(), &[]);
    outbox.enqueue(&reply).expect("queued");
    let start = std::time::Instant::now();
    while outbox.status(&reply.message_id).expect("status").map(|s| s.state) != Some("sent".into()) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "not sent by the task"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(()).expect("shutdown");
    tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the task stops on shutdown")
        .expect("joined")
        .expect("no store error");
    let inbox = imap::wait_for(dovecot.imap, "maria", 1).await;
    assert_eq!(by_id(&inbox, &reply.message_id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_policy_refusals_keep_the_message_queued_until_fixed() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_tls_auth(("northwind.example", dovecot.lmtp), dovecot.auth);
    let ca = postfix.ca_file.clone().expect("test CA");
    let port = postfix.submission.expect("submission").port();
    let dir = state_dir("refusals");
    let outbox = Outbox::new(Store::open(&dir).expect("store"));
    let (reply, _) = messages(&example(), &[]);
    outbox.enqueue(&reply).expect("queued");

    // No credentials: the submission port refuses the client (554 5.7.1 at RCPT), a policy
    // refusal for an administrator to fix: the message stays queued with the error.
    let mut anonymous = smtp_tls(port, TlsMode::Starttls, Some(ca.clone()), "unused");
    anonymous.auth = None;
    let refused = sender(&anonymous);
    assert_eq!(outbox.deliver_due(&refused).await.expect("pass"), 0);
    let s = stored(&outbox, &reply.message_id);
    assert_eq!(s.state, "queued", "{s:?}");
    assert!(s.last_error.as_deref().unwrap_or("").contains("5.7."), "{s:?}");

    // A wrong password in the password file: 535, still queued.
    let secret = dir.join("smtp.secret");
    std::fs::write(&secret, "wrong\n").expect("secret");
    let mut cfg = smtp_tls(port, TlsMode::Starttls, Some(ca.clone()), "unused");
    cfg.auth = Some((
        "maria@northwind.example".into(),
        bouncedoc::config::SignIn::Password(bouncedoc::config::Secret::File(secret.clone())),
    ));
    let with_file = sender(&cfg);
    assert_eq!(
        outbox
            .deliver_due_at(&with_file, i64::MAX / 2)
            .await
            .expect("pass"),
        0
    );
    let s = stored(&outbox, &reply.message_id);
    assert_eq!((s.state.as_str(), s.attempts), ("queued", 2), "{s:?}");
    assert!(s.last_error.as_deref().unwrap_or("").contains("535"), "{s:?}");

    // The administrator writes the right password (the first line counts); the same sender
    // reads it at its next connection and the message goes out, once.
    std::fs::write(
        &secret,
        format!("{}\nsecond line ignored\n", support::dovecot::PASSWORD),
    )
    .expect("secret");
    assert_eq!(
        outbox
            .deliver_due_at(&with_file, i64::MAX / 2)
            .await
            .expect("pass"),
        1
    );
    assert_eq!(stored(&outbox, &reply.message_id).state, "sent");
    let inbox = imap::wait_for(dovecot.imap, "maria", 1).await;
    assert_eq!(by_id(&inbox, &reply.message_id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_refused_after_data_is_final() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_with(false, None, Some(("northwind.example", dovecot.lmtp)));
    let outbox = Outbox::new(Store::open(&state_dir("afterdata")).expect("store"));
    let (mut reply, _) = messages(&example(), &[]);
    let mut raw = b"X-Test-Reject: yes\r\n".to_vec();
    raw.extend_from_slice(&reply.raw);
    reply.raw = raw;
    outbox.enqueue(&reply).expect("queued");
    let sender = sender(&smtp(postfix.addr.port()));
    assert_eq!(outbox.deliver_due(&sender).await.expect("pass"), 0);
    let s = stored(&outbox, &reply.message_id);
    assert_eq!(s.state, "failed", "{s:?}");
    assert!(
        s.last_error.as_deref().unwrap_or("").starts_with("message:"),
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_fault_after_the_server_accepted_a_message_never_sends_it_twice() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_with(false, None, Some(("northwind.example", dovecot.lmtp)));
    let dir = state_dir("fault");
    let outbox = Outbox::new(Store::open(&dir).expect("store"));
    let (reply, _) = messages(&example(), &[]);
    outbox.enqueue(&reply).expect("queued");
    // A fault injected into the database itself: recording "sent" fails.
    let db = rusqlite::Connection::open(dir.join("bouncedoc.sqlite")).expect("db");
    db.execute_batch(
        "CREATE TRIGGER fault BEFORE UPDATE OF state ON outbox WHEN NEW.state = 'sent'
         BEGIN SELECT RAISE(FAIL, 'injected storage fault'); END;",
    )
    .expect("trigger");
    let sender = sender(&smtp(postfix.addr.port()));
    // The server accepts it; the mark fails: the pass stops with the error.
    assert!(outbox.deliver_due(&sender).await.is_err());
    // Passes while the fault lasts send nothing (the message stays claimed; the outcome is
    // kept in memory and written first).
    for _ in 0..3 {
        assert!(outbox.deliver_due_at(&sender, i64::MAX / 2).await.is_err());
    }
    db.execute_batch("DROP TRIGGER fault;").expect("drop trigger");
    // The state works again: the outcome is recorded, nothing is resent.
    assert_eq!(
        outbox.deliver_due_at(&sender, i64::MAX / 2).await.expect("pass"),
        0
    );
    assert_eq!(stored(&outbox, &reply.message_id).state, "sent");
    // A marker sent after it: once it has arrived, the first message is there exactly once.
    let (marker, _) = messages(&example(), &["marker@northwind.example".to_string()]);
    outbox.enqueue(&marker).expect("queued");
    assert_eq!(outbox.deliver_due(&sender).await.expect("pass"), 1);
    let inbox = imap::wait_for(dovecot.imap, "maria", 2).await;
    assert_eq!(by_id(&inbox, &marker.message_id).len(), 1);
    assert_eq!(by_id(&inbox, &reply.message_id).len(), 1, "sent exactly once");
}
