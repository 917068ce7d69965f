//! RFC 3463 enhanced status codes and SMTP reply codes in notice text.

/// The first RFC 3463 enhanced status code (`4.4.7`, `5.1.1`, `5.4.316`) in a text, with
/// boundaries so that IP addresses and version numbers do not count.
pub fn status_code(text: &str) -> Option<String> {
    status_code_at(text).map(|(i, end)| text[i..end].to_string())
}

/// Where the first enhanced status code of `text` starts and ends (byte offsets).
fn status_code_at(text: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c == b'2' || c == b'4' || c == b'5')
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
        {
            if let Some(end) = match_status(b, i) {
                return Some((i, end));
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
    // Each search starts where the last code ended: one pass over the text. (Searching for
    // the code's text again from the start found "5.1.1" inside an earlier "5.1.1.1" and
    // made a run of such numbers quadratic.)
    let mut out = Vec::new();
    let mut from = 0;
    while let Some((start, end)) = status_code_at(&text[from..]) {
        out.push(text[from + start..from + end].to_string());
        from += end;
    }
    out
}

/// Chooses between a status and the codes a diagnostic quotes, as bounce tooling does: a
/// vague status (`X.0.0`) gives way to the diagnostic's last precise code of the same class;
/// with `prefer_diagnostic`, any differing precise code of the same class wins too (the remote
/// server's own code is more specific than the reporting MTA's summary), and a code whose
/// class agrees with the diagnostic's reply code wins over a status of the other class.
pub fn refine_status(
    status: Option<String>,
    diagnostic: Option<&str>,
    prefer_diagnostic: bool,
) -> Option<String> {
    let Some(diag) = diagnostic else { return status };
    let codes: Vec<String> = status_codes(diag)
        .into_iter()
        .filter(|c| !c.ends_with(".0.0"))
        .collect();
    let Some(status) = status else {
        return codes.last().cloned().or_else(|| status_code(diag));
    };
    let class = status.as_bytes().first().copied();
    let same_class: Vec<&String> = codes
        .iter()
        .filter(|c| c.as_bytes().first().copied() == class)
        .collect();
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
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric()
                    || matches!(b[i - 1], b'.' | b':' | b'[' | b'-' | b'/' | b'+')))
            && matches!(
                b.get(i + 3),
                None | Some(b' ') | Some(b'-') | Some(b'\t') | Some(b'\'') | Some(b'"') | Some(b')')
            )
            && !(b.get(i + 3) == Some(&b'-') && b.get(i + 4).is_some_and(|c| c.is_ascii_digit()))
        {
            // Prefer codes in a reply position; accept any bounded 3-digit code followed by a
            // status code or text.
            let rest = &text[i + 3..];
            let looks_reply = rest.trim_start_matches(['-', ' ']).starts_with(|ch: char| {
                ch.is_ascii_digit() || ch.is_ascii_alphabetic() || ch == '<' || ch == '\'' || ch == '"'
            }) || rest.is_empty();
            if looks_reply && !followed_by_unit(rest) {
                return Some(&text[i..i + 3]);
            }
        }
        i += 1;
    }
    None
}

/// Whether a number is followed by a unit word ("5 minutes"), so is not a reply code. Looks
/// at the next few bytes only, without copying the rest of the text.
fn followed_by_unit(rest: &str) -> bool {
    let r = rest.trim_start().as_bytes();
    [
        "seconds", "minutes", "hours", "days", "bytes", "kb", "mb", "times", "messages",
    ]
    .iter()
    .any(|u| r.len() >= u.len() && r[..u.len()].eq_ignore_ascii_case(u.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_have_boundaries() {
        assert_eq!(status_code("550 5.1.1 <a@b>").as_deref(), Some("5.1.1"));
        assert_eq!(status_code("host 192.5.1.1 said"), None);
        assert_eq!(status_code("Exim 4.96"), None);
        assert_eq!(
            status_code("550 5.4.316 Message expired").as_deref(),
            Some("5.4.316")
        );
        assert_eq!(status_code("(4.4.7)").as_deref(), Some("4.4.7"));
        assert_eq!(status_code("version 5.1.1.2"), None);
        assert_eq!(
            status_code("550 5.7.26 <a@b.example>: rejected").as_deref(),
            Some("5.7.26")
        );
    }

    #[test]
    fn reply_codes_in_diagnostics() {
        assert_eq!(reply_code("smtp; 550 5.1.1 unknown").as_deref(), Some("550"));
        assert_eq!(
            reply_code("host x[1.2.3.4] said: 451 4.3.0 try later").as_deref(),
            Some("451")
        );
        assert_eq!(
            reply_code("returned '400 4.4.7 Message delayed'").as_deref(),
            Some("400")
        );
        assert_eq!(
            reply_code("connect to 127.0.0.1[127.0.0.1]:21008: Connection refused"),
            None
        );
        assert_eq!(reply_code("delayed 450 minutes"), None);
    }

    #[test]
    fn status_refinement() {
        // A vague status yields to the diagnostic's precise code.
        assert_eq!(
            refine_status(Some("5.0.0".into()), Some("554 5.3.0 mailer error"), false).as_deref(),
            Some("5.3.0")
        );
        // With the remote server's own code preferred: expiry yields to the cause.
        assert_eq!(
            refine_status(
                Some("4.4.7".into()),
                Some("554 4.4.7 expired <421 4.4.2 timed out>"),
                true
            )
            .as_deref(),
            Some("4.4.2")
        );
        // A code of the other class does not replace the status.
        assert_eq!(
            refine_status(Some("5.4.7".into()), Some("500 4.4.7 QUEUE.Expired"), true).as_deref(),
            Some("5.4.7")
        );
    }
}
