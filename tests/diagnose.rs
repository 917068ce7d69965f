//! `bouncedoc diagnose` end to end against a real Unbound on loopback: one notice file per
//! finding and per verdict row, through the binary, its configuration file and its JSON.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::unbound::{Silent, Unbound};

/// The test world's DNS: who exists, who has mail servers, who is listed.
const ZONE: &[&str] = &[
    // A recipient domain that works: MX → address.
    "partner.example. MX 10 mx1.partner.example.",
    "mx1.partner.example. A 192.0.2.25",
    // Our domain: an address and an MX.
    "corp.example. A 198.51.100.1",
    "corp.example. MX 10 mail.corp.example.",
    "mail.corp.example. A 203.0.113.5",
    // Our sending IPs' reverse DNS: .5 confirms, .99 points at a name that is not it, .7 has none.
    "5.113.0.203.in-addr.arpa. PTR mail.corp.example.",
    "99.113.0.203.in-addr.arpa. PTR mail.corp.example.",
    // RFC 7505 null MX.
    "nullmx.example. MX 0 .",
    // No MX, but an address: the implicit MX.
    "implicit.example. A 192.0.2.30",
    // An MX whose host does not exist.
    "badmx.example. MX 10 mx.gone.example.",
    // A sender domain that exists without A or MX.
    "nosender.example. TXT \"v=spf1 -all\"",
    // A recipient whose server is listed.
    "listed.example. MX 10 mx.listed.example.",
    "mx.listed.example. A 192.0.2.66",
    // The blocklist bl.test: RFC 5782 test points, the listed recipient server, our listed IP.
    "2.0.0.127.bl.test. A 127.0.0.2",
    "2.0.0.127.bl.test. TXT \"test point\"",
    "66.2.0.192.bl.test. A 127.0.0.2",
    "66.2.0.192.bl.test. TXT \"listed for spam, see https://bl.test/66\"",
    "99.113.0.203.bl.test. A 127.0.0.4",
    "99.113.0.203.bl.test. TXT \"our server, listed\"",
    // An MX that is an alias (CNAME), which RFC 5321 forbids but which works.
    "aliased.example. MX 10 alias.aliased.example.",
    "alias.aliased.example. CNAME mx1.partner.example.",
    // A zone that exists but does not pass its self-test (it lists nothing).
    "broken.test. TXT \"dead list\"",
    // A domain with eight MX hosts (only the five most preferred are looked up).
    "many.example. MX 10 mx1.many.example.",
    "many.example. MX 20 mx2.many.example.",
    "many.example. MX 30 mx3.many.example.",
    "many.example. MX 40 mx4.many.example.",
    "many.example. MX 50 mx5.many.example.",
    "many.example. MX 60 mx6.many.example.",
    "many.example. MX 70 mx7.many.example.",
    "many.example. MX 80 mx8.many.example.",
    "mx1.many.example. A 192.0.2.41",
    "mx2.many.example. A 192.0.2.42",
    "mx3.many.example. A 192.0.2.43",
    "mx4.many.example. A 192.0.2.44",
    "mx5.many.example. A 192.0.2.45",
    "mx6.many.example. A 192.0.2.46",
    "mx7.many.example. A 192.0.2.47",
    "mx8.many.example. A 192.0.2.48",
    // A domain whose MX points at loopback (the probe must not go there).
    "loopback.example. MX 10 mx.loopback.example.",
    "mx.loopback.example. A 127.0.0.1",
];

/// Spamhaus-style: every query under err.test answers 127.255.255.254 (public-resolver error).
const EXTRA: &[&str] = &[
    "local-zone: \"err.test.\" redirect",
    "local-data: \"err.test. A 127.255.255.254\"",
];

