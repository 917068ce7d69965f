//! Email commands: the user answers one of the bot's messages with one word — `support` (also
//! `escalate`, `forward`), `recheck`, `mute`, `status`, `help`. This module reads that word
//! (pure): the first line of the reply that is neither empty, nor quoted ("> …", "On … wrote:",
//! Outlook's "From: … Sent: …" block), nor a signature; HTML-only replies are read as text.
//! It also says which mail must never be answered (RFC 3834): auto-submitted mail, mailing
//! lists, and the bot's own messages.

use crate::notice::message::html_to_text;
use crate::notice::mime::{self, Leaf};

/// The header every message of the bot carries (besides `Auto-Submitted`), so that no bot —
/// this one or another instance — ever reads it as a notice or a command.
pub const BOT_HEADER: &str = "X-Bouncedoc";

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send the thread's package to Support now.
    Support,
    /// Diagnose again now and answer with the result.
    Recheck,
    /// No more messages about this thread.
    Mute,
    /// Messages about this thread again (undoes `mute`).
    Unmute,
    /// This mailbox's open delayed messages.
    Status,
    /// The list of commands.
    Help,
    /// Anything else (answered with the list of commands); the word as written.
    Unknown(String),
}

impl Command {
    /// The command's name, for logs and the record.
    pub fn name(&self) -> &str {
        match self {
            Command::Support => "support",
            Command::Recheck => "recheck",
            Command::Mute => "mute",
            Command::Unmute => "unmute",
            Command::Status => "status",
            Command::Help => "help",
            Command::Unknown(_) => "unknown",
        }
    }
}

/// Whether the receiving server vouches for the sender's domain (`commands.require_auth`):
/// the topmost `Authentication-Results` header (RFC 8601; receiving servers add theirs on top,
/// so a forged one from the sender sits below it) must carry `authserv_id` and show
/// `dmarc=pass` (header.from), `dkim=pass` (header.d / header.i) or `spf=pass`
/// (smtp.mailfrom) for `domain` or a subdomain. With `authserv_id` `exchange`, Exchange's own
/// marks count instead: `X-MS-Exchange-Organization-AuthAs: Internal` (Exchange removes
/// that header from mail arriving from outside), or its Authentication-Results written
/// without an authserv-id. Returns the method that passed, or why none did.
pub fn vouched(raw: &[u8], authserv_id: &str, domain: &str) -> Result<&'static str, String> {
    let (section, _) = mime::split(capped(raw));
    let exchange = authserv_id.eq_ignore_ascii_case("exchange");
    if exchange {
        // Exchange removes its X-MS-Exchange-Organization-* headers from mail arriving from
        // outside and writes its own: without one, Exchange did not vouch for anything here.
        match mime::find_header(section, "X-MS-Exchange-Organization-AuthAs") {
            Some(v) if v.trim().eq_ignore_ascii_case("internal") => return Ok("exchange-internal"),
            Some(_) => {}
            None => {
                return Err(
                    "no X-MS-Exchange-Organization-AuthAs header: Exchange did not pass this message".into(),
                )
            }
        }
    }
    let Some(value) = mime::find_header(section, "Authentication-Results") else {
        return Err("no Authentication-Results header".into());
    };
    let text = without_comments(&value);
    let mut parts = text.split(';').map(str::trim);
    let first = parts.next().unwrap_or("");
    let id = first.split_whitespace().next().unwrap_or("");
    let results: Vec<&str> = if id.contains('=') {
        // Exchange writes its results with no authserv-id.
        if !exchange {
            return Err("the topmost Authentication-Results names no authserv-id".into());
        }
        std::iter::once(first).chain(parts).collect()
    } else {
        if exchange || !id.eq_ignore_ascii_case(authserv_id) {
            return Err(format!(
                "the topmost Authentication-Results is from {id:?}, not {authserv_id:?}"
            ));
        }
        parts.collect()
    };
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ours = |value: &str| {
        let v = value.trim().trim_matches(['<', '>', '"']).to_ascii_lowercase();
        let d = v.rsplit_once('@').map_or(v.as_str(), |(_, d)| d);
        d == domain || d.ends_with(&format!(".{domain}"))
    };
    for result in results {
        let mut tokens = result.split_whitespace();
        let Some((method, verdict)) = tokens.next().and_then(|t| t.split_once('=')) else {
            continue;
        };
        if !verdict.eq_ignore_ascii_case("pass") {
            continue;
        }
        let props: Vec<(&str, &str)> = tokens.filter_map(|t| t.split_once('=')).collect();
        let prop = |name: &str| props.iter().any(|(k, v)| k.eq_ignore_ascii_case(name) && ours(v));
        match method.to_ascii_lowercase().as_str() {
            "dmarc" if prop("header.from") => return Ok("dmarc"),
            "dkim" if prop("header.d") || prop("header.i") => return Ok("dkim"),
            "spf" if prop("smtp.mailfrom") => return Ok("spf"),
            _ => {}
        }
    }
    Err(format!("no dmarc, dkim or spf pass for {domain}"))
}

