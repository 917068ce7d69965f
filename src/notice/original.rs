//! The original message a notice is about: its Message-ID, From, To, Subject and Date, read from
//! an attached `message/rfc822`, a `text/rfc822-headers` part, or headers quoted inline in the
//! notice's text.

use super::mime;
use super::parsed::Parsed;
use super::{address, time, Original};
use crate::mailaddr::header_addresses;
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
    from_section(block.as_bytes())
}

/// Reads the fields of a raw header section (one pass over it).
pub fn from_section(section: &[u8]) -> Original {
    from_headers(&mime::headers_kept(section, keeps))
}

/// The headers of an original the reader uses.
pub fn keeps(name: &str) -> mime::Keep {
    if ["Message-ID", "From", "To", "Subject", "Date", "Received"]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
    {
        mime::Keep::Value
    } else {
        mime::Keep::Skip
    }
}

/// Reads the fields of parsed headers.
pub fn from_headers(h: &[mime::Header]) -> Original {
    let get = |name| mime::header(h, name);
    Original {
        message_id: get("Message-ID")
            .map(|s| s.trim().trim_matches(['<', '>']).trim().to_string())
            .filter(|s| !s.is_empty()),
        from: get("From").and_then(|v| header_addresses(v).into_iter().next()),
        to: get("To").map(header_addresses).unwrap_or_default(),
        subject: get("Subject")
            .map(mime::decode_words)
            .filter(|s| !s.trim().is_empty()),
        date: get("Date").and_then(time::rfc3339_from_rfc2822),
    }
}

/// IP addresses in the Received headers among parsed headers, in order.
pub fn received_ips_of(h: &[mime::Header]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for (name, value) in h {
        if name.eq_ignore_ascii_case("Received") {
            for ip in address::bracketed_ips(value) {
                if out.len() >= MAX_RECEIVED_IPS {
                    return out;
                }
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// Most distinct IPs taken from an original's Received chain (a real one has a handful).
const MAX_RECEIVED_IPS: usize = 32;

/// Finds a header block (lines `Name: value`, with continuation lines) in quoted text: it must
/// hold at least two of Message-ID, From, To, Subject, Date, Received, Return-Path.
fn inline_block(quoted: &str) -> Option<String> {
    let mut block = String::new();
    let mut known = 0;
    let mut started = false;
    // The quoted original's headers come first; a block further down is not its header.
    for line in quoted.lines().take(300) {
        let l = line.trim_end_matches('\r');
        let is_field = l.split_once(':').is_some_and(|(n, _)| {
            !n.is_empty() && n.len() < 40 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        let continuation = started && l.starts_with([' ', '\t']) && !l.trim().is_empty();
        if is_field || continuation {
            if is_field {
                let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
                if matches!(
                    name.as_str(),
                    "message-id" | "from" | "to" | "subject" | "date" | "received" | "return-path"
                ) {
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
        assert_eq!(
            received_ips_of(&mime::headers(q.trim_start().as_bytes())),
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }
}
