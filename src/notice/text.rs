//! Reading the human-readable text of a notice: where the error report ends and the quoted
//! original begins, which addresses are the failed recipients, their diagnostics and codes,
//! and whether the wording says "still trying" or "gave up".

use super::address::{addresses_in, ip_literals, Found};
use super::codes::{refine_status, reply_code_str, status_code};
use super::parsed::Parsed;
use super::phrases::{Hit, Phrases};
use super::wording::{self, Hits, List};
use super::Recipient;
use crate::mailaddr::is_daemon_address;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::LazyLock;

/// Most text the scanner reads from one notice (bounded time on huge bodies).
const MAX_TEXT: usize = 256 * 1024;
/// Most lines of an error report the scanner looks at.
const MAX_LINES: usize = 4000;
/// Most addresses taken from one line.
const MAX_PER_LINE: usize = 64;
/// Most candidate recipients kept per notice.
const MAX_CANDIDATES: usize = 1000;
/// Most bytes of a recipient's paragraph looked at (its diagnostic keeps 1,000).
const MAX_PARAGRAPH: usize = 4096;
/// Most lines, and bytes, of the text about one recipient (its block).
const MAX_BLOCK_LINES: usize = 64;
const MAX_BLOCK: usize = 16 * 1024;

pub use super::bounded::prefix;

/// IPs the remote server quoted as the client it refuses ("Client host [203.0.113.5] blocked
/// using …", "your IP 203.0.113.5 is listed"): these are our sending side.
fn blocked_client_ips(error_text: &str) -> Vec<IpAddr> {
    static WORDS: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(wording::CLIENT_REFUSAL_CONTEXT));
    let mut out = Vec::new();
    for line in error_text.lines().take(2000) {
        if !WORDS.any(line) {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        for (pos, ip) in ip_literals(line) {
            let before = lower[..pos].trim_end_matches(['[', '(', ' ', '"', '\'']);
            let client_context = [
                "client host",
                "client",
                "your ip",
                "ip address",
                "ip",
                "address",
                "sender ip",
                "from",
                "source",
            ]
            .iter()
            .any(|w| before.ends_with(w));
            if client_context && !out.contains(&ip) {
                out.push(ip);
                if out.len() >= 16 {
                    return out;
                }
            }
        }
    }
    out
}

/// True for a fenced line (`----- … -----`) that announces the quoted original, not a
/// section of the report ("Transcript of session follows", "The following addresses …").
fn is_original_fence(line: &str) -> bool {
    let trimmed = line.trim();
    let fenced = trimmed.starts_with("---") || trimmed.starts_with("===") || trimmed.starts_with("***");
    if !fenced {
        return false;
    }
    let l = trimmed.to_ascii_lowercase();
    if !(l.contains("message") || l.contains("header")) {
        return false;
    }
    let about_original = [
        "original",
        "copy",
        "returned",
        "unsent",
        "undelivered",
        "follow",
        "below",
        "attached",
        "included",
        "rejected",
    ]
    .iter()
    .any(|w| l.contains(w));
    let report_section = l.contains("transcript")
        || l.contains("following address")
        || l.contains("delivery report")
        || l.contains("error");
    about_original && !report_section
}

/// Bytes that may stand before a cut phrase on its line ("----- Original message -----").
fn is_fence_char(b: u8) -> bool {
    matches!(
        b,
        b'-' | b'=' | b'*' | b'#' | b'_' | b'>' | b' ' | b'\t' | b'|' | b'+' | b'\r'
    )
}