/// A header value without its RFC 5322 comments (`(…)`, nested): what a comment says is not
/// a result.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if depth > 0 => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// At most the first [`crate::notice::MAX_NOTICE_BYTES`] of a message: what every reader of
/// outside bytes is limited to.
fn capped(raw: &[u8]) -> &[u8] {
    &raw[..raw.len().min(crate::notice::MAX_NOTICE_BYTES)]
}

/// Why a message must not be answered, if it must not.
pub fn never_answer(raw: &[u8]) -> Option<&'static str> {
    let (section, _) = mime::split(capped(raw));
    if mime::find_header(section, BOT_HEADER).is_some() {
        return Some("a bot's own message");
    }
    if let Some(v) = mime::find_header(section, "Auto-Submitted") {
        let v = v.trim().to_ascii_lowercase();
        if !v.is_empty() && !v.starts_with("no") {
            return Some("auto-submitted mail (RFC 3834)");
        }
    }
    if mime::find_header(section, "List-Id").is_some() || mime::find_header(section, "List-Post").is_some() {
        return Some("mailing-list mail");
    }
    if let Some(v) = mime::find_header(section, "Precedence") {
        let v = v.trim().to_ascii_lowercase();
        if ["bulk", "list", "junk"].contains(&v.as_str()) {
            return Some("bulk or list mail (Precedence)");
        }
        if v == "auto_reply" {
            return Some("an automatic reply (Precedence: auto_reply)");
        }
    }
    // Older autoresponders mark their mail with these instead of Auto-Submitted.
    if mime::find_header(section, "X-Autoreply").is_some()
        || mime::find_header(section, "X-Autorespond").is_some()
    {
        return Some("an automatic reply (X-Autoreply / X-Autorespond)");
    }
    None
}

/// The reply's text: its first text/plain part, else its HTML as text.
pub fn reply_text(raw: &[u8]) -> String {
    let (section, body) = mime::split(capped(raw));
    let leaves = mime::leaves(section, body);
    let mut html = None;
    for leaf in leaves {
        match leaf {
            Leaf::Text(t) if !t.trim().is_empty() => return t,
            Leaf::Html(h) if html.is_none() => html = Some(h),
            _ => {}
        }
    }
    html.map(|h| html_to_text(&h)).unwrap_or_default()
}

/// True for a line that starts quoted material: "> …", "On … wrote:", "Le … a écrit :",
/// Outlook's "From: …" / "-----Original Message-----" / a line of underscores.
fn starts_quote(line: &str) -> bool {
    let l = line.trim();
    let lower = l.to_ascii_lowercase();
    l.starts_with('>')
        || (lower.starts_with("on ") && lower.ends_with("wrote:"))
        || lower.ends_with("a écrit :")
        || lower.ends_with("schrieb:")
        || lower.starts_with("-----original message")
        || lower.starts_with("from:")
        || lower.starts_with("von:")
        || lower.starts_with("de :")
        || (l.len() >= 10 && l.chars().all(|c| c == '_'))
}