fn unbound() -> &'static Unbound {
    static U: OnceLock<Unbound> = OnceLock::new();
    U.get_or_init(|| Unbound::start(ZONE, EXTRA))
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("bouncedoc-diagnose-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A Postfix-style delay notice about mail from `from` to `to`.
fn notice(name: &str, from: &str, to: &str, remote: &str, diagnostic: &str) -> PathBuf {
    let text = format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.corp.example>\nTo: {from}\nSubject: Delayed Mail (still being retried)\nDate: Fri, 27 Nov 2026 10:00:00 +0000\nMessage-ID: <n-{name}@mx.corp.example>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nThis is the mail system at host mx.corp.example.\n\n<{to}>: {diagnostic}\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.corp.example\n\nFinal-Recipient: rfc822; {to}\nAction: delayed\nStatus: 4.4.1\n{remote}Diagnostic-Code: X-Postfix; {diagnostic}\nWill-Retry-Until: Sat, 28 Nov 2026 10:00:00 +0000\n\n--B\nContent-Type: text/rfc822-headers\n\nFrom: {from}\nTo: {to}\nSubject: Test {name}\nMessage-ID: <m-{name}@corp.example>\nDate: Fri, 27 Nov 2026 09:00:00 +0000\n\n--B--\n"
    );
    let path = temp_dir().join(format!("{name}.eml"));
    std::fs::write(&path, text).expect("write notice");
    path
}

fn config(name: &str, dns: std::net::SocketAddr, zones: &[&str], sending: &[&str], budget: &str) -> PathBuf {
    let text = format!(
        "timezone: Europe/Paris\ndns:\n  nameservers: [\"{dns}\"]\n  timeout: 1s\n  attempts: 1\n  budget: {budget}\ndnsbl:\n  zones: [{}]\nsending_ips: [{}]\n",
        zones.join(", "),
        sending.join(", ")
    );
    let path = temp_dir().join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write config");
    path
}

struct Run {
    json: Value,
    code: Option<i32>,
    elapsed: Duration,
}

fn diagnose(notice: &PathBuf, config: &PathBuf) -> Run {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["diagnose", "--json", "--config"])
        .arg(config)
        .arg(notice)
        .output()
        .expect("runs");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        json,
        code: out.status.code(),
        elapsed,
    }
}

fn finding<'a>(run: &'a Run, check: &str, subject: &str) -> &'a Value {
    run.json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check && f["subject"] == subject)
        .unwrap_or_else(|| panic!("no {check} finding for {subject}: {}", run.json["findings"]))
}

fn verdict(run: &Run) -> (&str, &str) {
    (
        run.json["verdict"]["action"].as_str().unwrap_or(""),
        run.json["verdict"]["cause"].as_str().unwrap_or(""),
    )
}

/// A standard case: mail from alice@corp.example, our clean sending IP, bl.test.
fn case(name: &str, to: &str, remote: &str, diagnostic: &str) -> Run {
    let u = unbound();
    let n = notice(name, "alice@corp.example", to, remote, diagnostic);
    let c = config(name, u.addr, &["bl.test"], &["203.0.113.5"], "5s");
    let run = diagnose(&n, &c);
    assert_eq!(run.code, Some(0), "diagnosed: {}", run.json);
    run
}

/// A delay whose text names no server address (so the MX hosts are what gets checked).
const REFUSED: &str =
    "conversation with the recipient's server timed out while receiving the initial greeting";

#[test]
fn nonexistent_recipient_domain() {
    let r = case("nxdomain", "bob@nowhere.example", "", REFUSED);
    assert_eq!(
        finding(&r, "recipient_domain", "nowhere.example")["result"],
        "nxdomain"
    );
    assert_eq!(verdict(&r), ("reply_user", "recipient_domain"));
    assert!(r.json["verdict"]["summary"]
        .as_str()
        .unwrap()
        .contains("keeps trying until Sat 28 Nov, 11:00 CET ("));
    // diagnosis.json keeps the notice's own time, in UTC (RFC 3339).
    assert!(
        r.json["notice"].to_string().contains("2026-11-28T10:00:00Z"),
        "{}",
        r.json
    );
}

#[test]
fn null_mx() {
    let r = case("nullmx", "bob@nullmx.example", "", REFUSED);
    assert_eq!(
        finding(&r, "recipient_domain", "nullmx.example")["result"],
        "null-mx"
    );
    assert_eq!(verdict(&r), ("reply_user", "recipient_domain"));
}

#[test]
fn no_mx_but_an_address_is_the_implicit_mx() {
    let r = case("implicit", "bob@implicit.example", "", REFUSED);
    let f = finding(&r, "recipient_domain", "implicit.example");
    assert_eq!(f["result"], "ok");
    assert!(f["detail"].as_str().unwrap().contains("implicit MX"), "{f}");
    // The implicit MX's address is what the blocklists are asked about.
    assert_eq!(finding(&r, "recipient_listed", "192.0.2.30")["result"], "clean");
    assert_eq!(verdict(&r), ("forward_support", "unexplained"));
}

