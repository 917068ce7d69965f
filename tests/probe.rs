//! The optional SMTP probe (`probe_smtp: true`) against a real Postfix: reachable with
//! STARTTLS, reachable without it, and a closed port.

mod support;

use bouncedoc::config::Config;
use bouncedoc::diagnose::{Check, Diagnoser, Finding, Found, Reachability};
use std::time::Duration;
use support::postfix::Postfix;
use support::unbound::Unbound;

fn notice() -> bouncedoc::notice::Notice {
    let raw = "From: MAILER-DAEMON@mx.corp.example\nTo: alice@corp.example\nSubject: Delayed Mail (still being retried)\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.corp.example\n\nFinal-Recipient: rfc822; bob@probe.example\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; conversation timed out\n\n--B--\n";
    bouncedoc::notice::read(raw.as_bytes()).expect("notice")
}

fn probe_with(dns: &Unbound, port: u16, private: bool) -> Finding {
    let mut c = Config::default();
    c.dns.nameservers = vec![dns.addr];
    c.dns.timeout = Duration::from_secs(1);
    c.dns.attempts = 1;
    c.dns.budget = Duration::from_secs(5);
    c.dnsbl_zones = vec![];
    c.probe_smtp = true;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut d = Diagnoser::new(&c).expect("diagnoser");
    d.smtp_port = port;
    // The test servers listen on loopback, which the bot itself never probes.
    d.probe_private = private;
    let diagnosis = runtime.block_on(d.diagnose(&notice()));
    diagnosis
        .findings
        .into_iter()
        .find(|f| f.check() == Check::SmtpProbe)
        .unwrap_or_else(|| panic!("no probe finding"))
}

#[test]
fn probe_reports_starttls_its_absence_and_a_closed_port() {
    let dns = Unbound::start(
        &[
            "probe.example. MX 10 mx.probe.example.",
            "mx.probe.example. A 127.0.0.1",
        ],
        &[],
    );
    let with_tls = Postfix::start(true);
    let f = probe_with(&dns, with_tls.addr.port(), true);
    assert_eq!(f.found, Found::SmtpProbe(Reachability::Reachable), "{f:?}");
    assert!(f.detail.contains("220 mx.test ESMTP Postfix"), "{f:?}");
    drop(with_tls);

    let plain = Postfix::start(false);
    let f = probe_with(&dns, plain.addr.port(), true);
    assert_eq!(f.found, Found::SmtpProbe(Reachability::NoStarttls), "{f:?}");
    drop(plain);

    // A port where nothing listens.
    let closed = support::unbound::free_port();
    let f = probe_with(&dns, closed, true);
    assert_eq!(f.found, Found::SmtpProbe(Reachability::Refused), "{f:?}");
}

#[test]
fn the_probe_does_not_connect_to_an_mx_named_127_0_0_1() {
    let dns = Unbound::start(
        &["probe.example. MX 10 127.0.0.1.", "127.0.0.1. A 127.0.0.1"],
        &[],
    );
    // Something listens where the MX points: a connection would be accepted and seen here.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let f = probe_with(&dns, listener.local_addr().expect("addr").port(), false);
    assert_eq!(f.found, Found::SmtpProbe(Reachability::NotProbed), "{f:?}");
    // The diagnosis is over: a connection it made would be waiting in the backlog now.
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the probe connected to loopback: {other:?}"),
    }
}
