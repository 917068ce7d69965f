//! Exchange / Office 365 notice text in any language: "Generating server:", "Receiving
//! server: host (IP)", "Remote Server at host (IP) returned '…'" (also dated, one per attempt),
//! and "for the next 1 days, 19 hours and 56 minutes" — read by their shape, with the words
//! of [`languages`] only naming the labels and units.

use crate::notice::languages::{self, ServerLabel};
use crate::notice::Recipient;
use crate::notice::{address, codes};
use std::net::IpAddr;

/// One error Exchange quotes from a remote server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// The remote host, when named.
    pub host: Option<String>,
    /// The remote IP, when named.
    pub ip: Option<IpAddr>,
    /// The quoted reply.
    pub text: String,
}

/// What Exchange's text says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// "Generating server: X".
    pub generating_server: Option<String>,
    /// "Receiving server: host (IP)".
    pub receiving: (Option<String>, Option<IpAddr>),
    /// Every "Remote Server … returned '…'" line, in order.
    pub errors: Vec<RemoteError>,
    /// "for the next 1 days, 19 hours and 56 minutes", in seconds.
    pub remaining_seconds: Option<u64>,
}

/// A label line of Exchange's diagnostic block in any language: `Label: value`, `Libellé :
/// valeur` (French writes a space, in HTML a no-break space, before the colon), `ラベル：値`.
/// Returns the label and the value, both trimmed.
fn label_line(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_matches(|c: char| c.is_whitespace());
    // Labels are a few words: look for the colon in the first 80 bytes only.
    let head = crate::notice::bounded::prefix(t, 80);
    let (p, colon) = head
        .char_indices()
        .find(|(_, c)| *c == ':' || *c == '：')
        .map(|(p, c)| (p, c.len_utf8()))?;
    let label = t[..p].trim_matches(|c: char| c.is_whitespace());
    let value = t[p + colon..].trim_matches(|c: char| c.is_whitespace());
    let words = label.split_whitespace().count();
    let plain = !label.is_empty()
        && words <= 5
        && !label.contains(['@', '\'', '"', '(', '[', '<'])
        && !label.chars().any(|c| c.is_ascii_digit());
    (plain && !value.is_empty() && !value.starts_with("//")).then_some((label, value))
}

/// A value that is a server and nothing else: `host (IP)`, `host [IP]`, `[IP]`, or a host
/// name with a dot.
fn server_value(value: &str) -> Option<(Option<String>, Option<IpAddr>)> {
    let mut parts = value.split_whitespace();
    let first = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    if rest.len() > 1 || first.contains('@') {
        return None;
    }
    let (host, ip) = address::host_or_ip(value);
    let whole = rest.is_empty() || (rest[0].starts_with(['(', '[']) && rest[0].ends_with([')', ']']));
    (whole && (host.is_some() || ip.is_some())).then_some((host, ip))
}

/// Where a quoted server reply starts in a line (`'400 4.4.7 Message delayed'`), and the reply.
fn quoted_reply(line: &str) -> Option<(usize, &str)> {
    let b = line.as_bytes();
    for q in memchr::memchr_iter(b'\'', b) {
        let code = b.get(q + 1..q + 4)?;
        let after = b.get(q + 4).copied();
        if matches!(code[0], b'2'..=b'5')
            && code[1..].iter().all(u8::is_ascii_digit)
            && matches!(after, Some(b' ') | Some(b'-') | Some(b'\''))
        {
            let rest = &line[q + 1..];
            let end = rest.rfind('\'').unwrap_or(rest.len());
            return Some((q, rest[..end].trim()));
        }
    }
    None
}

/// The server named last before `end` of a line: `host (IP)` or `host [IP]` ("Remote Server at
/// mx (192.0.2.1) returned", "Le serveur distant mx (192.0.2.1) a retourné").
fn server_before(text: &str) -> (Option<String>, Option<IpAddr>) {
    let b = text.as_bytes();
    let mut end = b.len();
    // Look at the last few brackets only: a line of brackets costs no more than a real one.
    for _ in 0..8 {
        let Some(open) = memchr::memrchr2(b'(', b'[', &b[..end]) else {
            break;
        };
        end = open;
        // The host name just before the bracket (spaces between allowed).
        let before = text[..open].trim_end_matches([' ', '\t']);
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
            .map_or(0, |p| p + 1);
        if let Some((host, Some(ip))) = crate::notice::formats::remote::named_at(text, 0, start) {
            return (host, Some(ip));
        }
    }
    (None, None)
}

