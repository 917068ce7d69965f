//! The verdict: a pure function of the notice and the findings, following DESIGN.md's table.
//! Rows are in order of precedence: the first that holds decides the action; the text names
//! every cause that holds. A final failure is worded as final; a delay says how long the
//! sending server keeps trying.

use crate::diagnose::{
    Finding, Found, OurListing, Refusal, ReverseDns, Routing, SenderRecords, TheirListing,
};

use serde::Serialize;

/// What the bot does with a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Advise the user: the cause is on the recipient's side or the user's DNS.
    ReplyUser,
    /// Send the package to Support: the cause is ours, or nothing explains the delay.
    ForwardSupport,
    /// Nothing is sent yet: a lookup that could decide failed; diagnose again later.
    Recheck,
}

/// Why mail is stuck, in the table's order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The recipient domain's mail routing is broken.
    RecipientDomain,
    /// The sender domain has no A and no MX.
    SenderDomain,
    /// A lookup that could change the two rows above failed.
    DnsInconclusive,
    /// Our sending IP is on a blocklist.
    SenderListed,
    /// Our sending IP has no forward-confirmed reverse DNS.
    SenderPtr,
    /// A recipient server IP is on a blocklist.
    RecipientListed,
    /// The remote server says it refuses our server.
    BlockedByRecipient,
    /// Every check passes.
    Unexplained,
}

impl Action {
    /// The word JSON and the state use (`reply_user`, `forward_support`, `recheck`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReplyUser => "reply_user",
            Action::ForwardSupport => "forward_support",
            Action::Recheck => "recheck",
        }
    }
}

impl Cause {
    /// Every cause, in the order the decision table ranks them.
    pub const ALL: [Cause; 8] = [
        Cause::RecipientDomain,
        Cause::SenderDomain,
        Cause::DnsInconclusive,
        Cause::SenderListed,
        Cause::SenderPtr,
        Cause::RecipientListed,
        Cause::BlockedByRecipient,
        Cause::Unexplained,
    ];

    /// The word JSON and the state use (`recipient_domain`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::RecipientDomain => "recipient_domain",
            Cause::SenderDomain => "sender_domain",
            Cause::DnsInconclusive => "dns_inconclusive",
            Cause::SenderListed => "sender_listed",
            Cause::SenderPtr => "sender_ptr",
            Cause::RecipientListed => "recipient_listed",
            Cause::BlockedByRecipient => "blocked_by_recipient",
            Cause::Unexplained => "unexplained",
        }
    }

    fn action(self) -> Action {
        match self {
            Cause::RecipientDomain
            | Cause::SenderDomain
            | Cause::RecipientListed
            | Cause::BlockedByRecipient => Action::ReplyUser,
            Cause::DnsInconclusive => Action::Recheck,
            Cause::SenderListed | Cause::SenderPtr | Cause::Unexplained => Action::ForwardSupport,
        }
    }

    /// A short name for the cause, in English: for logs, JSON and Support (the user reads
    /// [`Cause::label_in`] their language; both come from `compose/text/`).
    pub fn label(self) -> &'static str {
        self.label_in(crate::compose::Lang::En)
    }
}

/// Whether the notice's package goes to Support, and what the user is told about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Forwarding {
    /// Nothing to forward, or not decided by the bot: a cause of ours invites "support".
    #[default]
    None,
    /// The package went to Support.
    Sent,
    /// `escalation: ask` (or a limit): a "support" reply sends it.
    Invite,
    /// `escalation: never`: nothing goes to Support.
    Off,
}

/// The decision about one notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// What the bot does.
    pub action: Action,
    /// The deciding cause (the first row that holds).
    pub cause: Cause,
    /// Every cause that holds, in the table's order.
    #[serde(skip)]
    pub causes: Vec<Cause>,
    /// When the verdict comes after the last recheck still could not decide: how many times
    /// the DNS checks were tried (the words say so; `compose::words::summary`).
    #[serde(skip)]
    pub rechecks_exhausted: Option<u32>,
    /// Whether the package goes to Support (what the advice says about it).
    #[serde(skip)]
    pub forwarding: Forwarding,
}

fn any(findings: &[Finding], found: impl Fn(Found) -> bool) -> bool {
    findings.iter().any(|f| found(f.found))
}

