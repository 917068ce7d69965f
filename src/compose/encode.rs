//! Encodings for the messages the bot writes: header values sanitized (no CR/LF injection,
//! length-limited), RFC 2047 words for non-ASCII, folded lines; quoted-printable and base64
//! bodies; plain text wrapped to 78 columns.

/// Longest header value kept from a notice (a subject, a name); longer is cut with "…".
pub const MAX_HEADER_VALUE: usize = 200;

/// Makes a value from a notice safe for a header: control characters (CR and LF above all)
/// become spaces, runs of white space collapse, and it is cut to [`MAX_HEADER_VALUE`] characters.
pub fn sanitize(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_HEADER_VALUE + 4));
    let mut last_space = true;
    let mut count = 0;
    for c in value.chars() {
        let c = if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            ' '
        } else {
            c
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                count += 1;
            }
            last_space = true;
        } else {
            out.push(c);
            count += 1;
            last_space = false;
        }
        if count >= MAX_HEADER_VALUE {
            out.push('…');
            break;
        }
    }
    out.trim().to_string()
}

/// Encodes an unstructured header value (a subject): ASCII stays as is; otherwise RFC 2047
/// base64 words of at most 75 characters, split on character boundaries.
pub fn encode_unstructured(value: &str) -> String {
    let value = sanitize(value);
    if value.is_ascii() && !value.contains("=?") {
        return value;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        // 45 bytes of UTF-8 become 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// A mailbox header value: `Display Name <addr@example>`, the name encoded and quoted as
/// needed, the address checked (no spaces, controls, angle brackets or quotes).
pub fn mailbox(name: Option<&str>, address: &str) -> Option<String> {
    let address = address.trim();
    if !crate::mailaddr::is_header_safe(address) {
        return None;
    }
    Some(match name.map(sanitize).filter(|n| !n.is_empty()) {
        None => format!("<{address}>"),
        Some(n) if n.is_ascii() => format!("\"{}\" <{address}>", n.replace(['"', '\\'], "")),
        Some(n) => format!("{} <{address}>", encode_unstructured(&n)),
    })
}

/// One header line, folded at white space so no line passes 78 characters where possible.
pub fn header(name: &str, value: &str) -> String {
    let mut out = String::new();
    let mut line_len = name.len() + 2;
    out.push_str(name);
    out.push_str(": ");
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 {
            if line_len + 1 + word.len() > 78 {
                out.push_str("\r\n ");
                line_len = 1;
            } else {
                out.push(' ');
                line_len += 1;
            }
        }
        out.push_str(word);
        line_len = match word.rfind('\n') {
            Some(p) => word.len() - p - 1,
            None => line_len + word.len(),
        };
    }
    out.push_str("\r\n");
    out
}

/// Base64 (standard alphabet, padded), without line breaks.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Base64 in 76-character lines, CRLF-terminated (a MIME body).
pub fn base64_lines(data: &[u8]) -> String {
    let encoded = base64(data);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// Quoted-printable (RFC 2045) for UTF-8 text with CRLF line breaks, lines ≤ 76 characters.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 11 / 10);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let bytes = line.as_bytes();
        let mut col = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let literal = (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece_len = if literal { 1 } else { 3 };
            if col + piece_len > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            if literal {
                out.push(b as char);
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('=');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
            col += piece_len;
        }
    }
    out
}

/// Wraps plain text to `width` columns at spaces (a word longer than the width stays whole);
/// line breaks in the text are kept.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / width.max(1));
    for (i, paragraph) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut col = 0;
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let w = word.chars().count();
            if col > 0 && col + 1 + w > width {
                out.push('\n');
                col = 0;
            } else if col > 0 {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += w;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_cannot_inject_headers() {
        let evil = "Hi\r\nBcc: victim@example.com\r\n\r\nbody";
        let s = sanitize(evil);
        assert!(!s.contains('\r') && !s.contains('\n'), "{s:?}");
        let h = header("Subject", &encode_unstructured(evil));
        assert_eq!(h.matches("\r\n").count(), 1, "{h:?}");
        assert!(!h.contains("\r\nBcc:"));
        assert!(mailbox(Some("x"), "a@b.example>\r\nBcc: v@x").is_none());
        assert!(mailbox(None, "not an address").is_none());
        let long = "x".repeat(10_000);
        assert!(sanitize(&long).chars().count() <= MAX_HEADER_VALUE + 1);
    }

    #[test]
    fn non_ascii_is_encoded_and_decodes_back() {
        let e = encode_unstructured("Prüfbericht → bob@partner.example — 山田");
        assert!(e.is_ascii());
        let decoded = crate::notice::mime::decode_words(&e.replace("\r\n", ""));
        assert_eq!(decoded, "Prüfbericht → bob@partner.example — 山田");
        for line in e.split("\r\n") {
            assert!(line.len() <= 76, "{line}");
        }
        assert_eq!(
            mailbox(Some("Jürgen"), "j@x.example").unwrap(),
            format!("{} <j@x.example>", encode_unstructured("Jürgen"))
        );
    }

    #[test]
    fn bodies() {
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        let qp = quoted_printable("✓ ok = fine \nnext");
        assert!(qp.is_ascii());
        assert_eq!(
            crate::notice::mime::quoted_printable(qp.as_bytes()),
            "✓ ok = fine \r\nnext".as_bytes()
        );
        let long = "a".repeat(200);
        assert!(quoted_printable(&long).split("\r\n").all(|l| l.len() <= 76));
        let w = wrap("The recipient's mail setup is broken: their domain cannot receive mail and nothing will change that soon.", 40);
        assert!(w.lines().all(|l| l.chars().count() <= 40), "{w}");
    }
}