/// The retry period in a line of any language: numbers each followed by a unit word
/// ("1 days, 19 hours and 56 minutes", "1 jours, 19 heures et 58 minutes", "1日19時間58分"),
/// in seconds.
fn period(line: &str) -> Option<u64> {
    if !line.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut total = 0u64;
    let mut pairs = 0;
    let mut number: Option<u64> = None;
    let words = line
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '、' | '，' | '；' | ';'))
        .filter(|w| !w.is_empty())
        .flat_map(split_digits)
        .take(400);
    for word in words {
        if let Ok(n) = word.parse::<u64>() {
            if number.is_some() {
                // Two numbers in a row: whatever came before was not a period.
                total = 0;
                pairs = 0;
            }
            number = Some(n.min(100_000));
            continue;
        }
        let unit = languages::unit_seconds(word).or_else(|| cjk_unit_prefix(word));
        match (unit, number.take()) {
            (Some(secs), Some(n)) => {
                total = total.saturating_add(n.saturating_mul(secs));
                pairs += 1;
                if languages::unit_seconds(word).is_none() {
                    // A CJK unit followed by more text in the same word ends the period.
                    break;
                }
            }
            (None, None) if pairs > 0 && languages::is_and(word) => {}
            _ if pairs > 0 => break,
            _ => {
                total = 0;
                pairs = 0;
            }
        }
    }
    (pairs > 0).then_some(total)
}

/// Splits a word at the edges between ASCII digits and other characters ("1日19時間" → "1",
/// "日", "19", "時間"); Japanese and Chinese write no spaces there.
fn split_digits(word: &str) -> impl Iterator<Item = &str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut digit = None;
    for (i, c) in word.char_indices() {
        let d = c.is_ascii_digit();
        if digit.is_some_and(|was| was != d) {
            pieces.push(&word[start..i]);
            start = i;
        }
        digit = Some(d);
    }
    pieces.push(&word[start..]);
    pieces.into_iter()
}

/// A Japanese or Chinese unit at the start of a longer word ("分の間", "分钟内").
fn cjk_unit_prefix(word: &str) -> Option<u64> {
    if word.chars().next().is_none_or(|c| (c as u32) < 0x2E80) {
        return None;
    }
    let mut best: Option<(usize, u64)> = None;
    for lang in languages::LANGUAGES {
        for (units, secs) in [(lang.days, 86_400), (lang.hours, 3_600), (lang.minutes, 60)] {
            for u in units {
                if word.starts_with(u) && best.is_none_or(|(len, _)| u.len() > len) {
                    best = Some((u.len(), secs));
                }
            }
        }
    }
    best.map(|(_, secs)| secs)
}

