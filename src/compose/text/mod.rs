//! Every sentence and word the bot writes to the user, one table per language: [`en`], [`fr`],
//! [`de`], [`es`]. What is said when, and how the pieces are put together, is written once (in
//! `words.rs` and `compose/mod.rs`); only these tables differ between languages.
//!
//! A template names its values in braces (`{subject}`), which [`fill`] replaces. Command words
//! (`support`, `recheck`, `mute`, `unmute`, `status`, `help`) are the English words in every
//! language: the command reader knows only those. What the checks found in detail (a
//! finding's `detail`) is technical evidence and is shown as it is, untranslated.

pub(crate) mod de;
pub(crate) mod en;
pub(crate) mod es;
pub(crate) mod fr;

use super::lang::Lang;
use crate::diagnose::{
    Check, Found, OurListing, Reachability, Refusal, ReverseDns, Routing, SenderRecords, TheirListing,
    ZoneHealth,
};
use crate::verdict::Cause;

type S = &'static str;

/// One language's words.
pub(crate) struct Text {
    /// Whether 0 takes the singular (French: "0 minute").
    pub zero_is_singular: bool,
    /// Between the items of a list but the last two (durations' units): `, `.
    pub list_comma: S,
    /// Between the last two items of a list: ` and `.
    pub list_and: S,
    /// Days, hours, minutes: `{n}`.
    pub day: Unit,
    /// See `day`.
    pub hour: Unit,
    /// See `day`.
    pub minute: Unit,
    /// Weekday abbreviations, Sunday first.
    pub weekdays: [S; 7],
    /// Month abbreviations, January first.
    pub months: [S; 12],
    /// A moment this year: `{weekday}`, `{day}`, `{month}`, `{time}` (24 h), `{zone}`.
    pub moment: S,
    /// A moment of another year: the same and `{year}`.
    pub moment_with_year: S,
    /// A moment that cannot be written.
    pub unknown_time: S,
    /// A moment to come and how far: `{moment}`, `{gap}`.
    pub in_future: S,
    /// A moment past and how long ago: `{moment}`, `{gap}`.
    pub in_past: S,

    /// The original message's subject in a sentence: `{subject}`, with its leading space.
    pub quoted_subject: S,
    /// Who it was for, in a sentence: `{list}` of addresses.
    pub to_recipients: S,
    /// Who it was for, in a sentence, when the notice names no one.
    pub to_the_recipient: S,
    /// What happened to a delayed message: `{subject}` (quoted or empty), `{to}`.
    pub happened_delayed: S,
    /// What happened to a message that failed: `{subject}`, `{to}`.
    pub happened_failed: S,
    /// The retry sentence of a final failure.
    pub retry_final: S,
    /// The sending server's last try: `{moment}`.
    pub retry_until: S,
    /// How long the sending server keeps trying: `{duration}`.
    pub retry_for: S,
    /// The sending server keeps trying, for how long not said.
    pub retry_unknown: S,
    /// Every cause found, in a summary: `{causes}` (with its trailing space).
    pub found: S,
    /// The summary's note that DNS never answered: `{checks}` (with its leading space).
    pub rechecks_exhausted: S,
    /// Between causes named in one line.
    pub cause_sep: S,
    /// Each cause's short name in a sentence.
    pub labels: ByCause,
    /// Each cause in a word or two (the `status` answer's list).
    pub cause_words: ByCause,
    /// A stored verdict whose cause is not known.
    pub no_cause_recorded: S,
    /// What to do about each cause.
    pub advice: Advice,

    /// The state of a delayed message (subject lines).
    pub delayed: S,
    /// The state of a message that failed (subject lines).
    pub not_delivered: S,
    /// The reply's subject: `{state}`, `{subject}`, `{to}`, `{reason}`.
    pub reply_subject: S,
    /// The subject's short reason.
    pub reasons: Reasons,
    /// Who the message was for, alone (a subject), when the notice names no one.
    pub the_recipient: S,
    /// The first addresses and how many more: `{list}`, `{n}`.
    pub and_more: S,
    /// A message without a subject.
    pub no_subject: S,
    /// The reply's sentence when the package went to Support.
    pub escalated: S,
    /// The heading before the causes.
    pub why: S,
    /// The heading before the checks.
    pub checked: S,
    /// The heading before the advice.
    pub to_do: S,
    /// One check's line: `{label}`, `{subject}`, `{result}`.
    pub check_row: S,
    /// Each check's name.
    pub checks: ByCheck,
    /// What each check found, in words.
    pub results: Results,
    /// The footer of every text message to the user.
    pub commands_footer: S,
    /// The same as HTML (command words in `<strong>`).
    pub commands_footer_html: S,

