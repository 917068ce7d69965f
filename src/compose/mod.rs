//! The messages the bot sends: the user's reply (plain text and HTML alternatives) and the
//! Support package (the summary, every finding, the full notice attached unaltered, and
//! `diagnosis.json`). Raw RFC 5322 is written here, so what is sent is exactly what was
//! composed (and previewed). Every value taken from a notice passes through
//! [`encode::sanitize`] first.
//!
//! What goes to the user is written in the context's language ([`Context::lang`], the tables of
//! `text/`); the Support package and the summary of held packages go to Support (the mail
//! administrators) and stay English.

pub mod encode;
pub mod lang;
pub(crate) mod text;
pub mod words;

use crate::diagnose::{Check, Finding, Found, Routing};
use crate::notice::{Kind, Notice};
use crate::verdict::{self, Cause, Verdict};
use encode::{base64_lines, encode_unstructured, header, mailbox, quoted_printable, sanitize, wrap};
pub use lang::Lang;
use std::hash::{BuildHasher, Hasher};
use text::fill;

/// Who the messages are from and to, and what they thread onto.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The bot's display name (config `from`), if any.
    pub bot_name: Option<&'a str>,
    /// The bot's address.
    pub bot_address: &'a str,
    /// The mailbox's user: who receives the reply.
    pub user: &'a str,
    /// Where the user's answers go (a watched mailbox).
    pub reply_to: &'a str,
    /// The Support address.
    pub support: &'a str,
    /// The notice as received, byte for byte.
    pub notice_raw: &'a [u8],
    /// The notice's own Message-ID (without brackets).
    pub notice_message_id: Option<&'a str>,
    /// Message-IDs the bot already sent in this conversation, oldest first.
    pub thread: &'a [String],
    /// Now (the messages' Date) and the zone times are shown in.
    pub clock: words::Clock,
    /// The language of the messages to the user (the configuration's `language`, or the
    /// notice's `Content-Language`). What goes to Support is English whatever this says.
    pub lang: Lang,
}

/// A composed message: its envelope and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The Message-ID (without brackets), to be recorded.
    pub message_id: String,
    /// Envelope sender.
    pub from: String,
    /// Envelope recipient.
    pub to: String,
    /// The RFC 5322 message, CRLF line endings.
    pub raw: Vec<u8>,
}

/// Why composing failed: a configured address is not an address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComposeError {
    /// An address from the configuration cannot be used in a header.
    #[error("invalid address {0:?} in the configuration")]
    Address(String),
}

/// A new Message-ID in the bot's domain.
pub fn new_message_id(bot_address: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let domain = bot_address
        .rsplit_once('@')
        .map_or("bouncedoc.invalid", |(_, d)| d);
    format!("bouncedoc.{:016x}.{n}@{domain}", h.finish())
}

/// An RFC 5322 date.
fn rfc5322_date(unix: i64) -> String {
    let dt = mail_parser::DateTime::from_timestamp(unix);
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {} {} {:04} {:02}:{:02}:{:02} +0000",
        DAYS[usize::from(dt.day_of_week()) % 7],
        dt.day,
        MONTHS[usize::from(dt.month.clamp(1, 12)) - 1],
        dt.year,
        dt.hour,
        dt.minute,
        dt.second
    )
}

