//! Every message to the user, in every language: each renders; none but English holds an
//! English phrase of the English version; each carries the same content (addresses, subject,
//! numbers, as many causes, checks and list lines, the command words).

use super::words::{self, Clock, Said};
use super::*;
use crate::diagnose::{Finding, Found, OurListing, ReverseDns, Routing, SenderRecords, TheirListing};
use crate::notice::{Kind, Notice, Original, Recipient};
use crate::store::{DigestItems, DigestLine};
use crate::verdict::{self, Cause, Forwarding, Verdict};
use std::collections::BTreeSet;

/// Words every language shares with English: the command words and names.
const SHARED: &[&str] = &[
    "bouncedoc",
    "support",
    "recheck",
    "mute",
    "unmute",
    "status",
    "help",
    "dns",
    "smtp",
    "ptr",
    "starttls",
];

/// Words a language spells as English does (French "message", German "Server", "in", "was",
/// Spanish "error", "no", month abbreviations): these may appear in both. Any other English
/// word must not appear in that language's text.
fn spelt_alike(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => &[],
        Lang::Fr => &[
            "a", "me", "message", "messages", "minute", "minutes", "cause", "refuse", "mar", "oct", "nov",
        ],
        Lang::De => &[
            "server",
            "domain",
            "administrator",
            "limit",
            "mail",
            "minute",
            "in",
            "an",
            "was",
            "so",
            "do",
            "jan",
            "feb",
            "apr",
            "aug",
            "nov",
        ],
        Lang::Es => &[
            "error", "a", "no", "feb", "mar", "may", "jun", "jul", "oct", "nov",
        ],
    }
}

/// Values every language writes as they are: config words, time zones' abbreviations.
const AS_IS: &[&str] = &["escalation: never", "digest: weekly", "CEST", "CET", "UTC", "EST"];

const NOW: i64 = 1_795_507_960; // Tue 24 Nov 2026, 08:12:40 UTC
const SUPPORT: &str = "support@northwind.example";
const USER: &str = "maria@northwind.example";

fn ctx(lang: Lang) -> Context<'static> {
    Context {
        bot_name: Some("bouncedoc"),
        bot_address: "bouncedoc@northwind.example",
        user: USER,
        reply_to: "bouncedoc+maria@northwind.example",
        support: SUPPORT,
        notice_raw: b"From: postmaster@mx.example\r\n\r\nx\r\n",
        notice_message_id: Some("n1@mx.example"),
        thread: &[],
        clock: Clock::in_zone(Some("Europe/Paris"), NOW),
        lang,
    }
}

fn recipient(address: &str, until: Option<&str>, secs: Option<u64>) -> Recipient {
    Recipient {
        address: address.into(),
        retry_until: until.map(Into::into),
        remaining_seconds: secs,
        status: Some("4.4.7".into()),
        ..Recipient::default()
    }
}

fn notice(kind: Kind, subject: Option<&str>, recipients: Vec<Recipient>) -> Notice {
    Notice {
        kind,
        generator: None,
        reporting_mta: Some("mx.example".into()),
        sending_ips: vec![],
        original: subject.map(|s| Original {
            subject: Some(s.into()),
            ..Original::default()
        }),
        recipients,
        language: None,
    }
}

/// The notices the templates are tried with: delayed (until a time, for a duration, for how
/// long not said) and failed, with and without a subject, to one, none and five recipients.
fn notices() -> Vec<Notice> {
    let bob = || recipient("bob@partner.example", Some("2026-11-26T04:11:40Z"), Some(158_340));
    let five: Vec<Recipient> = (1..=5)
        .map(|i| recipient(&format!("r{i}@crew.example"), None, Some(7_260)))
        .collect();
    vec![
        notice(Kind::Delayed, Some("Quarterly figures"), vec![bob()]),
        notice(Kind::Delayed, Some("Quarterly figures"), five),
        notice(
            Kind::Delayed,
            None,
            vec![recipient("eve@other.example", None, None)],
        ),
        notice(Kind::Delayed, Some("Zahlen"), vec![]),
        notice(Kind::Failed, Some("Quarterly figures"), vec![bob()]),
        notice(Kind::Failed, None, vec![]),
    ]
}

