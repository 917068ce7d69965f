//! The words people read about a verdict: what happened, what to do about each cause, how
//! long the sending server keeps trying. `verdict.rs` decides and names; it writes no prose.

use crate::notice::{Kind, Notice};
use crate::verdict::{Cause, Forwarding, Verdict};

/// How times are written for people: in the configured time zone (`timezone`, else the
/// system's), as people write them, and how far from now.
#[derive(Debug, Clone)]
pub struct Clock {
    /// The zone times are shown in.
    pub zone: jiff::tz::TimeZone,
    /// Now (Unix seconds).
    pub now: i64,
}

impl Clock {
    /// Times in UTC (tests, and when no zone can be had).
    pub fn utc(now: i64) -> Clock {
        Clock {
            zone: jiff::tz::TimeZone::UTC,
            now,
        }
    }

    /// Times in the zone named `name` (IANA, as the configuration checked it), else the
    /// system's, else UTC.
    pub fn in_zone(name: Option<&str>, now: i64) -> Clock {
        let zone = match name {
            Some(n) => jiff::tz::TimeZone::get(n).unwrap_or(jiff::tz::TimeZone::UTC),
            None => jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
        };
        Clock { zone, now }
    }

    /// A moment as people write it: `Wed 25 Nov, 08:00 CET` (the year too when it is not this
    /// year's).
    pub fn moment(&self, unix: i64) -> String {
        let at = |t: i64| {
            jiff::Timestamp::from_second(t)
                .ok()
                .map(|ts| ts.to_zoned(self.zone.clone()))
        };
        let (Some(then), Some(now)) = (at(unix), at(self.now)) else {
            return "an unknown time".into();
        };
        let format = if then.year() == now.year() {
            "%a %-d %b, %H:%M %Z"
        } else {
            "%a %-d %b %Y, %H:%M %Z"
        };
        then.strftime(format).to_string()
    }

    /// A moment and how far it is from now: `Wed 25 Nov, 08:00 CET (in 1 day 19 hours)`.
    pub fn moment_from_now(&self, unix: i64) -> String {
        let gap = rough_duration(unix.abs_diff(self.now));
        if unix >= self.now {
            format!("{} (in {gap})", self.moment(unix))
        } else {
            format!("{} ({gap} ago)", self.moment(unix))
        }
    }
}