#[test]
fn mx_pointing_at_an_unresolvable_host() {
    let r = case("badmx", "bob@badmx.example", "", REFUSED);
    assert_eq!(
        finding(&r, "recipient_domain", "badmx.example")["result"],
        "mx-hosts-unresolvable"
    );
    assert_eq!(verdict(&r), ("reply_user", "recipient_domain"));
}

#[test]
fn an_mx_that_is_an_alias_is_noted() {
    let r = case("aliased", "bob@aliased.example", "", REFUSED);
    let f = finding(&r, "recipient_domain", "aliased.example");
    assert_eq!(f["result"], "ok");
    assert!(
        f["detail"].as_str().unwrap().contains("is an alias (CNAME)"),
        "{f}"
    );
}

#[test]
fn sender_domain_without_records() {
    let u = unbound();
    let n = notice(
        "nosender",
        "carol@nosender.example",
        "bob@partner.example",
        "",
        REFUSED,
    );
    let c = config("nosender", u.addr, &["bl.test"], &["203.0.113.5"], "5s");
    let r = diagnose(&n, &c);
    assert_eq!(
        finding(&r, "sender_domain", "nosender.example")["result"],
        "missing"
    );
    assert_eq!(verdict(&r), ("reply_user", "sender_domain"));
}

#[test]
fn recipient_server_listed() {
    let r = case("listed", "bob@listed.example", "", REFUSED);
    let f = finding(&r, "recipient_listed", "192.0.2.66");
    assert_eq!(f["result"], "listed");
    assert!(f["detail"].as_str().unwrap().contains("listed for spam"), "{f}");
    assert_eq!(verdict(&r), ("reply_user", "recipient_listed"));
}

#[test]
fn remote_ip_from_the_notice_is_checked_first() {
    let r = case(
        "remoteip",
        "bob@partner.example",
        "Remote-MTA: dns; [192.0.2.66]\n",
        REFUSED,
    );
    assert_eq!(finding(&r, "recipient_listed", "192.0.2.66")["result"], "listed");
}

#[test]
fn our_ip_listed() {
    let u = unbound();
    let n = notice(
        "ourlisted",
        "alice@corp.example",
        "bob@partner.example",
        "",
        REFUSED,
    );
    let c = config("ourlisted", u.addr, &["bl.test"], &["203.0.113.99"], "5s");
    let r = diagnose(&n, &c);
    let f = finding(&r, "sender_listed", "203.0.113.99");
    assert_eq!(f["result"], "listed");
    assert!(f["detail"].as_str().unwrap().contains("127.0.0.4"), "{f}");
    assert_eq!(verdict(&r), ("forward_support", "sender_listed"));
}

#[test]
fn missing_and_mismatched_ptr() {
    let u = unbound();
    let n = notice("ptr", "alice@corp.example", "bob@partner.example", "", REFUSED);
    let c = config("ptr", u.addr, &["bl.test"], &["203.0.113.7", "203.0.113.5"], "5s");
    let r = diagnose(&n, &c);
    assert_eq!(finding(&r, "sender_ptr", "203.0.113.7")["result"], "no-ptr");
    assert_eq!(finding(&r, "sender_ptr", "203.0.113.5")["result"], "ok");
    assert_eq!(verdict(&r), ("forward_support", "sender_ptr"));
    let c = config("ptr2", u.addr, &["bl.test"], &["203.0.113.99"], "5s");
    let r = diagnose(&n, &c);
    assert_eq!(finding(&r, "sender_ptr", "203.0.113.99")["result"], "mismatch");
}

#[test]
fn spamhaus_style_error_answer_is_an_error_not_a_listing() {
    let u = unbound();
    let n = notice(
        "spamhaus",
        "alice@corp.example",
        "bob@partner.example",
        "",
        REFUSED,
    );
    let c = config(
        "spamhaus",
        u.addr,
        &["err.test", "bl.test"],
        &["203.0.113.5"],
        "5s",
    );
    let r = diagnose(&n, &c);
    let z = finding(&r, "blocklist_zone", "err.test");
    assert_eq!(z["result"], "list-error");
    assert!(
        z["detail"].as_str().unwrap().contains("public or open resolvers"),
        "{z}"
    );
    assert_eq!(finding(&r, "sender_listed", "203.0.113.5")["result"], "clean");
    assert_eq!(verdict(&r), ("forward_support", "unexplained"));
}