    /// Answers to commands.
    pub commands: Commands,

    /// The digest's subject with no notices and nothing open.
    pub digest_subject_none: S,
    /// The digest's subject with nothing still stuck: `{notices}`.
    pub digest_subject_clear: S,
    /// The digest's subject with `{open}` still stuck: `{notices}`, `{open}`.
    pub digest_subject_open: Plural,
    /// `{n}` notices.
    pub notices: Plural,
    /// `{n}` conversations, after the intro's preposition.
    pub conversations: Plural,
    /// The digest's first line with nothing to say.
    pub digest_intro_none: S,
    /// The digest's first line: `{notices}`, `{conversations}`.
    pub digest_intro: S,
    /// The digest's period: `{from}`, `{to}`.
    pub digest_period: S,
    /// The section of what is still stuck.
    pub still_stuck: Section,
    /// The section of what failed.
    pub failed: Section,
    /// The section of what went quiet.
    pub resolved: Section,
    /// A section's heading in the text: `{title}`, `{count}`.
    pub section_heading: S,
    /// One conversation in a section: `{subject}`, `{recipient}`, `{verdict}`, `{when}`.
    pub digest_line: S,
    /// The digest's HTML footer.
    pub digest_footer_html: S,

    /// Time left: `{duration}`.
    pub time_left: S,
    /// Time left: none.
    pub retry_time_over: S,
    /// Time left: not known.
    pub time_left_unknown: S,

    /// A held command's answer, in a summary: `{subject}`.
    pub held_command_line: S,
    /// A held answer, in a summary: `{state}`, `{thread}`, `{cause}`.
    pub held_line: S,
    /// The subject of the summary of held answers: `{count}`.
    pub held_subject: Plural,
    /// The opening of that summary: `{count}`, `{limit}`.
    pub held_intro: Plural,
}

/// A unit of time with its number: `{n}`.
pub(crate) struct Unit {
    /// One.
    pub one: S,
    /// More.
    pub many: S,
    /// More, after "in" or "ago" (German's dative: "in 2 Tagen").
    pub many_after: S,
}

/// A template with a singular and a plural form.
pub(crate) struct Plural {
    /// For one.
    pub one: S,
    /// For more (or none).
    pub many: S,
}

/// One section of the digest.
pub(crate) struct Section {
    /// Its title.
    pub title: S,
    /// What it means.
    pub explain: S,
}

/// One string per cause.
pub(crate) struct ByCause {
    /// [`Cause::RecipientDomain`].
    pub recipient_domain: S,
    /// [`Cause::SenderDomain`].
    pub sender_domain: S,
    /// [`Cause::DnsInconclusive`].
    pub dns_inconclusive: S,
    /// [`Cause::SenderListed`].
    pub sender_listed: S,
    /// [`Cause::SenderPtr`].
    pub sender_ptr: S,
    /// [`Cause::RecipientListed`].
    pub recipient_listed: S,
    /// [`Cause::BlockedByRecipient`].
    pub blocked_by_recipient: S,
    /// [`Cause::Unexplained`].
    pub unexplained: S,
}

impl ByCause {
    /// The cause's string.
    pub fn get(&self, c: Cause) -> S {
        match c {
            Cause::RecipientDomain => self.recipient_domain,
            Cause::SenderDomain => self.sender_domain,
            Cause::DnsInconclusive => self.dns_inconclusive,
            Cause::SenderListed => self.sender_listed,
            Cause::SenderPtr => self.sender_ptr,
            Cause::RecipientListed => self.recipient_listed,
            Cause::BlockedByRecipient => self.blocked_by_recipient,
            Cause::Unexplained => self.unexplained,
        }
    }
}