/// The command in a reply's text, if it has any words before the quote or signature.
pub fn parse_text(text: &str) -> Option<Command> {
    for line in text.lines() {
        let trimmed = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\u{a0}');
        if trimmed.is_empty() {
            continue;
        }
        // A signature ("-- ") or the quote begins before any word of the user's own.
        if line.trim_end() == "--" || line.starts_with("-- ") || starts_quote(trimmed) {
            return None;
        }
        let word: String = trimmed
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        return Some(match word.as_str() {
            "support" | "escalate" | "forward" => Command::Support,
            "recheck" => Command::Recheck,
            "mute" => Command::Mute,
            "unmute" => Command::Unmute,
            "status" => Command::Status,
            "help" => Command::Help,
            _ => Command::Unknown(word.chars().take(40).collect()),
        });
    }
    None
}

/// The command in a raw reply (text, or HTML read as text). A reply with no words of its own
/// counts as `help`.
pub fn parse(raw: &[u8]) -> Command {
    parse_text(&reply_text(raw)).unwrap_or(Command::Help)
}

/// The Message-IDs a reply refers to (In-Reply-To, then References), without brackets.
pub fn referenced_ids(raw: &[u8]) -> Vec<String> {
    let (section, _) = mime::split(capped(raw));
    let mut ids: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for name in ["In-Reply-To", "References"] {
        for value in mime::header_values(section, name) {
            for part in value.split('<').skip(1) {
                if let Some((id, _)) = part.split_once('>') {
                    let id = id.trim();
                    if !id.is_empty() && id.len() < 512 && seen.insert(id.to_string()) {
                        ids.push(id.to_string());
                        if ids.len() == MAX_REFERENCES {
                            return ids;
                        }
                    }
                }
            }
        }
    }
    ids
}

