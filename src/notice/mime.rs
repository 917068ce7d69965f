//! A lean MIME walker for notices: it finds the parts a notice reader needs (text, HTML,
//! delivery-status, feedback reports, the original's headers) and decodes only those. A full
//! MIME parser decodes every header and every part, the original message's body included; that
//! was three quarters of the reading time.
//!
//! Input is CRLF-normalized mail (see `notice::crlf`). Everything here is bounded: nesting depth,
//! part count, and the bytes looked at.

use mail_parser::decoders::charsets::map::charset_decoder;
use std::borrow::Cow;

/// How deep multiparts may nest before the walker stops descending.
const MAX_DEPTH: usize = 12;
/// Most parts the walker visits in one message.
const MAX_PARTS: usize = 256;

/// One header line, unfolded: name as written, value with folds turned into spaces.
pub type Header = (String, String);

/// Bytes as text: borrowed when valid UTF-8 (checked with the fast validator), else with
/// U+FFFD for each bad sequence.
pub fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Splits raw mail into its header section and body (at the first empty line).
pub fn split(raw: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    while i < raw.len() {
        let end = memchr::memchr(b'\n', &raw[i..]).map_or(raw.len(), |p| i + p);
        let line = &raw[i..end];
        if line == b"\r" || line.is_empty() {
            let body = (end + 1).min(raw.len());
            return (&raw[..i], &raw[body..]);
        }
        i = end + 1;
    }
    (raw, &[])
}

/// Longest header value kept (unfolded): a real one — a long References or
/// X-Failed-Recipients included — is far shorter; a hostile one is cut here, before any reader
/// looks at it.
pub const MAX_HEADER_VALUE: usize = 32 * 1024;

/// Reads a header section into unfolded `(name, value)` pairs, in order. Lines that are not
/// headers (no colon, or a name with spaces) are skipped.
pub fn headers(section: &[u8]) -> Vec<Header> {
    headers_kept(section, |_| Keep::Value)
}

/// How much of a header to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Name and value.
    Value,
    /// The name only (its value stays empty).
    Name,
    /// Nothing.
    Skip,
}

/// As [`headers`], keeping of each header what `keep` says: most of a notice's headers
/// (Received, DKIM-Signature, …) are long and never read.
pub fn headers_kept(section: &[u8], keep: impl Fn(&str) -> Keep) -> Vec<Header> {
    let mut out: Vec<Header> = Vec::with_capacity(16);
    let mut keeping = Keep::Skip;
    let mut pos = 0;
    while pos < section.len() {
        let end = memchr::memchr(b'\n', &section[pos..]).map_or(section.len(), |p| pos + p);
        let mut line = &section[pos..end];
        pos = end + 1;
        while let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if keeping == Keep::Value {
                if let Some((_, v)) = out.last_mut() {
                    let more = lossy(line);
                    let t = more.trim();
                    if !t.is_empty() && v.len() < MAX_HEADER_VALUE {
                        if !v.is_empty() {
                            v.push(' ');
                        }
                        v.push_str(t);
                    }
                }
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            keeping = Keep::Skip;
            continue;
        };
        let name = &line[..colon];
        let Ok(name) = std::str::from_utf8(name) else {
            keeping = Keep::Skip;
            continue;
        };
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b)) {
            keeping = Keep::Skip;
            continue;
        }
        keeping = keep(name);
        match keeping {
            Keep::Value => {
                let value = lossy(&line[colon + 1..]);
                let value = super::bounded::prefix(value.trim(), MAX_HEADER_VALUE);
                out.push((name.to_string(), value.to_string()));
            }
            Keep::Name => out.push((name.to_string(), String::new())),
            Keep::Skip => {}
        }
    }
    out
}

/// The first header called `name` (case-insensitive) in a raw header section, unfolded;
/// without building the whole header list (parts and originals need only a few headers).
pub fn find_header(section: &[u8], name: &str) -> Option<String> {
    header_values(section, name).next()
}