/// Whether a cut hit starts the quoted original, and at which line: a cut phrase opening its
/// line (after dashes and the like), a fence announcing the original, or (after some report
/// text) a header only an original carries.
fn cut_line(all: &str, h: &Hit) -> Option<usize> {
    let b = all.as_bytes();
    match h.list {
        l if l == List::Cut as u8 => {
            // Back over fence characters only: the hit opens its line when they reach the
            // line's start. (Searching back for the line break at every hit made one long
            // line of cut phrases quadratic.)
            let fence = b[..h.start]
                .iter()
                .rev()
                .take_while(|c| is_fence_char(**c))
                .count();
            let ls = h.start - fence;
            (ls == 0 || b[ls - 1] == b'\n').then_some(ls)
        }
        l if l == List::Fence as u8 => {
            let ls = h.start + 1;
            let le = all[ls..].find('\n').map_or(all.len(), |p| ls + p);
            is_original_fence(&all[ls..le]).then_some(ls)
        }
        _ => {
            let ls = h.start + 1;
            (!all[..ls].trim().is_empty()).then_some(ls)
        }
    }
}

/// How strongly a line's context says an address in it is a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Weak,
    Strong,
}

/// Lines whose addresses are senders or systems, never the failed recipient.
fn is_sender_line(lower: &str) -> bool {
    let t = lower.trim_start_matches(|c: char| c.is_whitespace() || c == '>' || c == '<');
    const STARTS: &[&str] = &[
        "from:",
        "sender:",
        "reply-to:",
        "return-path:",
        "reporting-mta",
        "received-from-mta",
        "x-postfix-sender",
        "x-original-sender",
        "envelope-from",
        "mail from",
        "subject:",
        "message-id:",
        "references:",
        "in-reply-to:",
        "date:",
        "by ",
        "received:",
        "arrival-date",
        "x-sender",
        "original-mail-from",
        "the message identifier",
        "the subject of the message",
        "the date of the message",
        "subject of the message",
    ];
    STARTS.iter().any(|s| t.starts_with(s))
        || lower.contains("sender ok")
        || lower.contains("mail from:")
        || lower.contains("envelope-from")
        || lower.contains("return-path")
        || lower.contains("sender address")
}

fn line_strength(line: &str, lower: &str, f: &Found) -> Strength {
    let before = lower[..f.start].trim_end_matches(['<', '"', '\'', ' ', '\t', '(', '[']);
    if before.is_empty()
        || before
            .trim_start_matches(['-', '*', '#', '>', ':', ' ', '\t'])
            .is_empty()
    {
        return Strength::Strong;
    }
    const CONTEXT: &[&str] = &[
        "rcpt to:",
        "rcpt to",
        "recipient",
        "recipients",
        "address",
        "addresses",
        "addressee",
        "to:",
        "to",
        "user",
        "mailbox",
        "failed:",
        "delivery to",
        "deliver to",
        "delivering to",
        "for",
        "destination",
        "account",
        "benutzer",
        "destinataire",
        "empfänger",
        "utente",
        "original-rcpt-to:",
        "final-recipient:",
        "rfc822;",
        "rfc822",
        "failed",
        "unknown",
        "message to",
        "mail to",
        "sent to",
    ];
    if CONTEXT.iter().any(|c| before.ends_with(c)) {
        return Strength::Strong;
    }
    // "<addr>... User unknown", "<addr>: host said", "addr: 550 …"
    let after = &line[f.end..];
    let after_t = after.trim_start_matches(['>', '"', '\'']);
    if after_t.starts_with("...") || after_t.starts_with(':') {
        return Strength::Strong;
    }
    if status_code(line).is_some() && line[..f.start].ends_with('<') {
        return Strength::Strong;
    }
    Strength::Weak
}

/// The human-readable half of a notice, scanned once.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every text part joined (each line preceded by a line break), capped at [`MAX_TEXT`].
    all: String,
    /// Where the quoted original begins in `all`; `all[..cut]` is the error report.
    cut: usize,
    /// Every phrase of every list found in `all`.
    hits: Hits,
    /// Lines of the error report, as ranges of `all`.
    lines: Vec<Range<usize>>,
    /// The same lines lower-cased (ASCII) when they hold an `@`, else empty: for
    /// case-insensitive address searches.
    lower: Vec<String>,
    /// Candidate recipients in order: (address, first line, strength).
    candidates: Vec<(String, usize, Strength)>,
    /// Which candidate (index into `candidates`) each lower-cased address is.
    index: std::collections::HashMap<String, usize>,
    /// Which lines carry an SMTP or status code (computed on first use).
    coded: std::cell::OnceCell<Vec<std::cell::Cell<Option<bool>>>>,
    /// The line each address looked up was found on (each text search runs once per
    /// address, however many times a recipient's details ask for it).
    line_of: std::cell::RefCell<std::collections::HashMap<String, Option<usize>>>,
    /// The first coded line that is not a sender line (computed on first use).
    first_coded: std::cell::OnceCell<Option<usize>>,
}

