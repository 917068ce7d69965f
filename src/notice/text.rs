//! Reading the human-readable text of a notice: where the error report ends and the quoted
//! original begins, which addresses are the failed recipients, their diagnostics and codes,
//! and whether the wording says "still trying" or "gave up".

use super::message::{is_daemon_address, Parsed};
use super::phrases::Phrases;
use std::sync::LazyLock;
use super::{Original, Recipient};
use std::net::IpAddr;

/// Most text the scanner reads from one notice (bounded time on huge bodies).
const MAX_TEXT: usize = 256 * 1024;
/// Most lines of an error report the scanner looks at.
const MAX_LINES: usize = 4000;
/// Most addresses taken from one line, and candidates kept per notice.
const MAX_PER_LINE: usize = 64;
const MAX_CANDIDATES: usize = 1000;

/// Normalizes an address: strips brackets, quotes and `mailto:`, lower-cases the domain.
/// `None` when it is not `local@domain`.
pub fn normalize_address(raw: &str) -> Option<String> {
    let mut s = raw
        .trim()
        .trim_start_matches("mailto:")
        .trim_matches(|c: char| matches!(c, '<' | '>' | '\'' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '.' | ' '));
    // Quotes around the whole address go; a quoted local part ("a b"@example.com) stays.
    let quoted_local = s.starts_with('"') && s.rfind("\"@").is_some_and(|p| p > 0);
    if !quoted_local {
        s = s.trim_matches('"');
    }
    let at = s.rfind('@')?;
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || domain.is_empty() || s.chars().any(|c| c.is_control()) || (!quoted_local && s.contains(char::is_whitespace)) {
        return None;
    }
    if !domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-' || c == '_') {
        return None;
    }
    Some(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// Bytes of a local part: RFC 5322 atext and dots, and UTF-8 (RFC 6531 addresses).
fn is_local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c >= 0x80 || b"!#$%&'*+/=?^_`{|}~.-".contains(&c)
}

/// Bytes of a domain: letters, digits, dots, hyphens, and UTF-8 (internationalized names).
fn is_domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c >= 0x80 || c == b'.' || c == b'-' || c == b'_'
}

/// One address found in a line: where it starts and ends, and the normalized form.
#[derive(Debug, Clone)]
struct Found {
    start: usize,
    end: usize,
    address: String,
}

/// Every address in a line, in order.
fn addresses_in(line: &str) -> Vec<Found> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'@', &b[i..]) {
        let at = i + p;
        let mut s = at;
        if at > 1 && b[at - 1] == b'"' {
            // A quoted local part: back to its opening quote (on this line).
            if let Some(open) = memchr::memrchr(b'"', &b[..at - 1]) {
                s = open;
            }
        } else {
            while s > 0 && is_local_char(b[s - 1]) {
                s -= 1;
            }
        }
        let mut e = at + 1;
        while e < b.len() && is_domain_char(b[e]) {
            e += 1;
        }
        // Trailing dots and hyphens are punctuation, not domain.
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        while s < at && b[s] == b'.' && b[at - 1] != b'"' {
            s += 1;
        }
        let domain = &line[at + 1..e];
        let bracketed = s > 0 && b[s - 1] == b'<' && e < b.len() && b[e] == b'>';
        if s < at && !domain.is_empty() && (domain.contains('.') || bracketed) && !domain.starts_with('.') {
            if let Some(address) = normalize_address(&line[s..e]) {
                out.push(Found { start: s, end: e, address });
            }
        }
        i = e.max(at + 1);
    }
    out
}

/// The first address in a value such as `rfc822; <a@b.example>`.
pub fn first_address(value: &str) -> Option<String> {
    addresses_in(value)
        .into_iter()
        .next()
        .map(|f| f.address)
        .or_else(|| normalize_address(value))
}

/// Removes case-insensitive duplicates, keeping the first.
pub fn dedup_addresses(list: &mut Vec<String>) {
    let mut seen: Vec<String> = Vec::new();
    list.retain(|a| {
        let l = a.to_ascii_lowercase();
        if seen.contains(&l) {
            false
        } else {
            seen.push(l);
            true
        }
    });
}

/// The first RFC 3463 enhanced status code (`4.4.7`, `5.1.1`, `5.4.316`) in a text, with
/// boundaries so that IP addresses and version numbers do not count.
pub fn status_code(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c == b'2' || c == b'4' || c == b'5') && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            if let Some(end) = match_status(b, i) {
                return Some(text[i..end].to_string());
            }
        }
        i += 1;
    }
    None
}

