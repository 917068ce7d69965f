//! The processor on its own: fixed findings instead of DNS, the state in memory, no servers.
//! Every verdict row's answer, the thread steps, the limits and the commands, in milliseconds
//! (the same paths run against real servers in `tests/daemon.rs` and `tests/commands.rs`).

use super::*;
use crate::diagnose::{Diagnosis, Found, Routing};
use crate::store::{State, Store};
use crate::vocab::{ThreadState, Via};

/// Checks that always find the same.
struct Fixed(Vec<Finding>);

impl Checks for Fixed {
    fn diagnose<'a>(
        &'a self,
        _notice: &'a Notice,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::diagnose::Diagnosis> + Send + 'a>> {
        let findings = self.0.clone();
        Box::pin(async move { Diagnosis { findings } })
    }
}

fn finding(found: Found) -> Finding {
    Finding::new(found, "x", "")
}

const CONFIG: &str = "from: \"bouncedoc <bouncedoc@corp.test>\"\nsupport: support@corp.test\nsmtp:\n  host: 127.0.0.1\n  port: 25\n  tls: none\nlimits: {replies_per_hour: 100, forwards_per_hour: 100}\nmailboxes:\n  - name: alice\n    user: alice@corp.test\n    imap:\n      host: 127.0.0.1\n      port: 143\n      tls: none\n      username: alice\n      password: x\n";

fn answerer(findings: Vec<Finding>, extra: &str) -> Answerer {
    let config = Config::parse(&format!("{extra}{CONFIG}")).expect("config");
    let mailbox = config.mailboxes[0].clone();
    let state = State::new(Store::open_in_memory().expect("store"));
    Answerer {
        config: Arc::new(config),
        mailbox,
        outbox: Outbox::over(state.clone()),
        state,
        diagnoser: Arc::new(Fixed(findings)),
        budget: Budget::unlimited(),
        // Nothing signs in here: no state directory is ever read.
        logins: crate::watch::logins::Logins::new(1),
        tokens: crate::signin::Tokens::new(
            std::path::Path::new("/nonexistent"),
            std::path::Path::new("config.yaml"),
        ),
    }
}

/// A Postfix-style notice about `original` to `recipient`, written by `reporter`.
fn notice(id: &str, original: &str, recipient: &str, failed: bool, reporter: &str) -> Vec<u8> {
    let (subject, action, status) = if failed {
        ("Undelivered Mail Returned to Sender", "failed", "5.4.7")
    } else {
        ("Delayed Mail (still being retried)", "delayed", "4.4.1")
    };
    format!(
        "From: MAILER-DAEMON@{reporter}\r\nTo: alice@corp.test\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n<{recipient}>: connect to mx.example.net[192.0.2.9]:25: Connection timed out\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; {reporter}\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: alice@corp.test\r\nTo: {recipient}\r\nSubject: Numbers\r\nMessage-ID: <{original}>\r\n\r\n--B--\r\n"
    )
    .into_bytes()
}

/// A delay notice from our own server, `mx.corp.test`.
fn delay(id: &str, original: &str, recipient: &str) -> Vec<u8> {
    notice(id, original, recipient, false, "mx.corp.test")
}

/// The state of the thread the notice `raw` belongs to.
fn thread_state(a: &Answerer, raw: &[u8]) -> ThreadState {
    let (original, recipient) = conversation::thread_key(&notice::read(raw).expect("notice"), "unused");
    a.state
        .with(|s| s.thread("alice", &original, &recipient))
        .expect("thread")
        .expect("a thread")
        .state
}

/// What the outbox holds for sending: (recipient, message).
fn queued(a: &Answerer) -> Vec<(String, Vec<u8>)> {
    a.state
        .with(|s| s.due(i64::MAX, 100, &Via::Global))
        .expect("due")
        .into_iter()
        .map(|q| (q.rcpt_to, q.raw))
        .collect()
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let (section, _) = crate::notice::mime::split(raw);
    crate::notice::mime::find_header(section, name)
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn a_broken_recipient_domain_is_answered_once_and_repeats_are_quiet() {
    let a = answerer(vec![finding(Found::RecipientDomain(Routing::Nxdomain))], "");
    let n1 = delay("n1@mx.corp.test", "o1@corp.test", "bob@gone.test");
    let p = run(a.message(1, 1, &n1)).expect("processed");
    assert_eq!(p, Processed::Recorded { answered: true });
    let out = queued(&a);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].0, "alice@corp.test",
        "the user, never an address from the notice"
    );
    assert_eq!(
        header(&out[0].1, "In-Reply-To").as_deref(),
        Some("<n1@mx.corp.test>")
    );
    // The same message delayed again, same verdict: recorded, not answered.
    let n2 = delay("n2@mx.corp.test", "o1@corp.test", "bob@gone.test");
    assert_eq!(
        run(a.message(1, 2, &n2)).expect("processed"),
        Processed::Recorded { answered: false }
    );
    assert_eq!(queued(&a).len(), 1);
    // The same notice under another UID: seen.
    assert_eq!(run(a.message(1, 3, &n1)).expect("processed"), Processed::Seen);
}

#[test]
fn an_unexplained_delay_sends_the_package_to_support() {
    let a = answerer(vec![finding(Found::RecipientDomain(Routing::Ok))], "");
    let n = delay("n1@mx.corp.test", "o1@corp.test", "bob@partner.test");
    assert_eq!(
        run(a.message(1, 1, &n)).expect("processed"),
        Processed::Recorded { answered: true }
    );
    let to: Vec<String> = queued(&a).into_iter().map(|(to, _)| to).collect();
    assert_eq!(to, ["alice@corp.test", "support@corp.test"]);
}

