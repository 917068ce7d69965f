//! The notice reader: raw RFC 5322 bytes → [`Notice`].
//!
//! Reading runs in layers, each owning one idea:
//! - [`message`] walks the MIME tree and sorts its parts (human text, delivery-status,
//!   the original message, feedback reports, read receipts);
//! - [`dsn`] reads RFC 3464 / RFC 6533 delivery-status fields;
//! - [`text`] reads the human-readable text every MTA writes (recipients, diagnostics,
//!   remote servers, delay wording), with [`formats`] for wording that belongs to one family;
//! - [`original`] finds the original message's headers;
//! - [`reason`] names the cause in the Sisimai vocabulary.
//!
//! [`read`] never panics and runs in time linear in the input (with a cap on what it scans).

pub use crate::mailaddr as address;
pub mod bounded;
pub mod codes;
pub mod dsn;
pub mod formats;
pub mod languages;
pub mod message;
pub mod mime;
pub mod original;
pub mod parsed;
pub mod phrases;
pub mod reason;
pub mod text;
pub mod time;
pub mod wording;

use serde::Serialize;
use std::net::IpAddr;

/// The largest input the reader looks at; bytes past it are ignored (bounded memory and time).
pub const MAX_NOTICE_BYTES: usize = 8 * 1024 * 1024;
/// The most recipients one notice reports (real notices list a handful).
pub const MAX_RECIPIENTS: usize = crate::mailaddr::MAX_ADDRESSES;

/// What kind of message a notice is: the contract's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// At least one recipient is still being retried and none has failed for good.
    Delayed,
    /// At least one recipient failed for good (including delivery-time expiry).
    Failed,
    /// A positive delivery report.
    Delivered,
    /// Relayed to a system that does not send reports.
    Relayed,
    /// Delivered to a list and expanded.
    Expanded,
    /// A vacation / out-of-office reply (RFC 3834).
    Autoreply,
    /// An ARF abuse / feedback-loop report (RFC 5965).
    Feedback,
    /// Not a notice at all (ordinary mail, read receipts).
    None,
}

impl Kind {
    /// The contract's word for the kind (`delayed`, `failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Delayed => "delayed",
            Kind::Failed => "failed",
            Kind::Delivered => "delivered",
            Kind::Relayed => "relayed",
            Kind::Expanded => "expanded",
            Kind::Autoreply => "autoreply",
            Kind::Feedback => "feedback",
            Kind::None => "none",
        }
    }
}

/// What happened to one recipient: RFC 3464 `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Delivery failed for good.
    Failed,
    /// Delivery is still being attempted.
    Delayed,
    /// Delivered.
    Delivered,
    /// Relayed onward without further reports.
    Relayed,
    /// Expanded to several recipients.
    Expanded,
}

impl Action {
    /// Reads an RFC 3464 action value (case-insensitive, tolerant of trailing comments).
    pub fn parse(value: &str) -> Option<Action> {
        let word = value
            .trim()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        match word.to_ascii_lowercase().as_str() {
            "failed" | "failure" => Some(Action::Failed),
            "delayed" | "delay" => Some(Action::Delayed),
            "delivered" => Some(Action::Delivered),
            "relayed" => Some(Action::Relayed),
            "expanded" => Some(Action::Expanded),
            _ => None,
        }
    }
}

/// The headers of the message the notice is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Original {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The sender's address.
    pub from: Option<String>,
    /// The addresses in To.
    pub to: Vec<String>,
    /// The decoded subject.
    pub subject: Option<String>,
    /// The Date header, UTC RFC 3339.
    pub date: Option<String>,
}

impl Original {
    /// True when nothing at all is known about the original message.
    pub fn is_empty(&self) -> bool {
        self.message_id.is_none()
            && self.from.is_none()
            && self.to.is_empty()
            && self.subject.is_none()
            && self.date.is_none()
    }
}