/// A duration in its two largest units: "1 day 19 hours", "3 hours 5 minutes", "12 minutes".
pub fn rough_duration(secs: u64) -> String {
    let full = human_duration(secs);
    full.split(' ')
        .collect::<Vec<_>>()
        .chunks(2)
        .take(2)
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What happened and what to do, in a few sentences (the record's and `diagnose --json`'s
/// `summary`, and the heart of every answer); times as `clock` writes them.
pub fn summary(notice: &Notice, v: &Verdict, clock: &Clock) -> String {
    let mut s = summarize(notice, &v.causes, v.forwarding, clock);
    if let Some(checks) = v.rechecks_exhausted {
        s.push_str(&format!(
            " (DNS checks tried {checks} times without an answer; forwarded with that gap stated.)"
        ));
    }
    s
}

/// What the bot says in answer to a command, before it is worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said<'a> {
    /// A thread command (`word`) that came without a thread to work on.
    NeedsThread(&'a str),
    /// `mute` done.
    Muted,
    /// `unmute` done.
    Unmuted,
    /// `unmute` of a thread that was not muted.
    NotMuted,
    /// `support` refused: forwarding is off for the mailbox.
    ForwardingOff,
    /// `support` for a thread whose package went already.
    AlreadyWithSupport,
    /// `support` held back by the hourly limit of `limit` packages.
    SupportHeld(u32),
    /// `support` done: the package went to this address.
    SentToSupport(&'a str),
    /// `status`: each open thread as (subject, cause words, time left).
    Status(&'a [(String, String, String)]),
    /// `help`, or anything else.
    Help,
}

/// The subject and body of a command's answer; `thread` is the thread's subject
/// (`Quarterly figures → bob@x`), where there is one.
pub fn command_answer(said: &Said<'_>, thread: &str) -> (String, String) {
    match said {
        Said::NeedsThread(word) => (
            "bouncedoc: reply to the message about the delayed mail".into(),
            format!("\"{word}\" works on one delayed message: reply with it to the bot's message about that message."),
        ),
        Said::Muted => (
            format!("Muted: {thread}"),
            "No more messages about this one. (The other delayed messages are not affected.)".into(),
        ),
        Said::Unmuted => (
            format!("Unmuted: {thread}"),
            "You will hear about this message again: the next notice about it is answered.".into(),
        ),
        Said::NotMuted => (
            format!("Not muted: {thread}"),
            "This message was not muted: nothing changed.".into(),
        ),
        Said::ForwardingOff => (
            format!("Not sent: {thread}"),
            "Forwarding to Support is turned off for this mailbox (escalation: never). Ask your mail administrator.".into(),
        ),
        Said::AlreadyWithSupport => (
            format!("Already with Support: {thread}"),
            "The full report about this message was already sent to Support.".into(),
        ),
        Said::SupportHeld(limit) => (
            format!("Held: {thread}"),
            format!("This mailbox reached its limit of {limit} reports to Support this hour, so this one was not sent. It is listed to Support in one summary; reply \"support\" again later to send the full report."),
        ),
        Said::SentToSupport(support) => (
            format!("Sent to Support: {thread}"),
            format!("The full report about this message — the notice itself and every check — was sent to Support ({support}). They will contact you."),
        ),
        Said::Status(open) => {
            let mut body = String::new();
            if open.is_empty() {
                body.push_str("No delayed messages are open for this mailbox.");
            } else {
                body.push_str(&format!("{} delayed message(s) still open:\n", open.len()));
                for (subject, cause, left) in open.iter() {
                    body.push_str(&format!("\n- {subject}\n  verdict: {cause}; {left}"));
                }
            }
            (format!("Status: {} open delayed message(s)", open.len()), body)
        }
        Said::Help => (
            "bouncedoc: commands".into(),
            "Reply to one of my messages with one word on the first line:\n\nsupport — send the full report about that message to Support\nrecheck — check again now and tell me the result\nmute — no more messages about that message\nunmute — messages about it again\nstatus — the delayed messages still open, with their verdicts\nhelp — this list".into(),
        ),
    }
}

/// The digest's subject.
pub fn digest_subject(items: &crate::store::DigestItems) -> String {
    match (items.notices, items.open.len()) {
        (0, 0) => "bouncedoc this week: no delayed mail".into(),
        (n, 0) => format!(
            "bouncedoc this week: {}, nothing still stuck",
            count(n, "notice", "notices")
        ),
        (n, open) => format!(
            "bouncedoc this week: {}, {open} still stuck",
            count(n, "notice", "notices")
        ),
    }
}

/// `1 notice`, `2 notices`.
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The digest's first line.
pub fn digest_intro(items: &crate::store::DigestItems) -> String {
    if items.notices == 0 && items.open.is_empty() && items.failed.is_empty() && items.resolved.is_empty() {
        "No delay notices reached this mailbox this week.".into()
    } else {
        format!(
            "Your week in delayed mail: {} about {}.",
            count(items.notices, "notice", "notices"),
            count(
                (items.open.len() + items.failed.len() + items.resolved.len()) as u64,
                "conversation",
                "conversations"
            )
        )
    }
}

/// The digest's sections: title, what it means, its lines.
pub fn digest_sections(
    items: &crate::store::DigestItems,
) -> [(&'static str, &'static str, &[crate::store::DigestLine]); 3] {
    [
        (
            "Still stuck",
            "Delay notices came this week and the sending server is still trying.",
            &items.open,
        ),
        (
            "Not delivered",
            "The sending server gave up: the message must be sent again, or the recipient reached another way.",
            &items.failed,
        ),
        (
            "Resolved",
            "No further notice for five days and no final failure: the mail most likely went through.",
            &items.resolved,
        ),
    ]
}

/// A stored verdict (`action/cause`) in words: the cause's label.
pub fn verdict_words(key: &str) -> &'static str {
    let cause = key.split_once('/').map_or(key, |(_, c)| c);
    crate::verdict::Cause::ALL
        .iter()
        .find(|c| c.as_str() == cause)
        .map_or("cause not recorded", |c| c.label())
}

/// Time left until `retry_until` (RFC 3339), in words.
pub fn time_left(n: &Notice, now: i64) -> String {
    let until = n
        .recipients
        .iter()
        .filter_map(|r| r.retry_until.as_deref())
        .filter_map(|t| mail_parser::DateTime::parse_rfc3339(t).map(|d| d.to_timestamp()))
        .max();
    match until {
        Some(t) if t > now => format!("{} left", human_duration((t - now) as u64)),
        Some(_) => "the sending server's retry time has run out".into(),
        None => "time left unknown".into(),
    }
}

/// The line a summary lists for a command's answer the hourly limit held back.
pub fn held_command_line(subject: &str) -> String {
    format!("your command's answer: {subject}")
}

/// The line a summary lists for an answer the hourly limit held back.
pub fn held_line(failed: bool, thread: &str, cause: &str) -> String {
    let state = if failed { "Not delivered" } else { "Delayed" };
    format!("{state}: {thread} — {cause}")
}

/// The subject and opening of the summary to the user of what the hourly limit held back.
pub fn held_summary_to_user(count: usize, limit: u32) -> (String, String) {
    (
        format!("bouncedoc: {count} more notices while the hourly limit was reached"),
        format!("These notices arrived while this mailbox had reached its limit of {limit} messages an hour, so they were not answered one by one:"),
    )
}

/// The subject and opening of the summary to Support of the packages the hourly limit held.
pub fn held_summary_to_support(user: &str, count: usize, limit: u32) -> (String, String) {
    (
        format!("[bouncedoc] {count} reports for {user} held by the hourly limit"),
        format!("These reports for {user} were not forwarded one by one: the limit of {limit} forwards an hour was reached. Ask the user to reply \"support\" to the bot's message about one to get its full report."),
    )
}

impl Cause {
    /// What the user is told about this cause. `forwarding` says whether the package went to
    /// Support, and if not, whether a "support" reply would send it: a cause of ours that did
    /// not send the package invites that reply — unless forwarding is off for the mailbox.
    pub fn advice(self, forwarding: Forwarding) -> &'static str {
        let ours = matches!(self, Cause::SenderListed | Cause::SenderPtr | Cause::Unexplained);
        match (self, forwarding) {
            (_, Forwarding::Off) if ours => {
                return match self {
                    Cause::SenderListed => "Our sending server is on a blocklist. Forwarding to Support is turned off for this mailbox: tell your mail administrator.",
                    Cause::SenderPtr => "Our sending server has no matching reverse DNS, which many receivers require. Forwarding to Support is turned off for this mailbox: tell your mail administrator.",
                    _ => "Nothing on your side or the recipient's explains the delay. Forwarding to Support is turned off for this mailbox: tell your mail administrator if it persists.",
                }
            }
            (Cause::SenderListed, Forwarding::None | Forwarding::Invite) => {
                return "Our sending server is on a blocklist. Reply \"support\" to send the full report to Support, who can get it delisted."
            }
            (Cause::SenderPtr, Forwarding::None | Forwarding::Invite) => {
                return "Our sending server has no matching reverse DNS, which many receivers require. Reply \"support\" to send the full report to Support."
            }
            (Cause::Unexplained, Forwarding::None | Forwarding::Invite) => {
                return "Nothing on your side or the recipient's explains the delay. Reply \"support\" to send the full report to Support so they can find the root cause."
            }
            (Cause::DnsInconclusive, Forwarding::Sent) => {
                return "Some DNS lookups kept failing (no answer or a server error) through every repeated check, so the cause could not be found. The full report, with that gap stated, has been sent to Support."
            }
            (Cause::DnsInconclusive, Forwarding::Invite) => {
                return "Some DNS lookups kept failing (no answer or a server error) through every repeated check, so the cause could not be found. Reply \"support\" to send the full report, with that gap stated, to Support."
            }
            (Cause::DnsInconclusive, Forwarding::Off) => {
                return "Some DNS lookups kept failing (no answer or a server error) through every repeated check, so the cause could not be found. Tell your mail administrator if the delay persists."
            }
            _ => {}
        }
        match self {
            Cause::RecipientDomain => {
                "The recipient's mail setup is broken: their domain cannot receive mail. Check the address for typos, and contact the recipient by another channel (phone, another address) so their administrator can fix it."
            }
            Cause::SenderDomain => {
                "Your own domain's DNS records are missing or not yet propagated; most servers refuse mail from a domain without them. Contact your DNS hosting provider."
            }
            Cause::DnsInconclusive => {
                "Some DNS lookups failed (no answer or a server error), so the cause is not known yet. The check will be repeated; nothing needs doing now."
            }
            Cause::SenderListed => {
                "Our sending server is on a blocklist. The full report has been sent to Support, who will get it delisted."
            }
            Cause::SenderPtr => {
                "Our sending server has no matching reverse DNS, which many receivers require. The full report has been sent to Support."
            }
            Cause::RecipientListed => {
                "The recipient's mail server is on a blocklist. Contact the recipient directly so their administrator can address it."
            }
            Cause::BlockedByRecipient => {
                "The recipient's server refuses our server. Contact the recipient directly; if their administrator asks for our SMTP logs, reply \"support\" and the full report goes to Support."
            }
            Cause::Unexplained => {
                "Nothing on your side or the recipient's explains the delay. The full report has been sent to Support so they can find the root cause."
            }
        }
    }
}

fn summarize(notice: &Notice, causes: &[Cause], forwarded: Forwarding, clock: &Clock) -> String {
    let mut summary = String::new();
    summary.push_str(&what_happened(notice));
    summary.push(' ');
    if causes.len() > 1 {
        let labels: Vec<&str> = causes.iter().map(|c| c.label()).collect();
        summary.push_str(&format!("Found: {}. ", labels.join("; ")));
    }
    for c in causes {
        summary.push_str(c.advice(forwarded));
        summary.push(' ');
    }
    summary.push_str(&retry_sentence(notice, clock));
    summary.trim().to_string()
}

/// One sentence: what happened to the message.
pub fn what_happened(notice: &Notice) -> String {
    let to: Vec<&str> = notice.recipients.iter().map(|r| r.address.as_str()).collect();
    let to = if to.is_empty() {
        "the recipient".to_string()
    } else {
        to.join(", ")
    };
    let subject = notice
        .original
        .as_ref()
        .and_then(|o| o.subject.as_deref())
        .map(|s| format!(" \"{s}\""))
        .unwrap_or_default();
    match notice.kind {
        Kind::Failed => {
            format!("Your message{subject} to {to} could not be delivered; the sending server has given up.")
        }
        _ => format!("Your message{subject} to {to} has not been delivered yet."),
    }
}

/// How long the sending server keeps trying, and what happens next.
pub fn retry_sentence(notice: &Notice, clock: &Clock) -> String {
    if notice.kind == Kind::Failed {
        return "This is final: the message will not be delivered unless it is sent again.".to_string();
    }
    let r = notice
        .recipients
        .iter()
        .find(|r| r.retry_until.is_some() || r.remaining_seconds.is_some());
    let until = r
        .and_then(|r| r.retry_until.as_deref())
        .and_then(|t| mail_parser::DateTime::parse_rfc3339(t).map(|d| d.to_timestamp()));
    match (until, r.and_then(|r| r.remaining_seconds)) {
        (Some(until), _) => format!(
            "The sending server keeps trying until {}; if it still fails by then, you will get a final notice.",
            clock.moment_from_now(until)
        ),
        (None, Some(left)) => format!(
            "The sending server keeps trying for {} more; if it still fails by then, you will get a final notice.",
            human_duration(left)
        ),
        _ => "The sending server keeps trying for a while (the notice does not say how long); if it still fails, you will get a final notice.".to_string(),
    }
}

/// "1 day 19 hours 56 minutes".
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let mut parts = Vec::new();
    let unit = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if d > 0 {
        parts.push(unit(d, "day", "days"));
    }
    if h > 0 {
        parts.push(unit(h, "hour", "hours"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(unit(m, "minute", "minutes"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_people_write_them_in_the_configured_zone() {
        // 2026-11-25T07:00:03Z, seen from the afternoon before.
        let at = 1_795_590_003;
        let paris = Clock::in_zone(Some("Europe/Paris"), at - 20 * 3600);
        assert_eq!(paris.moment(at), "Wed 25 Nov, 08:00 CET");
        assert_eq!(paris.moment_from_now(at), "Wed 25 Nov, 08:00 CET (in 20 hours)");
        let new_york = Clock::in_zone(Some("America/New_York"), at + 90 * 60);
        assert_eq!(
            new_york.moment_from_now(at),
            "Wed 25 Nov, 02:00 EST (1 hour 30 minutes ago)"
        );
        // Another year says which.
        assert_eq!(
            Clock::utc(at).moment(at + 400 * 86_400),
            "Thu 30 Dec 2027, 07:00 UTC"
        );
        assert_eq!(rough_duration(158_340), "1 day 19 hours");
        assert_eq!(rough_duration(61), "1 minute");
    }
}