/// What to do, per cause and, for some, per what happens to the package (`Cause::advice`
/// decides which applies).
pub(crate) struct Advice {
    /// The recipient's domain cannot receive mail.
    pub recipient_domain: S,
    /// The sender's domain has no records.
    pub sender_domain: S,
    /// DNS failed; the check will be repeated.
    pub dns_inconclusive: S,
    /// DNS kept failing; the package went.
    pub dns_inconclusive_sent: S,
    /// DNS kept failing; "support" would send the package.
    pub dns_inconclusive_invite: S,
    /// DNS kept failing; forwarding is off.
    pub dns_inconclusive_off: S,
    /// Our server is listed; the package went.
    pub sender_listed: S,
    /// Our server is listed; "support" would send the package.
    pub sender_listed_invite: S,
    /// Our server is listed; forwarding is off.
    pub sender_listed_off: S,
    /// Our reverse DNS; the package went.
    pub sender_ptr: S,
    /// Our reverse DNS; "support" would send the package.
    pub sender_ptr_invite: S,
    /// Our reverse DNS; forwarding is off.
    pub sender_ptr_off: S,
    /// The recipient's server is listed.
    pub recipient_listed: S,
    /// The recipient's server refuses ours.
    pub blocked_by_recipient: S,
    /// Nothing explains it; the package went.
    pub unexplained: S,
    /// Nothing explains it; "support" would send the package.
    pub unexplained_invite: S,
    /// Nothing explains it; forwarding is off.
    pub unexplained_off: S,
}

/// The reply subject's short reasons.
pub(crate) struct Reasons {
    /// The recipient's domain does not exist.
    pub nxdomain: S,
    /// The recipient's domain has a null MX.
    pub null_mx: S,
    /// Per cause (the recipient's domain: when it has no mail servers, else one of the two
    /// above).
    pub causes: ByCause,
}

/// One string per check.
pub(crate) struct ByCheck {
    /// [`Check::RecipientDomain`].
    pub recipient_domain: S,
    /// [`Check::SenderDomain`].
    pub sender_domain: S,
    /// [`Check::RecipientListed`].
    pub recipient_listed: S,
    /// [`Check::BlockedByRecipient`].
    pub blocked_by_recipient: S,
    /// [`Check::SenderListed`].
    pub sender_listed: S,
    /// [`Check::SenderPtr`].
    pub sender_ptr: S,
    /// [`Check::BlocklistZone`].
    pub blocklist_zone: S,
    /// [`Check::SmtpProbe`].
    pub smtp_probe: S,
}

impl ByCheck {
    /// The check's string.
    pub fn get(&self, c: Check) -> S {
        match c {
            Check::RecipientDomain => self.recipient_domain,
            Check::SenderDomain => self.sender_domain,
            Check::RecipientListed => self.recipient_listed,
            Check::BlockedByRecipient => self.blocked_by_recipient,
            Check::SenderListed => self.sender_listed,
            Check::SenderPtr => self.sender_ptr,
            Check::BlocklistZone => self.blocklist_zone,
            Check::SmtpProbe => self.smtp_probe,
        }
    }
}

/// What each check found, in words. English keeps the words `diagnose --json` prints
/// (`nxdomain`), as its reply always showed them; the other languages say it in words.
pub(crate) struct Results {
    /// Recipient domain: mail servers with an address.
    pub routing_ok: S,
    /// A domain that does not exist (recipient's or sender's).
    pub nxdomain: S,
    /// A null MX.
    pub null_mx: S,
    /// Neither MX nor address.
    pub no_mx_no_address: S,
    /// MX hosts without an address.
    pub mx_hosts_unresolvable: S,
    /// A DNS lookup failed.
    pub dns_error: S,
    /// Not checked (a limit).
    pub not_checked: S,
    /// Sender domain: records present.
    pub records_ok: S,
    /// Sender domain: no records.
    pub missing: S,
    /// On no blocklist.
    pub clean: S,
    /// On a blocklist.
    pub listed: S,
    /// The blocklists could not answer (or a zone is unusable).
    pub list_error: S,
    /// An IP or a refusal that is not about our server.
    pub not_ours: S,
    /// The remote server refuses ours.
    pub blocking_us: S,
    /// Reverse DNS confirmed.
    pub ptr_ok: S,
    /// No PTR record.
    pub no_ptr: S,
    /// The PTR name does not lead back.
    pub mismatch: S,
    /// SMTP: answers with STARTTLS.
    pub reachable: S,
    /// SMTP: connection refused.
    pub refused: S,
    /// SMTP: no answer in time.
    pub timeout: S,
    /// SMTP: no STARTTLS.
    pub no_starttls: S,
    /// SMTP: not probed.
    pub not_probed: S,
}