/// One recipient the notice reports on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The recipient's address, as written (domain lower-cased).
    pub address: String,
    /// What happened to it; `None` for autoreplies and feedback reports.
    pub action: Option<Action>,
    /// RFC 3463 enhanced status code, e.g. `4.4.7`.
    pub status: Option<String>,
    /// The SMTP reply code, e.g. `550`.
    pub reply_code: Option<String>,
    /// The cause in the Sisimai vocabulary (`userunknown`, `expired`, ...).
    pub reason: Option<String>,
    /// The remote server's host name.
    pub remote_host: Option<String>,
    /// The remote server's IP address.
    pub remote_ip: Option<IpAddr>,
    /// The most specific error text the notice gives for this recipient.
    pub diagnostic: Option<String>,
    /// Until when the sending server retries, UTC RFC 3339.
    pub retry_until: Option<String>,
    /// How long the sending server keeps trying, counted from the notice.
    pub remaining_seconds: Option<u64>,
}

/// A delay or failure notice as read: the contract `bouncedoc parse --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// What kind of message this is.
    pub kind: Kind,
    /// The software family that wrote it (`exchange`, `postfix`, `exim`, ...), when known.
    pub generator: Option<String>,
    /// The host that wrote the notice.
    pub reporting_mta: Option<String>,
    /// Public IPs of our own sending side found in the notice.
    pub sending_ips: Vec<IpAddr>,
    /// The message the notice is about, when the notice names it.
    pub original: Option<Original>,
    /// Every recipient the notice reports on, in the notice's order.
    pub recipients: Vec<Recipient>,
    /// The notice's language: its `Content-Language` (`fr-FR`), else the language whose
    /// wording it uses when that is not English; left out of the JSON when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// The notice's own identity: who received it and its Message-ID (what the bot's answer
/// threads onto and goes to). Not part of the JSON contract.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The notice's Message-ID, without brackets.
    pub message_id: Option<String>,
    /// The addresses in the notice's To (the mailbox's user, normally).
    pub to: Vec<String>,
    /// The addresses in its From.
    pub from: Vec<String>,
}

/// Reads a notice's own Message-ID, To and From from its header section.
pub fn envelope(raw: &[u8]) -> Envelope {
    let (section, _) = mime::split(&raw[..raw.len().min(MAX_NOTICE_BYTES)]);
    let h = mime::headers_kept(section, |n| {
        if n.eq_ignore_ascii_case("Message-ID")
            || n.eq_ignore_ascii_case("To")
            || n.eq_ignore_ascii_case("From")
        {
            mime::Keep::Value
        } else {
            mime::Keep::Skip
        }
    });
    Envelope {
        message_id: mime::header(&h, "Message-ID")
            .map(|v| v.trim().trim_matches(['<', '>']).trim().to_string())
            .filter(|v| !v.is_empty()),
        to: mime::header(&h, "To")
            .map(message::header_addresses)
            .unwrap_or_default(),
        from: mime::header(&h, "From")
            .map(message::header_addresses)
            .unwrap_or_default(),
    }
}

/// Why a file could not be read as mail at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    /// The input is empty.
    #[error("empty input")]
    Empty,
    /// The input has no RFC 5322 header section.
    #[error("not an email message (no header section found)")]
    NotMail,
}

/// Reads one raw message. Returns a [`Notice`] for anything that is mail (with
/// `kind: none` when it is not a notice) and an error only when the bytes are not mail.
pub fn read(raw: &[u8]) -> Result<Notice, ReadError> {
    read_at(raw, 0)
}

/// Longest diagnostic kept for a recipient.
const MAX_DIAGNOSTIC: usize = 1000;

/// How deep notices forwarded inside notices are followed.
const MAX_FORWARDS: usize = 2;

fn read_at(raw: &[u8], depth: usize) -> Result<Notice, ReadError> {
    let raw = &raw[..raw.len().min(MAX_NOTICE_BYTES)];
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty);
    }
    if !message::looks_like_mail(raw) {
        return Err(ReadError::NotMail);
    }
    let raw = crlf(raw);
    let parsed = message::Parsed::parse(&raw).ok_or(ReadError::NotMail)?;
    Ok(build(&parsed, depth))
}

