//! The words people read about a verdict: what happened, what to do about each cause, how
//! long the sending server keeps trying. `verdict.rs` decides and names; it writes no prose.
//!
//! Every function takes the language to write in; the sentences themselves are in the tables of
//! [`super::text`], one per language, and everything here is written once for all of them.
//! What goes to Support, to logs and to JSON is written in English ([`Lang::En`]).

use super::lang::Lang;
use super::text::{fill, Text};
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

    /// A moment as people write it in `lang`: `Wed 25 Nov, 08:00 CET`, `mer. 25 nov., 08:00
    /// CET`, `Mi. 25. Nov., 08:00 CET`, `mié 25 nov, 08:00 CET` (the year too when it is not
    /// this year's); the zone's abbreviation and a 24-hour time in every language.
    pub fn moment(&self, unix: i64, lang: Lang) -> String {
        let t = lang.text();
        let at = |t: i64| {
            jiff::Timestamp::from_second(t)
                .ok()
                .map(|ts| ts.to_zoned(self.zone.clone()))
        };
        let (Some(then), Some(now)) = (at(unix), at(self.now)) else {
            return t.unknown_time.into();
        };
        let template = if then.year() == now.year() {
            t.moment
        } else {
            t.moment_with_year
        };
        let weekday = t.weekdays[usize::from(then.weekday().to_sunday_zero_offset().unsigned_abs()) % 7];
        let month = t.months[usize::from(then.month().clamp(1, 12).unsigned_abs()) - 1];
        fill(
            template,
            &[
                ("weekday", weekday),
                ("day", &then.day().to_string()),
                ("month", month),
                ("year", &then.strftime("%Y").to_string()),
                ("time", &then.strftime("%H:%M").to_string()),
                ("zone", &then.strftime("%Z").to_string()),
            ],
        )
    }

    /// A moment and how far it is from now: `Wed 25 Nov, 08:00 CET (in 1 day 19 hours)`.
    pub fn moment_from_now(&self, unix: i64, lang: Lang) -> String {
        let t = lang.text();
        let gap = duration(t, unix.abs_diff(self.now), 2, true);
        let template = if unix >= self.now { t.in_future } else { t.in_past };
        fill(template, &[("moment", &self.moment(unix, lang)), ("gap", &gap)])
    }
}

/// A duration in its two largest units: "1 day 19 hours", "3 hours 5 minutes", "12 minutes".
pub fn rough_duration(secs: u64, lang: Lang) -> String {
    duration(lang.text(), secs, 2, false)
}