#[test]
fn zone_failing_its_self_test_is_skipped() {
    let u = unbound();
    let n = notice("broken", "alice@corp.example", "bob@partner.example", "", REFUSED);
    let c = config("broken", u.addr, &["broken.test"], &["203.0.113.99"], "5s");
    let r = diagnose(&n, &c);
    let z = finding(&r, "blocklist_zone", "broken.test");
    assert!(z["detail"].as_str().unwrap().contains("127.0.0.2"), "{z}");
    // Nothing is called listed by a zone that cannot be trusted.
    assert_ne!(finding(&r, "sender_listed", "203.0.113.99")["result"], "listed");
}

#[test]
fn servfail_is_a_dns_error_never_nxdomain() {
    let r = case("servfail", "bob@x.servfail.test", "", REFUSED);
    let f = finding(&r, "recipient_domain", "x.servfail.test");
    assert_eq!(f["result"], "dns-error");
    assert!(f["detail"].as_str().unwrap().contains("SERVFAIL"), "{f}");
    assert_eq!(verdict(&r), ("recheck", "dns_inconclusive"));
}

#[test]
fn a_server_that_never_answers_gives_recheck_within_the_budget() {
    let silent = Silent::start();
    let n = notice("silent", "alice@corp.example", "bob@partner.example", "", REFUSED);
    let c = config("silent", silent.addr, &["bl.test"], &["203.0.113.5"], "2s");
    let r = diagnose(&n, &c);
    assert_eq!(r.code, Some(0));
    assert_eq!(
        finding(&r, "recipient_domain", "partner.example")["result"],
        "dns-error"
    );
    assert_eq!(verdict(&r), ("recheck", "dns_inconclusive"));
    assert!(
        r.elapsed < Duration::from_millis(2500),
        "took {:?} with a 2 s budget",
        r.elapsed
    );
}

#[test]
fn remote_server_refusing_us() {
    let r = case(
        "blocking",
        "bob@partner.example",
        "",
        "host mx1.partner.example[192.0.2.25] said: 451 4.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org",
    );
    let f = finding(&r, "blocked_by_recipient", "bob@partner.example");
    assert!(f["detail"]
        .as_str()
        .unwrap()
        .contains("blocked using zen.spamhaus.org"));
    assert_eq!(verdict(&r), ("reply_user", "blocked_by_recipient"));
}

#[test]
fn everything_clean() {
    let r = case("clean", "bob@partner.example", "", REFUSED);
    assert_eq!(finding(&r, "recipient_domain", "partner.example")["result"], "ok");
    assert_eq!(finding(&r, "sender_domain", "corp.example")["result"], "ok");
    assert_eq!(finding(&r, "recipient_listed", "192.0.2.25")["result"], "clean");
    assert_eq!(finding(&r, "sender_listed", "203.0.113.5")["result"], "clean");
    assert_eq!(finding(&r, "sender_ptr", "203.0.113.5")["result"], "ok");
    assert_eq!(verdict(&r), ("forward_support", "unexplained"));
    assert_eq!(r.json["notice"]["kind"], "delayed");
}

#[test]
fn bad_config_names_key_and_line_and_exits_2() {
    let path = temp_dir().join("bad.yaml");
    std::fs::write(&path, "dns:\n  nameservers: []\n  budget: soon\n").expect("write");
    let n = notice("badcfg", "alice@corp.example", "bob@partner.example", "", REFUSED);
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["diagnose", "--config"])
        .arg(&path)
        .arg(&n)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:3: dns.budget: invalid duration"), "{err}");
}