/// Every header called `name` (case-insensitive) in a raw header section, unfolded, in order.
pub fn header_values<'a>(section: &'a [u8], name: &'a str) -> impl Iterator<Item = String> + 'a {
    let n = name.len();
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < section.len() {
            let end = memchr::memchr(b'\n', &section[pos..]).map_or(section.len(), |p| pos + p);
            let line = &section[pos..end];
            pos = end + 1;
            if line.len() > n && line[n] == b':' && line[..n].eq_ignore_ascii_case(name.as_bytes()) {
                let mut value =
                    super::bounded::prefix(lossy(&line[n + 1..]).trim(), MAX_HEADER_VALUE).to_string();
                // Continuation lines.
                while pos < section.len() && matches!(section[pos], b' ' | b'\t') {
                    let end = memchr::memchr(b'\n', &section[pos..]).map_or(section.len(), |p| pos + p);
                    let more = lossy(&section[pos..end]);
                    let more = more.trim();
                    if !more.is_empty() && value.len() < MAX_HEADER_VALUE {
                        if !value.is_empty() {
                            value.push(' ');
                        }
                        value.push_str(more);
                    }
                    pos = end + 1;
                }
                return Some(value);
            }
        }
        None
    })
}

/// The first header with this name (case-insensitive).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A Content-Type value: `type/subtype` lower-cased, and its parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentType {
    /// `text/plain`, `multipart/report`, … (lower case).
    pub mime: String,
    /// Parameters, names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// Parses a Content-Type header value.
    pub fn parse(value: &str) -> ContentType {
        let mut parts = split_params(value);
        let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = parts
            .filter_map(|p| {
                let (n, v) = p.split_once('=')?;
                let v = v.trim();
                let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
                Some((n.trim().to_ascii_lowercase(), v.to_string()))
            })
            .collect();
        ContentType { mime, params }
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `a; b="x;y"; c` at semicolons outside quotes.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    split_unquoted(value, ';').into_iter()
}

pub use crate::mailaddr::split_unquoted;

/// What a part is for the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// Human-readable text (decoded).
    Text(String),
    /// HTML (decoded; still HTML).
    Html(String),
    /// A `message/(global-)delivery-status` body.
    DeliveryStatus(String),
    /// A `message/feedback-report` body.
    Feedback(String),
    /// A read receipt (`message/disposition-notification`).
    Disposition,
    /// The header section of the original message (attached or `text/rfc822-headers`).
    OriginalHeaders(Vec<u8>),
    /// A whole attached message (`message/rfc822`): the original, or a notice forwarded by a
    /// gateway.
    Attached(Vec<u8>),
}

/// Walks the MIME tree of a message (its raw header section and body) and returns its leaves
/// in order.
pub fn leaves(section: &[u8], body: &[u8]) -> Vec<Leaf> {
    leaves_of(
        find_header(section, "Content-Type").as_deref(),
        find_header(section, "Content-Transfer-Encoding").as_deref(),
        body,
    )
}

/// As [`leaves`], for a message whose Content-Type and Content-Transfer-Encoding are already
/// known (the top level, whose headers the reader parsed anyway).
pub fn leaves_of(content_type: Option<&str>, encoding: Option<&str>, body: &[u8]) -> Vec<Leaf> {
    let mut out = Vec::new();
    let mut budget = MAX_PARTS;
    walk(content_type, encoding, body, 0, false, &mut out, &mut budget);
    out
}