/// The headers every bot message carries (addresses checked: a bad one is an error).
fn common_headers(
    ctx: &Context<'_>,
    to: &str,
    reply_to: &str,
    subject: &str,
    message_id: &str,
) -> Result<String, ComposeError> {
    let address = |name: Option<&str>, addr: &str| {
        mailbox(name, addr).ok_or_else(|| ComposeError::Address(addr.into()))
    };
    let from = address(ctx.bot_name, ctx.bot_address)?;
    let to_header = address(None, to)?;
    let reply_to = address(None, reply_to)?;
    let mut h = String::new();
    h.push_str(&header("From", &from));
    h.push_str(&header("To", &to_header));
    h.push_str(&header("Reply-To", &reply_to));
    h.push_str(&header("Subject", &encode_unstructured(subject)));
    h.push_str(&header("Date", &rfc5322_date(ctx.clock.now)));
    h.push_str(&header("Message-ID", &format!("<{message_id}>")));
    // References: the thread's earlier messages, then the message answered (the notice, or the
    // user's command), which In-Reply-To names.
    let mut references: Vec<String> = ctx
        .thread
        .iter()
        .map(|i| sanitize(i))
        .filter(|i| is_message_id(i))
        .collect();
    if let Some(id) = ctx.notice_message_id.map(sanitize).filter(|i| is_message_id(i)) {
        references.push(id);
    }
    if let Some(last) = references.last() {
        h.push_str(&header("In-Reply-To", &format!("<{last}>")));
        let refs: Vec<String> = references.iter().map(|r| format!("<{r}>")).collect();
        h.push_str(&header("References", &refs.join(" ")));
    }
    h.push_str("Auto-Submitted: auto-generated\r\n");
    h.push_str("X-Auto-Response-Suppress: All\r\n");
    h.push_str(&format!(
        "{}: {}\r\n",
        crate::commands::BOT_HEADER,
        env!("CARGO_PKG_VERSION")
    ));
    h.push_str("MIME-Version: 1.0\r\n");
    Ok(h)
}

/// A Message-ID as it may appear in a header: `left@right`, no spaces or brackets.
fn is_message_id(id: &str) -> bool {
    id.contains('@')
        && id.len() <= 250
        && !id
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | '"' | ','))
}

/// A short reason for a subject line.
fn subject_reason(cause: Cause, findings: &[Finding], lang: Lang) -> &'static str {
    let reasons = &lang.text().reasons;
    let recipient_domain = || {
        findings
            .iter()
            .find(|f| f.check() == Check::RecipientDomain && f.is_problem())
            .map(|f| f.found)
    };
    match cause {
        Cause::RecipientDomain => match recipient_domain() {
            Some(Found::RecipientDomain(Routing::Nxdomain)) => reasons.nxdomain,
            Some(Found::RecipientDomain(Routing::NullMx)) => reasons.null_mx,
            _ => reasons.causes.recipient_domain,
        },
        other => reasons.causes.get(other),
    }
}

fn recipients_of(notice: &Notice, lang: Lang) -> String {
    let list: Vec<String> = notice
        .recipients
        .iter()
        .take(3)
        .map(|r| sanitize(&r.address))
        .collect();
    let more = notice.recipients.len().saturating_sub(3);
    let t = lang.text();
    match (list.is_empty(), more) {
        (true, _) => t.the_recipient.to_string(),
        (false, 0) => list.join(", "),
        (false, n) => fill(t.and_more, &[("list", &list.join(", ")), ("n", &n.to_string())]),
    }
}

fn original_subject(notice: &Notice, lang: Lang) -> String {
    notice
        .original
        .as_ref()
        .and_then(|o| o.subject.as_deref())
        .map(sanitize)
        .unwrap_or_else(|| lang.text().no_subject.into())
}

/// The check's name for people, in `lang`.
pub fn check_label(c: Check, lang: Lang) -> &'static str {
    lang.text().checks.get(c)
}

/// What a check found, in words of `lang`, as the messages show it beside the check. English
/// shows the word `diagnose --json` prints (`nxdomain`, [`Finding::result`]); the other
/// languages say it in words. The finding's `detail` (technical evidence) is never translated.
pub fn result_words(found: Found, lang: Lang) -> &'static str {
    lang.text().results.get(found)
}

/// The causes, named in one line: `Why: a; b.`.
fn why_line(v: &Verdict, lang: Lang) -> String {
    let t = lang.text();
    v.causes
        .iter()
        .map(|c| c.label_in(lang))
        .collect::<Vec<_>>()
        .join(t.cause_sep)
}

/// One check's line: `Our sending server on a blocklist (203.0.113.77): listed`, each value as
/// given (already escaped for HTML).
fn check_row(label: &str, subject: &str, result: &str, lang: Lang) -> String {
    fill(
        lang.text().check_row,
        &[("label", label), ("subject", subject), ("result", result)],
    )
}