#[test]
fn escalation_never_keeps_the_package_back() {
    let mut a = answerer(vec![finding(Found::RecipientDomain(Routing::Ok))], "");
    a.mailbox.escalation = Escalation::Never;
    let n = delay("n1@mx.corp.test", "o1@corp.test", "bob@partner.test");
    run(a.message(1, 1, &n)).expect("processed");
    let to: Vec<String> = queued(&a).into_iter().map(|(to, _)| to).collect();
    assert_eq!(to, ["alice@corp.test"]);
}

#[test]
fn the_final_failure_closes_the_thread_and_later_notices_are_quiet() {
    let a = answerer(vec![finding(Found::RecipientDomain(Routing::Nxdomain))], "");
    let first = delay("n1@mx.corp.test", "o1@corp.test", "bob@gone.test");
    let fin = notice(
        "n2@mx.corp.test",
        "o1@corp.test",
        "bob@gone.test",
        true,
        "mx.corp.test",
    );
    let late = delay("n3@mx.corp.test", "o1@corp.test", "bob@gone.test");
    run(a.message(1, 1, &first)).expect("processed");
    assert_eq!(
        run(a.message(1, 2, &fin)).expect("processed"),
        Processed::Recorded { answered: true }
    );
    assert_eq!(
        run(a.message(1, 3, &late)).expect("processed"),
        Processed::Recorded { answered: false }
    );
    assert_eq!(queued(&a).len(), 2, "the first answer and the closing message");
}

#[test]
fn a_final_failure_from_another_organisation_is_disputed() {
    let a = answerer(vec![finding(Found::RecipientDomain(Routing::Nxdomain))], "");
    let first = delay("n1@mx.corp.test", "o1@corp.test", "bob@gone.test");
    let forged = notice(
        "f@evil.test",
        "o1@corp.test",
        "bob@gone.test",
        true,
        "mx.evil.test",
    );
    run(a.message(1, 1, &first)).expect("processed");
    assert_eq!(
        run(a.message(1, 2, &forged)).expect("processed"),
        Processed::Recorded { answered: false }
    );
    assert_eq!(thread_state(&a, &first), ThreadState::Open);
}

#[test]
fn inconclusive_dns_sends_nothing_and_schedules_a_recheck() {
    let a = answerer(vec![finding(Found::RecipientDomain(Routing::DnsError))], "");
    let n = delay("n1@mx.corp.test", "o1@corp.test", "bob@slow.test");
    assert_eq!(
        run(a.message(1, 1, &n)).expect("processed"),
        Processed::Recorded { answered: false }
    );
    assert!(queued(&a).is_empty());
    assert!(a.next_recheck().expect("state").is_some());
}

#[test]
fn the_hourly_limit_holds_answers_back() {
    let mut a = answerer(vec![finding(Found::RecipientDomain(Routing::Nxdomain))], "");
    let mut config = (*a.config).clone();
    config.limits.replies_per_hour = 1;
    a.config = Arc::new(config);
    for i in 0..3 {
        let n = delay(
            &format!("n{i}@mx.corp.test"),
            &format!("o{i}@corp.test"),
            "bob@gone.test",
        );
        run(a.message(1, i + 1, &n)).expect("processed");
    }
    assert_eq!(queued(&a).len(), 1, "one reply an hour");
    assert!(a.has_held().expect("state"), "the others are held for a summary");
}

#[test]
fn the_bots_own_messages_and_strangers_replies_are_left_alone() {
    let a = answerer(vec![], "");
    let own = b"From: bouncedoc@corp.test\r\nTo: alice@corp.test\r\nSubject: Delayed: x\r\nMessage-ID: <b@corp.test>\r\n\r\nDelayed.\r\n";
    assert_eq!(
        run(a.message(1, 1, own)).expect("processed"),
        Processed::NotANotice
    );
    let ordinary = b"From: carol@partner.test\r\nTo: alice@corp.test\r\nSubject: lunch\r\nIn-Reply-To: <nothing@corp.test>\r\n\r\nsupport\r\n";
    assert_eq!(
        run(a.message(1, 2, ordinary)).expect("processed"),
        Processed::NotANotice
    );
    assert!(queued(&a).is_empty());
}

#[test]
fn mute_and_unmute_from_the_user() {
    let a = answerer(vec![finding(Found::RecipientDomain(Routing::Nxdomain))], "");
    let n = delay("n1@mx.corp.test", "o1@corp.test", "bob@gone.test");
    run(a.message(1, 1, &n)).expect("processed");
    let answer = header(&queued(&a)[0].1, "Message-ID").expect("an id");
    let reply = |id: &str, word: &str| {
        format!("From: alice@corp.test\r\nTo: bouncedoc@corp.test\r\nSubject: Re: x\r\nMessage-ID: <{id}>\r\nIn-Reply-To: {answer}\r\n\r\n{word}\r\n").into_bytes()
    };
    assert_eq!(
        run(a.message(1, 2, &reply("c1@corp.test", "mute"))).expect("processed"),
        Processed::Command { answered: true }
    );
    assert_eq!(thread_state(&a, &n), ThreadState::Muted);
    run(a.message(1, 3, &reply("c2@corp.test", "unmute"))).expect("processed");
    assert_eq!(thread_state(&a, &n), ThreadState::Open);
    // From someone else: recorded, not answered.
    let before = queued(&a).len();
    let forged = String::from_utf8(reply("c3@corp.test", "support"))
        .expect("utf8")
        .replace("From: alice@corp.test", "From: mallory@corp.test")
        .into_bytes();
    assert_eq!(
        run(a.message(1, 4, &forged)).expect("processed"),
        Processed::Command { answered: false }
    );
    assert_eq!(queued(&a).len(), before);
}