fn walk(
    content_type: Option<&str>,
    encoding: Option<&str>,
    body: &[u8],
    depth: usize,
    in_digest: bool,
    out: &mut Vec<Leaf>,
    budget: &mut usize,
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let ct = match content_type {
        Some(v) => ContentType::parse(v),
        None if in_digest => ContentType::parse("message/rfc822"),
        None => ContentType::parse("text/plain"),
    };
    let encoding = encoding.unwrap_or_default().trim().to_ascii_lowercase();
    let charset = ct.param("charset");
    let mime = ct.mime.as_str();
    if let Some(sub) = mime.strip_prefix("multipart/") {
        let boundary = ct.param("boundary").filter(|b| !b.is_empty());
        let parts = match boundary {
            Some(b) if depth < MAX_DEPTH => multipart_parts(body, b.as_bytes()),
            None if depth < MAX_DEPTH => match unstated_boundary(body) {
                Some(b) => multipart_parts(body, b),
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        if parts.is_empty() {
            // A multipart whose boundary never appears (damaged or anonymized): the body is
            // still the report, read as text rather than lost.
            out.push(Leaf::Text(decode_text(body, &encoding, None)));
            return;
        }
        for part in parts {
            let (part_section, part_body) = split(part);
            let part_ct = find_header(part_section, "Content-Type");
            let part_cte = find_header(part_section, "Content-Transfer-Encoding");
            walk(
                part_ct.as_deref(),
                part_cte.as_deref(),
                part_body,
                depth + 1,
                sub == "digest",
                out,
                budget,
            );
        }
        return;
    }
    match mime {
        "message/rfc822" | "message/global" => {
            let decoded = transfer_decode(body, &encoding);
            let (section, _) = split(&decoded);
            out.push(Leaf::OriginalHeaders(section.to_vec()));
            out.push(Leaf::Attached(decoded.into_owned()));
        }
        "text/rfc822-headers" | "message/global-headers" | "message/rfc822-headers" => {
            let decoded = transfer_decode(body, &encoding);
            let (section, _) = split(&decoded);
            out.push(Leaf::OriginalHeaders(section.to_vec()));
        }
        "message/delivery-status" | "message/global-delivery-status" => {
            out.push(Leaf::DeliveryStatus(decode_text(body, &encoding, Some("utf-8"))));
        }
        "message/feedback-report" => out.push(Leaf::Feedback(decode_text(body, &encoding, Some("utf-8")))),
        "message/disposition-notification" | "message/global-disposition-notification" => {
            out.push(Leaf::Disposition)
        }
        "text/html" => out.push(Leaf::Html(decode_text(body, &encoding, charset))),
        m if m.starts_with("text/") || m.is_empty() => {
            out.push(Leaf::Text(decode_text(body, &encoding, charset)))
        }
        _ => {}
    }
}

/// The boundary of a multipart whose Content-Type lost its `boundary` parameter (a folded
/// line written without its leading space, so the parameter ends the header section): the
/// first `--` line among the body's first few lines, past a stray `boundary=` line.
fn unstated_boundary(body: &[u8]) -> Option<&[u8]> {
    body.split(|b| *b == b'\n')
        .take(4)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with(b"boundary="))
        .and_then(|l| l.strip_prefix(b"--"))
        .filter(|b| !b.is_empty() && b.len() <= 200 && !b.ends_with(b"--"))
}

/// The bodies of a multipart's parts (between `--boundary` lines, up to `--boundary--`).
fn multipart_parts<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&delimiter);
    let mut starts: Vec<(usize, usize, bool)> = Vec::new(); // (line start, content start, closing)
    let mut from = 0;
    while let Some(p) = finder.find(&body[from..]) {
        let at = from + p;
        from = at + delimiter.len();
        let at_line_start = at == 0 || body[at - 1] == b'\n';
        if !at_line_start {
            continue;
        }
        let closing = body[from..].starts_with(b"--");
        let content = memchr::memchr(b'\n', &body[from..]).map_or(body.len(), |q| from + q + 1);
        starts.push((at, content, closing));
        if closing || starts.len() > MAX_PARTS {
            break;
        }
    }
    let mut parts = Vec::new();
    for w in 0..starts.len() {
        let (_, content, closing) = starts[w];
        if closing {
            break;
        }
        let end = match starts.get(w + 1) {
            // The line break before the next delimiter belongs to the delimiter.
            Some(&(next, _, _)) => {
                let mut e = next;
                if e > content && body[e - 1] == b'\n' {
                    e -= 1;
                }
                if e > content && body[e - 1] == b'\r' {
                    e -= 1;
                }
                e
            }
            None => body.len(),
        };
        parts.push(&body[content.min(end)..end]);
    }
    parts
}

/// Undoes a Content-Transfer-Encoding (base64, quoted-printable; anything else as is).
pub fn transfer_decode<'a>(body: &'a [u8], encoding: &str) -> Cow<'a, [u8]> {
    match encoding {
        "base64" => Cow::Owned(base64(body)),
        "quoted-printable" => Cow::Owned(quoted_printable(body)),
        _ => Cow::Borrowed(body),
    }
}

/// Decodes a text body to UTF-8: transfer encoding, then charset (unknown charsets and bad
/// bytes become U+FFFD rather than errors).
pub fn decode_text(body: &[u8], encoding: &str, charset: Option<&str>) -> String {
    match transfer_decode(body, encoding) {
        Cow::Owned(bytes) if is_ascii_compatible(charset) => match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => decode_charset(e.as_bytes(), charset),
        },
        bytes => decode_charset(&bytes, charset),
    }
}

/// Charsets whose valid-UTF-8 bytes mean the same text in UTF-8 (not UTF-16/7, ISO-2022).
fn is_ascii_compatible(charset: Option<&str>) -> bool {
    charset.is_none_or(|c| {
        let c = c.trim();
        let starts = |p: &str| c.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
        !(starts("utf-16") || starts("utf-7") || starts("utf-32") || c.contains("2022"))
    })
}