impl Results {
    /// What `found` says, in words.
    pub fn get(&self, found: Found) -> S {
        use Found as F;
        match found {
            F::RecipientDomain(r) => match r {
                Routing::Ok => self.routing_ok,
                Routing::Nxdomain => self.nxdomain,
                Routing::NullMx => self.null_mx,
                Routing::NoMxNoAddress => self.no_mx_no_address,
                Routing::MxHostsUnresolvable => self.mx_hosts_unresolvable,
                Routing::DnsError => self.dns_error,
                Routing::NotChecked => self.not_checked,
            },
            F::SenderDomain(r) => match r {
                SenderRecords::Ok => self.records_ok,
                SenderRecords::Nxdomain => self.nxdomain,
                SenderRecords::Missing => self.missing,
                SenderRecords::DnsError => self.dns_error,
            },
            F::RecipientListed(r) => match r {
                TheirListing::Clean => self.clean,
                TheirListing::Listed => self.listed,
                TheirListing::ListError => self.list_error,
            },
            F::SenderListed(r) => match r {
                OurListing::Clean => self.clean,
                OurListing::Listed => self.listed,
                OurListing::ListError => self.list_error,
                OurListing::NotOurs => self.not_ours,
            },
            F::BlockedByRecipient(r) => match r {
                Refusal::BlockingUs => self.blocking_us,
                Refusal::NotOurs => self.not_ours,
            },
            F::SenderPtr(r) => match r {
                ReverseDns::Ok => self.ptr_ok,
                ReverseDns::NoPtr => self.no_ptr,
                ReverseDns::Mismatch => self.mismatch,
                ReverseDns::DnsError => self.dns_error,
            },
            F::BlocklistZone(r) => match r {
                ZoneHealth::ListError => self.list_error,
            },
            F::SmtpProbe(r) => match r {
                Reachability::Reachable => self.reachable,
                Reachability::Refused => self.refused,
                Reachability::Timeout => self.timeout,
                Reachability::NoStarttls => self.no_starttls,
                Reachability::NotProbed => self.not_probed,
            },
        }
    }
}

/// The answers to commands: each a subject (`{thread}`: the thread's subject) and a body.
pub(crate) struct Commands {
    /// A thread command without a thread: subject.
    pub needs_thread_subject: S,
    /// A thread command without a thread: body, `{word}`.
    pub needs_thread: S,
    /// `mute` done.
    pub muted_subject: S,
    /// See `muted_subject`.
    pub muted: S,
    /// `unmute` done.
    pub unmuted_subject: S,
    /// See `unmuted_subject`.
    pub unmuted: S,
    /// `unmute` of what was not muted.
    pub not_muted_subject: S,
    /// See `not_muted_subject`.
    pub not_muted: S,
    /// `support` with forwarding off.
    pub forwarding_off_subject: S,
    /// See `forwarding_off_subject`.
    pub forwarding_off: S,
    /// `support` for a package already sent.
    pub already_with_support_subject: S,
    /// See `already_with_support_subject`.
    pub already_with_support: S,
    /// `support` held by the hourly limit.
    pub support_held_subject: S,
    /// See `support_held_subject`: `{limit}`.
    pub support_held: S,
    /// `support` done.
    pub sent_to_support_subject: S,
    /// See `sent_to_support_subject`: `{support}` (the address).
    pub sent_to_support: S,
    /// `status`: subject, `{count}` open.
    pub status_subject: Plural,
    /// `status` with nothing open.
    pub status_none: S,
    /// `status`: the list's heading, `{count}`.
    pub status_head: Plural,
    /// `status`: one open thread, `{subject}`, `{cause}`, `{left}`.
    pub status_line: S,
    /// `help`: subject.
    pub help_subject: S,
    /// `help`: the list of commands.
    pub help: S,
}

impl Lang {
    /// This language's words.
    pub(crate) fn text(self) -> &'static Text {
        match self {
            Lang::En => &en::TEXT,
            Lang::Fr => &fr::TEXT,
            Lang::De => &de::TEXT,
            Lang::Es => &es::TEXT,
        }
    }
}