/// Mail on the wire is CRLF; files are often LF; careless conversions leave CRCRLF. The reader
/// handles LF and CRLF alike; runs of CRs before a LF are collapsed here so that CRCRLF reads
/// the same too (without copying the common, clean input).
fn crlf(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memmem::find(raw, b"\r\r\n").is_none() {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut last = 0;
    for i in memchr::memchr_iter(b'\n', raw) {
        let crs = raw[last..i].iter().rev().take_while(|b| **b == b'\r').count();
        if crs > 1 {
            out.extend_from_slice(&raw[last..i - crs + 1]);
            out.push(b'\n');
            last = i + 1;
        }
    }
    out.extend_from_slice(&raw[last..]);
    std::borrow::Cow::Owned(out)
}

/// Turns the sorted parts of a message into a [`Notice`].
fn build(parsed: &message::Parsed, depth: usize) -> Notice {
    let scan = text::Scan::new(parsed);
    match message::classify(parsed, &scan) {
        message::Class::NotNotice => forwarded_inline(parsed, depth).unwrap_or_else(Notice::none),
        class => {
            let original = original::find(parsed, scan.quoted());
            match class {
                message::Class::Autoreply => autoreply(parsed, original),
                message::Class::Feedback => feedback(parsed, original),
                _ => notice(parsed, &scan, original, depth),
            }
        }
    }
}

impl Notice {
    fn none() -> Notice {
        Notice {
            kind: Kind::None,
            generator: None,
            reporting_mta: None,
            sending_ips: Vec::new(),
            original: None,
            recipients: Vec::new(),
            language: None,
        }
    }
}

fn autoreply(parsed: &message::Parsed, original: Option<Original>) -> Notice {
    let recipients = parsed
        .from
        .iter()
        .map(|a| Recipient {
            address: a.clone(),
            reason: Some("vacation".into()),
            ..Recipient::default()
        })
        .take(1)
        .collect();
    Notice {
        kind: Kind::Autoreply,
        generator: Some("rfc3834".into()),
        reporting_mta: None,
        sending_ips: Vec::new(),
        original,
        recipients,
        language: None,
    }
}

fn feedback(parsed: &message::Parsed, original: Option<Original>) -> Notice {
    let report = parsed.feedback.as_deref().unwrap_or("");
    let fields = dsn::fields(report);
    let mut addresses: Vec<String> = fields
        .iter()
        .filter(|(k, _)| {
            k.eq_ignore_ascii_case("Original-Rcpt-To") || k.eq_ignore_ascii_case("Removal-Recipient")
        })
        .filter_map(|(_, v)| address::first_address(v))
        .collect();
    if addresses.is_empty() {
        if let Some(o) = &original {
            addresses.extend(o.to.iter().cloned());
        }
    }
    address::dedup_addresses(&mut addresses);
    let source_ip = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Source-IP"))
        .and_then(|(_, v)| v.trim().parse::<IpAddr>().ok());
    let recipients = addresses
        .into_iter()
        .map(|address| Recipient {
            address,
            reason: Some("feedback".into()),
            remote_ip: None,
            ..Recipient::default()
        })
        .collect();
    Notice {
        kind: Kind::Feedback,
        generator: Some("arf".into()),
        reporting_mta: None,
        sending_ips: source_ip.filter(is_public).map(|ip| vec![ip]).unwrap_or_default(),
        original,
        recipients,
        language: None,
    }
}

/// The notice a gateway forwarded as an attachment, when the attachment is one.
fn forwarded_notice(parsed: &message::Parsed, depth: usize) -> Option<Notice> {
    if depth >= MAX_FORWARDS {
        return None;
    }
    let inner = read_at(parsed.attached.as_deref()?, depth + 1).ok()?;
    (inner.kind != Kind::None && inner.kind != Kind::Autoreply && !inner.recipients.is_empty())
        .then_some(inner)
}

/// A notice someone forwarded inline ("Fwd: Returned mail: …", the notice quoted below
/// "Begin forwarded message:" or "---------- Forwarded message ---------"): the quoted notice,
/// read as the message it was.
fn forwarded_inline(parsed: &message::Parsed, depth: usize) -> Option<Notice> {
    if depth >= MAX_FORWARDS {
        return None;
    }
    let subject = parsed.subject.trim_start();
    let (prefix, rest) = subject.split_once(':')?;
    if !matches!(
        prefix.trim().to_ascii_lowercase().as_str(),
        "fwd" | "fw" | "tr" | "wg" | "rv" | "i"
    ) || !wording::is_bounce_subject(rest)
    {
        return None;
    }
    let text = parsed.texts.first()?;
    let lower = text.to_ascii_lowercase();
    let at = [
        "begin forwarded message:",
        "forwarded message",
        "-----original message-----",
    ]
    .iter()
    .filter_map(|m| lower.find(m).map(|p| p + m.len()))
    .min()?;
    let after = &text[at..];
    let after = &after[after.find('\n').map_or(after.len(), |p| p + 1)..];
    // Quoted with "> ": one level off every line.
    let quoted = after
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(20)
        .all(|l| l.starts_with('>'));
    let mut inner = String::with_capacity(after.len());
    for line in after.lines() {
        let line = if quoted {
            line.strip_prefix("> ")
                .or_else(|| line.strip_prefix('>'))
                .unwrap_or(line)
        } else {
            line
        };
        if inner.is_empty() && line.trim().is_empty() {
            continue;
        }
        inner.push_str(line);
        inner.push('\n');
    }
    let notice = read_at(inner.as_bytes(), depth + 1).ok()?;
    (notice.kind != Kind::None && notice.kind != Kind::Autoreply && !notice.recipients.is_empty())
        .then_some(notice)
}

fn notice(parsed: &message::Parsed, scan: &text::Scan, original: Option<Original>, depth: usize) -> Notice {
    let mut report = dsn::Report::from_parts(&parsed.delivery_status);
    if report.recipients.is_empty() {
        let inline = dsn::Report::from_text(&parsed.texts);
        if !inline.recipients.is_empty() {
            report = inline;
        }
    }
    let generator = generator(parsed, scan, !report.recipients.is_empty());
    // Exchange's English wording, or Exchange's headers and language-neutral shape.
    let exchange_wording = scan.says(wording::List::Exchange, usize::MAX)
        || matches!(generator.as_deref(), Some("exchange" | "office365"))
        || scan.language().is_some();
    let remote_wording = scan.says(wording::List::Remote, usize::MAX);
    let exchange = if exchange_wording {
        formats::exchange::read(scan.error_text())
    } else {
        formats::exchange::Exchange::default()
    };

    let mut recipients: Vec<Recipient> = if !report.recipients.is_empty() {
        report
            .recipients
            .iter()
            .take(MAX_RECIPIENTS)
            .map(|r| r.to_recipient(&report))
            .collect()
    } else if let Some(ses) = formats::ses::read(scan.error_text()) {
        ses
    } else {
        let mut failed_header: Vec<String> = parsed
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("X-Failed-Recipients"))
            .flat_map(|(_, v)| v.split(',').filter_map(address::first_address))
            .take(MAX_RECIPIENTS)
            .collect();
        address::dedup_addresses(&mut failed_header);
        let mut excluded: Vec<String> = parsed
            .to
            .iter()
            .chain(parsed.from.iter())
            .map(|a| a.to_ascii_lowercase())
            .collect();
        if let Some(f) = original.as_ref().and_then(|o| o.from.as_ref()) {
            excluded.push(f.to_ascii_lowercase());
        }
        if let Some(a) = parsed
            .header("X-Postfix-Sender")
            .or(parsed.header("X-Original-Sender"))
            .and_then(address::first_address)
        {
            excluded.push(a.to_ascii_lowercase());
        }
        let mut found = scan.recipients(&failed_header, &excluded, &[]);
        if found.is_empty() {
            // Nothing in the text names a recipient. A gateway may have forwarded the real
            // notice as an attachment: read that. Else the original's To is the best guess.
            if let Some(inner) = forwarded_notice(parsed, depth) {
                return inner;
            }
            found = original.as_ref().map(|o| o.to.clone()).unwrap_or_default();
        }
        found
            .into_iter()
            .take(MAX_RECIPIENTS)
            .map(|address| Recipient {
                address,
                ..Recipient::default()
            })
            .collect()
    };

    // Only Exchange's notice about mail still queued says how long the server keeps trying
    // (another family's "for 5 days" may tell how long it tried).
    let from_exchange = matches!(generator.as_deref(), Some("exchange" | "office365"));
    let delay = scan
        .delay_wording(parsed)
        .or(exchange.remaining_seconds.filter(|_| from_exchange).map(|_| true));
    let notice_date = parsed.date_unix;
    for r in &mut recipients {
        if exchange_wording {
            exchange.enrich(r, &formats::exchange::read(&scan.block_for(&r.address)));
        }
        scan.enrich(r);
        let address = r.address.clone();
        formats::remote::enrich(r, || {
            if remote_wording {
                scan.remote_in_block(&address)
            } else {
                (None, None)
            }
        });
        if r.action.is_none() {
            r.action = Some(match delay {
                Some(true) => Action::Delayed,
                _ => Action::Failed,
            });
        }
        if r.reply_code.is_none() {
            r.reply_code = r.diagnostic.as_deref().and_then(codes::reply_code);
        }
        if r.reason.is_none() {
            r.reason = reason::classify(r.diagnostic.as_deref(), r.status.as_deref(), r.action);
        }
        if r.status.is_none() {
            r.status = derived_status(r);
        }
        if r.retry_until.is_none() && r.action == Some(Action::Delayed) {
            // Exchange's "for the next 1 days, 19 hours…" counted from the notice's Date.
            if let (Some(left), Some(now)) = (exchange.remaining_seconds, notice_date) {
                r.retry_until = i64::try_from(left)
                    .ok()
                    .and_then(|l| now.checked_add(l))
                    .map(time::rfc3339_from_unix);
            }
        }
        if r.remaining_seconds.is_none() && r.action == Some(Action::Delayed) {
            r.remaining_seconds = exchange.remaining_seconds.or_else(|| {
                let until = r.retry_until.as_deref().and_then(time::unix_from_rfc3339)?;
                let now = notice_date?;
                u64::try_from(until - now).ok()
            });
        }
    }

    for r in &mut recipients {
        if let Some(d) = r.diagnostic.as_mut() {
            // However a notice words it, a diagnostic is one server reply: at most 1,000 bytes.
            let keep = bounded::prefix(d, MAX_DIAGNOSTIC).len();
            d.truncate(keep);
        }
    }

    let kind = if recipients.iter().any(|r| r.action == Some(Action::Failed)) {
        Kind::Failed
    } else if recipients.iter().any(|r| r.action == Some(Action::Delayed)) {
        Kind::Delayed
    } else {
        // Every recipient has an action by now; none failed or is delayed.
        match recipients.first().and_then(|r| r.action) {
            Some(Action::Delivered) => Kind::Delivered,
            Some(Action::Relayed) => Kind::Relayed,
            Some(Action::Expanded) => Kind::Expanded,
            _ if delay == Some(true) => Kind::Delayed,
            _ => Kind::Failed,
        }
    };

    let reporting_mta = report
        .reporting_mta
        .clone()
        .or_else(|| exchange.generating_server.clone());
    let mut sending_ips = Vec::new();
    if let Some(ip) = reporting_mta
        .as_deref()
        .and_then(|m| m.trim_matches(['[', ']']).parse().ok())
    {
        push_public(&mut sending_ips, ip);
    }
    for ip in &parsed.original_received_ips {
        push_public(&mut sending_ips, *ip);
    }
    for ip in scan.blocked_client_ips() {
        push_public(&mut sending_ips, ip);
    }

    Notice {
        kind,
        generator,
        reporting_mta,
        sending_ips,
        original,
        recipients,
        language: language(parsed, scan),
    }
}