#[test]
fn unreadable_input_exits_1() {
    let path = temp_dir().join("not-a-notice.eml");
    std::fs::write(&path, "From: a@b.example\nSubject: lunch?\n\nAre you free?\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["diagnose"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["diagnose", "/nonexistent/notice.eml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn human_report_has_marks_and_advice() {
    let u = unbound();
    let n = notice("report", "alice@corp.example", "bob@nowhere.example", "", REFUSED);
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["diagnose", "--dns", &u.addr.to_string()])
        .arg(&n)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Delayed: \"Test report\" → bob@nowhere.example"),
        "{text}"
    );
    assert!(
        text.contains("✗ recipient domain mail routing — nowhere.example: nxdomain"),
        "{text}"
    );
    assert!(
        text.contains("✓ sender domain records — corp.example: ok"),
        "{text}"
    );
    assert!(
        text.contains("contact the recipient by another channel"),
        "{text}"
    );
}

#[test]
fn preview_prints_the_exact_messages_and_sends_nothing() {
    let u = unbound();
    let n = notice(
        "preview",
        "alice@corp.example",
        "bob@partner.example",
        "",
        REFUSED,
    );
    let path = temp_dir().join("preview.yaml");
    std::fs::write(
        &path,
        format!(
            "from: \"bouncedoc <bouncedoc@corp.example>\"\nsupport: support@corp.example\ndns:\n  nameservers: [\"{}\"]\n  timeout: 1s\n  attempts: 1\ndnsbl:\n  zones: [bl.test]\nsending_ips: [203.0.113.99]\n",
            u.addr
        ),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["diagnose", "--preview", "--config"])
        .arg(&path)
        .arg(&n)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    // Our IP is listed: the user is told, and the package goes to Support.
    assert!(
        text.contains(
            "===== message 1 of 2: MAIL FROM:<bouncedoc@corp.example> RCPT TO:<alice@corp.example> ====="
        ),
        "{text}"
    );
    assert!(text.contains("RCPT TO:<support@corp.example>"), "{text}");
    let first = text.split("===== message 2 of 2").next().unwrap_or("");
    let raw = first.split_once("=====\n").map(|(_, r)| r).unwrap_or("");
    let m = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("an RFC 5322 message");
    assert!(
        m.subject()
            .unwrap_or("")
            .starts_with("Delayed: Test preview → bob@partner.example"),
        "{:?}",
        m.subject()
    );
    assert_eq!(m.in_reply_to().as_text(), Some("n-preview@mx.corp.example"));
    assert!(
        text.contains("Content-Type: message/rfc822"),
        "the package attaches the notice"
    );
}

#[test]
fn a_notice_with_many_recipients_is_checked_within_bounds() {
    let u = unbound();
    let mut dsn = String::new();
    for i in 0..60 {
        dsn.push_str(&format!(
            "Final-Recipient: rfc822; u{i}@d{i}.example\nAction: delayed\nStatus: 4.4.1\n\n"
        ));
    }
    let text = format!(
        "From: MAILER-DAEMON@mx.corp.example\nTo: alice@corp.example\nSubject: Delayed Mail (still being retried)\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.corp.example\n\n{dsn}--B--\n"
    );
    let path = temp_dir().join("many.eml");
    std::fs::write(&path, text).expect("write");
    let c = config("many", u.addr, &["bl.test"], &["203.0.113.5"], "5s");
    let r = diagnose(&path, &c);
    assert_eq!(r.code, Some(0));
    let domains = r.json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "recipient_domain" && f["result"] != "not-checked")
        .count();
    assert_eq!(domains, bouncedoc::diagnose::MAX_DOMAINS);
    // The rest are reported, not silently dropped.
    let rest = finding(&r, "recipient_domain", "40 more domains");
    assert_eq!(rest["result"], "not-checked");
    assert!(
        rest["detail"].as_str().unwrap().contains("not checked: limit"),
        "{rest}"
    );
    assert_eq!(verdict(&r), ("reply_user", "recipient_domain"));
}

/// Regression: with `dnsbl.zones: []` the blocklist checks are off; they used to report a
/// failing "list-error" (every zone failed its self-test) for every server checked.
#[test]
fn no_blocklist_zones_means_no_blocklist_findings() {
    let u = unbound();
    let n = notice(
        "nozones",
        "alice@corp.example",
        "bob@partner.example",
        "",
        REFUSED,
    );
    let c = config("nozones", u.addr, &[], &["203.0.113.5"], "5s");
    let run = diagnose(&n, &c);
    assert_eq!(run.code, Some(0), "{}", run.json);
    let findings = run.json["findings"].as_array().expect("findings");
    assert!(
        !findings.iter().any(|f| f["check"] == "recipient_listed"
            || f["check"] == "sender_listed"
            || f["result"] == "list-error"),
        "{}",
        run.json["findings"]
    );
    assert_eq!(verdict(&run), ("forward_support", "unexplained"));
}

