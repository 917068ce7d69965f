//! The state on a real PostgreSQL (started by the harness on loopback): the same behaviour as
//! SQLite through the same `Store` methods, the same schema, and the rules several instances
//! rely on (a message claimed by one instance only; recording only while the mailbox is
//! leased; a restarted server reconnected).

mod support;

use bouncedoc::compose::Outgoing;
use bouncedoc::store::{Answer, Cursor, Record, Store, ThreadStep};
use bouncedoc::vocab::{Outcome, Role, ThreadState, Via};
use support::postgres::Postgres;

fn outgoing(id: &str) -> Outgoing {
    Outgoing {
        message_id: id.into(),
        from: "bot@x".into(),
        to: "alice@x".into(),
        raw: format!("raw {id}").into_bytes(),
    }
}

fn record<'a>(uid: u32, fp: &'a str, answers: &'a [Answer<'a>], now: i64) -> Record<'a> {
    Record {
        mailbox: "alice",
        uidvalidity: 7,
        uid,
        fingerprint: fp,
        message_id: Some(fp),
        kind: "delayed",
        recipients: "bob@y",
        subject: Some("Hi"),
        thread: Some(ThreadStep {
            original: "mid:o1@x",
            recipient: "bob@y",
            verdict: "reply_user/recipient_domain",
            state: ThreadState::Open,
        }),
        reporter: Some("example.net"),
        verdict: Some("reply_user/recipient_domain"),
        summary: Some("..."),
        outcome: Outcome::Answered,
        raw: b"notice bytes \x00\xff",
        pending: None,
        held: &[],
        answers,
        via: Via::Global,
        move_cursor: true,
        now,
    }
}