/// Decides a notice from what its checks found. Pure: the same findings give the same verdict.
pub fn decide(findings: &[Finding]) -> Verdict {
    use Found as F;
    let mut causes = Vec::new();
    if any(findings, |f| {
        matches!(
            f,
            F::RecipientDomain(
                Routing::Nxdomain | Routing::NullMx | Routing::NoMxNoAddress | Routing::MxHostsUnresolvable
            )
        )
    }) {
        causes.push(Cause::RecipientDomain);
    }
    if any(findings, |f| {
        matches!(
            f,
            F::SenderDomain(SenderRecords::Nxdomain | SenderRecords::Missing)
        )
    }) {
        causes.push(Cause::SenderDomain);
    }
    if any(findings, |f| {
        matches!(
            f,
            F::RecipientDomain(Routing::DnsError) | F::SenderDomain(SenderRecords::DnsError)
        )
    }) {
        causes.push(Cause::DnsInconclusive);
    }
    if any(findings, |f| matches!(f, F::SenderListed(OurListing::Listed))) {
        causes.push(Cause::SenderListed);
    }
    if any(findings, |f| {
        matches!(f, F::SenderPtr(ReverseDns::NoPtr | ReverseDns::Mismatch))
    }) {
        causes.push(Cause::SenderPtr);
    }
    if any(findings, |f| {
        matches!(f, F::RecipientListed(TheirListing::Listed))
    }) {
        causes.push(Cause::RecipientListed);
    }
    if any(findings, |f| {
        matches!(f, F::BlockedByRecipient(Refusal::BlockingUs))
    }) {
        causes.push(Cause::BlockedByRecipient);
    }
    if causes.is_empty() {
        causes.push(Cause::Unexplained);
    }
    let cause = causes[0];
    let action = cause.action();
    let forwarding = if action == Action::ForwardSupport {
        Forwarding::Sent
    } else {
        Forwarding::None
    };
    Verdict {
        action,
        cause,
        causes,
        rechecks_exhausted: None,
        forwarding,
    }
}

/// The verdict when nothing goes to Support on the bot's own: `Invite` (escalation `ask`, or
/// the hourly limit) says what a "support" reply would send; `Off` (escalation `never`) says
/// forwarding is turned off.
pub fn hold_forwarding(v: Verdict, how: Forwarding) -> Verdict {
    let forwards = v.action == Action::ForwardSupport;
    if !forwards && how != Forwarding::Off {
        return v;
    }
    Verdict {
        action: if forwards { Action::ReplyUser } else { v.action },
        forwarding: how,
        ..v
    }
}

