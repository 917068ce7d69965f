//! RFC 3464 (and RFC 6533) delivery-status fields: per-message fields, then one block per
//! recipient. Fields fold like headers; a new block starts at each `Final-Recipient` or
//! `Original-Recipient` that would repeat one already seen, so a missing blank line does not
//! merge two recipients.

use super::{address, codes, time, Action, Recipient};
use std::borrow::Cow;

/// Longest field value kept (a Diagnostic-Code quoting a long server reply is a few hundred
/// bytes; a hostile one is cut here).
pub const MAX_FIELD: usize = 8 * 1024;

/// `name: value` fields of a header-like block, unfolded, in order; an entry with an empty
/// name stands for a blank or non-field line (it keeps blocks apart).
pub fn fields(block: &str) -> Vec<(&str, Cow<'_, str>)> {
    let mut out: Vec<(&str, Cow<'_, str>)> = Vec::new();
    let mut blank_before = false;
    for raw in block.lines() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            blank_before = true;
            out.push(("", Cow::Borrowed("")));
            continue;
        }
        if line.starts_with([' ', '\t']) && !blank_before {
            if let Some((_, v)) = out.last_mut() {
                if v.len() < MAX_FIELD {
                    let v = v.to_mut();
                    v.push(' ');
                    v.push_str(super::bounded::prefix(line.trim(), MAX_FIELD));
                }
                continue;
            }
        }
        blank_before = false;
        if let Some(colon) = line.find(':') {
            let name = line[..colon].trim();
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                out.push((
                    name,
                    Cow::Borrowed(super::bounded::prefix(line[colon + 1..].trim(), MAX_FIELD)),
                ));
                continue;
            }
        }
        out.push(("", Cow::Borrowed("")));
    }
    out
}

/// One recipient block of a delivery-status report.
#[derive(Debug, Default, Clone)]
pub struct DsnRecipient {
    /// Final-Recipient address.
    pub final_recipient: Option<String>,
    /// Original-Recipient address.
    pub original_recipient: Option<String>,
    /// Action field.
    pub action: Option<Action>,
    /// Status field (the code only).
    pub status: Option<String>,
    /// Remote-MTA value without its type.
    pub remote_mta: Option<String>,
    /// Diagnostic-Code value without its type.
    pub diagnostic: Option<String>,
    /// Will-Retry-Until as RFC 3339.
    pub retry_until: Option<String>,
}

/// A whole delivery-status report.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Reporting-MTA without its type.
    pub reporting_mta: Option<String>,
    /// A per-message Will-Retry-Until (some MTAs put it there).
    pub retry_until: Option<String>,
    /// Recipient blocks with an address.
    pub recipients: Vec<DsnRecipient>,
}

fn strip_type(v: &str) -> String {
    // "rfc822; a@b", "dns; host", "smtp; 550 ..."
    match v.find(';') {
        Some(i)
            if v[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b' ') =>
        {
            v[i + 1..].trim().to_string()
        }
        _ => v.trim().to_string(),
    }
}

impl Report {
    /// Reads the delivery-status parts of a notice (usually one).
    pub fn from_parts(parts: &[String]) -> Report {
        let mut report = Report::default();
        for part in parts {
            report.read_block(part);
        }
        report.recipients.retain(|r| r.address().is_some());
        report
    }

    /// Reads DSN-style fields written into a text part (notices that inline their report).
    pub fn from_text(texts: &[String]) -> Report {
        let mut report = Report::default();
        for t in texts {
            let lower = t.to_ascii_lowercase();
            if lower.contains("final-recipient:")
                && (lower.contains("\nstatus:") || lower.contains("\naction:"))
            {
                report.read_block(t);
            }
        }
        report
            .recipients
            .retain(|r| r.address().is_some() && (r.status.is_some() || r.action.is_some()));
        report
    }