/// The plain-text body: what happened, the checks, what to do, how long, the commands. The
/// findings' details are shown as they are, untranslated.
fn text_body(
    notice: &Notice,
    findings: &[Finding],
    v: &Verdict,
    escalation: Option<&str>,
    clock: &words::Clock,
    lang: Lang,
) -> String {
    let tx = lang.text();
    let mut t = String::new();
    t.push_str(&wrap(&words::what_happened(notice, lang), 78));
    t.push_str("\n\n");
    t.push_str(&wrap(&format!("{} {}.", tx.why, why_line(v, lang)), 78));
    t.push_str(&format!("\n\n{}\n", tx.checked));
    for f in findings {
        let mark = f.mark();
        let row = check_row(
            check_label(f.check(), lang),
            &sanitize(&f.subject),
            result_words(f.found, lang),
            lang,
        );
        t.push_str(&wrap(&format!("{mark} {row}"), 78));
        t.push('\n');
        let detail = wrap(&sanitize(&f.detail), 72);
        for line in detail.lines() {
            t.push_str("    ");
            t.push_str(line);
            t.push('\n');
        }
    }
    t.push_str(&format!("\n{}\n", tx.to_do));
    for c in &v.causes {
        t.push_str(&wrap(c.advice(v.forwarding, lang), 78));
        t.push('\n');
    }
    if let Some(e) = escalation {
        t.push('\n');
        t.push_str(&wrap(e, 78));
        t.push('\n');
    }
    t.push('\n');
    t.push_str(&wrap(&words::retry_sentence(notice, clock, lang), 78));
    t
}

/// The user's message ends with the commands they may reply with (not the Support package:
/// nothing Support replies is a command).
fn with_commands_footer(mut t: String, lang: Lang) -> String {
    t.push_str("\n-- \n");
    t.push_str(&wrap(commands_footer(lang), 78));
    t.push('\n');
    t
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The HTML body: the same content, inline CSS only, no remote images, readable on a phone.
/// The HTML body: `lead` (already escaped HTML, e.g. the package's notice lines) first, then
/// what happened, the checks as a table, what to do, how long.
fn html_body(
    notice: &Notice,
    findings: &[Finding],
    v: &Verdict,
    escalation: Option<&str>,
    lead: &str,
    clock: &words::Clock,
    lang: Lang,
) -> String {
    let t = lang.text();
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n<body style=\"font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; font-size: 15px; line-height: 1.45; color: #222; max-width: 640px; margin: 0 auto; padding: 12px;\">\n",
    );
    h.push_str(lead);
    h.push_str(&format!(
        "<p style=\"font-size: 17px;\">{}</p>\n",
        html_escape(&words::what_happened(notice, lang))
    ));
    h.push_str(&format!(
        "<p><strong>{}</strong> {}.</p>\n",
        html_escape(t.why),
        html_escape(&why_line(v, lang))
    ));
    // What to do and how long come before the evidence: on a phone, the checks would push
    // them below the first screen.
    h.push_str(&format!(
        "<p style=\"margin-bottom: 4px;\"><strong>{}</strong></p>\n",
        html_escape(t.to_do)
    ));
    for c in &v.causes {
        h.push_str(&format!(
            "<p style=\"margin-top: 4px;\">{}</p>\n",
            html_escape(c.advice(v.forwarding, lang))
        ));
    }
    if let Some(e) = escalation {
        h.push_str(&format!("<p>{}</p>\n", html_escape(e)));
    }
    h.push_str(&format!(
        "<p>{}</p>\n",
        html_escape(&words::retry_sentence(notice, clock, lang))
    ));
    h.push_str(&format!("<p style=\"margin: 16px 0 4px;\"><strong>{}</strong></p>\n<table style=\"border-collapse: collapse; width: 100%; margin: 0 0 8px;\">\n", html_escape(t.checked)));
    for f in findings {
        let mark = f.mark();
        let color = if f.is_note() {
            "#555"
        } else if f.is_problem() {
            "#b00020"
        } else {
            "#1b7f3b"
        };
        let row = check_row(
            &format!("<strong>{}</strong>", html_escape(check_label(f.check(), lang))),
            &html_escape(&sanitize(&f.subject)),
            &html_escape(result_words(f.found, lang)),
            lang,
        );
        h.push_str(&format!(
            "<tr style=\"border-top: 1px solid #ddd;\"><td style=\"padding: 6px 8px 6px 0; vertical-align: top; color: {color}; font-weight: bold;\">{mark}</td><td style=\"padding: 6px 0; word-break: break-word;\">{row}<br><span style=\"color: #555; font-size: 13px;\">{}</span></td></tr>\n",
            html_escape(&sanitize(&f.detail))
        ));
    }
    h.push_str("</table>\n");
    h
}