/// The notice's language: its `Content-Language` (a well-formed BCP 47 tag), else the
/// language whose Exchange wording its text uses.
fn language(parsed: &parsed::Parsed, scan: &text::Scan) -> Option<String> {
    let tag = parsed
        .header("Content-Language")
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|t| {
            (2..=35).contains(&t.len())
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && t.bytes()
                    .take_while(|b| *b != b'-')
                    .all(|b| b.is_ascii_alphabetic())
        });
    match tag {
        Some(t) => Some(t.to_string()),
        None => scan.language().map(|i| languages::LANGUAGES[i].tag.to_string()),
    }
}

/// Names the software that wrote the notice, when a marker says so; `rfc3464` for an
/// otherwise unknown notice with a delivery-status part; `None` when nothing says.
fn generator(parsed: &parsed::Parsed, scan: &text::Scan, has_dsn: bool) -> Option<String> {
    static MARKERS: std::sync::LazyLock<phrases::Labelled> =
        std::sync::LazyLock::new(|| phrases::Labelled::new(wording::FAMILIES));
    // Header names (X-Postfix-Queue-ID, X-Failed-Recipients, X-MS-Exchange-…), and the values
    // of the few headers that name the software.
    let names = parsed
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.len() > 2 && n.as_bytes()[..2].eq_ignore_ascii_case(b"x-"));
    let values = ["From", "Message-ID", "Content-Type", "X-Mailer"]
        .into_iter()
        .filter_map(|h| parsed.header(h));
    let from_headers = MARKERS.first_index(names.chain(values));
    let from_text = scan.family(8192);
    let best = match (from_headers, from_text) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match best {
        Some(i) => Some(wording::FAMILIES[i].0.to_string()),
        None => has_dsn.then(|| "rfc3464".to_string()),
    }
}