/// How many distinct Message-IDs of a reply are looked up at most (a real thread has a few).
pub const MAX_REFERENCES: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_own_line_holds_the_command() {
        assert_eq!(
            parse_text("support\n\nOn Fri, bot wrote:\n> Delayed"),
            Some(Command::Support)
        );
        assert_eq!(parse_text("  Escalate please!\r\n"), Some(Command::Support));
        assert_eq!(parse_text("\n\nFORWARD."), Some(Command::Support));
        assert_eq!(parse_text("Recheck"), Some(Command::Recheck));
        assert_eq!(parse_text("mute\n-- \nAlice"), Some(Command::Mute));
        assert_eq!(parse_text("STATUS"), Some(Command::Status));
        assert_eq!(parse_text("Unmute please"), Some(Command::Unmute));
        assert_eq!(parse_text("help"), Some(Command::Help));
        assert_eq!(parse_text("thanks!"), Some(Command::Unknown("thanks".into())));
        // Quoted text and signatures are not the user's words.
        assert_eq!(parse_text("> support\n"), None);
        assert_eq!(
            parse_text("On Fri, 27 Nov 2026, bouncedoc wrote:\n> recheck"),
            None
        );
        assert_eq!(parse_text("-- \nsupport"), None);
        assert_eq!(parse_text("From: bouncedoc\nSent: Friday\nsupport"), None);
        assert_eq!(parse_text("\u{feff}\u{a0}\nmute"), Some(Command::Mute));
    }

    #[test]
    fn html_only_replies_and_references() {
        let raw = b"From: alice@corp.test\r\nIn-Reply-To: <a@bot>\r\nReferences: <n@mx> <a@bot>\r\nContent-Type: text/html\r\n\r\n<html><body><div>Recheck</div><div><br></div><div id=\"divRplyFwdMsg\"><b>From:</b> bouncedoc</div></body></html>\r\n";
        assert_eq!(parse(raw), Command::Recheck);
        assert_eq!(referenced_ids(raw), vec!["a@bot".to_string(), "n@mx".to_string()]);
        let empty = b"From: alice@corp.test\r\n\r\n> quoted only\r\n";
        assert_eq!(parse(empty), Command::Help);
    }

    #[test]
    fn authentication_results_vouch_only_from_the_receiving_server() {
        let with = |headers: &str| format!("{headers}From: alice@corp.test\r\n\r\nsupport\r\n").into_bytes();
        let ok = with("Authentication-Results: mx.corp.test; dkim=pass (good; signature) header.d=corp.test header.s=k1; spf=fail smtp.mailfrom=corp.test\r\n");
        assert_eq!(vouched(&ok, "mx.corp.test", "corp.test"), Ok("dkim"));
        let dmarc =
            with("Authentication-Results: MX.corp.test 1; dmarc=pass (p=reject) header.from=corp.test\r\n");
        assert_eq!(vouched(&dmarc, "mx.corp.test", "corp.test"), Ok("dmarc"));
        let spf =
            with("Authentication-Results: mx.corp.test; spf=pass smtp.mailfrom=alice@mail.corp.test\r\n");
        assert_eq!(vouched(&spf, "mx.corp.test", "corp.test"), Ok("spf"));
        // Fails, another domain, another server, nothing at all.
        let fail = with("Authentication-Results: mx.corp.test; dkim=fail header.d=corp.test; dmarc=none header.from=corp.test\r\n");
        assert!(vouched(&fail, "mx.corp.test", "corp.test").is_err());
        let other = with("Authentication-Results: mx.corp.test; dkim=pass header.d=evilcorp.test\r\n");
        assert!(vouched(&other, "mx.corp.test", "corp.test").is_err());
        let forged = with("Authentication-Results: evil.example; dmarc=pass header.from=corp.test\r\n");
        assert!(vouched(&forged, "mx.corp.test", "corp.test").is_err());
        assert!(vouched(&with(""), "mx.corp.test", "corp.test").is_err());
        // A forged pass below the receiving server's own failing results does not count.
        let below = with("Authentication-Results: mx.corp.test; dkim=none\r\nAuthentication-Results: mx.corp.test; dkim=pass header.d=corp.test\r\n");
        assert!(vouched(&below, "mx.corp.test", "corp.test").is_err());
        // A pass inside a comment is not a result.
        let comment =
            with("Authentication-Results: mx.corp.test; dkim=neutral (dkim=pass header.d=corp.test)\r\n");
        assert!(vouched(&comment, "mx.corp.test", "corp.test").is_err());
        // Exchange: its internal mark, or its results without an authserv-id.
        let internal = with("X-MS-Exchange-Organization-AuthAs: Internal\r\n");
        assert_eq!(
            vouched(&internal, "exchange", "corp.test"),
            Ok("exchange-internal")
        );
        assert!(vouched(&internal, "mx.corp.test", "corp.test").is_err());
        let online = with("X-MS-Exchange-Organization-AuthAs: Anonymous\r\nAuthentication-Results: spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=corp.test; dkim=pass (signature was verified) header.d=corp.test;dmarc=pass action=none header.from=corp.test;compauth=pass reason=100\r\n");
        assert_eq!(vouched(&online, "exchange", "corp.test"), Ok("spf"));
        assert!(vouched(&online, "mx.corp.test", "corp.test").is_err());
        // Id-less results that Exchange did not write (no AuthAs header), or an id "exchange"
        // that Exchange never writes: a sender's own forgery.
        let forged = with("Authentication-Results: spf=pass smtp.mailfrom=corp.test\r\n");
        assert!(vouched(&forged, "exchange", "corp.test").is_err());
        let named = with("X-MS-Exchange-Organization-AuthAs: Anonymous\r\nAuthentication-Results: exchange; dmarc=pass header.from=corp.test\r\n");
        assert!(vouched(&named, "exchange", "corp.test").is_err());
    }

    #[test]
    fn what_is_never_answered() {
        assert!(never_answer(b"Auto-Submitted: auto-replied\r\n\r\nx").is_some());
        assert!(never_answer(b"Auto-Submitted: no\r\n\r\nx").is_none());
        assert!(never_answer(b"List-Id: <l.example>\r\n\r\nx").is_some());
        assert!(never_answer(b"Precedence: bulk\r\n\r\nx").is_some());
        assert!(never_answer(b"X-Bouncedoc: reply\r\n\r\nx").is_some());
        assert!(never_answer(b"Precedence: auto_reply\r\n\r\nx").is_some());
        assert!(never_answer(b"X-Autoreply: yes\r\n\r\nx").is_some());
        assert!(never_answer(b"X-Autorespond: Out of office\r\n\r\nx").is_some());
        assert!(never_answer(b"From: alice@corp.test\r\n\r\nsupport").is_none());
    }
}
