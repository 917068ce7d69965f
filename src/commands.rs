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
            Command::Status => "status",
            Command::Help => "help",
            Command::Unknown(_) => "unknown",
        }
    }
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