/// What happened and what to do, in a few sentences (the record's and `diagnose --json`'s
/// `summary`, in English; and the heart of every answer); times as `clock` writes them.
pub fn summary(notice: &Notice, v: &Verdict, clock: &Clock, lang: Lang) -> String {
    let mut s = summarize(notice, &v.causes, v.forwarding, clock, lang);
    if let Some(checks) = v.rechecks_exhausted {
        s.push_str(&fill(
            lang.text().rechecks_exhausted,
            &[("checks", &checks.to_string())],
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
    /// `status`: each open thread as (subject, cause words, time left), worded in the answer's
    /// language ([`cause_words`], [`time_left`]).
    Status(&'a [(String, String, String)]),
    /// `help`, or anything else.
    Help,
}

/// The subject and body of a command's answer in `lang`; `thread` is the thread's subject
/// (`Quarterly figures → bob@x`), where there is one. Command words stay English (the command
/// reader knows only those).
pub fn command_answer(said: &Said<'_>, thread: &str, lang: Lang) -> (String, String) {
    let t = lang.text();
    let c = &t.commands;
    let with_thread = |subject: &str| fill(subject, &[("thread", thread)]);
    match said {
        Said::NeedsThread(word) => (
            c.needs_thread_subject.into(),
            fill(c.needs_thread, &[("word", word)]),
        ),
        Said::Muted => (with_thread(c.muted_subject), c.muted.into()),
        Said::Unmuted => (with_thread(c.unmuted_subject), c.unmuted.into()),
        Said::NotMuted => (with_thread(c.not_muted_subject), c.not_muted.into()),
        Said::ForwardingOff => (with_thread(c.forwarding_off_subject), c.forwarding_off.into()),
        Said::AlreadyWithSupport => (
            with_thread(c.already_with_support_subject),
            c.already_with_support.into(),
        ),
        Said::SupportHeld(limit) => (
            with_thread(c.support_held_subject),
            fill(c.support_held, &[("limit", &limit.to_string())]),
        ),
        Said::SentToSupport(support) => (
            with_thread(c.sent_to_support_subject),
            fill(c.sent_to_support, &[("support", support)]),
        ),
        Said::Status(open) => {
            let n = open.len() as u64;
            let n_words = n.to_string();
            let count = [("count", n_words.as_str())];
            let mut body = String::new();
            if open.is_empty() {
                body.push_str(c.status_none);
            } else {
                body.push_str(&fill(t.pick(&c.status_head, n), &count));
                body.push('\n');
                for (subject, cause, left) in open.iter() {
                    body.push('\n');
                    body.push_str(&fill(
                        c.status_line,
                        &[("subject", subject), ("cause", cause), ("left", left)],
                    ));
                }
            }
            (fill(t.pick(&c.status_subject, n), &count), body)
        }
        Said::Help => (c.help_subject.into(), c.help.into()),
    }
}

/// The digest's subject.
pub fn digest_subject(items: &crate::store::DigestItems, lang: Lang) -> String {
    let t = lang.text();
    match (items.notices, items.open.len()) {
        (0, 0) => t.digest_subject_none.into(),
        (n, 0) => fill(t.digest_subject_clear, &[("notices", &count(t, &t.notices, n))]),
        (n, open) => fill(
            t.pick(&t.digest_subject_open, open as u64),
            &[("notices", &count(t, &t.notices, n)), ("open", &open.to_string())],
        ),
    }
}

/// `1 notice`, `2 notices`.
fn count(t: &Text, p: &super::text::Plural, n: u64) -> String {
    fill(t.pick(p, n), &[("n", &n.to_string())])
}

/// The digest's first line.
pub fn digest_intro(items: &crate::store::DigestItems, lang: Lang) -> String {
    let t = lang.text();
    if items.notices == 0 && items.open.is_empty() && items.failed.is_empty() && items.resolved.is_empty() {
        t.digest_intro_none.into()
    } else {
        fill(
            t.digest_intro,
            &[
                ("notices", &count(t, &t.notices, items.notices)),
                (
                    "conversations",
                    &count(
                        t,
                        &t.conversations,
                        (items.open.len() + items.failed.len() + items.resolved.len()) as u64,
                    ),
                ),
            ],
        )
    }
}

/// The digest's sections: title, what it means, its lines.
pub fn digest_sections(
    items: &crate::store::DigestItems,
    lang: Lang,
) -> [(&'static str, &'static str, &[crate::store::DigestLine]); 3] {
    let t = lang.text();
    [
        (t.still_stuck.title, t.still_stuck.explain, &items.open),
        (t.failed.title, t.failed.explain, &items.failed),
        (t.resolved.title, t.resolved.explain, &items.resolved),
    ]
}

/// The cause a stored verdict (`action/cause`) names, if it names one.
fn stored_cause(key: &str) -> Option<Cause> {
    let cause = key.split_once('/').map_or(key, |(_, c)| c);
    Cause::ALL.into_iter().find(|c| c.as_str() == cause)
}

/// A stored verdict (`action/cause`) in words: the cause's label.
pub fn verdict_words(key: &str, lang: Lang) -> &'static str {
    stored_cause(key).map_or(lang.text().no_cause_recorded, |c| c.label_in(lang))
}

/// A stored verdict (`action/cause`) in a word or two, as the `status` answer lists it
/// (`sender listed`); a cause this version does not know, as it was stored.
pub fn cause_words(key: &str, lang: Lang) -> String {
    let cause = key.split('/').nth(1).unwrap_or("");
    match Cause::ALL.into_iter().find(|c| c.as_str() == cause) {
        Some(c) => lang.text().cause_words.get(c).into(),
        None => cause.replace('_', " "),
    }
}

/// Time left until `retry_until` (RFC 3339), in words.
pub fn time_left(n: &Notice, now: i64, lang: Lang) -> String {
    let t = lang.text();
    let until = n
        .recipients
        .iter()
        .filter_map(|r| r.retry_until.as_deref())
        .filter_map(|t| mail_parser::DateTime::parse_rfc3339(t).map(|d| d.to_timestamp()))
        .max();
    match until {
        Some(u) if u > now => fill(
            t.time_left,
            &[("duration", &human_duration((u - now) as u64, lang))],
        ),
        Some(_) => t.retry_time_over.into(),
        None => t.time_left_unknown.into(),
    }
}

/// The line a summary lists for a command's answer the hourly limit held back.
pub fn held_command_line(subject: &str, lang: Lang) -> String {
    fill(lang.text().held_command_line, &[("subject", subject)])
}

/// The line a summary lists for an answer the hourly limit held back (`cause`: the cause's
/// label in the same language). In English when it is listed to Support.
pub fn held_line(failed: bool, thread: &str, cause: &str, lang: Lang) -> String {
    let t = lang.text();
    let state = if failed { t.not_delivered } else { t.delayed };
    fill(
        t.held_line,
        &[("state", state), ("thread", thread), ("cause", cause)],
    )
}

/// The subject and opening of the summary to the user of what the hourly limit held back.
pub fn held_summary_to_user(count: usize, limit: u32, lang: Lang) -> (String, String) {
    let t = lang.text();
    let (count_words, limit_words) = (count.to_string(), limit.to_string());
    let values = [("count", count_words.as_str()), ("limit", limit_words.as_str())];
    (
        fill(t.pick(&t.held_subject, count as u64), &values),
        fill(t.pick(&t.held_intro, count as u64), &values),
    )
}

/// The subject and opening of the summary to Support of the packages the hourly limit held.
/// Support (the mail administrators) reads English: this is not translated.
pub fn held_summary_to_support(user: &str, count: usize, limit: u32) -> (String, String) {
    (
        format!("[bouncedoc] {count} reports for {user} held by the hourly limit"),
        format!("These reports for {user} were not forwarded one by one: the limit of {limit} forwards an hour was reached. Ask the user to reply \"support\" to the bot's message about one to get its full report."),
    )
}

impl Cause {
    /// What the user is told about this cause, in `lang`. `forwarding` says whether the
    /// package went to Support, and if not, whether a "support" reply would send it: a cause
    /// of ours that did not send the package invites that reply — unless forwarding is off for
    /// the mailbox.
    pub fn advice(self, forwarding: Forwarding, lang: Lang) -> &'static str {
        let a = &lang.text().advice;
        let ours = matches!(self, Cause::SenderListed | Cause::SenderPtr | Cause::Unexplained);
        match (self, forwarding) {
            (_, Forwarding::Off) if ours => {
                return match self {
                    Cause::SenderListed => a.sender_listed_off,
                    Cause::SenderPtr => a.sender_ptr_off,
                    _ => a.unexplained_off,
                }
            }
            (Cause::SenderListed, Forwarding::None | Forwarding::Invite) => return a.sender_listed_invite,
            (Cause::SenderPtr, Forwarding::None | Forwarding::Invite) => return a.sender_ptr_invite,
            (Cause::Unexplained, Forwarding::None | Forwarding::Invite) => return a.unexplained_invite,
            (Cause::DnsInconclusive, Forwarding::Sent) => return a.dns_inconclusive_sent,
            (Cause::DnsInconclusive, Forwarding::Invite) => return a.dns_inconclusive_invite,
            (Cause::DnsInconclusive, Forwarding::Off) => return a.dns_inconclusive_off,
            _ => {}
        }
        match self {
            Cause::RecipientDomain => a.recipient_domain,
            Cause::SenderDomain => a.sender_domain,
            Cause::DnsInconclusive => a.dns_inconclusive,
            Cause::SenderListed => a.sender_listed,
            Cause::SenderPtr => a.sender_ptr,
            Cause::RecipientListed => a.recipient_listed,
            Cause::BlockedByRecipient => a.blocked_by_recipient,
            Cause::Unexplained => a.unexplained,
        }
    }

    /// A short name for the cause in `lang` ([`Cause::label`] is the English one, for logs,
    /// JSON and Support).
    pub fn label_in(self, lang: Lang) -> &'static str {
        lang.text().labels.get(self)
    }
}

fn summarize(notice: &Notice, causes: &[Cause], forwarded: Forwarding, clock: &Clock, lang: Lang) -> String {
    let t = lang.text();
    let mut summary = String::new();
    summary.push_str(&what_happened(notice, lang));
    summary.push(' ');
    if causes.len() > 1 {
        let labels: Vec<&str> = causes.iter().map(|c| c.label_in(lang)).collect();
        summary.push_str(&fill(t.found, &[("causes", &labels.join(t.cause_sep))]));
    }
    for c in causes {
        summary.push_str(c.advice(forwarded, lang));
        summary.push(' ');
    }
    summary.push_str(&retry_sentence(notice, clock, lang));
    summary.trim().to_string()
}

/// One sentence: what happened to the message.
pub fn what_happened(notice: &Notice, lang: Lang) -> String {
    let t = lang.text();
    let to: Vec<&str> = notice.recipients.iter().map(|r| r.address.as_str()).collect();
    let to = if to.is_empty() {
        t.to_the_recipient.to_string()
    } else {
        fill(t.to_recipients, &[("list", &to.join(", "))])
    };
    let subject = notice
        .original
        .as_ref()
        .and_then(|o| o.subject.as_deref())
        .map(|s| fill(t.quoted_subject, &[("subject", s)]))
        .unwrap_or_default();
    let template = match notice.kind {
        Kind::Failed => t.happened_failed,
        _ => t.happened_delayed,
    };
    fill(template, &[("subject", &subject), ("to", &to)])
}

/// How long the sending server keeps trying, and what happens next.
pub fn retry_sentence(notice: &Notice, clock: &Clock, lang: Lang) -> String {
    let t = lang.text();
    if notice.kind == Kind::Failed {
        return t.retry_final.to_string();
    }
    let r = notice
        .recipients
        .iter()
        .find(|r| r.retry_until.is_some() || r.remaining_seconds.is_some());
    let until = r
        .and_then(|r| r.retry_until.as_deref())
        .and_then(|t| mail_parser::DateTime::parse_rfc3339(t).map(|d| d.to_timestamp()));
    match (until, r.and_then(|r| r.remaining_seconds)) {
        (Some(until), _) => fill(t.retry_until, &[("moment", &clock.moment_from_now(until, lang))]),
        (None, Some(left)) => fill(t.retry_for, &[("duration", &human_duration(left, lang))]),
        _ => t.retry_unknown.to_string(),
    }
}

/// "1 day 19 hours 56 minutes".
pub fn human_duration(secs: u64, lang: Lang) -> String {
    duration(lang.text(), secs, 3, false)
}

/// `secs` in at most `units` units, the largest first; `after` a preposition ("in", "ago"),
/// where a language inflects the unit.
fn duration(t: &Text, secs: u64, units: usize, after: bool) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(t.unit(&t.day, d, after));
    }
    if h > 0 {
        parts.push(t.unit(&t.hour, h, after));
    }
    if m > 0 || parts.is_empty() {
        parts.push(t.unit(&t.minute, m, after));
    }
    parts.truncate(units);
    t.list(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_people_write_them_in_the_configured_zone() {
        // 2026-11-25T07:00:03Z, seen from the afternoon before.
        let at = 1_795_590_003;
        let paris = Clock::in_zone(Some("Europe/Paris"), at - 20 * 3600);
        assert_eq!(paris.moment(at, Lang::En), "Wed 25 Nov, 08:00 CET");
        assert_eq!(
            paris.moment_from_now(at, Lang::En),
            "Wed 25 Nov, 08:00 CET (in 20 hours)"
        );
        let new_york = Clock::in_zone(Some("America/New_York"), at + 90 * 60);
        assert_eq!(
            new_york.moment_from_now(at, Lang::En),
            "Wed 25 Nov, 02:00 EST (1 hour 30 minutes ago)"
        );
        // Another year says which.
        assert_eq!(
            Clock::utc(at).moment(at + 400 * 86_400, Lang::En),
            "Thu 30 Dec 2027, 07:00 UTC"
        );
        assert_eq!(rough_duration(158_340, Lang::En), "1 day 19 hours");
        assert_eq!(rough_duration(61, Lang::En), "1 minute");
    }
}