/// Reads Exchange's diagnostic block, in any language, from a notice's error text: by its
/// structure (label lines naming a server, quoted server replies with the server before them,
/// a period of numbers and unit words), with [`languages`] naming the labels.
pub fn read(text: &str) -> Exchange {
    let mut ex = Exchange::default();
    // The last label line's value when it was a bare host name: the generating server when
    // the next label line names the receiving server.
    let mut previous_host: Option<String> = None;
    for line in text.lines().take(4000) {
        // Exchange's lines are short; a hostile one is read only as far as a real one goes.
        let line = crate::notice::bounded::prefix(line, 4096);
        if let Some((label, value)) = label_line(line) {
            let server = server_value(value);
            let host_only = matches!(server, Some((Some(_), None)));
            match languages::server_label(label) {
                Some(ServerLabel::Generating) => {
                    ex.generating_server = value.split_whitespace().next().map(str::to_string);
                }
                Some(ServerLabel::Receiving) => ex.receiving = address::host_or_ip(value),
                None => {
                    // An unknown label whose value is `host (IP)` is the receiving server;
                    // the label line just before it, naming a host alone, the generating one.
                    if let Some((host, Some(ip))) = server {
                        if ex.receiving == (None, None) {
                            ex.receiving = (host, Some(ip));
                            if ex.generating_server.is_none() {
                                ex.generating_server = previous_host.take();
                            }
                        }
                    }
                }
            }
            previous_host = host_only
                .then(|| value.split_whitespace().next().map(str::to_string))
                .flatten();
            continue;
        }
        if !line.trim().is_empty() {
            previous_host = None;
        }
        if let Some((q, reply)) = quoted_reply(line) {
            if !reply.is_empty() {
                let (host, ip) = server_before(&line[..q]);
                ex.errors.push(RemoteError {
                    host,
                    ip,
                    text: reply.to_string(),
                });
            }
            continue;
        }
        if line.trim_start().starts_with('#') && codes::status_code(line).is_some() {
            // Exchange 2007/2010: "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"
            let reply = line.trim().trim_matches('#').trim().to_string();
            ex.errors.push(RemoteError {
                host: None,
                ip: None,
                text: reply,
            });
            continue;
        }
        if ex.remaining_seconds.is_none() && !line.contains('@') {
            ex.remaining_seconds = period(line);
        }
    }
    ex
}

/// How specific an error is: an expiry or "Message delayed" says nothing of the cause.
fn specificity(e: &str) -> (u8, usize) {
    let lower = e.to_ascii_lowercase();
    let status = codes::status_code(e).unwrap_or_default();
    let generic = status.ends_with(".4.7")
        || lower.contains("message delayed")
        || lower.contains("queue.expired")
        || lower.contains("message expired");
    let vague = status.ends_with(".0.0") || status.is_empty();
    let rank = if generic {
        0
    } else if vague {
        1
    } else {
        2
    };
    (rank, e.len())
}

