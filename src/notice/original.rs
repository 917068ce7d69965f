//! The original message a notice is about: its Message-ID, From, To, Subject and Date, read from
//! an attached `message/rfc822`, a `text/rfc822-headers` part, or headers quoted inline in the
//! notice's text.

use super::message::Parsed;
use super::{address, time, Original};
use super::message::parser;
use mail_parser::Message;
use std::net::IpAddr;

/// Finds the original message's headers: an attached part first, else an inline header block
/// in `quoted` (the notice text after its "original message" marker).
pub fn find(parsed: &Parsed, quoted: &str) -> Option<Original> {
    match parsed.original.clone() {
        Some(o) if !o.is_empty() => Some(o),
        _ => inline_block(quoted)
            .map(|b| from_header_block(&b))
            .filter(|o| !o.is_empty())
            .or_else(|| described(&parsed.texts)),
    }
}

/// Exim's warnings quote no headers but describe the message: "The subject of the message
/// is: …", "The date of the message is: …".
fn described(texts: &[String]) -> Option<Original> {
    let mut o = Original::default();
    for line in texts.iter().flat_map(|t| t.lines()).take(200) {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("The subject of the message is:") {
            o.subject = Some(v.trim().to_string()).filter(|s| !s.is_empty());
        } else if let Some(v) = t.strip_prefix("The date of the message is:") {
            o.date = time::rfc3339_from_rfc2822(v);
        }
    }
    (!o.is_empty()).then_some(o)
}

/// Reads the fields of a header section.
pub fn from_header_block(block: &str) -> Original {
    // CRLF throughout: the MIME parser misreads LF-only dates with zone names (see notice::crlf).
    let mut bytes = block.trim().replace("\r\n", "\n").replace('\n', "\r\n");
    bytes.push_str("\r\n\r\n");
    match parser().parse_headers(bytes.as_bytes()) {
        Some(m) => from_message(&m),
        None => Original::default(),
    }
}

/// Reads the fields of a parsed message.
pub fn from_message(m: &Message<'_>) -> Original {
    let addresses = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().and_then(address::normalize_address))
                .collect()
        })
        .unwrap_or_default()
    };
    Original {
        message_id: m
            .message_id()
            .map(|s| s.trim().trim_matches(['<', '>']).to_string())
            .filter(|s| !s.is_empty()),
        from: addresses(m.from()).into_iter().next(),
        to: addresses(m.to()),
        subject: m.subject().map(str::to_string).filter(|s| !s.trim().is_empty()),
        date: m
            .date()
            .filter(|d| d.is_valid())
            .map(|d| time::rfc3339_from_unix(d.to_timestamp())),
    }
}

/// IP addresses in a parsed message's Received headers.
pub fn received_ips_of(m: &Message<'_>) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for (name, value) in m.headers_raw() {
        if name.eq_ignore_ascii_case("Received") {
            for ip in address::bracketed_ips(value) {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// Finds a header block (lines `Name: value`, with continuation lines) in quoted text: it must
/// hold at least two of Message-ID, From, To, Subject, Date, Received, Return-Path.
fn inline_block(quoted: &str) -> Option<String> {
    let mut block = String::new();
    let mut known = 0;
    let mut started = false;
    for line in quoted.lines() {
        let l = line.trim_end_matches('\r');
        let is_field = l
            .split_once(':')
            .is_some_and(|(n, _)| !n.is_empty() && n.len() < 40 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let continuation = started && l.starts_with([' ', '\t']) && !l.trim().is_empty();
        if is_field || continuation {
            if is_field {
                let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
                if matches!(name.as_str(), "message-id" | "from" | "to" | "subject" | "date" | "received" | "return-path") {
                    known += 1;
                }
            }
            started = true;
            block.push_str(l);
            block.push('\n');
        } else if started && l.trim().is_empty() {
            if known >= 2 {
                break;
            }
            block.clear();
            known = 0;
            started = false;
        } else if started && known < 2 {
            block.clear();
            known = 0;
            started = false;
        } else if started {
            break;
        }
    }
    (known >= 2).then_some(block)
}

/// IP addresses in the Received headers of a header block (`[192.0.2.1]`, `(192.0.2.1)`,
/// `[IPv6:2001:db8::1]`), in order.
pub fn received_ips(block: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut in_received = false;
    for line in block.lines() {
        if !line.starts_with([' ', '\t']) {
            in_received = line.get(..9).is_some_and(|head| head.eq_ignore_ascii_case("received:"));
        }
        if in_received {
            for ip in address::bracketed_ips(line) {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inline_headers() {
        let q = "\nReceived: from a (10.0.0.1) by b\n with SMTP; Tue, 24 Nov 2026 04:11:38 +0000\nFrom: alice@corp.example\nTo: bob@partner.example\nSubject: =?UTF-8?Q?Caf=C3=A9?=\nDate: Tue, 24 Nov 2026 04:11:38 +0000\nMessage-ID: <a1@EX01>\n\nbody";
        let o = from_header_block(&inline_block(q).unwrap());
        assert_eq!(o.message_id.as_deref(), Some("a1@EX01"));
        assert_eq!(o.from.as_deref(), Some("alice@corp.example"));
        assert_eq!(o.to, vec!["bob@partner.example".to_string()]);
        assert_eq!(o.subject.as_deref(), Some("Café"));
        assert_eq!(o.date.as_deref(), Some("2026-11-24T04:11:38Z"));
        assert_eq!(received_ips(q), vec!["10.0.0.1".parse::<IpAddr>().unwrap()]);
    }
}