fn match_status(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j) != Some(&b'.') {
        return None;
    }
    j += 1;
    let d1 = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
    if d1 == 0 || d1 > 3 {
        return None;
    }
    j += d1;
    if b.get(j) != Some(&b'.') {
        return None;
    }
    j += 1;
    let d2 = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
    if d2 == 0 || d2 > 3 {
        return None;
    }
    j += d2;
    // Not part of a longer dotted number (an IP address) or a word.
    match b.get(j) {
        Some(c) if c.is_ascii_alphanumeric() => None,
        Some(b'.') if b.get(j + 1).is_some_and(|c| c.is_ascii_digit()) => None,
        _ => Some(j),
    }
}

/// Every enhanced status code in a text, in order.
pub fn status_codes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(code) = status_code(rest) {
        let Some(pos) = rest.find(code.as_str()) else { break };
        rest = &rest[pos + code.len()..];
        out.push(code);
    }
    out
}

/// Chooses between a status and the codes a diagnostic quotes, as bounce tooling does: a
/// vague status (`X.0.0`) gives way to the diagnostic's last precise code of the same class;
/// with `prefer_diagnostic`, any differing precise code of the same class wins too (the remote
/// server's own code is more specific than the reporting MTA's summary), and a code whose
/// class agrees with the diagnostic's reply code wins over a status of the other class.
pub fn refine_status(status: Option<String>, diagnostic: Option<&str>, prefer_diagnostic: bool) -> Option<String> {
    let Some(diag) = diagnostic else { return status };
    let codes: Vec<String> = status_codes(diag).into_iter().filter(|c| !c.ends_with(".0.0")).collect();
    let Some(status) = status else {
        return codes.last().cloned().or_else(|| status_code(diag));
    };
    let class = status.as_bytes().first().copied();
    let same_class: Vec<&String> = codes.iter().filter(|c| c.as_bytes().first().copied() == class).collect();
    if let Some(last) = same_class.last() {
        if status.ends_with(".0.0") || (prefer_diagnostic && **last != status) {
            return Some((*last).clone());
        }
    }
    if prefer_diagnostic {
        if let (Some(reply), Some(first)) = (reply_code_str(diag), codes.first()) {
            if reply.as_bytes()[0] == first.as_bytes()[0] && Some(reply.as_bytes()[0]) != class {
                return Some(first.clone());
            }
        }
    }
    Some(status)
}

/// A Status field value that is only roughly a code (`5.1.1 (user unknown)`, `4.0.0.`).
pub fn status_code_loose(value: &str) -> Option<String> {
    let token = value.split_whitespace().next()?.trim_end_matches(['.', ',', ';']);
    status_code(token)
}

/// The SMTP reply code a diagnostic quotes: at its start, or after `said:`, `returned '`,
/// `<<<`, `error:`, `#`.
pub fn reply_code(text: &str) -> Option<String> {
    reply_code_str(text).map(str::to_string)
}

/// As [`reply_code`], borrowing from the text.
pub fn reply_code_str(text: &str) -> Option<&str> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 3 <= b.len() {
        let c = b[i];
        if (c == b'2' || c == b'4' || c == b'5')
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
            && b[i + 1] <= b'5'
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'.' | b':' | b'[' | b'-' | b'/' | b'+')))
            && matches!(b.get(i + 3), None | Some(b' ') | Some(b'-') | Some(b'\t') | Some(b'\'') | Some(b'"') | Some(b')'))
            && !(b.get(i + 3) == Some(&b'-') && b.get(i + 4).is_some_and(|c| c.is_ascii_digit()))
        {
            // Prefer codes in a reply position; accept any bounded 3-digit code followed by a
            // status code or text.
            let rest = &text[i + 3..];
            let looks_reply = rest.trim_start_matches(['-', ' ']).starts_with(|ch: char| ch.is_ascii_digit() || ch.is_ascii_alphabetic() || ch == '<' || ch == '\'' || ch == '"')
                || rest.is_empty();
            if looks_reply && !followed_by_unit(rest) {
                return Some(&text[i..i + 3]);
            }
        }
        i += 1;
    }
    None
}

fn followed_by_unit(rest: &str) -> bool {
    let r = rest.trim_start().to_ascii_lowercase();
    ["seconds", "minutes", "hours", "days", "bytes", "kb", "mb", "times", "messages"]
        .iter()
        .any(|u| r.starts_with(u))
}