/// What the processor, the outbox, `history` and `status` do with the state, on one backend.
fn the_state_behaves_the_same(s: &Store) {
    let c = Cursor {
        uidvalidity: 7,
        last_uid: 3,
        rescan: true,
    };
    s.start_cursor("alice", "u@h:993/INBOX", c).unwrap();
    s.start_cursor("alice", "u@h:993/INBOX", c).unwrap();
    let (r1, r2) = (outgoing("r1@bot"), outgoing("r2@bot"));
    let first = [Answer {
        role: Role::Reply,
        message: &r1,
    }];
    let second = [Answer {
        role: Role::Package,
        message: &r2,
    }];
    s.record(&record(5, "mid:n1@x", &first, 100)).unwrap();
    s.record(&record(6, "mid:n2@x", &second, 101)).unwrap();
    assert!(s.seen("alice", "mid:n1@x").unwrap());
    assert!(!s.seen("alice", "mid:n9@x").unwrap());
    assert!(s.is_ours("r1@bot").unwrap());
    assert_eq!(s.role_of("r2@bot").unwrap(), Some(Role::Package));
    assert_eq!(
        s.cursor("alice").unwrap(),
        Some(Cursor {
            last_uid: 6,
            rescan: false,
            ..c
        }),
        "progress moves the cursor and ends the rescan"
    );
    s.set_cursor_forward("alice", Cursor { last_uid: 2, ..c })
        .unwrap();
    assert_eq!(s.cursor("alice").unwrap().unwrap().last_uid, 6, "never back");
    let t = s.thread("alice", "mid:o1@x", "bob@y").unwrap().unwrap();
    assert_eq!(t.messages, vec!["r1@bot".to_string()]);
    assert!(t.package_sent);
    assert_eq!(t.state, ThreadState::Open);
    assert_eq!(t.reporter.as_deref(), Some("example.net"));
    let (by_id, raw) = s.thread_by_id(t.id).unwrap().unwrap();
    assert_eq!((by_id.id, raw.as_slice()), (t.id, &b"notice bytes \x00\xff"[..]));
    assert_eq!(s.open_threads("alice").unwrap().len(), 1);
    assert_eq!(
        s.replied_to("alice", "ALICE@x", &["nope@x".into(), "r1@bot".into()])
            .unwrap(),
        Some(Some(t.id)),
        "the user's address is compared without case"
    );
    assert_eq!(
        s.sent_since("alice", &[Role::Reply, Role::Package], 0).unwrap(),
        2
    );
    // The outbox: stored once per Message-ID, claimed, sent, retried, failed.
    s.enqueue("r1@bot", "bot@x", "alice@x", b"again", 100).unwrap();
    let due = s.due(200, 10, &Via::Global).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].raw, b"raw r1@bot");
    assert!(s.claim(due[0].id, 200).unwrap());
    assert!(!s.claim(due[0].id, 200).unwrap(), "claimed once");
    s.mark_sent(due[0].id, 201).unwrap();
    s.mark_retry(due[1].id, 300, "451 later").unwrap();
    assert_eq!(s.next_due(&Via::Global).unwrap(), Some(300));
    let summary = s.queue_summary().unwrap();
    assert_eq!((summary.queued, summary.retrying, summary.failed), (1, 1, 0));
    s.mark_failed(due[1].id, "550 no").unwrap();
    assert_eq!(s.status("r2@bot").unwrap().unwrap().state, "failed");
    assert_eq!(s.status("r1@bot").unwrap().unwrap().attempts, 1);
    // History, standing, held items, a skipped message, rechecks, the digest's memory.
    let h = s.history(Some("alice"), 10).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].uid, 6);
    assert_eq!(h[1].sent, vec![("reply".into(), "alice@x".into(), "sent".into())]);
    assert_eq!(s.history(None, 1).unwrap().len(), 1);
    s.record_skipped("alice", 7, 9, "over its time budget", 102)
        .unwrap();
    assert_eq!(s.cursor("alice").unwrap().unwrap().last_uid, 9);
    let pending = Record {
        uid: 10,
        fingerprint: "mid:n3@x",
        pending: Some((150, 1)),
        answers: &[],
        held: &[(Role::Reply, "held line".into())],
        ..record(10, "mid:n3@x", &[], 103)
    };
    let id = s.record(&pending).unwrap();
    assert_eq!(s.pending("alice", 200).unwrap().len(), 1);
    assert_eq!(s.next_pending("alice").unwrap(), Some(150));
    assert_eq!(s.notice_position(id).unwrap(), Some((7, 10, "mid:n3@x".into())));
    assert_eq!(s.held("alice", Role::Reply).unwrap().len(), 1);
    assert!(s.held_any("alice").unwrap());
    s.drop_pending(id, "gave up").unwrap();
    assert!(s.pending("alice", 200).unwrap().is_empty());
    let standing = s.standing("alice").unwrap();
    assert_eq!(
        (standing.open_threads, standing.held, standing.last_notice),
        (1, 1, Some(103))
    );
    assert_eq!(s.digest_due("alice", 1000, 604_800).unwrap(), None);
    let items = s.digest_items("alice", 0, 5 * 86_400, 1000).unwrap();
    assert_eq!(items.open.len(), 1);
    s.probe_write(5).unwrap();
    // Retention: old sent rows and notices go, the queue stays.
    s.enqueue("q@bot", "bot@x", "alice@x", b"q", 1).unwrap();
    assert!(s.prune(10_000).unwrap() > 0);
    assert!(!s.seen("alice", "mid:n1@x").unwrap());
    assert_eq!(s.status("q@bot").unwrap().unwrap().state, "queued");
}

