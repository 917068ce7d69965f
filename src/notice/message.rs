//! Walks a message's MIME tree (through `mail-parser`) and sorts its parts into what the
//! reader needs: human-readable text, delivery-status fields, the original message's headers,
//! feedback reports and read receipts; then decides whether the message is a notice at all.

use super::mime::{self, Leaf};

pub use super::parsed::Parsed;

/// Cheap check that bytes start like an RFC 5322 message (a header line or an mbox `From ` line).
pub fn looks_like_mail(raw: &[u8]) -> bool {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let line_end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |i| start + i);
    let line = &raw[start..line_end];
    if line.starts_with(b"From ") {
        return true;
    }
    match memchr::memchr(b':', line) {
        Some(colon) if colon > 0 => line[..colon].iter().all(|b| (33..=126).contains(b) && *b != b':'),
        _ => false,
    }
}

impl Parsed {
    /// Parses raw (CRLF-normalized) bytes; `None` when there is no header section.
    pub fn parse(raw: &[u8]) -> Option<Parsed> {
        let (section, body) = mime::split(raw);
        let headers = mime::headers_kept(section, reader_keeps);
        if headers.is_empty() {
            return None;
        }
        let mut parsed = Parsed {
            subject: mime::header(&headers, "Subject")
                .map(mime::decode_words)
                .unwrap_or_default(),
            from: mime::header(&headers, "From")
                .map(header_addresses)
                .unwrap_or_default(),
            to: mime::header(&headers, "To")
                .map(header_addresses)
                .unwrap_or_default(),
            date_unix: mime::header(&headers, "Date").and_then(super::time::unix_from_rfc2822),
            ..Parsed::default()
        };
        if let Some(ct) = mime::header(&headers, "Content-Type").map(mime::ContentType::parse) {
            if ct.mime.starts_with("multipart/") {
                parsed.report_type = ct.param("report-type").map(|s| s.to_ascii_lowercase());
            }
        }
        let mut html = Vec::new();
        let leaves = mime::leaves_of(
            mime::header(&headers, "Content-Type"),
            mime::header(&headers, "Content-Transfer-Encoding"),
            body,
        );
        for leaf in leaves {
            match leaf {
                Leaf::Text(t) => parsed.texts.push(t),
                Leaf::Html(h) => html.push(h),
                Leaf::DeliveryStatus(d) => parsed.delivery_status.push(d),
                Leaf::Feedback(f) => parsed.feedback = Some(f),
                Leaf::Disposition => parsed.mdn = true,
                Leaf::Attached(raw) => {
                    if parsed.attached.is_none() {
                        parsed.attached = Some(raw);
                    }
                }
                Leaf::OriginalHeaders(block) => {
                    if parsed.original.is_none() {
                        let h = mime::headers_kept(&block, super::original::keeps);
                        parsed.original = Some(super::original::from_headers(&h));
                        parsed.original_received_ips = super::original::received_ips_of(&h);
                    }
                }
            }
        }
        if parsed.texts.is_empty() {
            // HTML only when there is no plain text (its conversion is not free).
            parsed.texts = html.iter().map(|h| html_to_text(h)).collect();
        }
        parsed.headers = headers;
        Some(parsed)
    }
}

/// The top-level headers the reader uses; other `X-` headers are kept by name (their names tell
/// which software wrote a notice); the rest (Received, DKIM-Signature, …) are skipped.
fn reader_keeps(name: &str) -> mime::Keep {
    const USED: &[&str] = &[
        "Subject",
        "From",
        "To",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Return-Path",
        "Auto-Submitted",
        "Precedence",
        "List-Id",
        "X-Failed-Recipients",
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
        "X-MS-Exchange-Message-Is-Ndr",
        "X-Postfix-Queue-ID",
        "X-Postfix-Sender",
        "X-Original-Sender",
        "X-Mailer",
        "Content-Language",
    ];
    if USED.iter().any(|u| u.eq_ignore_ascii_case(name)) {
        mime::Keep::Value
    } else if name.len() > 2 && name.as_bytes()[..2].eq_ignore_ascii_case(b"x-") {
        mime::Keep::Name
    } else {
        mime::Keep::Skip
    }
}

pub use crate::mailaddr::header_addresses;

/// Turns HTML into plain text: tags dropped, block ends become line breaks, common entities
/// decoded, `<style>`/`<script>` content skipped.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(MAX_HTML_TEXT));
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        if out.len() >= MAX_HTML_TEXT {
            // The readers look at the first 256 KB of text: the rest need not be converted.
            return out;
        }
        push_entities(&mut out, &rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[..gt].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        rest = &after[gt + 1..];
        match name.as_str() {
            "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "table" | "pre" => out.push('\n'),
            "td" | "th" => out.push(' '),
            "style" | "script" if !after.starts_with('/') => match find_close_tag(rest, &name) {
                Some(p) => rest = &rest[p..],
                None => rest = "",
            },
            _ => {}
        }
    }
    push_entities(&mut out, rest);
    out
}

/// Most text made from one HTML part (the text scanner reads 256 KB at most).
const MAX_HTML_TEXT: usize = 512 * 1024;