/// Decodes bytes in a named charset to UTF-8.
pub fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    if let Ok(s) = std::str::from_utf8(bytes) {
        // Valid UTF-8 is the common case (and ASCII is both).
        if is_ascii_compatible(charset) {
            return s.to_string();
        }
    }
    match charset.and_then(|c| charset_decoder(c.trim().as_bytes())) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Lenient base64: characters outside the alphabet are skipped, a ragged end is dropped.
pub fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Lenient quoted-printable: `=XX` decoded, soft line breaks removed, anything malformed kept
/// as written.
pub fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let hex = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'=', &input[i..]) {
        out.extend_from_slice(&input[i..i + p]);
        i += p;
        match (input.get(i + 1), input.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&a), Some(&b)) => match (hex(a), hex(b)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            },
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out.extend_from_slice(&input[i..]);
    out
}

/// Decodes RFC 2047 encoded words (`=?charset?B?…?=`, `=?charset?Q?…?=`) in a header value;
/// white space between two encoded words is dropped, as the RFC says.
pub fn decode_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, after) = rest.split_at(start);
        let Some((word, used)) = encoded_word(after) else {
            out.push_str(before);
            out.push_str("=?");
            rest = &after[2..];
            last_was_word = false;
            continue;
        };
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        out.push_str(&word);
        rest = &after[used..];
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

/// One encoded word at the start of `s`: its decoded text and its length.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    // RFC 2047: an encoded word is at most 75 characters; looking further for its '?' and
    // "?=" would make a run of "=?" quadratic.
    let s = super::bounded::prefix(s, 1024);
    let inner = s.strip_prefix("=?")?;
    let q1 = inner.find('?')?;
    let charset = inner[..q1].split('*').next().unwrap_or("");
    let rest = &inner[q1 + 1..];
    let mut chars = rest.chars();
    let kind = chars.next()?.to_ascii_uppercase();
    if chars.next()? != '?' {
        return None;
    }
    let text_start = q1 + 1 + 2;
    let end = inner[text_start..].find("?=")?;
    let text = &inner[text_start..text_start + end];
    if text.contains(' ') {
        return None;
    }
    let bytes = match kind {
        'B' => base64(text.as_bytes()),
        'Q' => quoted_printable(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    Some((decode_charset(&bytes, Some(charset)), 2 + text_start + end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_a_report() {
        let raw = b"Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"b;1\"\r\n\r\npreamble\r\n--b;1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe =\r\nhier\r\n--b;1\r\nContent-Type: message/delivery-status\r\n\r\nAction: delayed\r\n--b;1\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b.example\r\nSubject: x\r\n\r\nbody not read\r\n--b;1--\r\nepilogue";
        let (section, body) = split(raw);
        let h = headers(section);
        let ct = ContentType::parse(header(&h, "content-type").unwrap());
        assert_eq!(ct.mime, "multipart/report");
        assert_eq!(ct.param("boundary"), Some("b;1"));
        assert_eq!(
            find_header(section, "CONTENT-TYPE").as_deref(),
            Some("multipart/report; report-type=delivery-status; boundary=\"b;1\"")
        );
        let l = leaves(section, body);
        assert_eq!(l[0], Leaf::Text("Grüße hier".into()));
        assert_eq!(l[1], Leaf::DeliveryStatus("Action: delayed".into()));
        assert_eq!(
            l[2],
            Leaf::OriginalHeaders(b"From: a@b.example\r\nSubject: x\r\n".to_vec())
        );
        assert_eq!(
            l[3],
            Leaf::Attached(b"From: a@b.example\r\nSubject: x\r\n\r\nbody not read".to_vec())
        );
        assert_eq!(l.len(), 4);
    }

    #[test]
    fn decodes_words_and_bodies() {
        assert_eq!(
            decode_words("=?utf-8?Q?Delivery_delayed:Pr=C3=BCfbericht?="),
            "Delivery delayed:Prüfbericht"
        );
        assert_eq!(
            decode_words("=?UTF-8?B?5bGx55Sw?= =?UTF-8?B?5bGx55Sw?= x"),
            "山田山田 x"
        );
        assert_eq!(decode_words("plain =?bad"), "plain =?bad");
        assert_eq!(base64(b"aGVs\r\nbG8="), b"hello");
        assert_eq!(quoted_printable(b"a=3Db=\r\nc =ZZ"), b"a=bc =ZZ");
    }

    #[test]
    fn missing_boundaries_keep_the_body() {
        assert_eq!(
            leaves(
                b"Content-Type: multipart/mixed; boundary=zz\r\n",
                b"no parts here"
            ),
            vec![Leaf::Text("no parts here".into())]
        );
    }
}
