//! Mail addresses, host names and IP literals as mail writes them: in notices, in address
//! headers, in the configuration. A leaf module (it depends on nothing else of the crate):
//! the reader, the configuration and the composer share it.

use std::net::IpAddr;

/// Normalizes an address: strips brackets, quotes and `mailto:`, lower-cases the domain.
/// `None` when it is not `local@domain`.
pub fn normalize_address(raw: &str) -> Option<String> {
    let mut s = raw.trim();
    s = s.strip_prefix("mailto:").unwrap_or(s);
    s = s.trim_matches(['<', '>', '\'', '(', ')', '[', ']', ',', ';', ':', '.', ' ']);
    // Quotes around the whole address go; a quoted local part ("a b"@example.com) stays.
    let quoted_local =
        s.starts_with('"') && memchr::memmem::rfind(s.as_bytes(), b"\"@").is_some_and(|p| p > 0);
    if !quoted_local {
        s = s.trim_matches('"');
    }
    if s.len() > MAX_ADDRESS {
        return None;
    }
    let at = memchr::memrchr(b'@', s.as_bytes())?;
    let (local, domain) = (&s[..at], &s[at + 1..]);
    let bytes = s.as_bytes();
    if local.is_empty()
        || domain.is_empty()
        || bytes.iter().any(|c| c.is_ascii_control())
        || (!quoted_local && bytes.iter().any(|c| c.is_ascii_whitespace()))
    {
        return None;
    }
    // Letters, digits, dots, hyphens, underscores, and UTF-8 (internationalized names).
    if !domain
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c >= 0x80 || c == b'.' || c == b'-' || c == b'_')
    {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    out.push_str(local);
    out.push('@');
    out.push_str(domain);
    out[at + 1..].make_ascii_lowercase();
    Some(out)
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
pub struct Found {
    /// Byte offset where the address starts in the line.
    pub start: usize,
    /// Byte offset where it ends.
    pub end: usize,
    /// The normalized address.
    pub address: String,
}

/// Every address in a line, in order.
pub fn addresses_in(line: &str) -> Vec<Found> {
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
                out.push(Found {
                    start: s,
                    end: e,
                    address,
                });
            }
        }
        i = e.max(at + 1);
    }
    out
}

/// The first address in a value such as `rfc822; <a@b.example>`.
pub fn first_address(value: &str) -> Option<String> {
    // The common case: the value is just the address.
    let t = value.trim();
    if t.bytes().filter(|b| *b == b'@').count() == 1
        && !t.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ',' | ';'))
    {
        if let Some(a) = normalize_address(t) {
            return Some(a);
        }
    }
    addresses_in(value)
        .into_iter()
        .next()
        .map(|f| f.address)
        .or_else(|| normalize_address(value))
}

/// True for the conventional addresses of mail systems (MAILER-DAEMON, postmaster, Exchange's
/// `MicrosoftExchange…` system mailbox).
pub fn is_daemon_address(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or("").to_ascii_lowercase();
    local.starts_with("mailer-daemon")
        || local.starts_with("postmaster")
        || local.starts_with("microsoftexchange")
        || local == "mail-daemon"
        || local == "mailerdaemon"
        || local == "double-bounce"
        || local == "bounce"
        || local == "mdaemon"
        || local == "post_master"
}

/// Most addresses kept from one list (a notice's recipients are capped the same way).
pub const MAX_ADDRESSES: usize = 1000;

/// Splits a header value at `separator` outside double quotes.
pub fn split_unquoted(value: &str, separator: char) -> Vec<&str> {
    let sep = separator as u8;
    let bytes = value.as_bytes();
    let mut pieces = Vec::with_capacity(4);
    let mut start = 0;
    let mut quoted = false;
    for i in memchr::memchr2_iter(b'"', sep, bytes) {
        if bytes[i] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            pieces.push(&value[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&value[start..]);
    pieces
}

/// The addresses of an address header (`From`, `To`): for each comma-separated mailbox, the
/// address in angle brackets, else the bare one.
pub fn header_addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in split_unquoted(value, ',') {
        let inner = match (piece.rfind('<'), piece.rfind('>')) {
            (Some(l), Some(r)) if l < r => &piece[l + 1..r],
            _ => piece,
        };
        if let Some(a) = first_address(inner) {
            out.push(a);
        }
    }
    dedup_addresses(&mut out);
    out
}

/// Whether an address can be written into a header as it is: an `@`, at most 254 bytes, no
/// white space, controls, angle brackets, quotes, commas, semicolons or backslashes.
pub fn is_header_safe(address: &str) -> bool {
    address.contains('@')
        && address.len() <= 254
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';' | '\\'))
}