impl Scan {
    /// Scans a notice's text parts: one pass for every phrase, then the cut, the lines and
    /// the addresses in recipient positions.
    pub fn new(parsed: &Parsed) -> Scan {
        let mut all = String::with_capacity(
            parsed
                .texts
                .iter()
                .map(|t| t.len() + 1)
                .sum::<usize>()
                .min(MAX_TEXT)
                + 1,
        );
        for t in &parsed.texts {
            if all.len() >= MAX_TEXT {
                break;
            }
            all.push('\n');
            all.push_str(prefix(t, MAX_TEXT - all.len()));
        }
        all.push('\n');
        let (hits, cut) = Hits::find_until(&all, |h| cut_line(&all, h));
        let mut lines = Vec::new();
        let mut start = 0;
        for line in all[..cut].split_inclusive('\n') {
            let end = start + line.len();
            let text_end = end - line.len() + line.trim_end_matches(['\n', '\r']).len();
            if start > 0 || text_end > 0 {
                lines.push(start..text_end);
            }
            start = end;
            if lines.len() >= MAX_LINES {
                break;
            }
        }
        // The joined text starts with a line break: drop that empty first line.
        if lines.first().is_some_and(|r| r.is_empty()) {
            lines.remove(0);
        }
        let lower: Vec<String> = lines
            .iter()
            .map(|r| {
                let l = &all[r.clone()];
                if l.contains('@') {
                    l.to_ascii_lowercase()
                } else {
                    String::new()
                }
            })
            .collect();
        let mut candidates: Vec<(String, usize, Strength)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (i, r) in lines.iter().enumerate() {
            let line = &all[r.clone()];
            let lower_line = &lower[i];
            if lower_line.is_empty() || is_sender_line(lower_line) {
                continue;
            }
            for f in addresses_in(line).into_iter().take(MAX_PER_LINE) {
                if candidates.len() >= MAX_CANDIDATES {
                    break;
                }
                let strength = line_strength(line, lower_line, &f);
                match index.get(&f.address.to_ascii_lowercase()) {
                    Some(&k) => {
                        let c = &mut candidates[k];
                        if strength > c.2 {
                            c.2 = strength;
                            c.1 = i;
                        }
                    }
                    None => {
                        index.insert(f.address.to_ascii_lowercase(), candidates.len());
                        candidates.push((f.address.clone(), i, strength));
                    }
                }
            }
        }
        Scan {
            all,
            cut,
            hits,
            lines,
            lower,
            candidates,
            index,
            coded: std::cell::OnceCell::new(),
            line_of: std::cell::RefCell::new(std::collections::HashMap::new()),
            first_coded: std::cell::OnceCell::new(),
        }
    }

    /// True when line `i` carries an SMTP reply, a status code or a connection error.
    fn coded(&self, i: usize) -> bool {
        let cache = self
            .coded
            .get_or_init(|| vec![std::cell::Cell::new(None); self.lines.len()]);
        match cache[i].get() {
            Some(v) => v,
            None => {
                let v = has_code(self.line(i));
                cache[i].set(Some(v));
                v
            }
        }
    }

    /// The error report: the text before the quoted original.
    pub fn error_text(&self) -> &str {
        &self.all[..self.cut]
    }

    /// The quoted original (the text after the cut).
    pub fn quoted(&self) -> &str {
        &self.all[self.cut..]
    }