/// The HTML body's end: for the user (`commands` in their language), the commands they may
/// reply with; for Support (`None`), what is attached, in English.
fn close_html(mut h: String, commands: Option<Lang>) -> String {
    if let Some(lang) = commands {
        h.push_str(&format!(
            "<p style=\"color: #666; font-size: 13px;\">{}</p>\n",
            lang.text().commands_footer_html
        ));
    } else {
        h.push_str("<p style=\"color: #666; font-size: 13px;\">bouncedoc. The notice is attached unaltered (notice.eml), the diagnosis as diagnosis.json.</p>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn boundary(message_id: &str, tag: &str) -> String {
    let clean: String = message_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(24)
        .collect();
    format!("=_bouncedoc_{tag}_{clean}")
}

/// The user's reply: `multipart/alternative` with plain text and HTML.
pub fn user_reply(
    ctx: &Context<'_>,
    notice: &Notice,
    findings: &[Finding],
    v: &Verdict,
) -> Result<Outgoing, ComposeError> {
    let message_id = new_message_id(ctx.bot_address);
    let lang = ctx.lang;
    let t = lang.text();
    let state = if notice.kind == Kind::Failed {
        t.not_delivered
    } else {
        t.delayed
    };
    let subject = fill(
        t.reply_subject,
        &[
            ("state", state),
            ("subject", &original_subject(notice, lang)),
            ("to", &recipients_of(notice, lang)),
            ("reason", subject_reason(v.cause, findings, lang)),
        ],
    );
    let escalation = match v.action {
        verdict::Action::ForwardSupport => Some(t.escalated),
        _ => None,
    };
    let text = with_commands_footer(text_body(notice, findings, v, escalation, &ctx.clock, lang), lang);
    let html = close_html(
        html_body(notice, findings, v, escalation, "", &ctx.clock, lang),
        Some(lang),
    );
    to_user(ctx, message_id, &subject, &text, &html)
}

/// A message to the mailbox's user, as text and HTML alternatives.
fn to_user(
    ctx: &Context<'_>,
    message_id: String,
    subject: &str,
    text: &str,
    html: &str,
) -> Result<Outgoing, ComposeError> {
    let b = boundary(&message_id, "alt");
    let mut raw = common_headers(ctx, ctx.user, ctx.reply_to, subject, &message_id)?;
    raw.push_str(&alternative(&b, text, html));
    Ok(Outgoing {
        message_id,
        from: ctx.bot_address.to_string(),
        to: ctx.user.to_string(),
        raw: raw.into_bytes(),
    })
}

/// A short plain-text message to the user (a command's answer, a summary of what the rate
/// limit held back), threaded like the others. `to` is the user or, for a summary of held
/// packages, Support; the commands footer is in the user's language, or English for Support.
pub fn short_message(
    ctx: &Context<'_>,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<Outgoing, ComposeError> {
    let message_id = new_message_id(ctx.bot_address);
    let reply_to = if to == ctx.user { ctx.reply_to } else { ctx.user };
    let mut raw = common_headers(ctx, to, reply_to, subject, &message_id)?;
    raw.push_str(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
    );
    let mut text = String::new();
    for paragraph in body.split('\n') {
        text.push_str(&wrap(&sanitize_multiline(paragraph), 78));
        text.push('\n');
    }
    let footer_lang = if to == ctx.user { ctx.lang } else { Lang::En };
    text.push_str("\n-- \n");
    text.push_str(&wrap(commands_footer(footer_lang), 78));
    text.push('\n');
    raw.push_str(&quoted_printable(&text));
    raw.push_str("\r\n");
    Ok(Outgoing {
        message_id,
        from: ctx.bot_address.to_string(),
        to: to.to_string(),
        raw: raw.into_bytes(),
    })
}

/// The weekly digest to the user: what was stuck this week, what was resolved, what gave up,
/// what is still open; text and HTML, times in the configured zone.
pub fn digest(
    ctx: &Context<'_>,
    items: &crate::store::DigestItems,
    since: i64,
) -> Result<Outgoing, ComposeError> {
    let message_id = new_message_id(ctx.bot_address);
    let lang = ctx.lang;
    let t = lang.text();
    let subject = words::digest_subject(items, lang);
    let sections = words::digest_sections(items, lang);
    let period = fill(
        t.digest_period,
        &[
            ("from", &ctx.clock.moment(since, lang)),
            ("to", &ctx.clock.moment(ctx.clock.now, lang)),
        ],
    );
    let intro = words::digest_intro(items, lang);
    let mut text = format!("{intro}\n{period}\n");
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n<body style=\"font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; font-size: 15px; line-height: 1.45; color: #222; max-width: 640px; margin: 0 auto; padding: 12px;\">\n",
    );
    html.push_str(&format!(
        "<p style=\"font-size: 17px;\">{}</p>\n<p style=\"color: #666;\">{}</p>\n",
        html_escape(&intro),
        html_escape(&period)
    ));
    for (title, explain, lines) in &sections {
        if lines.is_empty() {
            continue;
        }
        let heading = fill(
            t.section_heading,
            &[("title", title), ("count", &lines.len().to_string())],
        );
        text.push_str(&format!("\n{heading}\n"));
        text.push_str(&wrap(explain, 78));
        text.push('\n');
        html.push_str(&format!(
            "<h3 style=\"font-size: 16px; margin: 18px 0 4px;\">{} ({})</h3>\n<p style=\"margin: 0 0 6px; color: #555;\">{}</p>\n<ul style=\"margin: 0; padding-left: 20px;\">\n",
            html_escape(title),
            lines.len(),
            html_escape(explain)
        ));
        for l in lines.iter() {
            let line = fill(
                t.digest_line,
                &[
                    ("subject", &sanitize(&l.subject)),
                    ("recipient", &sanitize(&l.recipient)),
                    ("verdict", words::verdict_words(&l.verdict, lang)),
                    ("when", &ctx.clock.moment(l.last_notice, lang)),
                ],
            );
            text.push_str(&wrap(&format!("- {line}"), 78));
            text.push('\n');
            html.push_str(&format!(
                "<li style=\"margin: 2px 0;\">{}</li>\n",
                html_escape(&line)
            ));
        }
        html.push_str("</ul>\n");
    }
    text.push_str("\n-- \n");
    text.push_str(&wrap(commands_footer(lang), 78));
    text.push('\n');
    html.push_str(&format!(
        "<p style=\"color: #666; font-size: 13px; margin-top: 18px;\">{}</p>\n</body></html>\n",
        t.digest_footer_html
    ));
    to_user(ctx, message_id, &subject, &text, &html)
}

/// A `multipart/alternative` entity (its Content-Type line, then the text and the HTML part,
/// both quoted-printable) with boundary `b`.
fn alternative(b: &str, text: &str, html: &str) -> String {
    let mut out = format!("Content-Type: multipart/alternative; boundary=\"{b}\"\r\n\r\n");
    out.push_str(&format!("--{b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"));
    out.push_str(&quoted_printable(text));
    out.push_str(&format!("\r\n--{b}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"));
    out.push_str(&quoted_printable(html));
    out.push_str(&format!("\r\n--{b}--\r\n"));
    out
}

/// Keeps a line's text, minus control characters.
fn sanitize_multiline(line: &str) -> String {
    line.chars().filter(|c| !c.is_control() || *c == '\t').collect()
}

/// The footer of every message to the user: the commands, briefly (English; see
/// [`commands_footer`] for the user's language).
pub const COMMANDS_FOOTER: &str = text::en::TEXT.commands_footer;

/// The footer of every message to the user, in `lang`: the commands (the English words in
/// every language), briefly.
pub fn commands_footer(lang: Lang) -> &'static str {
    lang.text().commands_footer
}