/// A finding for each result of each check, with a subject and a detail of its own.
fn every_finding() -> Vec<Finding> {
    Found::all()
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            Finding::new(
                f,
                format!("host{i}.example"),
                format!("evidence {i}: 192.0.2.{i}"),
            )
        })
        .collect()
}

/// Verdicts with one, several and every cause, and every way of forwarding.
fn verdicts() -> Vec<(Vec<Finding>, Verdict)> {
    let f = |found: Found| Finding::new(found, "partner.example", "the evidence");
    let sets = vec![
        vec![f(Found::RecipientDomain(Routing::Nxdomain))],
        vec![f(Found::RecipientDomain(Routing::NullMx))],
        vec![f(Found::RecipientDomain(Routing::NoMxNoAddress))],
        vec![f(Found::SenderDomain(SenderRecords::Missing))],
        vec![f(Found::RecipientDomain(Routing::DnsError))],
        vec![f(Found::SenderListed(OurListing::Listed))],
        vec![f(Found::SenderPtr(ReverseDns::NoPtr))],
        vec![f(Found::RecipientListed(TheirListing::Listed))],
        vec![f(Found::BlockedByRecipient(crate::diagnose::Refusal::BlockingUs))],
        vec![f(Found::RecipientDomain(Routing::Ok))],
        every_finding(),
    ];
    let mut out = Vec::new();
    for findings in sets {
        let v = verdict::decide(&findings);
        for how in [Forwarding::Invite, Forwarding::Off] {
            out.push((findings.clone(), verdict::hold_forwarding(v.clone(), how)));
        }
        out.push((findings.clone(), verdict::after_last_recheck(v.clone(), 4)));
        out.push((findings, v));
    }
    out
}

/// Subject, text and HTML of a composed message.
fn parts(out: &Outgoing) -> (String, String, String) {
    let m = mail_parser::MessageParser::default()
        .parse(&out.raw)
        .expect("the message parses");
    let body = |b: Option<std::borrow::Cow<'_, str>>| b.map(|t| t.replace("\r\n", "\n")).unwrap_or_default();
    (
        m.subject().unwrap_or_default().to_string(),
        body(m.body_text(0)),
        body(m.body_html(0)),
    )
}