/// The status a recipient must have when the notice gives none: the class is known from the
/// reply code or the action, the detail is not (RFC 3463 `X.0.0`, "other or undefined").
fn derived_status(r: &Recipient) -> Option<String> {
    let class = r
        .reply_code
        .as_deref()
        .or_else(|| r.diagnostic.as_deref().and_then(codes::reply_code_str))
        .and_then(|c| c.chars().next())
        .filter(|c| *c == '4' || *c == '5')
        .or_else(|| {
            // An expiry means every attempt failed temporarily.
            let temporary = r.reason.as_deref() == Some("expired")
                || r.diagnostic
                    .as_deref()
                    .is_some_and(|d| d.to_ascii_lowercase().contains("temporar"));
            temporary.then_some('4')
        })
        .or(match r.action {
            Some(Action::Failed) => Some('5'),
            Some(Action::Delayed) => Some('4'),
            Some(Action::Delivered) | Some(Action::Relayed) | Some(Action::Expanded) => Some('2'),
            None => None,
        })?;
    Some(format!("{class}.0.0"))
}

/// Most sending IPs a notice reports (the checks look at fewer still).
const MAX_SENDING_IPS: usize = 32;

fn push_public(list: &mut Vec<IpAddr>, ip: IpAddr) {
    if list.len() < MAX_SENDING_IPS && is_public(&ip) && !list.contains(&ip) {
        list.push(ip);
    }
}

