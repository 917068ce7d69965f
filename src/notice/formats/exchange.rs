//! Exchange / Office 365 notice text: "Generating server:", "Receiving server: host (IP)",
//! "Remote Server at host (IP) returned '…'" (also dated, one per attempt), and "for the next
//! 1 days, 19 hours and 56 minutes".

use crate::notice::phrases::Phrases;
use crate::notice::Recipient;
use crate::notice::{address, codes};
use std::net::IpAddr;
use std::sync::LazyLock;

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

fn after_label<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let t = line.trim();
    t.get(..label.len())
        .filter(|head| head.eq_ignore_ascii_case(label))
        .map(|_| t[label.len()..].trim())
}

/// Reads Exchange's wording from a notice's error text.
pub fn read(text: &str) -> Exchange {
    let mut ex = Exchange::default();
    static ANY: LazyLock<Phrases> = LazyLock::new(|| {
        Phrases::new(&[
            "remote server",
            "for the next ",
            "generating server:",
            "receiving server:",
            "\n#",
        ])
    });
    if !ANY.any(text) {
        return ex;
    }
    for line in text.lines().take(4000) {
        // Exchange's lines are short; a hostile one is read only as far as a real one goes.
        let line = crate::notice::bounded::prefix(line, 4096);
        if let Some(v) = after_label(line, "Generating server:") {
            ex.generating_server = v.split_whitespace().next().map(str::to_string);
        } else if let Some(v) = after_label(line, "Receiving server:") {
            ex.receiving = address::host_or_ip(v);
        }
        static KEYS: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(&["remote server", "for the next "]));
        if !KEYS.any(line) && !line.trim_start().starts_with('#') {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(p) = lower.find("remote server") {
            let rest = &line[p + "remote server".len()..];
            let lrest = rest.to_ascii_lowercase();
            let Some(r) = lrest.find("returned") else { continue };
            let mut host = None;
            let mut ip = None;
            if let Some(at) = rest[..r].trim().strip_prefix("at ") {
                (host, ip) = address::host_or_ip(at);
            }
            let quoted = rest[r + "returned".len()..].trim();
            let quoted = quoted.strip_prefix('\'').unwrap_or(quoted);
            let end = quoted.rfind('\'').unwrap_or(quoted.len());
            let reply = quoted[..end].trim().to_string();
            if !reply.is_empty() {
                ex.errors.push(RemoteError {
                    host,
                    ip,
                    text: reply,
                });
            }
        } else if line.trim_start().starts_with('#') && codes::status_code(line).is_some() {
            // Exchange 2007/2010: "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"
            let reply = line.trim().trim_matches('#').trim().to_string();
            ex.errors.push(RemoteError {
                host: None,
                ip: None,
                text: reply,
            });
        }
        if ex.remaining_seconds.is_none() {
            if let Some(p) = lower.find("for the next ") {
                ex.remaining_seconds = duration_words(&lower[p + "for the next ".len()..]);
            }
        }
    }
    ex
}

/// "1 days, 19 hours and 56 minutes" → seconds.
fn duration_words(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut found = false;
    let mut number: Option<u64> = None;
    for word in s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .take(12)
    {
        if let Ok(n) = word.parse::<u64>() {
            number = Some(n);
            continue;
        }
        let unit = if word.starts_with("day") {
            86_400
        } else if word.starts_with("hour") {
            3_600
        } else if word.starts_with("minute") {
            60
        } else if word == "and" {
            continue;
        } else {
            break;
        };
        let Some(n) = number.take() else { break };
        total = total.saturating_add(n.saturating_mul(unit));
        found = true;
    }
    found.then_some(total)
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
            if r.status.is_none() {
                r.status = errors.iter().find_map(|e| codes::status_code(&e.text));
            }
            if r.reply_code.is_none() {
                r.reply_code = errors.iter().find_map(|e| codes::reply_code(&e.text));
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
    fn durations() {
        assert_eq!(
            duration_words("23 hours and 56 minutes. you'll"),
            Some(23 * 3600 + 56 * 60)
        );
        assert_eq!(duration_words("1 day"), Some(86_400));
        assert_eq!(duration_words("few days"), None);
    }
}