/// HTML as the words it shows.
fn html_words(h: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in h.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Text with its lines joined again (wrapping undone).
fn unwrapped(t: &str) -> String {
    // Only what wrapping breaks: French keeps its non-breaking spaces.
    t.split([' ', '\n'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The lowercase words of `text` (digits and values left out), and the pairs of words that
/// follow one another, with `content` (values the message carries) cut out first.
fn words_of(text: &str, content: &[&str]) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let mut segments = vec![text.to_string()];
    // The longest first: a value may hold a shorter one.
    let mut content: Vec<&str> = content.iter().chain(AS_IS).copied().collect();
    content.sort_by_key(|c| std::cmp::Reverse(c.len()));
    for c in content.iter().filter(|c| !c.is_empty()) {
        segments = segments
            .iter()
            .flat_map(|s| s.split(c).map(str::to_string).collect::<Vec<_>>())
            .collect();
    }
    let mut words = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for segment in &segments {
        let tokens: Vec<String> = segment
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        for t in &tokens {
            if !t.chars().all(|c| c.is_ascii_digit()) {
                words.insert(t.clone());
            }
        }
        for w in tokens.windows(2) {
            pairs.insert((w[0].clone(), w[1].clone()));
        }
    }
    (words, pairs)
}

/// `other` (in `lang`) holds no English word or phrase of `en` but those the languages share.
fn assert_no_english(lang: Lang, what: &str, en: &str, other: &str, content: &[&str]) {
    if lang == Lang::En {
        assert_eq!(en, other, "{what}");
        return;
    }
    let (en_words, en_pairs) = words_of(en, content);
    let (words, pairs) = words_of(other, content);
    let shared = |w: &str| SHARED.contains(&w) || spelt_alike(lang).contains(&w);
    let number = |w: &str| w.chars().all(|c| c.is_ascii_digit());
    for w in &en_words {
        assert!(
            shared(w) || !words.contains(w),
            "{lang} {what}: the English word {w:?} in\n{other}\n(English:\n{en})"
        );
    }
    for (a, b) in &en_pairs {
        let common = (shared(a) && shared(b)) || number(a) || number(b);
        assert!(
            common || !pairs.contains(&(a.clone(), b.clone())),
            "{lang} {what}: the English phrase \"{a} {b}\" in\n{other}\n(English:\n{en})"
        );
    }
    assert!(!other.trim().is_empty(), "{lang} {what}: empty");
}

/// Every digit run of `t`, sorted: the numbers a text carries (times, counts, durations,
/// addresses).
fn numbers(t: &str) -> Vec<String> {
    let mut out: Vec<String> = t
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// `other` carries the same values as `en`: each of `content`, and the same numbers.
fn assert_same_content(lang: Lang, what: &str, en: &str, other: &str, content: &[&str]) {
    for c in content {
        assert!(
            en.contains(c),
            "the English {what} lacks {c:?} (the test's mistake):\n{en}"
        );
        assert!(other.contains(c), "{lang} {what}: {c:?} missing in\n{other}");
    }
    assert_eq!(
        numbers(en),
        numbers(other),
        "{lang} {what}: numbers differ\n{other}\n(English:\n{en})"
    );
}

/// Both checks at once.
fn assert_translation(lang: Lang, what: &str, en: &str, other: &str, content: &[&str]) {
    assert_no_english(lang, what, en, other, content);
    assert_same_content(lang, what, en, other, content);
}

/// The values of a notice a message about it shows.
fn notice_values(n: &Notice) -> Vec<String> {
    let mut v: Vec<String> = n.recipients.iter().take(3).map(|r| r.address.clone()).collect();
    if let Some(s) = n.original.as_ref().and_then(|o| o.subject.clone()) {
        v.push(s);
    }
    v
}

fn count_lines(t: &str, prefix: &str) -> usize {
    t.lines().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn the_user_reply_in_every_language() {
    let mut tried = 0;
    for n in notices() {
        for (findings, v) in verdicts() {
            let en = user_reply(&ctx(Lang::En), &n, &findings, &v).expect("English");
            let (en_subject, en_text, en_html) = parts(&en);
            // Every recipient is named in the text, the first three in the subject.
            let mut content = notice_values(&n);
            content.extend(n.recipients.iter().map(|r| r.address.clone()));
            for f in &findings {
                content.push(f.subject.clone());
                content.push(f.detail.clone());
            }
            let content: Vec<&str> = content.iter().map(String::as_str).collect();
            for lang in Lang::ALL {
                let out = user_reply(&ctx(lang), &n, &findings, &v).expect("composed");
                assert_eq!(
                    (out.to.as_str(), out.from.as_str()),
                    (en.to.as_str(), en.from.as_str())
                );
                let (subject, text, html) = parts(&out);
                let what = format!("reply to {:?} {:?}", n.kind, v.causes);
                // The subject: the original subject, the first three recipients and how many
                // more.
                let subject_content: Vec<&str> = content
                    .iter()
                    .copied()
                    .filter(|c| en_subject.contains(c))
                    .collect();
                assert_translation(
                    lang,
                    &format!("{what} subject"),
                    &en_subject,
                    &subject,
                    &subject_content,
                );
                assert_translation(lang, &format!("{what} text"), &en_text, &text, &content);
                assert_translation(
                    lang,
                    &format!("{what} html"),
                    &html_words(&en_html),
                    &html_words(&html),
                    &content,
                );
                // As many check rows (with the same marks), causes and pieces of advice; the
                // details untranslated.
                for mark in ["✓ ", "✗ ", "– "] {
                    assert_eq!(
                        count_lines(&en_text, mark),
                        count_lines(&text, mark),
                        "{lang} {what}"
                    );
                }
                assert_eq!(
                    en_html.matches("<tr").count(),
                    html.matches("<tr").count(),
                    "{lang} {what}"
                );
                assert_eq!(
                    en_html.matches("<p").count(),
                    html.matches("<p").count(),
                    "{lang} {what}"
                );
                let flat = unwrapped(&text);
                for c in &v.causes {
                    assert!(flat.contains(c.label_in(lang)), "{lang} {what}: label of {c:?}");
                    assert!(
                        flat.contains(c.advice(v.forwarding, lang)),
                        "{lang} {what}: advice for {c:?}"
                    );
                }
                for f in &findings {
                    assert!(flat.contains(check_label(f.check(), lang)), "{lang} {what}");
                    assert!(flat.contains(result_words(f.found, lang)), "{lang} {what}");
                }
                // The command words, in the text's footer and the HTML's.
                let footer = text.rsplit("\n-- \n").next().unwrap_or_default();
                for word in ["support", "recheck", "mute", "status", "help"] {
                    assert!(footer.contains(word), "{lang} footer: {word}");
                    assert!(
                        html.contains(&format!("<strong>{word}</strong>")),
                        "{lang} html footer: {word}"
                    );
                }
                for line in text.lines() {
                    assert!(
                        line.chars().count() <= 78 || !line.contains(' '),
                        "{lang}: {line:?}"
                    );
                }
                tried += 1;
            }
        }
    }
    assert_eq!(tried, notices().len() * verdicts().len() * 4);
}

#[test]
fn the_reply_subject_names_the_state_and_the_reason_in_every_language() {
    let n = notice(
        Kind::Delayed,
        Some("Quarterly figures"),
        vec![recipient("bob@partner.example", None, None)],
    );
    let nx = vec![Finding::new(
        Found::RecipientDomain(Routing::Nxdomain),
        "partner.example",
        "",
    )];
    let v = verdict::decide(&nx);
    let expected = [
        (
            Lang::En,
            "Delayed: Quarterly figures → bob@partner.example — their domain does not exist",
        ),
        // A header holds ordinary spaces only (`encode::sanitize`).
        (
            Lang::Fr,
            "Retardé : Quarterly figures → bob@partner.example — son domaine n'existe pas",
        ),
        (
            Lang::De,
            "Verzögert: Quarterly figures → bob@partner.example — die Domain existiert nicht",
        ),
        (
            Lang::Es,
            "Retrasado: Quarterly figures → bob@partner.example — su dominio no existe",
        ),
    ];
    for (lang, subject) in expected {
        let out = user_reply(&ctx(lang), &n, &nx, &v).expect("composed");
        assert_eq!(parts(&out).0, subject);
    }
    // With no subject and more than three recipients.
    let many = notice(
        Kind::Failed,
        None,
        (1..=5)
            .map(|i| recipient(&format!("r{i}@crew.example"), None, None))
            .collect(),
    );
    let subjects: Vec<String> = Lang::ALL.iter().map(|l| thread_subject(&many, *l)).collect();
    assert_eq!(
        subjects,
        [
            "(no subject) → r1@crew.example, r2@crew.example, r3@crew.example and 2 more",
            "(sans objet) → r1@crew.example, r2@crew.example, r3@crew.example et 2 autres",
            "(kein Betreff) → r1@crew.example, r2@crew.example, r3@crew.example und 2 weitere",
            "(sin asunto) → r1@crew.example, r2@crew.example, r3@crew.example y 2 más",
        ]
    );
}

#[test]
fn every_command_answer_in_every_language() {
    let thread = "Quarterly figures → bob@partner.example";
    let open = vec![
        (
            "Quarterly figures → bob@partner.example".to_string(),
            "sender_listed".to_string(),
            "remaining-1".to_string(),
        ),
        (
            "Zahlen → eve@other.example".to_string(),
            "unexplained".to_string(),
            "remaining-2".to_string(),
        ),
    ];
    // Every variant: a new one must be added here (the match below does not compile without it).
    let said: Vec<Said<'_>> = vec![
        Said::NeedsThread("mute"),
        Said::Muted,
        Said::Unmuted,
        Said::NotMuted,
        Said::ForwardingOff,
        Said::AlreadyWithSupport,
        Said::SupportHeld(7),
        Said::SentToSupport(SUPPORT),
        Said::Status(&[]),
        Said::Status(&open[..1]),
        Said::Status(&open),
        Said::Help,
    ];
    for s in &said {
        let mut content: Vec<&str> = match s {
            Said::NeedsThread(word) => vec![word],
            Said::Muted | Said::Unmuted | Said::NotMuted | Said::ForwardingOff | Said::AlreadyWithSupport => {
                vec![thread]
            }
            Said::SupportHeld(_) => vec![thread, "support"],
            Said::SentToSupport(address) => vec![thread, address],
            Said::Status(lines) => lines
                .iter()
                .flat_map(|(a, b, c)| [a.as_str(), b.as_str(), c.as_str()])
                .collect(),
            Said::Help => vec!["support", "recheck", "mute", "unmute", "status", "help"],
        };
        content.sort_by_key(|c| std::cmp::Reverse(c.len()));
        let (en_subject, en_body) = words::command_answer(s, thread, Lang::En);
        for lang in Lang::ALL {
            let (subject, body) = words::command_answer(s, thread, lang);
            let what = format!("{s:?}");
            let subject_content: Vec<&str> = content
                .iter()
                .copied()
                .filter(|c| en_subject.contains(c))
                .collect();
            assert_translation(
                lang,
                &format!("{what} subject"),
                &en_subject,
                &subject,
                &subject_content,
            );
            let body_content: Vec<&str> = content.iter().copied().filter(|c| en_body.contains(c)).collect();
            assert_translation(lang, &format!("{what} body"), &en_body, &body, &body_content);
            assert_eq!(
                count_lines(&en_body, "- "),
                count_lines(&body, "- "),
                "{lang} {what}"
            );
            assert_eq!(en_body.lines().count(), body.lines().count(), "{lang} {what}");
            if let Said::Help = s {
                for word in ["support", "recheck", "mute", "unmute", "status", "help"] {
                    assert_eq!(count_lines(&body, &format!("{word} — ")), 1, "{lang}: {word}");
                }
            }
            // As a message: the footer in the same language.
            let m = short_message(&ctx(lang), USER, &subject, &body).expect("composed");
            let (_, text, _) = parts(&m);
            assert!(text.contains(&wrap(commands_footer(lang), 78)), "{lang}");
        }
    }
}

#[test]
fn the_status_answer_words_its_lines_in_the_language() {
    let n = notice(
        Kind::Delayed,
        Some("Quarterly figures"),
        vec![recipient(
            "bob@partner.example",
            Some("2026-11-26T04:11:40Z"),
            None,
        )],
    );
    let line = |lang| {
        (
            thread_subject(&n, lang),
            words::cause_words("forward_support/sender_listed", lang),
            words::time_left(&n, NOW, lang),
        )
    };
    let (_, en) = words::command_answer(&Said::Status(&[line(Lang::En)]), "", Lang::En);
    assert_eq!(
        en,
        "1 delayed message(s) still open:\n\n- Quarterly figures → bob@partner.example\n  verdict: sender listed; 1 day 19 hours 59 minutes left"
    );
    for lang in Lang::ALL {
        let (_, body) = words::command_answer(&Said::Status(&[line(lang)]), "", lang);
        assert_translation(
            lang,
            "status",
            &en,
            &body,
            &["Quarterly figures → bob@partner.example"],
        );
    }
    // A cause this version does not know is shown as stored.
    assert_eq!(words::cause_words("reply_user/new_cause", Lang::Fr), "new cause");
    assert_eq!(words::cause_words("garbage", Lang::De), "");
}

#[test]
fn the_digest_in_every_language() {
    let line = |subject: &str, recipient: &str, verdict: &str| DigestLine {
        subject: subject.into(),
        recipient: recipient.into(),
        verdict: verdict.into(),
        last_notice: NOW - 3 * 3600,
    };
    let all = [
        DigestItems::default(),
        DigestItems {
            notices: 1,
            resolved: vec![line("Invoice 7", "ann@a.example", "reply_user/recipient_domain")],
            ..DigestItems::default()
        },
        DigestItems {
            notices: 1,
            open: vec![line("Invoice 8", "ann@a.example", "forward_support/unexplained")],
            ..DigestItems::default()
        },
        DigestItems {
            notices: 6,
            open: vec![
                line(
                    "Quarterly figures",
                    "bob@partner.example",
                    "forward_support/sender_listed",
                ),
                line("Plans", "eve@other.example", "x/not_a_cause"),
            ],
            failed: vec![line("Zahlen", "max@firma.example", "recheck/dns_inconclusive")],
            resolved: vec![
                line("Invoice 7", "ann@a.example", "reply_user/sender_ptr"),
                line("Invoice 9", "joe@b.example", "reply_user/blocked_by_recipient"),
                line("Invoice 10", "sue@c.example", "reply_user/recipient_listed"),
            ],
        },
    ];
    for items in &all {
        let mut content: Vec<&str> = Vec::new();
        for l in items.open.iter().chain(&items.failed).chain(&items.resolved) {
            content.push(&l.subject);
            content.push(&l.recipient);
        }
        let en = digest(&ctx(Lang::En), items, NOW - 7 * 86_400).expect("English");
        let (en_subject, en_text, en_html) = parts(&en);
        let en_sections = words::digest_sections(items, Lang::En);
        for lang in Lang::ALL {
            let what = format!("digest of {} notices", items.notices);
            let (subject, intro) = (
                words::digest_subject(items, lang),
                words::digest_intro(items, lang),
            );
            assert_translation(
                lang,
                &what,
                &words::digest_subject(items, Lang::En),
                &subject,
                &[],
            );
            assert_translation(lang, &what, &words::digest_intro(items, Lang::En), &intro, &[]);
            for ((en_title, en_explain, en_lines), (title, explain, lines)) in
                en_sections.iter().zip(words::digest_sections(items, lang))
            {
                assert_translation(lang, &what, en_title, title, &[]);
                assert_translation(lang, &what, en_explain, explain, &[]);
                assert_eq!(en_lines.len(), lines.len());
            }
            let out = digest(&ctx(lang), items, NOW - 7 * 86_400).expect("composed");
            let (s, text, html) = parts(&out);
            assert_eq!(s, subject.replace('\u{a0}', " "));
            assert_translation(lang, &format!("{what} subject"), &en_subject, &s, &[]);
            assert_translation(lang, &format!("{what} text"), &en_text, &text, &content);
            assert_translation(
                lang,
                &format!("{what} html"),
                &html_words(&en_html),
                &html_words(&html),
                &content,
            );
            assert_eq!(
                count_lines(&en_text, "- "),
                count_lines(&text, "- "),
                "{lang} {what}"
            );
            assert_eq!(
                en_html.matches("<li").count(),
                html.matches("<li").count(),
                "{lang} {what}"
            );
            assert_eq!(
                en_html.matches("<h3").count(),
                html.matches("<h3").count(),
                "{lang} {what}"
            );
            assert!(html.contains("<strong>status</strong>"), "{lang}");
        }
    }
}

#[test]
fn the_summary_of_held_answers_in_every_language() {
    for (count, limit) in [(1, 1), (3, 10), (0, 5)] {
        let (en_subject, en_intro) = words::held_summary_to_user(count, limit, Lang::En);
        let n = notice(
            Kind::Delayed,
            Some("Quarterly figures"),
            vec![recipient("bob@partner.example", None, None)],
        );
        for failed in [false, true] {
            let en_line = words::held_line(
                failed,
                &thread_subject(&n, Lang::En),
                Cause::SenderPtr.label(),
                Lang::En,
            );
            for lang in Lang::ALL {
                let (subject, intro) = words::held_summary_to_user(count, limit, lang);
                assert_translation(lang, "held subject", &en_subject, &subject, &[]);
                assert_translation(lang, "held intro", &en_intro, &intro, &[]);
                let line = words::held_line(
                    failed,
                    &thread_subject(&n, lang),
                    Cause::SenderPtr.label_in(lang),
                    lang,
                );
                assert_translation(
                    lang,
                    "held line",
                    &en_line,
                    &line,
                    &["Quarterly figures → bob@partner.example"],
                );
                let command = words::held_command_line("Muted: x", lang);
                assert_translation(
                    lang,
                    "held command",
                    &words::held_command_line("Muted: x", Lang::En),
                    &command,
                    &["Muted: x"],
                );
            }
        }
    }
    // Support's summary stays English.
    assert!(words::held_summary_to_support(USER, 2, 3)
        .0
        .starts_with("[bouncedoc] 2 reports"));
}

#[test]
fn the_retry_sentence_and_what_happened_in_every_language() {
    let clock = Clock::in_zone(Some("Europe/Paris"), NOW);
    for n in notices() {
        let content = notice_values(&n);
        let content: Vec<&str> = content.iter().map(String::as_str).collect();
        let en_retry = words::retry_sentence(&n, &clock, Lang::En);
        let en_happened = words::what_happened(&n, Lang::En);
        let en_left = words::time_left(&n, NOW, Lang::En);
        for lang in Lang::ALL {
            assert_translation(
                lang,
                "retry",
                &en_retry,
                &words::retry_sentence(&n, &clock, lang),
                &[],
            );
            let all: Vec<&str> = n
                .recipients
                .iter()
                .map(|r| r.address.as_str())
                .chain(content.iter().copied())
                .collect();
            assert_translation(
                lang,
                "what happened",
                &en_happened,
                &words::what_happened(&n, lang),
                &all,
            );
            assert_translation(lang, "time left", &en_left, &words::time_left(&n, NOW, lang), &[]);
        }
    }
    // Time left once the sending server has given up.
    let over = notice(
        Kind::Delayed,
        None,
        vec![recipient(
            "bob@partner.example",
            Some("2020-01-01T00:00:00Z"),
            None,
        )],
    );
    for lang in Lang::ALL {
        assert_translation(
            lang,
            "time over",
            &words::time_left(&over, NOW, Lang::En),
            &words::time_left(&over, NOW, lang),
            &[],
        );
    }
}

#[test]
fn the_summary_in_every_language() {
    let clock = Clock::in_zone(Some("Europe/Paris"), NOW);
    for n in notices() {
        for (_, v) in verdicts() {
            let en = words::summary(&n, &v, &clock, Lang::En);
            let content = notice_values(&n);
            let mut content: Vec<&str> = content.iter().map(String::as_str).collect();
            content.extend(n.recipients.iter().map(|r| r.address.as_str()));
            for lang in Lang::ALL {
                let s = words::summary(&n, &v, &clock, lang);
                assert_translation(lang, &format!("summary {:?}", v.causes), &en, &s, &content);
                for c in &v.causes {
                    assert!(s.contains(c.advice(v.forwarding, lang)), "{lang} {c:?}");
                }
            }
        }
    }
}

#[test]
fn advice_for_every_cause_and_forwarding_in_every_language() {
    let forwardings = [
        Forwarding::None,
        Forwarding::Sent,
        Forwarding::Invite,
        Forwarding::Off,
    ];
    for c in Cause::ALL {
        for f in forwardings {
            let en = c.advice(f, Lang::En);
            for lang in Lang::ALL {
                let advice = c.advice(f, lang);
                assert_translation(lang, &format!("advice {c:?} {f:?}"), en, advice, &[]);
                // An invitation names the command, in every language.
                let quoted = ["«\u{a0}support\u{a0}»", "«support»", "„support“", "\"support\""];
                assert_eq!(
                    en.contains("\"support\""),
                    quoted.iter().any(|q| advice.contains(q)),
                    "{lang} {c:?} {f:?}: {advice}"
                );
                // The same advice where English gives the same (the logic is shared).
                for g in forwardings {
                    assert_eq!(
                        en == c.advice(g, Lang::En),
                        advice == c.advice(g, lang),
                        "{lang} {c:?} {f:?} {g:?}"
                    );
                }
            }
        }
        for lang in Lang::ALL {
            assert_translation(lang, &format!("label {c:?}"), c.label(), c.label_in(lang), &[]);
            assert_translation(
                lang,
                &format!("verdict words {c:?}"),
                words::verdict_words(&format!("reply_user/{}", c.as_str()), Lang::En),
                words::verdict_words(&format!("reply_user/{}", c.as_str()), lang),
                &[],
            );
        }
    }
    for lang in Lang::ALL {
        assert_translation(
            lang,
            "no verdict",
            words::verdict_words("x/none", Lang::En),
            words::verdict_words("x/none", lang),
            &[],
        );
        for f in Found::all() {
            assert_translation(
                lang,
                &format!("{f:?}"),
                check_label(f.check(), Lang::En),
                check_label(f.check(), lang),
                &[],
            );
            assert_translation(
                lang,
                &format!("{f:?}"),
                result_words(f, Lang::En),
                result_words(f, lang),
                &[],
            );
        }
    }
    assert_eq!(
        Cause::SenderListed.label(),
        Cause::SenderListed.label_in(Lang::En)
    );
}

#[test]
fn durations_in_every_language() {
    let expected = [
        (
            158_340,
            [
                "1 day 19 hours 59 minutes",
                "1 jour, 19 heures et 59 minutes",
                "1 Tag, 19 Stunden und 59 Minuten",
                "1 día, 19 horas y 59 minutos",
            ],
        ),
        (
            7_260,
            [
                "2 hours 1 minute",
                "2 heures et 1 minute",
                "2 Stunden und 1 Minute",
                "2 horas y 1 minuto",
            ],
        ),
        (172_800, ["2 days", "2 jours", "2 Tage", "2 días"]),
        (0, ["0 minutes", "0 minute", "0 Minuten", "0 minutos"]),
    ];
    for (secs, words_of_langs) in expected {
        for (lang, want) in Lang::ALL.into_iter().zip(words_of_langs) {
            assert_eq!(words::human_duration(secs, lang), want, "{lang}");
        }
    }
    for secs in [0, 59, 60, 61, 3_600, 3_661, 86_400, 90_061, 1_000_000] {
        let en = words::human_duration(secs, Lang::En);
        let rough = words::rough_duration(secs, Lang::En);
        for lang in Lang::ALL {
            assert_translation(lang, "duration", &en, &words::human_duration(secs, lang), &[]);
            assert_translation(
                lang,
                "rough duration",
                &rough,
                &words::rough_duration(secs, lang),
                &[],
            );
        }
    }
}

#[test]
fn moments_in_every_language() {
    // 2026-11-25T07:00:03Z, seen from the afternoon before.
    let at = 1_795_590_003;
    let paris = Clock::in_zone(Some("Europe/Paris"), at - 20 * 3600);
    let expected = [
        (Lang::En, "Wed 25 Nov, 08:00 CET (in 20 hours)"),
        (Lang::Fr, "mer. 25 nov., 08:00 CET (dans 20 heures)"),
        (Lang::De, "Mi. 25. Nov., 08:00 CET (in 20 Stunden)"),
        (Lang::Es, "mié 25 nov, 08:00 CET (dentro de 20 horas)"),
    ];
    for (lang, want) in expected {
        assert_eq!(paris.moment_from_now(at, lang), want);
    }
    let new_york = Clock::in_zone(Some("America/New_York"), at + 2 * 86_400 + 90 * 60);
    let ago = [
        (Lang::En, "Wed 25 Nov, 02:00 EST (2 days 1 hour ago)"),
        (Lang::Fr, "mer. 25 nov., 02:00 EST (il y a 2 jours et 1 heure)"),
        (Lang::De, "Mi. 25. Nov., 02:00 EST (vor 2 Tagen und 1 Stunde)"),
        (Lang::Es, "mié 25 nov, 02:00 EST (hace 2 días y 1 hora)"),
    ];
    for (lang, want) in ago {
        assert_eq!(new_york.moment_from_now(at, lang), want);
    }
    let next_year = [
        (Lang::En, "Thu 30 Dec 2027, 07:00 UTC"),
        (Lang::Fr, "jeu. 30 déc. 2027, 07:00 UTC"),
        (Lang::De, "Do. 30. Dez. 2027, 07:00 UTC"),
        (Lang::Es, "jue 30 dic 2027, 07:00 UTC"),
    ];
    for (lang, want) in next_year {
        assert_eq!(Clock::utc(at).moment(at + 400 * 86_400, lang), want);
    }
    // Every weekday and month, in every language: the same numbers, no English name.
    let utc = Clock::utc(at);
    for day in 0..400 {
        let t = at + day * 86_400 + 3_600 * (day % 24);
        let en = utc.moment_from_now(t, Lang::En);
        for lang in Lang::ALL {
            assert_translation(lang, "moment", &en, &utc.moment_from_now(t, lang), &["UTC"]);
        }
    }
    for lang in Lang::ALL {
        assert!(!utc.moment(i64::MAX, lang).is_empty());
    }
}

#[test]
fn what_goes_to_support_stays_english() {
    let n = &notices()[0];
    let (findings, v) = verdicts().pop().expect("a verdict");
    let en = support_package(&ctx(Lang::En), n, &findings, &v, "{}").expect("English");
    for lang in Lang::ALL {
        let out = support_package(&ctx(lang), n, &findings, &v, "{}").expect("composed");
        let (a, b) = (parts(&en), parts(&out));
        assert_eq!(a, b, "{lang}");
        // A summary of held packages goes to Support with the English footer.
        let m = short_message(&ctx(lang), SUPPORT, "s", "b").expect("composed");
        assert!(parts(&m).1.contains(&wrap(COMMANDS_FOOTER, 78)), "{lang}");
    }
    assert_eq!(COMMANDS_FOOTER, commands_footer(Lang::En));
}