    fn line(&self, i: usize) -> &str {
        &self.all[self.lines[i].clone()]
    }

    /// True when a phrase of `list` occurs in the error report's first `max` bytes.
    pub fn says(&self, list: List, max: usize) -> bool {
        self.hits.any(list, 0..self.cut.min(max))
    }

    /// True when a notice marker occurs in the error report outside quoted (`>`) lines.
    pub fn has_unquoted_marker(&self) -> bool {
        // Hits come in text order: the line start is found by looking back only as far as
        // the previous hit (one pass, however many markers share a line).
        let b = self.all.as_bytes();
        let (mut line_start, mut looked) = (0, 0);
        self.hits.of(List::Marker, 0..self.cut).any(|h| {
            if h.start < looked {
                return false;
            }
            if let Some(p) = memchr::memrchr(b'\n', &b[looked..h.start]) {
                line_start = looked + p + 1;
            }
            looked = h.start;
            !self.all[line_start..h.start].trim_start().starts_with('>')
        })
    }

    /// The family whose wording the error report uses (index into `wording::FAMILIES`).
    pub fn family(&self, max: usize) -> Option<usize> {
        self.hits
            .of(List::Family, 0..self.cut.min(max))
            .map(|h| usize::from(h.index))
            .min()
    }

    /// The language (an index into `languages::LANGUAGES`) most of the error report's
    /// non-English notice wording is in, when it has any.
    pub fn language(&self) -> Option<usize> {
        let mut counts = [0usize; 32];
        for h in self.hits.of(List::Language, 0..self.cut) {
            if let Some(c) = counts.get_mut(usize::from(h.index)) {
                *c += 1;
            }
        }
        let (best, n) = counts
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, usize::MAX - i))?;
        (*n > 0).then_some(best)
    }

    /// IPs the remote server quoted as the client it refuses: our sending side.
    pub fn blocked_client_ips(&self) -> Vec<IpAddr> {
        if !self.says(List::Block, usize::MAX) {
            return Vec::new();
        }
        blocked_client_ips(self.error_text())
    }

    /// The failed recipients the text names: X-Failed-Recipients, else addresses in a
    /// recipient's position, else any address in the report, else the original's To.
    ///
    /// `excluded` are the notice's own From/To and the original sender: addresses that are
    /// recipients only when nothing else is (mail to oneself). System addresses (postmaster,
    /// MAILER-DAEMON) are treated the same way.
    pub fn recipients(
        &self,
        failed_header: &[String],
        excluded: &[String],
        original_to: &[String],
    ) -> Vec<String> {
        if !failed_header.is_empty() {
            return failed_header.to_vec();
        }
        let is_excluded = |a: &str| {
            let la = a.to_ascii_lowercase();
            excluded.contains(&la) || is_daemon_address(&la) || is_system_contact(&la)
        };
        let mut strong: Vec<(usize, String)> = self
            .candidates
            .iter()
            .filter(|c| c.2 == Strength::Strong && !is_excluded(&c.0))
            .map(|c| (c.1, c.0.clone()))
            .collect();
        strong.sort_by_key(|(i, _)| *i);
        if !strong.is_empty() {
            return strong.into_iter().map(|(_, a)| a).collect();
        }
        let weak: Vec<String> = self
            .candidates
            .iter()
            .filter(|c| !is_excluded(&c.0))
            .map(|c| c.0.clone())
            .collect();
        if !weak.is_empty() {
            return weak;
        }
        let mut fallback: Vec<(usize, String)> = self
            .candidates
            .iter()
            .filter(|c| c.2 == Strength::Strong)
            .map(|c| (c.1, c.0.clone()))
            .collect();
        fallback.sort_by_key(|(i, _)| *i);
        if !fallback.is_empty() {
            return fallback.into_iter().map(|(_, a)| a).collect();
        }
        original_to.to_vec()
    }

    fn line_of(&self, address: &str) -> Option<usize> {
        let la = address.to_ascii_lowercase();
        if let Some(&k) = self.index.get(&la) {
            return Some(self.candidates[k].1);
        }
        if let Some(found) = self.line_of.borrow().get(&la) {
            return *found;
        }
        let found = self.lower.iter().position(|l| l.contains(&la));
        self.line_of.borrow_mut().insert(la, found);
        found
    }

    /// The first line after `start` where another recipient is named (or the end).
    fn next_other_recipient(&self, start: usize, address: &str) -> usize {
        self.candidates
            .iter()
            .filter(|c| c.2 == Strength::Strong && c.1 > start && !c.0.eq_ignore_ascii_case(address))
            .map(|c| c.1)
            .min()
            .unwrap_or(self.lines.len())
    }

    /// The byte range (in the joined text) of the lines about one recipient.
    fn block_range(&self, address: &str) -> Option<Range<usize>> {
        let start = self.line_of(address)?;
        let next = self
            .next_other_recipient(start, address)
            .min(start + MAX_BLOCK_LINES);
        let first = self.lines.get(start)?;
        let last = self.lines.get(next.checked_sub(1)?)?;
        let mut end = last.end.max(first.start).min(first.start + MAX_BLOCK);
        while !self.all.is_char_boundary(end) {
            end -= 1;
        }
        Some(first.start..end)
    }

    /// The remote server the lines about one recipient name, found from the phrases the
    /// single pass already located (no second scan of the text).
    pub fn remote_in_block(&self, address: &str) -> (Option<String>, Option<IpAddr>) {
        let Some(range) = self.block_range(address) else {
            return (None, None);
        };
        let keys = crate::notice::formats::remote::KEYS.len();
        let mut qmail = false;
        // A recipient's block names its server once or twice: a few phrases are enough.
        for h in self.hits.of(List::Remote, range.clone()).take(16) {
            let index = usize::from(h.index);
            if index < keys {
                if let Some(found) = crate::notice::formats::remote::named_at(&self.all, index, h.end) {
                    return found;
                }
            } else {
                qmail = true;
            }
        }
        if qmail {
            return crate::notice::formats::remote::qmail(&self.all[range]);
        }
        (None, None)
    }

    /// The lines about one recipient: from its first mention in a recipient's position to
    /// the next other recipient's.
    pub fn block_for(&self, address: &str) -> String {
        let Some(start) = self.line_of(address) else {
            return String::new();
        };
        let next = self
            .next_other_recipient(start, address)
            .min(start + MAX_BLOCK_LINES);
        let mut out = String::new();
        for r in &self.lines[start..next] {
            if out.len() >= MAX_BLOCK {
                break;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&self.all[r.clone()]);
        }
        out
    }

    /// The paragraph that starts at an address's line: the line and the lines indented
    /// deeper than it (how Postfix, Exim and Sendmail wrap a recipient's error).
    fn paragraph_at(&self, start: usize) -> String {
        let first = self.line(start);
        let indent = first.len() - first.trim_start().len();
        // A diagnostic keeps 1,000 bytes: a few KB of its paragraph are plenty (each of a
        // thousand recipients may ask for a paragraph of a 256 KB line).
        let mut out = prefix(first.trim(), MAX_PARAGRAPH).to_string();
        for l in (start + 1..self.lines.len()).take(12).map(|i| self.line(i)) {
            let li = l.len() - l.trim_start().len();
            if out.len() >= MAX_PARAGRAPH || l.trim().is_empty() || li <= indent && !(indent == 0 && li > 0) {
                break;
            }
            out.push(' ');
            out.push_str(prefix(l.trim(), MAX_PARAGRAPH - out.len().min(MAX_PARAGRAPH)));
        }
        out
    }

    /// The error text about one recipient: its paragraph when that holds an error, else the
    /// first line of its block (or of the report) that carries an SMTP or status code.
    pub fn diagnostic_for(&self, address: &str) -> Option<String> {
        let start = self.line_of(address);
        if let Some(s) = start {
            let para = self.paragraph_at(s);
            if has_code(&para) {
                return Some(clean_diagnostic(&para, address));
            }
        }
        // Lines mentioning the address with a code (Sendmail transcripts).
        let la = address.to_ascii_lowercase();
        for i in 0..self.lines.len() {
            if self.lower[i].contains(&la) && self.coded(i) && Some(i) != start {
                return Some(clean_diagnostic(&self.paragraph_at(i), address));
            }
        }
        let (from, to) = match start {
            Some(s) => (s, self.next_other_recipient(s, address)),
            None => (0, self.lines.len()),
        };
        // An error first: a positive reply or a size in the block ("Size (in bytes): 222") is
        // not what went wrong.
        let error = |i: usize| {
            let line = self.line(i);
            status_code(line).is_some_and(|s| !s.starts_with('2'))
                || reply_code_str(line).is_some_and(|c| !c.starts_with('2'))
        };
        let coded = (from..to).filter(|&i| self.coded(i));
        if let Some(i) = coded.clone().find(|&i| error(i)) {
            return Some(clean_diagnostic(&self.paragraph_at(i), address));
        }
        let positive = coded.clone().next();
        if positive.is_some() && start.is_some() {
            // Only positive codes in the block: an error elsewhere in the report (a notice
            // that states its one error before the details) is the better answer.
            let elsewhere = (0..self.lines.len())
                .find(|&i| self.coded(i) && error(i) && !is_sender_line(&self.line(i).to_ascii_lowercase()));
            if let Some(i) = elsewhere.or(positive) {
                return Some(clean_diagnostic(&self.paragraph_at(i), address));
            }
        }
        // Anywhere in the report (a notice with one diagnostic for all).
        let first_coded = *self.first_coded.get_or_init(|| {
            (0..self.lines.len())
                .find(|&i| self.coded(i) && !is_sender_line(&self.line(i).to_ascii_lowercase()))
        });
        if let Some(i) = first_coded {
            return Some(clean_diagnostic(&self.paragraph_at(i), address));
        }
        // A paragraph after the address without codes ("User unknown").
        if let Some(s) = start {
            let para = self.paragraph_at(s);
            let rest = para.replace(address, "");
            let rest = rest.trim_matches(|c: char| !c.is_alphanumeric());
            if rest.len() > 3 {
                return Some(clean_diagnostic(&para, address));
            }
            for l in (s + 1..self.lines.len()).take(6).map(|i| self.line(i)) {
                let t = l.trim();
                if t.len() > 3 && !t.contains('@') && !t.ends_with(':') {
                    return Some(t.to_string());
                }
            }
            return None;
        }
        // The address is not in the text at all (Exim's "save to FILE", X-Failed-Recipients
        // only): the first indented paragraph after the opening prose is the error.
        let mut seen_prose = false;
        for i in 0..self.lines.len() {
            let l = self.line(i);
            if l.trim().is_empty() {
                continue;
            }
            if !l.starts_with([' ', '\t']) {
                seen_prose = true;
                continue;
            }
            if seen_prose {
                let mut para: Vec<&str> = Vec::new();
                for m in (i..self.lines.len()).take(12).map(|j| self.line(j)) {
                    if m.trim().is_empty() || !m.starts_with([' ', '\t']) {
                        break;
                    }
                    para.push(m.trim());
                }
                return Some(clean_diagnostic(&para.join(" "), address));
            }
        }
        None
    }

    /// Fills what the text knows and the recipient lacks: diagnostic, status, reply code.
    pub fn enrich(&self, r: &mut Recipient) {
        let vague = r.status.as_deref().is_some_and(|s| s.ends_with(".0.0"));
        if r.diagnostic.is_none() || vague {
            let text_diag = self.diagnostic_for(&r.address);
            if vague {
                // The report's code is vague: the text's own diagnostic may be precise.
                r.status = refine_status(r.status.take(), text_diag.as_deref(), false);
            }
            if r.diagnostic.is_none() {
                r.diagnostic = text_diag;
            }
        }
        if r.status.is_none() {
            r.status = r.diagnostic.as_deref().and_then(status_code);
        }
        if r.status.is_none() {
            let block = self.block_for(&r.address);
            r.status = status_code(&block);
        }
    }

    /// What the wording says: `Some(true)` still being retried, `Some(false)` given up,
    /// `None` when it says neither.
    pub fn delay_wording(&self, parsed: &Parsed) -> Option<bool> {
        let body = 0..self.cut.min(32 * 1024);
        let says_final = self.hits.any(List::Final, body.clone()) || wording::says_final(&parsed.subject);
        let says_delay = wording::is_delay_subject(&parsed.subject) || self.hits.any(List::Delay, body);
        match (says_delay, says_final) {
            (true, false) => Some(true),
            (_, true) => Some(false),
            (false, false) => None,
        }
    }
}

