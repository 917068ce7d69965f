//! Genuine Postfix notices, not fixtures: a private Postfix that cannot reach `stuck.test`
//! (connection refused) sends the sender a real "Delayed Mail (still being retried)" DSN into
//! her Dovecot INBOX, and — once its queue is expired — the real final "Undelivered Mail
//! Returned to Sender" for the same message. Both are read back over IMAP and through
//! `bouncedoc::notice::read`.

mod support;

use bouncedoc::notice::{self, Action, Kind, Notice};
use std::time::{Duration, Instant};
use support::dovecot::Dovecot;
use support::postfix::Postfix;
use support::{imap, smtp};

const SENDER: &str = "alice@corp.test";
const STUCK: &str = "bob@stuck.test";

/// Starts Dovecot and a delaying Postfix, sends alice's message to bob, and waits for the
/// delay notice. Returns the servers, the message's Message-ID and the notice as read.
async fn delayed() -> (Dovecot, Postfix, String, Notice) {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start_delaying(("corp.test", dovecot.lmtp), "stuck.test");
    let sent = Instant::now();
    let message_id = smtp::send_mail(postfix.addr, SENDER, STUCK, "Quarterly numbers");
    let inbox = imap::wait_for(dovecot.imap, "alice", 1).await;
    println!("delay notice in alice's INBOX {:?} after sending", sent.elapsed());
    assert_eq!(inbox.len(), 1, "one delay notice\n{}", postfix.log());
    let n = notice::read(&inbox[0]).expect("a notice");
    (dovecot, postfix, message_id, n)
}

/// The one recipient bob, with `action`, and the original message named by its Message-ID.
fn assert_about_bob(n: &Notice, action: Action, message_id: &str) {
    assert_eq!(n.recipients.len(), 1, "{n:#?}");
    assert_eq!(n.recipients[0].address, STUCK, "{n:#?}");
    assert_eq!(n.recipients[0].action, Some(action), "{n:#?}");
    let original = n.original.as_ref().expect("the original message is named");
    assert_eq!(original.message_id.as_deref(), Some(message_id), "{n:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_sends_a_real_delay_notice_and_keeps_retrying() {
    let (dovecot, postfix, message_id, n) = delayed().await;
    assert_eq!(n.kind, Kind::Delayed, "{n:#?}");
    assert_eq!(n.generator.as_deref(), Some("postfix"), "{n:#?}");
    assert_about_bob(&n, Action::Delayed, &message_id);
    assert!(
        postfix.log().contains("sender delay notification"),
        "{}",
        postfix.log()
    );

    // Postfix keeps retrying (once a second) and does not give up by itself: once its log
    // shows two more deferred attempts, there is still no second notice and the message is
    // still queued.
    let deferred = |log: &str| log.matches("status=deferred").count();
    let before = deferred(&postfix.log());
    let start = Instant::now();
    while deferred(&postfix.log()) < before + 2 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(deferred(&postfix.log()) >= before + 2, "{}", postfix.log());
    let inbox = imap::fetch_all(dovecot.imap, "alice").await;
    assert_eq!(inbox.len(), 1, "only the delay notice\n{}", postfix.log());
    assert_eq!(postfix.queued(), 1, "{}", postfix.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_queue_gives_a_real_failure_for_the_same_message() {
    let (dovecot, postfix, message_id, delay) = delayed().await;
    assert_eq!(delay.kind, Kind::Delayed, "{delay:#?}");
    assert_about_bob(&delay, Action::Delayed, &message_id);

    let expired = Instant::now();
    postfix.expire_queue();
    assert!(
        expired.elapsed() < Duration::from_millis(500),
        "expire_queue returns at once"
    );
    let inbox = imap::wait_for(dovecot.imap, "alice", 2).await;
    println!(
        "failure notice in alice's INBOX {:?} after expire_queue",
        expired.elapsed()
    );
    assert_eq!(
        inbox.len(),
        2,
        "the delay and the failure notice\n{}",
        postfix.log()
    );
    let failure = inbox
        .iter()
        .map(|raw| notice::read(raw).expect("a notice"))
        .find(|n| n.kind != Kind::Delayed)
        .expect("a second, different notice");
    assert_eq!(failure.kind, Kind::Failed, "{failure:#?}");
    assert_eq!(failure.generator.as_deref(), Some("postfix"), "{failure:#?}");
    assert_about_bob(&failure, Action::Failed, &message_id);
    assert_eq!(
        postfix.queued(),
        0,
        "returned, so no longer queued\n{}",
        postfix.log()
    );
}
