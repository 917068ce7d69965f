//! The composed messages, parsed back: headers, threading, alternatives, the attachment's bytes,
//! and hostile values from a notice that must not reach a header unescaped.

mod support;

use bouncedoc::compose::{support_package, user_reply, Context, Outgoing};
use bouncedoc::diagnose::{Finding, Found, OurListing, Routing};
use bouncedoc::notice;
use bouncedoc::verdict;
use mail_parser::{MessageParser, MimeHeaders};
use std::path::Path;

fn example() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/exchange-delay.eml")).expect("example")
}

fn findings() -> Vec<Finding> {
    vec![
        Finding {
            found: Found::RecipientDomain(Routing::Ok),
            subject: "harbor-freight.example".into(),
            detail: "mail servers: mail.harbor-freight.example (preference 10: 198.51.100.23)".into(),
        },
        Finding {
            found: Found::SenderListed(OurListing::Listed),
            subject: "203.0.113.77".into(),
            detail: "203.0.113.77 is listed on zen.spamhaus.org (127.0.0.2: https://check.spamhaus.org/)"
                .into(),
        },
    ]
}

fn ctx<'a>(raw: &'a [u8], notice_id: Option<&'a str>, thread: &'a [String]) -> Context<'a> {
    Context {
        bot_name: Some("bouncedoc"),
        bot_address: "bouncedoc@northwind.example",
        user: "maria@northwind.example",
        reply_to: "bouncedoc+maria@northwind.example",
        support: "support@northwind.example",
        notice_raw: raw,
        notice_message_id: notice_id,
        thread,
        clock: bouncedoc::compose::words::Clock::utc(1_795_800_000),
        lang: bouncedoc::compose::Lang::En,
    }
}

#[test]
fn user_reply_headers_threading_and_alternatives() {
    let raw = example();
    let n = notice::read(&raw).expect("notice");
    let f = findings();
    let v = verdict::decide(&f);
    let thread = vec!["bouncedoc.earlier.1@northwind.example".to_string()];
    let out: Outgoing = user_reply(
        &ctx(&raw, Some("5c1e0a7b2d4f@MBX02.northwind.example"), &thread),
        &n,
        &f,
        &v,
    )
    .expect("composed");
    assert_eq!(out.to, "maria@northwind.example");
    let m = MessageParser::default().parse(&out.raw).expect("parses");
    assert_eq!(m.subject(), Some("Delayed: Shipping schedule for December → tom@harbor-freight.example — our server is on a blocklist, Support informed"));
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(m.message_id(), Some(out.message_id.as_str()));
    // In-Reply-To names the notice answered; References the thread before it.
    assert_eq!(
        m.in_reply_to().as_text(),
        Some("5c1e0a7b2d4f@MBX02.northwind.example")
    );
    let refs = m
        .references()
        .as_text_list()
        .map(|l| l.to_vec())
        .unwrap_or_default();
    assert_eq!(
        refs,
        vec![
            "bouncedoc.earlier.1@northwind.example",
            "5c1e0a7b2d4f@MBX02.northwind.example"
        ]
    );
    assert_eq!(
        m.reply_to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("bouncedoc+maria@northwind.example")
    );
    assert_eq!(
        m.from().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("bouncedoc@northwind.example")
    );
    let text = m.body_text(0).expect("text part").to_string();
    let html = m.body_html(0).expect("html part").to_string();
    for line in text.lines() {
        assert!(line.chars().count() <= 78, "line over 78 columns: {line:?}");
    }
    assert!(
        text.contains("✗ Our sending server on a blocklist (203.0.113.77): listed"),
        "{text}"
    );
    assert!(
        text.contains("keeps trying until Sat 28 Nov, 10:05 UTC (in "),
        "{text}"
    );
    assert!(
        html.contains("<table") && html.contains("✗") && html.contains("✓"),
        "{html}"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("<link"),
        "no remote resources"
    );
    assert!(html.contains("Support"));
}

