//! The remote server as MTAs name it in their text: Postfix `host mx[192.0.2.1] said:` and
//! `connect to mx[192.0.2.1]:25:`, Exim `host mx [192.0.2.1]:`, Sendmail `while talking to mx.:`.

use crate::notice::address;
use crate::notice::phrases::Phrases;
use crate::notice::Recipient;
use std::net::IpAddr;
use std::sync::LazyLock;

/// The phrases after which MTAs name the remote server: the first four entries of
/// `wording::REMOTE_KEYS` (one list, taken from there; the rest are qmail's).
pub const KEYS: &[&str] = crate::notice::wording::REMOTE_KEYS.split_at(4).0;

/// The server named right after key phrase `key` (an index into [`KEYS`]) ending at `end`:
/// `name[IP]`, `name [IP]`, `name (IP)`, or Sendmail's bare host.
pub fn named_at(text: &str, key: usize, end: usize) -> Option<(Option<String>, Option<IpAddr>)> {
    let rest = text.get(end..)?;
    let name_len = rest
        .bytes()
        .take(256)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        .count();
    let name = &rest[..name_len];
    let after_t = rest[name_len..].trim_start_matches([' ', '\t']);
    let ip = match after_t.as_bytes().first() {
        Some(b'[') | Some(b'(') => {
            let close = if after_t.starts_with('[') { b']' } else { b')' };
            // An IP literal fits in 64 bytes: look no further for the closing bracket.
            let inner = &after_t[1..];
            memchr::memchr(close, &inner.as_bytes()[..inner.len().min(64)])
                .map(|p| inner[..p].trim().trim_start_matches("IPv6:"))
                .and_then(|s| s.parse::<std::net::IpAddr>().ok())
        }
        _ => None,
    };
    let host = name.trim_end_matches('.').to_ascii_lowercase();
    let host_ok = host.contains('.') && host.parse::<std::net::IpAddr>().is_err();
    (ip.is_some() || (KEYS.get(key) == Some(&"while talking to ") && host_ok))
        .then(|| (host_ok.then_some(host), ip))
}

/// Finds the remote host and IP in a text (a diagnostic): the first phrase that names a
/// server with its IP (or Sendmail's host alone), else qmail's wording.
pub fn find(text: &str) -> (Option<String>, Option<IpAddr>) {
    static PHRASES: LazyLock<Phrases> = LazyLock::new(|| Phrases::dfa(KEYS));
    for (key, _, end) in PHRASES.find_iter(text) {
        if let Some(found) = named_at(text, key, end) {
            return found;
        }
    }
    qmail(text)
}

/// qmail: "Connected to 192.0.2.1 but …", "192.0.2.1 does not like recipient.",
/// "Giving up on 192.0.2.1."
pub fn qmail(text: &str) -> (Option<String>, Option<IpAddr>) {
    static KEYS: LazyLock<Phrases> =
        LazyLock::new(|| Phrases::new(&["connected to ", "giving up on ", " does not like "]));
    if !KEYS.any(text) {
        return (None, None);
    }
    for line in text.lines() {
        let t = line.trim();
        let candidate = if let Some(rest) = t
            .strip_prefix("Connected to ")
            .or_else(|| t.strip_prefix("Giving up on "))
        {
            rest.split([' ', ',']).next()
        } else if t.contains(" does not like ") {
            t.split(' ').next()
        } else {
            None
        };
        if let Some(ip) = candidate.and_then(|c| c.trim_end_matches('.').parse::<std::net::IpAddr>().ok()) {
            return (None, Some(ip));
        }
    }
    (None, None)
}

/// Fills a recipient's remote host and IP from its diagnostic, else from `in_block` (what its
/// text block names).
pub fn enrich(r: &mut Recipient, in_block: impl FnOnce() -> (Option<String>, Option<IpAddr>)) {
    if r.remote_host.is_some() && r.remote_ip.is_some() {
        return;
    }
    let (mut host, mut ip) = r.diagnostic.as_deref().map(find).unwrap_or((None, None));
    if host.is_none() && ip.is_none() {
        (host, ip) = in_block();
    }
    if r.remote_ip.is_none() {
        r.remote_ip = ip;
    }
    if r.remote_host.is_none() {
        r.remote_host = host.filter(|h| r.remote_ip.map(|ip| ip.to_string()).as_deref() != Some(h.as_str()));
    }
    if r.remote_ip.is_none() {
        if let Some(h) = r.remote_host.clone() {
            if let (_, Some(ip)) = address::host_or_ip(&h) {
                r.remote_ip = Some(ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_catalogs_first_four() {
        assert_eq!(
            KEYS,
            ["connect to ", "host ", "remote server at ", "while talking to "]
        );
    }

    #[test]
    fn postfix_exim_sendmail() {
        assert_eq!(
            find("connect to 127.0.0.1[127.0.0.1]:21008: Connection refused"),
            (None, Some("127.0.0.1".parse::<std::net::IpAddr>().unwrap()))
        );
        assert_eq!(
            find("host mx1.example.com[192.0.2.1] said: 550 5.1.1"),
            (
                Some("mx1.example.com".into()),
                Some("192.0.2.1".parse::<std::net::IpAddr>().unwrap())
            )
        );
        assert_eq!(
            find("    host mx.example.net [192.0.2.7]: 451 try later"),
            (
                Some("mx.example.net".into()),
                Some("192.0.2.7".parse::<std::net::IpAddr>().unwrap())
            )
        );
        assert_eq!(
            find("... while talking to mx.example.jp.:"),
            (Some("mx.example.jp".into()), None)
        );
        assert_eq!(
            find("192.0.2.80 does not like recipient.\nRemote host said: 550"),
            (None, Some("192.0.2.80".parse::<std::net::IpAddr>().unwrap()))
        );
        assert_eq!(
            find("Remote Server at mx1.partner.example (192.0.2.25) returned '400'"),
            (
                Some("mx1.partner.example".into()),
                Some("192.0.2.25".parse::<std::net::IpAddr>().unwrap())
            )
        );
    }
}