#[test]
fn mx_hosts_beyond_the_limit_are_not_looked_up() {
    let r = case("manymx", "bob@many.example", "", REFUSED);
    let f = finding(&r, "recipient_domain", "many.example");
    let detail = f["detail"].as_str().unwrap();
    assert_eq!(f["result"], "ok", "{f}");
    for n in 1..=5 {
        assert!(detail.contains(&format!("mx{n}.many.example")), "{detail}");
    }
    for n in 6..=8 {
        assert!(!detail.contains(&format!("mx{n}.many.example")), "{detail}");
    }
    assert!(
        detail.contains("3 more MX hosts not checked: limit of 5 per domain"),
        "{detail}"
    );
}

#[test]
fn an_ip_only_the_notice_names_outside_sending_ips_is_not_blamed_on_us() {
    let u = unbound();
    // A stranger's notice says our client 203.0.113.99 (listed in bl.test) is refused; our
    // sending servers are 198.51.100.0/24 and 203.0.113.5.
    let blocked = "host mx1.partner.example[192.0.2.25] said: 554 5.7.1 Service unavailable; Client host [203.0.113.99] blocked using bl.test";
    let n = notice(
        "notours",
        "alice@corp.example",
        "bob@partner.example",
        "",
        blocked,
    );
    let c = config(
        "notours",
        u.addr,
        &["bl.test"],
        &["198.51.100.0/24", "203.0.113.5"],
        "5s",
    );
    let r = diagnose(&n, &c);
    assert_eq!(r.code, Some(0), "{}", r.json);
    let f = finding(&r, "sender_listed", "203.0.113.99");
    assert_eq!(f["result"], "not-ours", "{f}");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("named by the notice, not one of ours"),
        "{f}"
    );
    // Our configured address is checked as ours; the stranger's claim is not.
    assert_eq!(finding(&r, "sender_listed", "203.0.113.5")["result"], "clean");
    assert_ne!(verdict(&r).1, "sender_listed", "{}", r.json);
    assert_ne!(verdict(&r).1, "sender_ptr", "{}", r.json);
    // Nor is the refusal of that client read as the recipient refusing our server.
    let b = finding(&r, "blocked_by_recipient", "bob@partner.example");
    assert_eq!(b["result"], "not-ours", "{b}");
    assert_ne!(verdict(&r).1, "blocked_by_recipient", "{}", r.json);

    // The same notice when 203.0.113.99 lies inside our networks: ours, listed, Support.
    let c = config("ours", u.addr, &["bl.test"], &["203.0.113.0/24"], "5s");
    let r = diagnose(&n, &c);
    assert_eq!(finding(&r, "sender_listed", "203.0.113.99")["result"], "listed");
    assert_eq!(
        finding(&r, "blocked_by_recipient", "bob@partner.example")["result"],
        "blocking-us"
    );
    assert_eq!(verdict(&r), ("forward_support", "sender_listed"));
}

#[test]
fn the_probe_never_connects_to_a_loopback_mx() {
    let u = unbound();
    let n = notice(
        "loopmx",
        "alice@corp.example",
        "bob@loopback.example",
        "",
        REFUSED,
    );
    let path = temp_dir().join("loopmx.yaml");
    std::fs::write(
        &path,
        format!(
            "dns:\n  nameservers: [\"{}\"]\n  timeout: 1s\n  attempts: 1\n  budget: 5s\ndnsbl:\n  zones: []\nprobe_smtp: true\n",
            u.addr
        ),
    )
    .expect("write config");
    let r = diagnose(&n, &path);
    let f = r.json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "smtp_probe")
        .unwrap_or_else(|| panic!("no probe finding: {}", r.json));
    // "refused" or "reachable" would mean it connected to 127.0.0.1:25.
    assert_eq!(f["result"], "not-probed", "{f}");
    assert_eq!(f["subject"], "127.0.0.1", "{f}");
}