/// The verdict after the last recheck still could not decide (DNS kept failing): the package
/// goes to Support with the gap stated, rather than waiting for ever.
pub fn after_last_recheck(v: Verdict, checks: u32) -> Verdict {
    if v.action != Action::Recheck {
        return v;
    }
    Verdict {
        action: Action::ForwardSupport,
        rechecks_exhausted: Some(checks),
        forwarding: Forwarding::Sent,
        ..v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::Lang::En;
    use crate::notice::{Kind, Notice, Recipient};

    fn notice(kind: Kind) -> Notice {
        Notice {
            kind,
            generator: None,
            reporting_mta: None,
            sending_ips: vec![],
            original: None,
            language: None,
            recipients: vec![Recipient {
                address: "bob@partner.example".into(),
                retry_until: Some("2026-11-26T04:11:40Z".into()),
                remaining_seconds: Some(158_340),
                ..Recipient::default()
            }],
        }
    }

    fn f(found: Found) -> Finding {
        Finding::new(found, "x", "")
    }

    #[test]
    fn words_are_what_json_prints() {
        for a in [Action::ReplyUser, Action::ForwardSupport, Action::Recheck] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for c in Cause::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for k in [
            Kind::Delayed,
            Kind::Failed,
            Kind::Delivered,
            Kind::Relayed,
            Kind::Expanded,
            Kind::Autoreply,
            Kind::Feedback,
            Kind::None,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn every_row_of_the_table() {
        let rows: Vec<(Vec<Finding>, Cause, Action)> = vec![
            (
                vec![f(Found::RecipientDomain(Routing::Nxdomain))],
                Cause::RecipientDomain,
                Action::ReplyUser,
            ),
            (
                vec![f(Found::RecipientDomain(Routing::NullMx))],
                Cause::RecipientDomain,
                Action::ReplyUser,
            ),
            (
                vec![f(Found::RecipientDomain(Routing::NoMxNoAddress))],
                Cause::RecipientDomain,
                Action::ReplyUser,
            ),
            (
                vec![f(Found::RecipientDomain(Routing::MxHostsUnresolvable))],
                Cause::RecipientDomain,
                Action::ReplyUser,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::SenderDomain(SenderRecords::Missing)),
                ],
                Cause::SenderDomain,
                Action::ReplyUser,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::SenderDomain(SenderRecords::Nxdomain)),
                ],
                Cause::SenderDomain,
                Action::ReplyUser,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::DnsError)),
                    f(Found::SenderDomain(SenderRecords::Ok)),
                ],
                Cause::DnsInconclusive,
                Action::Recheck,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::SenderDomain(SenderRecords::DnsError)),
                ],
                Cause::DnsInconclusive,
                Action::Recheck,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::SenderListed(OurListing::Listed)),
                ],
                Cause::SenderListed,
                Action::ForwardSupport,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::SenderPtr(ReverseDns::NoPtr)),
                ],
                Cause::SenderPtr,
                Action::ForwardSupport,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::SenderPtr(ReverseDns::Mismatch)),
                ],
                Cause::SenderPtr,
                Action::ForwardSupport,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::RecipientListed(TheirListing::Listed)),
                ],
                Cause::RecipientListed,
                Action::ReplyUser,
            ),
            (
                vec![f(Found::BlockedByRecipient(Refusal::BlockingUs))],
                Cause::BlockedByRecipient,
                Action::ReplyUser,
            ),
            (
                vec![
                    f(Found::RecipientDomain(Routing::Ok)),
                    f(Found::SenderDomain(SenderRecords::Ok)),
                    f(Found::SenderPtr(ReverseDns::Ok)),
                ],
                Cause::Unexplained,
                Action::ForwardSupport,
            ),
            // A decided domain problem wins over a failed lookup elsewhere.
            (
                vec![
                    f(Found::RecipientDomain(Routing::Nxdomain)),
                    f(Found::SenderDomain(SenderRecords::DnsError)),
                ],
                Cause::RecipientDomain,
                Action::ReplyUser,
            ),
            // A listing of ours outranks theirs; both are named.
            (
                vec![
                    f(Found::RecipientListed(TheirListing::Listed)),
                    f(Found::SenderListed(OurListing::Listed)),
                ],
                Cause::SenderListed,
                Action::ForwardSupport,
            ),
            // A blocklist error is not a listing.
            (
                vec![f(Found::SenderListed(OurListing::ListError))],
                Cause::Unexplained,
                Action::ForwardSupport,
            ),
        ];
        for (findings, cause, action) in rows {
            let v = decide(&findings);
            assert_eq!((v.cause, v.action), (cause, action), "{findings:?}");
        }
    }

    #[test]
    fn every_cause_is_named_and_time_is_given() {
        let findings = vec![
            f(Found::RecipientListed(TheirListing::Listed)),
            f(Found::SenderListed(OurListing::Listed)),
        ];
        // The notice arrived 1 day 19 hours 59 minutes before the sending server gives up.
        let clock = crate::compose::words::Clock::utc(1_795_507_960);
        let words = |kind: Kind, v: &Verdict| crate::compose::words::summary(&notice(kind), v, &clock, En);
        let v = decide(&findings);
        assert_eq!(v.causes, vec![Cause::SenderListed, Cause::RecipientListed]);
        let summary = words(Kind::Delayed, &v);
        assert!(summary.contains("our sending server is on a blocklist"));
        // A cause of ours that did not decide the verdict does not claim a forward.
        let v2 = decide(&[
            f(Found::RecipientDomain(Routing::Nxdomain)),
            f(Found::SenderPtr(ReverseDns::NoPtr)),
        ]);
        assert_eq!(v2.action, Action::ReplyUser);
        let summary2 = words(Kind::Delayed, &v2);
        assert!(
            summary2.contains("Reply \"support\" to send the full report"),
            "{summary2}"
        );
        assert!(!summary2.contains("has been sent to Support"), "{summary2}");
        assert!(summary.contains("the recipient's server is on a blocklist"));
        assert!(
            summary.contains("keeps trying until Thu 26 Nov, 04:11 UTC (in 1 day 19 hours)"),
            "{summary}"
        );
        let v = decide(&findings);
        let summary = words(Kind::Failed, &v);
        assert!(summary.contains("could not be delivered"));
        assert!(summary.contains("This is final"));
        assert!(!summary.contains("keeps trying"));
    }

    #[test]
    fn advice_follows_what_happens_to_the_package() {
        for cause in [
            Cause::SenderListed,
            Cause::SenderPtr,
            Cause::Unexplained,
            Cause::DnsInconclusive,
        ] {
            assert!(!cause.advice(Forwarding::Off, En).contains("Reply"), "{cause:?}");
            assert!(
                cause.advice(Forwarding::Invite, En).contains("Reply \"support\""),
                "{cause:?}"
            );
        }
        assert!(Cause::DnsInconclusive
            .advice(Forwarding::Sent, En)
            .contains("has been sent"));
        assert!(Cause::DnsInconclusive
            .advice(Forwarding::None, En)
            .contains("will be repeated"));
        assert!(Cause::Unexplained
            .advice(Forwarding::Sent, En)
            .contains("has been sent"));
        // Causes on the recipient's side read the same whatever happens to the package.
        assert_eq!(
            Cause::RecipientDomain.advice(Forwarding::Off, En),
            Cause::RecipientDomain.advice(Forwarding::Sent, En)
        );
    }
}