/// Where `</name` starts in `html`, case-insensitively, without copying: one pass.
fn find_close_tag(html: &str, name: &str) -> Option<usize> {
    let b = html.as_bytes();
    let name = name.as_bytes();
    memchr::memmem::find_iter(b, b"</").find(|&p| {
        b.get(p + 2..p + 2 + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

fn push_entities(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        // An entity is short: look for its ';' in the next few bytes only (a run of '&'
        // without ';' would otherwise rescan the rest of the text at every '&').
        let end = after.as_bytes()[..after.len().min(11)]
            .iter()
            .position(|&c| c == b';');
        let (rep, used) = match end.map(|e| &after[..=e]) {
            Some("&lt;") => ("<", 4),
            Some("&gt;") => (">", 4),
            Some("&amp;") => ("&", 5),
            Some("&quot;") => ("\"", 6),
            Some("&#39;") => ("'", 5),
            Some("&apos;") => ("'", 6),
            Some("&nbsp;") => (" ", 6),
            _ => ("&", 1),
        };
        out.push_str(rep);
        rest = &after[used..];
    }
    out.push_str(rest);
}

/// What a message is, before its details are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A delivery notice (delay, failure, success).
    Notice,
    /// An out-of-office or other automatic reply.
    Autoreply,
    /// An ARF feedback report.
    Feedback,
    /// Anything else: ordinary mail, read receipts.
    NotNotice,
}

/// Decides what a message is from its headers, its structure and its opening text.
pub fn classify(p: &Parsed, scan: &super::text::Scan) -> Class {
    let report = p.report_type.as_deref().unwrap_or("");
    if report.contains("feedback-report") || p.feedback.is_some() {
        return Class::Feedback;
    }
    if !p.delivery_status.is_empty() || report.contains("delivery-status") {
        return Class::Notice;
    }
    if p.mdn || report.contains("disposition-notification") {
        return Class::NotNotice;
    }
    let subject = p.subject.to_ascii_lowercase();
    let replied = is_reply_subject(&subject);
    let from_daemon = p.from.iter().any(|a| is_daemon_address(a));
    let null_sender = p
        .header("Return-Path")
        .is_some_and(|v| v.trim() == "<>" || v.trim().is_empty());
    let strong_header = p.header("X-Failed-Recipients").is_some()
        || p.header("X-MS-Exchange-Message-Is-Ndr").is_some()
        || p.header("X-Postfix-Queue-ID").is_some();
    let bounce_subject = !replied && super::wording::is_bounce_subject(&subject);
    let body_marker = scan.says(super::wording::List::Marker, 64 * 1024);

    if !bounce_subject && !body_marker && !strong_header && is_autoreply(p, &subject) {
        return Class::Autoreply;
    }
    // Mail from a mail system (MAILER-DAEMON, an empty Return-Path) with notice wording, or a
    // notice's subject with notice wording or such a sender; else notice wording that is not a
    // reply, from nobody or from a machine, outside quoted lines.
    let automatic = from_daemon || null_sender;
    let notice = strong_header
        || (bounce_subject && (body_marker || automatic))
        || (automatic && body_marker)
        || (body_marker
            && !replied
            && (p.from.is_empty() || (scan.has_unquoted_marker() && looks_machine_written(p))));
    if notice {
        return Class::Notice;
    }
    Class::NotNotice
}

fn looks_machine_written(p: &Parsed) -> bool {
    let from = p.from.first().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    let local = from.split('@').next().unwrap_or("");
    [
        "daemon",
        "postmaster",
        "mail",
        "delivery",
        "bounce",
        "system",
        "admin",
        "noreply",
        "no-reply",
        "notify",
    ]
    .iter()
    .any(|w| local.contains(w))
}

fn is_reply_subject(subject: &str) -> bool {
    let s = subject.trim_start();
    ["re:", "fw:", "fwd:", "aw:", "wg:", "tr:", "sv:", "vs:"]
        .iter()
        .any(|p| s.starts_with(p))
}

pub use crate::mailaddr::is_daemon_address;

/// RFC 3834 automatic replies: marked by their headers, or by an out-of-office subject on
/// mail marked automatic in any way (Outlook's replies say `auto-generated`).
fn is_autoreply(p: &Parsed, subject: &str) -> bool {
    let auto_submitted = p.header("Auto-Submitted").map(|v| v.trim().to_ascii_lowercase());
    let replied = auto_submitted
        .as_deref()
        .is_some_and(|v| v.starts_with("auto-replied"))
        || p.header("X-Autoreply").is_some()
        || p.header("X-Autorespond").is_some()
        || p.header("Precedence")
            .is_some_and(|v| v.to_ascii_lowercase().contains("auto_reply"));
    let automatic = auto_submitted.as_deref().is_some_and(|v| !v.starts_with("no"))
        || p.header("X-Auto-Response-Suppress").is_some()
        || p.header("Precedence").is_some();
    static SUBJECTS: std::sync::LazyLock<super::phrases::Phrases> = std::sync::LazyLock::new(|| {
        super::phrases::Phrases::new(&[
            "out of office",
            "out of the office",
            "automatic reply",
            "auto:",
            "autoreply",
            "auto-reply",
            "auto reply",
            "vacation",
            "away until",
            "away from",
            "i am away",
            "on leave",
            "absence",
            "abwesend",
            "abwesenheit",
            "réponse automatique",
        ])
    });
    replied || (automatic && SUBJECTS.any(subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text() {
        let t = html_to_text(
            "<p>Delivery is delayed&nbsp;to</p><p>bob@x.example &lt;ok&gt;</p><style>p{}</style>end",
        );
        assert!(t.contains("Delivery is delayed to"));
        assert!(t.contains("bob@x.example <ok>"));
        assert!(!t.contains("p{}"));
        assert!(t.contains("end"));
    }

    #[test]
    fn mail_detection() {
        assert!(looks_like_mail(b"From: a@b\n\nx"));
        assert!(looks_like_mail(b"\r\nReturn-Path: <>\r\n"));
        assert!(!looks_like_mail(b"hello world\n"));
        assert!(!looks_like_mail(b": no name\n"));
    }
}