impl Text {
    /// The form of `p` for `n`.
    pub fn pick(&self, p: &Plural, n: u64) -> S {
        if n == 1 || (n == 0 && self.zero_is_singular) {
            p.one
        } else {
            p.many
        }
    }

    /// `n` of `unit`; `after` a preposition ("in", "ago") where a language inflects it.
    pub fn unit(&self, unit: &Unit, n: u64, after: bool) -> String {
        let form = if n == 1 || (n == 0 && self.zero_is_singular) {
            unit.one
        } else if after {
            unit.many_after
        } else {
            unit.many
        };
        fill(form, &[("n", &n.to_string())])
    }

    /// A list: `a`, `a and b`, `a, b and c`.
    pub fn list(&self, items: &[String]) -> String {
        let mut out = String::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(if i + 1 == items.len() {
                    self.list_and
                } else {
                    self.list_comma
                });
            }
            out.push_str(item);
        }
        out
    }
}

/// `template` with each `{name}` of `values` replaced by its value, in one pass (a value that
/// holds braces is not read again). An unknown `{name}` stays as it is.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(k, _)| *k == &after[..close])
                .map(|(_, v)| (close, v))
        }) {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_names_once() {
        assert_eq!(
            fill("{a} and {b}{c} {", &[("a", "{b}"), ("b", "x")]),
            "{b} and x{c} {"
        );
        assert_eq!(fill("", &[]), "");
        assert_eq!(fill("né {n}", &[("n", "é")]), "né é");
    }

    #[test]
    fn english_results_are_the_json_words() {
        for f in Found::all() {
            assert_eq!(Lang::En.text().results.get(f), f.as_str(), "{f:?}");
        }
    }

    #[test]
    fn english_cause_words_are_the_stored_words() {
        for c in Cause::ALL {
            assert_eq!(
                Lang::En.text().cause_words.get(c),
                c.as_str().replace('_', " "),
                "{c:?}"
            );
        }
    }

    #[test]
    fn french_spaces_before_double_punctuation_do_not_break() {
        // Every string of the French table, through what the templates produce.
        let t = Lang::Fr.text();
        let mut all: Vec<&str> = vec![
            t.found,
            t.rechecks_exhausted,
            t.cause_sep,
            t.reply_subject,
            t.why,
            t.checked,
            t.to_do,
            t.check_row,
            t.commands_footer,
            t.commands_footer_html,
            t.held_line,
            t.held_command_line,
            t.section_heading,
            t.digest_line,
            t.digest_footer_html,
            t.happened_failed,
            t.retry_final,
            t.retry_until,
            t.retry_for,
            t.retry_unknown,
            t.quoted_subject,
            t.digest_subject_none,
            t.digest_subject_clear,
            t.digest_intro,
            t.still_stuck.explain,
            t.failed.explain,
            t.resolved.explain,
            t.time_left,
        ];
        let a = &t.advice;
        all.extend([
            a.recipient_domain,
            a.sender_domain,
            a.dns_inconclusive,
            a.dns_inconclusive_sent,
            a.dns_inconclusive_invite,
            a.dns_inconclusive_off,
            a.sender_listed,
            a.sender_listed_invite,
            a.sender_listed_off,
            a.sender_ptr,
            a.sender_ptr_invite,
            a.sender_ptr_off,
            a.recipient_listed,
            a.blocked_by_recipient,
            a.unexplained,
            a.unexplained_invite,
            a.unexplained_off,
        ]);
        let c = &t.commands;
        all.extend([
            c.needs_thread_subject,
            c.needs_thread,
            c.muted_subject,
            c.unmuted_subject,
            c.not_muted_subject,
            c.not_muted,
            c.forwarding_off_subject,
            c.forwarding_off,
            c.already_with_support_subject,
            c.support_held_subject,
            c.support_held,
            c.sent_to_support_subject,
            c.status_subject.one,
            c.status_subject.many,
            c.status_head.one,
            c.status_head.many,
            c.status_line,
            c.help_subject,
            c.help,
            t.held_subject.one,
            t.held_subject.many,
            t.held_intro.one,
            t.held_intro.many,
            t.digest_subject_open.one,
            t.digest_subject_open.many,
        ]);
        for s in all {
            for bad in [" :", " ;", " ?", " !", "« ", " »"] {
                assert!(!s.contains(bad), "a breaking space in {s:?}");
            }
        }
    }
}