/// Removes case-insensitive duplicates, keeping the first.
///
/// The list is first cut to [`MAX_ADDRESSES`] entries: a hostile notice with a hundred
/// thousand addresses must not cost a quadratic pass.
pub fn dedup_addresses(list: &mut Vec<String>) {
    list.truncate(MAX_ADDRESSES);
    let mut i = 0;
    while i < list.len() {
        if list[..i].iter().any(|a| a.eq_ignore_ascii_case(&list[i])) {
            list.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Splits `host`, `[IP]`, `host [IP]` or `IP` into a host name and an IP address.
pub fn host_or_ip(value: &str) -> (Option<String>, Option<IpAddr>) {
    let v = value.trim();
    let ips = bracketed_ips(v);
    let bare = v.trim_matches(['[', ']']).trim_start_matches("IPv6:");
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return (None, Some(ip));
    }
    let host = v
        .split(|c: char| c.is_whitespace() || c == '[' || c == '(')
        .next()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty() && h.contains('.') && h.parse::<IpAddr>().is_err());
    (host, ips.first().copied())
}

/// Most IP addresses taken from one header value or line: a real Received chain names a few.
pub const MAX_IPS_PER_VALUE: usize = 64;

/// Longest address accepted (RFC 5321 allows 64 + 1 + 255 octets).
pub const MAX_ADDRESS: usize = 320;

/// IP addresses written in brackets or parentheses: `[192.0.2.1]`, `(192.0.2.1)`,
/// `[IPv6:2001:db8::1]`, and `host[192.0.2.1]`.
pub fn bracketed_ips(line: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    // For each bracket kind, the offset before which no closing bracket is left to find: the
    // bytes already searched in vain are not searched again, so a run of '(' costs one pass.
    let mut searched = [0usize; 2];
    for (i, &c) in b.iter().enumerate() {
        if out.len() >= MAX_IPS_PER_VALUE {
            break;
        }
        if c == b'[' || c == b'(' {
            let (close, kind) = if c == b'[' { (b']', 0) } else { (b')', 1) };
            // The longest IP literal ("IPv6:" and a full IPv6 address) fits in 64 bytes: the
            // closing bracket is looked for that far only.
            let end = b.len().min(i + 1 + 64);
            let from = (i + 1).max(searched[kind]);
            let found = memchr::memchr(close, &b[from.min(end)..end]).map(|p| from + p);
            if found.is_none() {
                searched[kind] = end;
            }
            if let Some(len) = found.map(|at| at - (i + 1)) {
                let inner = &line[i + 1..i + 1 + len];
                let inner = inner
                    .trim()
                    .trim_start_matches("IPv6:")
                    .trim_start_matches("ipv6:");
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
        if (c.is_ascii_hexdigit() || c == b':')
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.' || b[i - 1] == b':'))
        {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_found_and_normalized() {
        let f = addresses_in("<Bob@Partner.Example>: host mx[192.0.2.1] said, contact a.b@c.example.");
        let got: Vec<_> = f.iter().map(|f| f.address.as_str()).collect();
        assert_eq!(got, vec!["Bob@partner.example", "a.b@c.example"]);
        assert_eq!(
            first_address("rfc822; <x@y.example>").as_deref(),
            Some("x@y.example")
        );
        let q = addresses_in("<\"neko....nyaan....\"@libsisimai.org>... User unknown");
        assert_eq!(q[0].address, "\"neko....nyaan....\"@libsisimai.org");
        assert_eq!(
            addresses_in("<jürgen@example.at>: said")[0].address,
            "jürgen@example.at"
        );
    }

    #[test]
    fn host_and_ip_split() {
        assert_eq!(
            host_or_ip("mx.example.com [192.0.2.1]"),
            (
                Some("mx.example.com".into()),
                Some("192.0.2.1".parse::<std::net::IpAddr>().unwrap())
            )
        );
        assert_eq!(
            host_or_ip("[192.0.2.1]"),
            (None, Some("192.0.2.1".parse::<std::net::IpAddr>().unwrap()))
        );
        assert_eq!(
            host_or_ip("mx.example.com."),
            (Some("mx.example.com".into()), None)
        );
    }
}