fn has_code(s: &str) -> bool {
    let digits = s.bytes().any(|b| b.is_ascii_digit());
    (digits && (status_code(s).is_some() || reply_code_str(s).is_some()))
        || s.contains("connect to ")
        || s.as_bytes().windows(5).any(|w| w.eq_ignore_ascii_case(b"said:"))
}

/// A diagnostic as the contract keeps it: one line, the recipient's own address prefix dropped.
fn clean_diagnostic(para: &str, address: &str) -> String {
    let mut s = prefix(para.trim(), MAX_PARAGRAPH);
    for prefix in [
        format!("<{address}>:"),
        format!("{address}:"),
        format!("<{address}>..."),
        format!("{address} "),
    ] {
        if s.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(&prefix))
        {
            s = s[prefix.len()..].trim();
        }
    }
    let mut out: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.len() > 1000 {
        let mut end = 1000;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

fn is_system_contact(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or("");
    matches!(
        local,
        "abuse" | "hostmaster" | "webmaster" | "support" | "help" | "noc" | "security"
    ) || addr.ends_with(".invalid") && local.starts_with("undisclosed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_clients_are_ours() {
        let ips = blocked_client_ips("host mx[192.0.2.9] said: 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org");
        assert_eq!(ips, vec!["203.0.113.5".parse::<IpAddr>().unwrap()]);
    }

    fn scan_of(text: &str) -> Scan {
        let parsed = Parsed {
            texts: vec![text.to_string()],
            ..Parsed::default()
        };
        Scan::new(&parsed)
    }

    #[test]
    fn cuts_at_the_quoted_original() {
        let s = scan_of("The mail system\n\n<a@x.example>: host mx[192.0.2.1] said: 550 5.1.1 unknown\n\n------ This is a copy of the message, including all the headers. ------\nFrom: b@y.example\n");
        assert!(s.error_text().contains("550 5.1.1"));
        assert!(!s.error_text().contains("This is a copy"));
        assert!(s.quoted().contains("From: b@y.example"));
        // "The original message was received at" is report text, not a cut.
        let s = scan_of("The original message was received at Thu, 29 Apr 2009\n----- The following addresses had permanent fatal errors -----\n<a@x.example>\n");
        assert!(s.error_text().contains("<a@x.example>"));
        // A header only an original has, after report text.
        let s = scan_of("<a@x.example>: 550 unknown\nReceived: from x by y\n");
        assert!(!s.error_text().contains("Received:"));
    }

    #[test]
    fn recipients_prefer_recipient_positions() {
        let s = scan_of("Please contact info@help.example.\n\n<a@x.example>: host mx[192.0.2.1] said: 550 5.1.1 unknown\n");
        assert_eq!(s.recipients(&[], &[], &[]), vec!["a@x.example".to_string()]);
        // The sender's own address is a recipient only when nothing else is.
        let s = scan_of("<me@x.example>: 550 mailbox full\n");
        assert_eq!(
            s.recipients(&[], &["me@x.example".to_string()], &[]),
            vec!["me@x.example".to_string()]
        );
    }
}