/// Splits `host`, `[IP]`, `host [IP]` or `IP` into a host name and an IP address.
pub fn host_or_ip(value: &str) -> (Option<String>, Option<String>) {
    let v = value.trim();
    let ips = bracketed_ips(v);
    let bare = v.trim_matches(['[', ']']).trim_start_matches("IPv6:");
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return (None, Some(ip.to_string()));
    }
    let host = v
        .split(|c: char| c.is_whitespace() || c == '[' || c == '(')
        .next()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty() && h.contains('.') && h.parse::<IpAddr>().is_err());
    (host, ips.first().map(|ip| ip.to_string()))
}

/// IP addresses written in brackets or parentheses: `[192.0.2.1]`, `(192.0.2.1)`,
/// `[IPv6:2001:db8::1]`, and `host[192.0.2.1]`.
pub fn bracketed_ips(line: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'[' || c == b'(' {
            let close = if c == b'[' { b']' } else { b')' };
            if let Some(len) = memchr::memchr(close, &b[i + 1..]) {
                let inner = &line[i + 1..i + 1 + len];
                let inner = inner.trim().trim_start_matches("IPv6:").trim_start_matches("ipv6:");
                if let Ok(ip) = inner.parse::<IpAddr>() {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// Every IPv4/IPv6 literal in a line, with its byte offset.
pub fn ip_literals(line: &str) -> Vec<(usize, IpAddr)> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c.is_ascii_hexdigit() || c == b':') && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.' || b[i - 1] == b':')) {
            let mut e = i;
            while e < b.len() && (b[e].is_ascii_hexdigit() || b[e] == b'.' || b[e] == b':') {
                e += 1;
            }
            let cand = line[i..e].trim_end_matches(['.', ':']);
            if cand.len() >= 7 {
                if let Ok(ip) = cand.parse::<IpAddr>() {
                    out.push((i, ip));
                }
            }
            i = e.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Words a remote server uses when it refuses a client.
static BLOCK_WORDS: LazyLock<Phrases> = LazyLock::new(|| {
    Phrases::new(&["blocked", "listed", "blacklist", "blocklist", "reputation", "spamhaus", "dnsbl", "rbl", "refused", "client host"])
});

/// IPs the remote server quoted as the client it refuses ("Client host [203.0.113.5] blocked
/// using …", "your IP 203.0.113.5 is listed"): these are our sending side.
pub fn blocked_client_ips(error_text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    if !error_text.contains(|c: char| c.is_ascii_digit()) {
        return out;
    }
    if !BLOCK_WORDS.any(error_text) {
        return out;
    }
    for line in error_text.lines().take(2000) {
        if !BLOCK_WORDS.any(line) {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        for (pos, ip) in ip_literals(line) {
            let before = lower[..pos].trim_end_matches(['[', '(', ' ', '"', '\'']);
            let client_context = ["client host", "client", "your ip", "ip address", "ip", "address", "sender ip", "from", "source"]
                .iter()
                .any(|w| before.ends_with(w));
            if client_context && !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// Subjects that notices use (any case).
pub fn is_bounce_subject(subject: &str) -> bool {
    static WORDS: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(&[
        "undeliverable",
        "undelivered",
        "undeliverd",
        "returned mail",
        "return mail",
        "delivery status notification",
        "delivery failure",
        "delivery failed",
        "delivery has failed",
        "failure notice",
        "failure delivery",
        "mail delivery",
        "delivery delayed",
        "delayed mail",
        "delivery notification",
        "delivery problem",
        "delivery report",
        "non-delivery",
        "nondeliverable",
        "non delivery",
        "not delivered",
        "could not send",
        "cannot send",
        "couldn't be delivered",
        "could not be delivered",
        "mail system error",
        "message delivery",
        "returned to sender",
        "unable to deliver",
        "warning: message",
        "warning--could not",
        "mail could not",
        "error sending",
        "bounce",
        "nicht zustellbar",
        "unzustellbar",
        "non recapitabile",
        "no se puede entregar",
        "non remis",
        "echec de distribution",
        "undeliverable mail",
        "delivery status",
        "mail failure",
        "permanent error",
        "rejected",
        "delivery error",
        "failed delivery",
        "message not delivered",
        "nondelivery",
        "undelivery",
    ]));
    WORDS.any(subject)
}

/// Phrases that mail systems write in notices (and people rarely do).
pub fn has_bounce_marker(text: &str) -> bool {
    static MARKERS: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(&[
        "this is the mail system at host",
        "this is the qmail-send program",
        "created automatically by mail delivery software",
        "delivery to the following recipient",
        "delivery has failed to these recipients",
        "delivery is delayed to these recipients",
        "hasn't been delivered yet",
        "has not yet been delivered",
        "could not be delivered",
        "couldn't be delivered",
        "was not delivered",
        "could not deliver",
        "permanent fatal errors",
        "transcript of session follows",
        "i'm sorry to have to inform you",
        "sorry to inform you",
        "wasn't able to deliver",
        "was not able to deliver",
        "unable to deliver",
        "did not reach some or all",
        "diagnostic information for administrators",
        "this is the mailer-daemon",
        "mailer-daemon",
        "failed permanently",
        "delivery failed",
        "delivery has failed",
        "undeliverable",
        "undelivered",
        "returned mail",
        "permanent error",
        "temporary error",
        "user unknown",
        "unknown user",
        "no such user",
        "mailbox unavailable",
        "mailbox is full",
        "recipient address rejected",
        "address rejected",
        "smtp error",
        "delivery status notification",
        "non-delivery",
        "nondeliverable",
        "message delayed",
        "delivery attempts will continue",
        "will continue to be attempted",
        "could not send message",
        "has been delayed",
        "the original message was received",
        "following address",
        "following recipient",
        "remote host said",
        "said: 5",
        "said: 4",
        "host unknown",
        "was rejected",
        "rejected your message",
        "message rejected",
        "bounced",
        "error delivering",
        "error occurred while",
        "dns lookup failure",
        "550 ",
        "554 ",
        "553 ",
        "552 ",
        "551 ",
        "450 ",
        "451 ",
        "452 ",
        "421 ",
    ]));
    MARKERS.any(prefix(text, 64 * 1024))
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}


/// Where a notice's own error report ends and the quoted original message begins.
fn is_original_marker(line: &str) -> bool {
    let trimmed = line.trim();
    let core = trimmed.trim_start_matches(|c: char| matches!(c, '-' | '=' | '*' | '#' | '_' | '>' | ' ' | '|' | '+'));
    static STARTS: LazyLock<Phrases> = LazyLock::new(|| Phrases::anchored(&[
        "original message",
        "original-message",
        "this is a copy of the message",
        "below this line is a copy of the message",
        "a copy of the original message",
        "copy of the original message",
        "returned message",
        "unsent message",
        "undelivered message",
        "message headers follow",
        "the header of the original message",
        "headers of the original message",
        "header of the original message",
        "your original message",
        "the original message follows",
        "the original message headers",
        "original mail",
        "content-type: message/rfc822",
        "content-type: text/rfc822-headers",
        "included is a copy",
        "this is the original message",
        "here is a copy",
        "rejected message",
        "the text of your message",
        "message text follows",
        "original e-mail",
        "original email",
        "orginal message",
        "message header follows",
        "the message header follows",
        "header of message follows",
        "message as received",
    ]));
    if !core.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    if STARTS.starts(core) {
        return true;
    }
    let fenced = trimmed.starts_with("---") || trimmed.starts_with("===") || trimmed.starts_with("***");
    if !fenced {
        return false;
    }
    let core = core.to_ascii_lowercase();
    if core.contains("message") || core.contains("header") {
        let l = core.as_str();
        let about_original = ["original", "copy", "returned", "unsent", "undelivered", "follow", "below", "attached", "included", "rejected"]
            .iter()
            .any(|w| l.contains(w));
        let report_section = l.contains("transcript") || l.contains("following address") || l.contains("delivery report") || l.contains("error");
        return about_original && !report_section;
    }
    false
}

/// Header names that only appear in a quoted original, never in an error report.
fn is_original_header_line(line: &str) -> bool {
    let head = &line.as_bytes()[..line.len().min(24)];
    let Some(colon) = memchr::memchr(b':', head) else {
        return false;
    };
    let name = &line[..colon];
    [
        "return-path",
        "received",
        "dkim-signature",
        "message-id",
        "mime-version",
        "x-mailer",
        "authentication-results",
        "content-type",
        "x-originating-ip",
        "user-agent",
        "delivered-to",
        "references",
        "in-reply-to",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Splits a notice's human-readable text into the error report and the quoted original.
pub fn split_original(texts: &[String]) -> (String, String) {
    let mut error = String::new();
    let mut quoted = String::new();
    let mut budget = MAX_TEXT;
    for t in texts {
        if budget == 0 {
            break;
        }
        let t = prefix(t, budget);
        budget = budget.saturating_sub(t.len());
        if !quoted.is_empty() {
            quoted.push_str(t);
            quoted.push('\n');
            continue;
        }
        let mut offset = 0;
        let mut cut = None;
        for line in t.split_inclusive('\n') {
            let l = line.trim_end_matches(['\n', '\r']);
            let has_report = offset > 0 && !t[..offset].trim().is_empty() || !error.trim().is_empty();
            if is_original_marker(l) || (has_report && !l.starts_with([' ', '\t']) && is_original_header_line(l)) {
                cut = Some(offset);
                break;
            }
            offset += line.len();
        }
        match cut {
            Some(c) => {
                error.push_str(&t[..c]);
                quoted.push_str(&t[c..]);
                quoted.push('\n');
            }
            None => {
                error.push_str(t);
                error.push('\n');
            }
        }
    }
    (error, quoted)
}

/// How strongly a line's context says an address in it is a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Weak,
    Strong,
}

/// Lines whose addresses are senders or systems, never the failed recipient.
fn is_sender_line(lower: &str) -> bool {
    let t = lower.trim_start_matches(|c: char| c.is_whitespace() || c == '>' || c == '<');
    const STARTS: &[&str] = &[
        "from:",
        "sender:",
        "reply-to:",
        "return-path:",
        "reporting-mta",
        "received-from-mta",
        "x-postfix-sender",
        "x-original-sender",
        "envelope-from",
        "mail from",
        "subject:",
        "message-id:",
        "references:",
        "in-reply-to:",
        "date:",
        "by ",
        "received:",
        "arrival-date",
        "x-sender",
        "original-mail-from",
        "the message identifier",
        "the subject of the message",
        "the date of the message",
        "subject of the message",
    ];
    STARTS.iter().any(|s| t.starts_with(s))
        || lower.contains("sender ok")
        || lower.contains("mail from:")
        || lower.contains("envelope-from")
        || lower.contains("return-path")
        || lower.contains("sender address")
}

fn line_strength(line: &str, lower: &str, f: &Found) -> Strength {
    let before = lower[..f.start].trim_end_matches(|c: char| matches!(c, '<' | '"' | '\'' | ' ' | '\t' | '(' | '['));
    if before.is_empty() || before.trim_start_matches(['-', '*', '#', '>', ':', ' ', '\t']).is_empty() {
        return Strength::Strong;
    }
    const CONTEXT: &[&str] = &[
        "rcpt to:",
        "rcpt to",
        "recipient",
        "recipients",
        "address",
        "addresses",
        "addressee",
        "to:",
        "to",
        "user",
        "mailbox",
        "failed:",
        "delivery to",
        "deliver to",
        "delivering to",
        "for",
        "destination",
        "account",
        "benutzer",
        "destinataire",
        "empfänger",
        "utente",
        "original-rcpt-to:",
        "final-recipient:",
        "rfc822;",
        "rfc822",
        "failed",
        "unknown",
        "message to",
        "mail to",
        "sent to",
    ];
    if CONTEXT.iter().any(|c| before.ends_with(c)) {
        return Strength::Strong;
    }
    // "<addr>... User unknown", "<addr>: host said", "addr: 550 …"
    let after = &line[f.end..];
    let after_t = after.trim_start_matches(['>', '"', '\'']);
    if after_t.starts_with("...") || after_t.starts_with(':') {
        return Strength::Strong;
    }
    if status_code(line).is_some() && line[..f.start].ends_with('<') {
        return Strength::Strong;
    }
    Strength::Weak
}

/// The human-readable half of a notice, scanned once.
#[derive(Debug, Default)]
pub struct Scan {
    /// The error report (the text before the quoted original).
    pub error_text: String,
    /// Lines of the error report.
    lines: Vec<String>,
    /// The same lines lower-cased (ASCII) when they hold an `@`, else empty: for
    /// case-insensitive address searches.
    lower: Vec<String>,
    /// Candidate recipients in order: (address, first line, strength).
    candidates: Vec<(String, usize, Strength)>,
    /// Addresses in a recipient's position that are also the notice's own From/To or the
    /// original sender: used only when nothing else is found (mail to oneself).
    excluded_strong: Vec<String>,
    /// X-Failed-Recipients header values.
    failed_header: Vec<String>,
    /// Fallback: the original message's To.
    original_to: Vec<String>,
}

impl Scan {
    /// Scans the error report of a notice. `original` lets it ignore the original sender.
    pub fn new(parsed: &Parsed, error_text: String, original: Option<&Original>) -> Scan {
        let mut excluded: Vec<String> = parsed.to.iter().map(|a| a.to_ascii_lowercase()).collect();
        excluded.extend(parsed.from.iter().map(|a| a.to_ascii_lowercase()));
        if let Some(f) = original.and_then(|o| o.from.as_ref()) {
            excluded.push(f.to_ascii_lowercase());
        }
        if let Some(v) = parsed.header("X-Postfix-Sender").or(parsed.header("X-Original-Sender")) {
            if let Some(a) = first_address(v) {
                excluded.push(a.to_ascii_lowercase());
            }
        }
        let lines: Vec<String> = error_text.lines().take(MAX_LINES).map(str::to_string).collect();
        // Only lines with an address are ever searched for one.
        let lower_lines: Vec<String> = lines
            .iter()
            .map(|l| if l.contains('@') { l.to_ascii_lowercase() } else { String::new() })
            .collect();
        let mut candidates: Vec<(String, usize, Strength)> = Vec::new();
        let mut excluded_strong: Vec<String> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains('@') {
                continue;
            }
            let lower = &lower_lines[i];
            if is_sender_line(lower) {
                continue;
            }
            for f in addresses_in(line).into_iter().take(MAX_PER_LINE) {
                if candidates.len() >= MAX_CANDIDATES {
                    break;
                }
                let la = f.address.to_ascii_lowercase();
                let strength = line_strength(line, lower, &f);
                if excluded.contains(&la) || is_daemon_address(&la) || is_system_contact(&la) {
                    if strength == Strength::Strong && !excluded_strong.contains(&f.address) {
                        excluded_strong.push(f.address.clone());
                    }
                    continue;
                }
                match candidates.iter_mut().find(|(a, _, _)| a.eq_ignore_ascii_case(&la)) {
                    Some(c) => {
                        if strength > c.2 {
                            c.2 = strength;
                            c.1 = i;
                        }
                    }
                    None => candidates.push((f.address.clone(), i, strength)),
                }
            }
        }
        let mut failed_header: Vec<String> = parsed
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("X-Failed-Recipients"))
            .flat_map(|(_, v)| v.split(',').filter_map(first_address).collect::<Vec<_>>())
            .collect();
        dedup_addresses(&mut failed_header);
        Scan {
            error_text,
            lines,
            lower: lower_lines,
            candidates,
            excluded_strong,
            failed_header,
            original_to: original.map(|o| o.to.clone()).unwrap_or_default(),
        }
    }

    /// The failed recipients the text names: X-Failed-Recipients, else addresses in a
    /// recipient's position, else any address in the report, else the original's To.
    pub fn recipients(&self) -> Vec<String> {
        if !self.failed_header.is_empty() {
            return self.failed_header.clone();
        }
        let mut strong: Vec<(usize, String)> = self
            .candidates
            .iter()
            .filter(|c| c.2 == Strength::Strong)
            .map(|c| (c.1, c.0.clone()))
            .collect();
        strong.sort_by_key(|(i, _)| *i);
        if !strong.is_empty() {
            return strong.into_iter().map(|(_, a)| a).collect();
        }
        let weak: Vec<String> = self.candidates.iter().map(|c| c.0.clone()).collect();
        if !weak.is_empty() {
            return weak;
        }
        if !self.excluded_strong.is_empty() {
            return self.excluded_strong.clone();
        }
        self.original_to.clone()
    }

    fn line_of(&self, address: &str) -> Option<usize> {
        self.candidates
            .iter()
            .find(|c| c.0.eq_ignore_ascii_case(address))
            .map(|c| c.1)
            .or_else(|| {
                let la = address.to_ascii_lowercase();
                self.lower.iter().position(|l| l.contains(&la))
            })
    }

    /// The lines about one recipient: from its first mention in a recipient's position to
    /// the next other recipient's.
    pub fn block_for(&self, address: &str) -> String {
        let Some(start) = self.line_of(address) else {
            return String::new();
        };
        let next = self
            .candidates
            .iter()
            .filter(|c| c.2 == Strength::Strong && c.1 > start && !c.0.eq_ignore_ascii_case(address))
            .map(|c| c.1)
            .min()
            .unwrap_or(self.lines.len());
        self.lines[start..next].join("\n")
    }

    /// The paragraph that starts at an address's line: the line and the lines indented
    /// deeper than it (how Postfix, Exim and Sendmail wrap a recipient's error).
    fn paragraph_at(&self, start: usize) -> String {
        let first = &self.lines[start];
        let indent = first.len() - first.trim_start().len();
        let mut out = first.trim().to_string();
        for l in self.lines.iter().skip(start + 1).take(12) {
            let li = l.len() - l.trim_start().len();
            if l.trim().is_empty() || li <= indent && !(indent == 0 && li > 0) {
                break;
            }
            out.push(' ');
            out.push_str(l.trim());
        }
        out
    }

    /// The error text about one recipient: its paragraph when that holds an error, else the
    /// first line of its block (or of the report) that carries an SMTP or status code.
    pub fn diagnostic_for(&self, address: &str) -> Option<String> {
        let start = self.line_of(address);
        if let Some(s) = start {
            let para = self.paragraph_at(s);
            if has_code(&para) {
                return Some(clean_diagnostic(&para, address));
            }
        }
        // Lines mentioning the address with a code (Sendmail transcripts).
        let la = address.to_ascii_lowercase();
        for (i, l) in self.lines.iter().enumerate() {
            if self.lower[i].contains(&la) && has_code(l) && Some(i) != start {
                return Some(clean_diagnostic(&self.paragraph_at(i), address));
            }
        }
        let (from, to) = match start {
            Some(s) => {
                let next = self
                    .candidates
                    .iter()
                    .filter(|c| c.2 == Strength::Strong && c.1 > s && !c.0.eq_ignore_ascii_case(address))
                    .map(|c| c.1)
                    .min()
                    .unwrap_or(self.lines.len());
                (s, next)
            }
            None => (0, self.lines.len()),
        };
        for i in from..to {
            if has_code(&self.lines[i]) {
                return Some(clean_diagnostic(&self.paragraph_at(i), address));
            }
        }
        // Anywhere in the report (a notice with one diagnostic for all).
        for i in 0..self.lines.len() {
            if has_code(&self.lines[i]) && !is_sender_line(&self.lines[i].to_ascii_lowercase()) {
                return Some(clean_diagnostic(&self.paragraph_at(i), address));
            }
        }
        // A paragraph after the address without codes ("User unknown").
        if let Some(s) = start {
            let para = self.paragraph_at(s);
            let rest = para.replace(address, "");
            let rest = rest.trim_matches(|c: char| !c.is_alphanumeric());
            if rest.len() > 3 {
                return Some(clean_diagnostic(&para, address));
            }
            for l in self.lines.iter().skip(s + 1).take(6) {
                let t = l.trim();
                if t.len() > 3 && !t.contains('@') && !t.ends_with(':') {
                    return Some(t.to_string());
                }
            }
            return None;
        }
        // The address is not in the text at all (Exim's "save to FILE", X-Failed-Recipients
        // only): the first indented paragraph after the opening prose is the error.
        let mut seen_prose = false;
        for (i, l) in self.lines.iter().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            if !l.starts_with([' ', '\t']) {
                seen_prose = true;
                continue;
            }
            if seen_prose {
                let mut para: Vec<&str> = Vec::new();
                for m in self.lines.iter().skip(i).take(12) {
                    if m.trim().is_empty() || !m.starts_with([' ', '\t']) {
                        break;
                    }
                    para.push(m.trim());
                }
                return Some(clean_diagnostic(&para.join(" "), address));
            }
        }
        None
    }

    /// Fills what the text knows and the recipient lacks: diagnostic, status, reply code.
    pub fn enrich(&self, r: &mut Recipient) {
        let vague = r.status.as_deref().is_some_and(|s| s.ends_with(".0.0"));
        if r.diagnostic.is_none() || vague {
            let text_diag = self.diagnostic_for(&r.address);
            if vague {
                // The report's code is vague: the text's own diagnostic may be precise.
                r.status = refine_status(r.status.take(), text_diag.as_deref(), false);
            }
            if r.diagnostic.is_none() {
                r.diagnostic = text_diag;
            }
        }
        if r.status.is_none() {
            r.status = r.diagnostic.as_deref().and_then(status_code);
        }
        if r.status.is_none() {
            let block = self.block_for(&r.address);
            r.status = status_code(&block);
        }
    }

    /// What the wording says: `Some(true)` still being retried, `Some(false)` given up,
    /// `None` when it says neither.
    pub fn delay_wording(&self, parsed: &Parsed) -> Option<bool> {
        let subject = parsed.subject.as_str();
        let body = prefix(&self.error_text, 32 * 1024);
        static FINAL: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(&[
            "gave up",
            "given up",
            "not going to try again",
            "this is a permanent error",
            "has been expired",
            "message expired",
            "queue.expired",
            "failed permanently",
            "permanent fatal error",
            "delivery has failed",
            "retry timeout exceeded",
            "retry time exceeded",
            "cannot send message for",
            "could not be delivered within",
            "has been returned",
        ]));
        static DELAY_SUBJECT: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(&[
            "delay",
            "warning:",
            "warning--",
            "warning -",
            ": warning",
            "still being retried",
            "not yet been delivered",
            "not yet delivered",
            "could not send message for past",
            "could not send mail for past",
        ]));
        static DELAY_BODY: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(&[
            "will continue to be attempted",
            "will keep trying",
            "hasn't been delivered yet",
            "has not been delivered yet",
            "has not yet been delivered",
            "not yet been delivered",
            "still being retried",
            "delivery attempts will continue",
            "this is a warning message only",
            "this is a warning only",
            "you do not need to resend",
            "no action is required on your part",
            "has been delayed",
            "delivery is delayed",
            "will be retried",
            "will retry",
            "still trying",
            "will try again",
            "temporarily deferred",
        ]));
        let says_final = FINAL.any(body) || FINAL.any(subject);
        let says_delay = DELAY_SUBJECT.any(subject) || DELAY_BODY.any(body);
        match (says_delay, says_final) {
            (true, false) => Some(true),
            (_, true) => Some(false),
            (false, false) => None,
        }
    }
}