#[test]
fn support_package_carries_the_notice_unaltered() {
    for (name, raw) in [
        ("crlf", example()),
        (
            "lf",
            String::from_utf8(example())
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes(),
        ),
    ] {
        let n = notice::read(&raw).expect("notice");
        let f = findings();
        let v = verdict::decide(&f);
        let json =
            serde_json::json!({"findings": f, "verdict": {"action": v.action, "cause": v.cause}}).to_string();
        let out = support_package(&ctx(&raw, None, &[]), &n, &f, &v, &json).expect("composed");
        assert_eq!(out.to, "support@northwind.example");
        let m = MessageParser::default().parse(&out.raw).expect("parses");
        assert!(
            m.subject()
                .unwrap()
                .contains("maria@northwind.example → tom@harbor-freight.example: 4.4.7 delayed"),
            "{:?}",
            m.subject()
        );
        assert_eq!(
            m.reply_to().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("maria@northwind.example")
        );
        let bytes = support::attached_message(&m).unwrap_or_else(|| panic!("{name}: no message/rfc822 part"));
        assert!(
            bytes == raw,
            "{name}: the attached notice must be byte-identical ({} bytes attached, {} sent; first difference at {:?})",
            bytes.len(),
            raw.len(),
            bytes.iter().zip(&raw).position(|(a, b)| a != b)
        );
        let json_part = m
            .parts
            .iter()
            .find(|p| p.attachment_name() == Some("diagnosis.json"))
            .expect("diagnosis.json");
        let parsed: serde_json::Value = serde_json::from_slice(json_part.contents()).expect("json");
        assert_eq!(parsed["verdict"]["cause"], "sender_listed");
        let body = m.body_text(0).expect("text part").to_string();
        assert!(
            body.contains("Escalated because: our sending server is on a blocklist."),
            "{body}"
        );
        // The same report in HTML, for ticket systems: the notice's key lines and the checks
        // as tables.
        let html = m.body_html(0).expect("html part").to_string();
        assert!(html.contains("Delay notice report"), "{html}");
        assert!(html.contains("Recipient tom@harbor-freight.example"), "{html}");
        assert!(
            html.contains("Mailbox user") && html.contains("maria@northwind.example"),
            "{html}"
        );
        assert!(html.matches("<table").count() >= 2, "{html}");
        // Nothing Support replies is a command: no commands footer in the package.
        assert!(!body.contains("Reply to this message with one word"), "{body}");
        assert!(!html.contains("Reply to this message with one word"), "{html}");
    }
}

#[test]
fn hostile_notice_values_stay_out_of_headers() {
    let raw = "From: MAILER-DAEMON@evil.example\r\nTo: maria@northwind.example\r\nSubject: Undelivered Mail Returned to Sender\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; victim@evil.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: maria@northwind.example\r\nSubject: =?UTF-8?Q?Hi=0D=0ABcc:_everyone@evil.example=0D=0A=0D=0Aspam_=E2=9C=93?=\r\nMessage-ID: <x@y>\r\n\r\n--B--\r\n";
    let n = notice::read(raw.as_bytes()).expect("notice");
    assert!(
        n.original
            .as_ref()
            .unwrap()
            .subject
            .as_ref()
            .unwrap()
            .contains('\n'),
        "the decoded subject carries CR/LF"
    );
    let v = verdict::decide(&[]);
    let id = "x@y>\r\nBcc: everyone@evil.example";
    let out = user_reply(&ctx(raw.as_bytes(), Some(id), &[]), &n, &[], &v).expect("composed");
    let text = String::from_utf8(out.raw.clone()).expect("utf-8");
    let head = &text[..text.find("\r\n\r\n").expect("header end")];
    assert!(!head.to_ascii_lowercase().contains("\r\nbcc:"), "{head}");
    assert!(head.is_ascii(), "non-ASCII must be RFC 2047-encoded: {head}");
    for line in head.split("\r\n") {
        assert!(line.len() <= 998);
        assert!(
            line.starts_with([' ', '\t']) || line.contains(':'),
            "a stray line in the header: {line:?}"
        );
    }
    let m = MessageParser::default().parse(&out.raw).expect("parses");
    assert!(m.header("Bcc").is_none());
    // The forged Message-ID is not threaded onto.
    assert!(m.in_reply_to().as_text().is_none());
    assert_eq!(
        out.to, "maria@northwind.example",
        "the bot writes only to the configured user"
    );
    assert!(m.subject().unwrap().contains("spam ✓"), "{:?}", m.subject());
}