    fn read_block(&mut self, block: &str) {
        let mut current: Option<DsnRecipient> = None;
        for (name, value) in fields(block) {
            if self.recipients.len() > super::MAX_RECIPIENTS {
                // More blocks than any notice is read for: the rest is not kept.
                return;
            }
            let lname = name.to_ascii_lowercase();
            match lname.as_str() {
                "" => {
                    if let Some(r) = current.take() {
                        if r.address().is_some() || r.status.is_some() {
                            self.recipients.push(r);
                        } else {
                            current = Some(r);
                        }
                    }
                }
                "reporting-mta" if current.is_none() => {
                    self.reporting_mta = Some(strip_type(&value)).filter(|s| !s.is_empty());
                }
                "final-recipient" | "original-recipient" | "x-actual-recipient" => {
                    let addr = address::first_address(&strip_type(&value));
                    let r = current.get_or_insert_with(DsnRecipient::default);
                    let slot = if lname == "final-recipient" {
                        &mut r.final_recipient
                    } else {
                        &mut r.original_recipient
                    };
                    if slot.is_some() && lname != "x-actual-recipient" {
                        // A second recipient without a blank line between them.
                        let done = std::mem::take(r);
                        self.recipients.push(done);
                        let r = current.get_or_insert_with(DsnRecipient::default);
                        if lname == "final-recipient" {
                            r.final_recipient = addr;
                        } else {
                            r.original_recipient = addr;
                        }
                    } else if slot.is_none() {
                        *slot = addr;
                    }
                }
                "action" => {
                    current.get_or_insert_with(DsnRecipient::default).action = Action::parse(&value);
                }
                "status" => {
                    current.get_or_insert_with(DsnRecipient::default).status =
                        codes::status_code(&value).or_else(|| codes::status_code_loose(&value));
                }
                "remote-mta" => {
                    current.get_or_insert_with(DsnRecipient::default).remote_mta =
                        Some(strip_type(&value)).filter(|s| !s.is_empty());
                }
                "diagnostic-code" => {
                    let v = strip_type(&value);
                    current.get_or_insert_with(DsnRecipient::default).diagnostic =
                        Some(v).filter(|s| !s.is_empty());
                }
                "will-retry-until" => {
                    let t = time::rfc3339_from_rfc2822(&value);
                    match current.as_mut() {
                        Some(r) => r.retry_until = t,
                        None => self.retry_until = t,
                    }
                }
                _ => {}
            }
        }
        if let Some(r) = current.take() {
            self.recipients.push(r);
        }
    }
}

impl DsnRecipient {
    /// The recipient's address: Final-Recipient, else Original-Recipient.
    pub fn address(&self) -> Option<&str> {
        self.final_recipient
            .as_deref()
            .or(self.original_recipient.as_deref())
    }

    /// Converts the block into the contract's recipient.
    pub fn to_recipient(&self, report: &Report) -> Recipient {
        let (remote_host, remote_ip) = match self.remote_mta.as_deref() {
            Some(m) => address::host_or_ip(m),
            None => (None, None),
        };
        let status = codes::refine_status(self.status.clone(), self.diagnostic.as_deref(), true);
        Recipient {
            address: self.address().unwrap_or_default().to_string(),
            action: self.action,
            status,
            reply_code: self.diagnostic.as_deref().and_then(codes::reply_code),
            reason: None,
            remote_host,
            remote_ip,
            diagnostic: self.diagnostic.clone(),
            retry_until: self.retry_until.clone().or_else(|| report.retry_until.clone()),
            remaining_seconds: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_two_recipients_and_folded_fields() {
        let block = "Reporting-MTA: dns; mx.example\nArrival-Date: x\n\nFinal-Recipient: rfc822; a@one.example\nAction: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; connect to\n    host[192.0.2.1]:25: refused\nWill-Retry-Until: Fri, 27 Nov 2026 19:55:00 +0000 (UTC)\n\nFinal-Recipient: rfc822; b@two.example\nAction: failed\nStatus: 5.1.1\n";
        let r = Report::from_parts(&[block.to_string()]);
        assert_eq!(r.reporting_mta.as_deref(), Some("mx.example"));
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(r.recipients[0].address(), Some("a@one.example"));
        assert_eq!(r.recipients[0].action, Some(Action::Delayed));
        assert_eq!(
            r.recipients[0].diagnostic.as_deref(),
            Some("connect to host[192.0.2.1]:25: refused")
        );
        assert_eq!(
            r.recipients[0].retry_until.as_deref(),
            Some("2026-11-27T19:55:00Z")
        );
        assert_eq!(r.recipients[1].status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn recipients_without_blank_line_stay_apart() {
        let block = "Final-Recipient: rfc822; a@x.example\nAction: failed\nStatus: 5.1.1\nFinal-Recipient: rfc822; b@x.example\nAction: failed\nStatus: 5.2.2\n";
        let r = Report::from_parts(&[block.to_string()]);
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(r.recipients[1].status.as_deref(), Some("5.2.2"));
    }
}