#[test]
fn the_same_state_behaviour_on_sqlite_and_on_postgresql() {
    let dir = std::env::temp_dir().join(format!("bouncedoc-pg-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    the_state_behaves_the_same(&Store::open(&dir).unwrap());
    let _ = std::fs::remove_dir_all(&dir);

    let pg = Postgres::start();
    let connect = bouncedoc::store::postgres::Connect::new(&pg.url(), None).unwrap();
    let s = Store::open_postgres(&connect, None).unwrap();
    assert!(s.is_postgres());
    the_state_behaves_the_same(&s);
    // The same schema: every migration ran, and a second opening runs none again.
    let again = Store::open_postgres(&connect, None).unwrap();
    assert_eq!(again.schema_version().unwrap(), s.schema_version().unwrap());
    assert_eq!(
        pg.psql("SELECT version FROM schema_version"),
        s.schema_version().unwrap().to_string()
    );
}

#[test]
fn instances_starting_together_migrate_once_and_claim_each_message_once() {
    let pg = Postgres::start();
    let connect = bouncedoc::store::postgres::Connect::new(&pg.url(), None).unwrap();
    // Four instances open the empty database at once: the migrations run once.
    let stores: Vec<Store> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let connect = connect.clone();
                scope.spawn(move || Store::open_postgres(&connect, Some(&format!("i{i}"))).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for i in 0..200 {
        stores[3]
            .enqueue(&format!("m{i}@bot"), "bot@x", "alice@x", b"raw", 1)
            .unwrap();
    }
    // Every instance goes through the whole queue and claims what it can.
    let claimed: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .into_iter()
            .map(|s| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for q in s.due(10, 1000, &Via::Global).unwrap() {
                        if s.claim(q.id, 10).unwrap() {
                            mine.push(q.id);
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<i64> = claimed.iter().flatten().copied().collect();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(
        (n, all.len()),
        (200, 200),
        "each message claimed by exactly one instance"
    );
    assert_eq!(
        pg.psql("SELECT COUNT(DISTINCT claimed_by) FROM outbox WHERE claimed IS NOT NULL")
            .parse::<usize>()
            .unwrap(),
        claimed.iter().filter(|c| !c.is_empty()).count()
    );
    // A running instance's claims are not released by another's start; a gone one's are.
    pg.psql("INSERT INTO instance (id, started, expires) SELECT DISTINCT claimed_by, 0, 9999999999999 FROM outbox");
    let late = Store::open_postgres(&connect, Some("late")).unwrap();
    assert_eq!(late.release_claims().unwrap(), 0);
    pg.psql("UPDATE instance SET expires = 0 WHERE id = 'i0'");
    assert_eq!(late.release_claims().unwrap(), claimed[0].len());
}

#[test]
fn a_notice_is_recorded_only_while_its_mailbox_is_leased_to_the_instance() {
    let pg = Postgres::start();
    let connect = bouncedoc::store::postgres::Connect::new(&pg.url(), None).unwrap();
    let s = Store::open_postgres(&connect, Some("one")).unwrap();
    let reply = outgoing("r1@bot");
    let answers = [Answer {
        role: Role::Reply,
        message: &reply,
    }];
    let err = s.record(&record(5, "mid:n1@x", &answers, 100)).unwrap_err();
    assert!(err.to_string().contains("no longer leased"), "{err}");
    assert!(!s.seen("alice", "mid:n1@x").unwrap());
    assert!(s.status("r1@bot").unwrap().is_none(), "nothing of it was queued");
    pg.psql("INSERT INTO lease (mailbox, owner, expires) VALUES ('alice', 'one', 9999999999999)");
    s.record(&record(5, "mid:n1@x", &answers, 100)).unwrap();
    assert!(s.status("r1@bot").unwrap().is_some());
    pg.psql("UPDATE lease SET owner = 'two'");
    assert!(s.record(&record(6, "mid:n2@x", &answers, 100)).is_err());
}

#[test]
fn a_restarted_postgresql_is_reconnected() {
    let pg = Postgres::start();
    let connect = bouncedoc::store::postgres::Connect::new(&pg.url(), None).unwrap();
    let s = Store::open_postgres(&connect, None).unwrap();
    s.enqueue("a@bot", "bot@x", "alice@x", b"raw", 1).unwrap();
    pg.stop(false);
    assert!(s.status("a@bot").is_err(), "the server is down");
    pg.restart();
    let mut answer = s.status("a@bot");
    for _ in 0..20 {
        if answer.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        answer = s.status("a@bot");
    }
    assert_eq!(answer.unwrap().unwrap().state, "queued");
}