/// The subject of a notice's thread, as the bot's messages name it (`Quarterly figures → bob@x`),
/// in `lang` when the notice gives no subject or no recipient.
pub fn thread_subject(notice: &Notice, lang: Lang) -> String {
    format!(
        "{} → {}",
        original_subject(notice, lang),
        recipients_of(notice, lang)
    )
}

/// The `diagnosis.json` of a Support package (and what `bouncedoc diagnose --json` prints):
/// `{"notice", "findings", "verdict"}`.
pub fn diagnosis_json(
    file: &str,
    notice: &Notice,
    findings: &[Finding],
    v: &Verdict,
    clock: &words::Clock,
) -> serde_json::Value {
    serde_json::json!({
        "notice": crate::notice::ParseLine { file, notice },
        "findings": findings,
        "verdict": {"action": v.action, "cause": v.cause, "summary": words::summary(notice, v, clock, Lang::En)},
    })
}

/// The notice's key lines for the package's HTML: who, when, what was sent, and per recipient
/// the status, the remote server and its words (escaped).
fn notice_lines_html(ctx: &Context<'_>, notice: &Notice) -> String {
    // Label above value: a phone's width holds neither a long label beside a long value nor
    // an address that does not break.
    let row = |k: &str, v: &str| {
        format!(
            "<tr style=\"border-top: 1px solid #eee;\"><td style=\"padding: 5px 0; word-break: break-word;\"><span style=\"color: #555; font-size: 13px;\">{}</span><br>{}</td></tr>\n",
            html_escape(k),
            html_escape(v)
        )
    };
    let mut h = String::from("<h2 style=\"font-size: 18px;\">Delay notice report</h2>\n<table style=\"border-collapse: collapse; width: 100%; table-layout: fixed; margin: 0 0 12px;\">\n");
    h.push_str(&row("Mailbox user", &sanitize(ctx.user)));
    h.push_str(&row("Reported", &ctx.clock.moment(ctx.clock.now, Lang::En)));
    if let Some(o) = &notice.original {
        if let Some(subject) = &o.subject {
            h.push_str(&row("Original subject", &sanitize(subject)));
        }
        if let Some(id) = &o.message_id {
            h.push_str(&row("Original Message-ID", &sanitize(id)));
        }
    }
    if let Some(mta) = &notice.reporting_mta {
        h.push_str(&row("Reporting server", &sanitize(mta)));
    }
    for r in notice.recipients.iter().take(20) {
        let mut parts = vec![r.status.as_deref().map_or("no status".to_string(), sanitize)];
        if let Some(host) = &r.remote_host {
            parts.push(format!("remote server {}", sanitize(host)));
        }
        if let Some(ip) = &r.remote_ip {
            parts.push(format!("({ip})"));
        }
        if let Some(d) = &r.diagnostic {
            parts.push(format!("said: {}", sanitize(d)));
        }
        h.push_str(&row(
            &format!("Recipient {}", sanitize(&r.address)),
            &parts.join(" "),
        ));
    }
    if notice.recipients.len() > 20 {
        h.push_str(&row(
            "More recipients",
            &format!("{} more", notice.recipients.len() - 20),
        ));
    }
    h.push_str("</table>\n");
    h
}