impl Exchange {
    /// Fills a recipient from Exchange's text: the most specific quoted error becomes the
    /// diagnostic; the remote server and remaining time fill what is missing.
    pub fn enrich(&self, r: &mut Recipient, block: &Exchange) {
        let errors = if block.errors.is_empty() {
            &self.errors
        } else {
            &block.errors
        };
        if let Some(best) = errors.iter().max_by_key(|e| specificity(&e.text)) {
            let better = match r.diagnostic.as_deref() {
                None => true,
                Some(d) => specificity(&best.text) > specificity(d),
            };
            if better {
                r.diagnostic = Some(best.text.clone());
            }
            // A final expiry ("QUEUE.Expired") names no cause; the last real error does.
            if r.action == Some(crate::notice::Action::Failed)
                && r.status.as_deref().is_some_and(|s| s.ends_with(".4.7"))
            {
                r.status = codes::refine_status(r.status.take(), Some(&best.text), true);
            }
            let named = errors.iter().find(|e| e.ip.is_some() || e.host.is_some());
            if let Some(n) = named {
                if r.remote_host.is_none() {
                    r.remote_host = n.host.clone();
                }
                if r.remote_ip.is_none() {
                    r.remote_ip = n.ip;
                }
            }
            // The status and reply code go with the diagnostic: the best error's first.
            if r.status.is_none() {
                r.status = codes::status_code(&best.text)
                    .or_else(|| errors.iter().find_map(|e| codes::status_code(&e.text)));
            }
            if r.reply_code.is_none() {
                r.reply_code = codes::reply_code(&best.text)
                    .or_else(|| errors.iter().find_map(|e| codes::reply_code(&e.text)));
            }
        }
        if r.remote_host.is_none() {
            r.remote_host = self.receiving.0.clone();
        }
        if r.remote_ip.is_none() {
            r.remote_ip = self.receiving.1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exchange_block() {
        let t = "Generating server: EX01.corp.example\nReceiving server: mx1.partner.example (192.0.2.25)\n\nbob@partner.example\nRemote Server at mx1.partner.example (192.0.2.25) returned '400 4.4.7 Message delayed'\n24/11/2026 08:11:58 - Remote Server at mx1.partner.example (192.0.2.25) returned '441 4.4.1 Error encountered while communicating with primary target IP address: \"Failed to connect.\"'\nThe server will keep trying to deliver this message for the next 1 days, 19 hours and 56 minutes.";
        let ex = read(t);
        assert_eq!(ex.generating_server.as_deref(), Some("EX01.corp.example"));
        assert_eq!(
            ex.receiving,
            (
                Some("mx1.partner.example".into()),
                Some("192.0.2.25".parse::<std::net::IpAddr>().unwrap())
            )
        );
        assert_eq!(ex.errors.len(), 2);
        assert_eq!(ex.remaining_seconds, Some(86_400 + 19 * 3_600 + 56 * 60));
        let mut r = Recipient {
            diagnostic: Some("400 4.4.7 Message delayed".into()),
            ..Recipient::default()
        };
        ex.enrich(&mut r, &ex);
        assert!(r.diagnostic.as_deref().unwrap().starts_with("441 4.4.1"));
        assert_eq!(r.remote_ip, "192.0.2.25".parse().ok());
    }

    #[test]
    fn periods_in_every_language() {
        let want = 86_400 + 19 * 3_600 + 58 * 60;
        for line in [
            "for the next 1 days, 19 hours and 58 minutes. You'll be notified",
            "pendant les prochains 1 jours, 19 heures et 58 minutes. Vous serez averti",
            "in den nächsten 1 Tage, 19 Stunden und 58 Minuten zuzustellen.",
            "durante los siguientes 1 días, 19 horas y 58 minutos. Se te notificará",
            "per i prossimi 1 giorni, 19 ore e 58 minuti.",
            "de komende 1 dagen, 19 uur en 58 minuten te bezorgen.",
            "durante os próximos 1 dias, 19 horas e 58 minutos.",
            "under de kommande 1 dagar, 19 timmar och 58 minuter.",
            "przez następne 1 dni, 19 godz. i 58 min.",
            "サーバーは、次の 1 日 19 時間 58 分の間、このメッセージの配信を試行し続けます。",
            "サーバーは、次の1日19時間58分の間、配信を試行し続けます。",
            "服务器将在接下来的 1 天 19 小时 58 分钟内继续尝试传递此邮件。",
        ] {
            assert_eq!(period(line), Some(want), "{line}");
        }
        assert_eq!(
            period("23 hours and 56 minutes. you'll"),
            Some(23 * 3600 + 56 * 60)
        );
        assert_eq!(period("1 day"), Some(86_400));
        assert_eq!(period("few days"), None);
        assert_eq!(period("Sent 24/11/2026 08:11"), None);
    }

    #[test]
    fn localized_remote_server_lines() {
        let t = "Serveur de génération : EX01.atelier.example\nServeur de réception : mx.atelier.example (192.0.2.200)\n\nbob@atelier.example\nLe serveur distant mx.atelier.example (192.0.2.200) a retourné '400 4.4.7 Message delayed'\n";
        let ex = read(t);
        assert_eq!(ex.generating_server.as_deref(), Some("EX01.atelier.example"));
        let ip = "192.0.2.200".parse::<IpAddr>().ok();
        assert_eq!(ex.receiving, (Some("mx.atelier.example".into()), ip));
        assert_eq!(ex.errors.len(), 1);
        assert_eq!(ex.errors[0].host.as_deref(), Some("mx.atelier.example"));
        assert_eq!(ex.errors[0].ip, ip);
        assert_eq!(ex.errors[0].text, "400 4.4.7 Message delayed");
        // Unknown labels: the structure alone names both servers.
        let t =
            "Сервер-генератор: EX02.corp.example\nПринимающий сервер: mx2.partner.example [198.51.100.9]\n";
        let ex = read(t);
        assert_eq!(ex.generating_server.as_deref(), Some("EX02.corp.example"));
        assert_eq!(ex.receiving.1, "198.51.100.9".parse::<IpAddr>().ok());
    }
}