/// True for addresses that can be a public mail server: not private, loopback, link-local,
/// CGNAT, unspecified, multicast or unique-local.
pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || o[0] == 0
                || o[0] >= 240
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(&IpAddr::V4(v4));
            }
            // IPv4 inside IPv6 reaches that IPv4 address: NAT64 (64:ff9b::/96), 6to4
            // (2002::/16) and the old IPv4-compatible form (::/96).
            let o = v6.octets();
            let embedded = if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
                Some([o[12], o[13], o[14], o[15]])
            } else if s[0] == 0x2002 {
                Some([o[2], o[3], o[4], o[5]])
            } else if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                Some([o[12], o[13], o[14], o[15]])
            } else {
                None
            };
            if let Some(v4) = embedded {
                return is_public(&IpAddr::V4(v4.into()));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xfe00) == 0xfc00)
        }
    }
}

/// The JSON line `bouncedoc parse --json` prints for one file: `file`, then the notice's
/// fields in the contract's order. (Written out rather than `#[serde(flatten)]`, whose
/// buffering serializer was a tenth of the time `parse --json` took.)
pub struct ParseLine<'a> {
    /// The file name as given.
    pub file: &'a str,
    /// The notice.
    pub notice: &'a Notice,
}

impl Serialize for ParseLine<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let n = self.notice;
        let mut s = serializer.serialize_struct("ParseLine", 8)?;
        s.serialize_field("file", self.file)?;
        s.serialize_field("kind", &n.kind)?;
        s.serialize_field("generator", &n.generator)?;
        s.serialize_field("reporting_mta", &n.reporting_mta)?;
        s.serialize_field("sending_ips", &n.sending_ips)?;
        s.serialize_field("original", &n.original)?;
        s.serialize_field("recipients", &n.recipients)?;
        match &n.language {
            Some(l) => s.serialize_field("language", l)?,
            None => s.skip_field("language")?,
        }
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses() {
        for (ip, public) in [
            ("203.0.113.5", true),
            ("10.0.0.1", false),
            ("192.168.1.1", false),
            ("172.16.3.4", false),
            ("127.0.0.1", false),
            ("169.254.1.1", false),
            ("100.64.0.1", false),
            ("2001:db8::1", true),
            ("fe80::1", false),
            ("fd00::1", false),
            ("::1", false),
            ("::ffff:10.0.0.1", false),
            ("169.254.169.254", false),
            ("198.18.0.1", false),
            ("240.0.0.1", false),
            ("64:ff9b::a00:5", false),
            ("64:ff9b::cb00:7105", true),
            ("2002:a00:1::1", false),
            ("2002:cb00:7105::1", true),
            ("::10.0.0.5", false),
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(is_public(&parsed), public, "{ip}");
        }
    }

    #[test]
    fn lf_date_with_zone_name_keeps_next_header() {
        let raw = b"From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@y.example\nAction: failed\nStatus: 5.1.1\n\n--b\nContent-Type: message/rfc822\n\nDate: Thu, 20 Apr 2008 23:34:45 UT\nFrom: Sender <s@x.example>\nTo: a@y.example\n\nhi\n--b--\n";
        let n = read(raw).unwrap();
        assert_eq!(n.original.unwrap().from.as_deref(), Some("s@x.example"));
    }

    #[test]
    fn parse_line_is_file_then_the_notice() {
        let n = read(b"From: a@b.example\nSubject: hi\n\nhello\n").unwrap();
        let line = serde_json::to_value(ParseLine {
            file: "x.eml",
            notice: &n,
        })
        .unwrap();
        let mut want = serde_json::to_value(&n).unwrap();
        want.as_object_mut()
            .unwrap()
            .insert("file".into(), "x.eml".into());
        assert_eq!(line, want);
        let text = serde_json::to_string(&ParseLine {
            file: "x.eml",
            notice: &n,
        })
        .unwrap();
        assert!(
            text.starts_with(r#"{"file":"x.eml","kind":"none","generator":null"#),
            "{text}"
        );
    }

    #[test]
    fn not_mail_is_an_error() {
        assert_eq!(read(b""), Err(ReadError::Empty));
        assert_eq!(read(b"\x00\x01\x02 binary"), Err(ReadError::NotMail));
    }
}