/// How an attached notice travels: as is when its lines allow (CRLF only, ≤ 998 bytes, no NUL),
/// base64 otherwise, so that its bytes arrive unaltered.
fn notice_part(raw: &[u8]) -> (String, String) {
    let crlf_clean = raw.iter().enumerate().all(|(i, &b)| match b {
        b'\n' => i > 0 && raw[i - 1] == b'\r',
        b'\r' => raw.get(i + 1) == Some(&b'\n'),
        0 => false,
        _ => true,
    });
    let short_lines = raw.split(|b| *b == b'\n').all(|l| l.len() <= 998);
    // 8-bit text goes as it is only when it is UTF-8: anything else is attached byte for byte
    // (base64), never through a lossy conversion.
    if crlf_clean && short_lines && raw.ends_with(b"\r\n") && std::str::from_utf8(raw).is_ok() {
        let encoding = if raw.is_ascii() { "7bit" } else { "8bit" };
        (encoding.to_string(), String::from_utf8_lossy(raw).into_owned())
    } else {
        ("base64".to_string(), base64_lines(raw))
    }
}

/// The Support package: the summary and every finding, the notice attached unaltered
/// (`message/rfc822`), and `diagnosis.json`. Support (the mail administrators) reads English:
/// the package is English whatever the user's language ([`Context::lang`]).
pub fn support_package(
    ctx: &Context<'_>,
    notice: &Notice,
    findings: &[Finding],
    v: &Verdict,
    diagnosis_json: &str,
) -> Result<Outgoing, ComposeError> {
    // The package threads onto the notice only, never onto the bot's messages to the user:
    // whoever reads it at Support (or their ticket system, replying to it) holds no
    // Message-ID that would count as the user's command.
    let ctx = &Context {
        thread: &[],
        ..ctx.clone()
    };
    let message_id = new_message_id(ctx.bot_address);
    let status = notice
        .recipients
        .first()
        .and_then(|r| r.status.as_deref())
        .map(sanitize)
        .unwrap_or_else(|| "no status".into());
    let state = if notice.kind == Kind::Failed {
        "failed"
    } else {
        "delayed"
    };
    let subject = format!(
        "[bouncedoc] {} → {}: {status} {state} ({})",
        sanitize(ctx.user),
        recipients_of(notice, Lang::En),
        v.cause.label()
    );
    let why = match v.action {
        verdict::Action::ForwardSupport => format!("Escalated because: {}.", v.cause.label()),
        _ => format!(
            "Sent to Support on request; the diagnosis found: {}.",
            v.cause.label()
        ),
    };
    let mut text = format!("Mailbox user: {}\n\n", sanitize(ctx.user));
    text.push_str(&text_body(notice, findings, v, Some(&why), &ctx.clock, Lang::En));
    let html = close_html(
        html_body(
            notice,
            findings,
            v,
            Some(&why),
            &notice_lines_html(ctx, notice),
            &ctx.clock,
            Lang::En,
        ),
        None,
    );
    let b = boundary(&message_id, "mix");
    let alt = boundary(&message_id, "alt");
    let mut raw = common_headers(ctx, ctx.support, ctx.user, &subject, &message_id)?;
    raw.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n"
    ));
    // The report as text and as HTML (a ticket system shows whichever it prefers).
    raw.push_str(&format!("--{b}\r\n"));
    raw.push_str(&alternative(&alt, &text, &html));
    let (encoding, body) = notice_part(ctx.notice_raw);
    raw.push_str(&format!(
        "\r\n--{b}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"notice.eml\"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    ));
    raw.push_str(&body);
    // The line break before a boundary belongs to the boundary: add one, so the notice's own
    // last line break stays part of the notice.
    if encoding != "base64" || !body.ends_with("\r\n") {
        raw.push_str("\r\n");
    }
    raw.push_str(&format!(
        "--{b}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Disposition: attachment; filename=\"diagnosis.json\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ));
    raw.push_str(&base64_lines(diagnosis_json.as_bytes()));
    raw.push_str(&format!("--{b}--\r\n"));
    Ok(Outgoing {
        message_id,
        from: ctx.bot_address.to_string(),
        to: ctx.support.to_string(),
        raw: raw.into_bytes(),
    })
}

#[cfg(test)]
mod lang_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eight_bit_notice_that_is_not_utf8_is_attached_byte_for_byte() {
        let latin1 = b"From: postmaster@mx.example\r\nSubject: Remise diff\xe9r\xe9e\r\n\r\nLe serveur a r\xe9pondu\r\n";
        let (encoding, body) = notice_part(latin1);
        assert_eq!(encoding, "base64");
        assert_eq!(crate::notice::mime::base64(body.as_bytes()), latin1.to_vec());
        let utf8 = "From: a@b\r\nSubject: Remise différée\r\n\r\nok\r\n".as_bytes();
        let (encoding, body) = notice_part(utf8);
        assert_eq!((encoding.as_str(), body.as_bytes()), ("8bit", utf8));
    }
}