fn has_code(s: &str) -> bool {
    status_code(s).is_some() || reply_code_str(s).is_some() || s.contains("connect to ") || s.to_ascii_lowercase().contains("said:")
}

/// A diagnostic as the contract keeps it: one line, the recipient's own address prefix dropped.
fn clean_diagnostic(para: &str, address: &str) -> String {
    let mut s = para.trim();
    for prefix in [format!("<{address}>:"), format!("{address}:"), format!("<{address}>..."), format!("{address} ")] {
        if s.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(&prefix)) {
            s = s[prefix.len()..].trim();
        }
    }
    let mut out: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > 1000 {
        let mut end = 1000;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

fn is_system_contact(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or("");
    matches!(local, "abuse" | "hostmaster" | "webmaster" | "support" | "help" | "noc" | "security") || addr.ends_with(".invalid") && local.starts_with("undisclosed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_have_boundaries() {
        assert_eq!(status_code("550 5.1.1 <a@b>").as_deref(), Some("5.1.1"));
        assert_eq!(status_code("host 192.5.1.1 said"), None);
        assert_eq!(status_code("Exim 4.96"), None);
        assert_eq!(status_code("550 5.4.316 Message expired").as_deref(), Some("5.4.316"));
        assert_eq!(status_code("(4.4.7)").as_deref(), Some("4.4.7"));
        assert_eq!(status_code("version 5.1.1.2"), None);
    }

    #[test]
    fn reply_codes_in_diagnostics() {
        assert_eq!(reply_code("smtp; 550 5.1.1 unknown").as_deref(), Some("550"));
        assert_eq!(reply_code("host x[1.2.3.4] said: 451 4.3.0 try later").as_deref(), Some("451"));
        assert_eq!(reply_code("returned '400 4.4.7 Message delayed'").as_deref(), Some("400"));
        assert_eq!(reply_code("connect to 127.0.0.1[127.0.0.1]:21008: Connection refused"), None);
        assert_eq!(reply_code("delayed 450 minutes"), None);
    }

    #[test]
    fn addresses_are_found_and_normalized() {
        let f = addresses_in("<Bob@Partner.Example>: host mx[192.0.2.1] said, contact a.b@c.example.");
        let got: Vec<_> = f.iter().map(|f| f.address.as_str()).collect();
        assert_eq!(got, vec!["Bob@partner.example", "a.b@c.example"]);
        assert_eq!(first_address("rfc822; <x@y.example>").as_deref(), Some("x@y.example"));
    }

    #[test]
    fn host_and_ip_split() {
        assert_eq!(host_or_ip("mx.example.com [192.0.2.1]"), (Some("mx.example.com".into()), Some("192.0.2.1".into())));
        assert_eq!(host_or_ip("[192.0.2.1]"), (None, Some("192.0.2.1".into())));
        assert_eq!(host_or_ip("mx.example.com."), (Some("mx.example.com".into()), None));
    }

    #[test]
    fn blocked_clients_are_ours() {
        let ips = blocked_client_ips("host mx[192.0.2.9] said: 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org");
        assert_eq!(ips, vec!["203.0.113.5".parse::<IpAddr>().unwrap()]);
    }
}
