//! Conversations: repeated notices about the same original message and recipient (Exchange
//! sends several) form one thread. What the bot sends for a notice depends on the thread:
//! the first notice is answered; a later delay notice only when the verdict changed; the final
//! failure closes the thread with one last message; nothing after that. Pure: the watcher
//! records the [`Plan`] and its messages in one transaction.

use crate::notice::{Kind, Notice};
use crate::verdict::{Action, Verdict};
use crate::vocab::{Outcome, Role, ThreadState};

/// A conversation about one original message and recipient: what the thread logic needs to
/// know of it (the state stores and returns it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Row id.
    pub id: i64,
    /// The verdict last told (`action/cause`).
    pub verdict: String,
    /// Where the conversation stands.
    pub state: ThreadState,
    /// Message-IDs the bot sent to the user in it, oldest first.
    pub messages: Vec<String>,
    /// Whether a package went to Support in it.
    pub package_sent: bool,
    /// The organisation whose server wrote the thread's notices (see
    /// [`reporter_domain`]), when known.
    pub reporter: Option<String>,
}

/// What to do with one decided notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The user's message, if one is sent: a reply or the closing message.
    pub message: Option<Role>,
    /// Whether the package goes to Support.
    pub package: bool,
    /// The thread's state afterwards.
    pub state: ThreadState,
    /// What was done, for the record and `history`.
    pub outcome: Outcome,
}

/// The verdict as the thread remembers it: `action/cause`.
pub fn verdict_key(v: &Verdict) -> String {
    format!("{}/{}", v.action.as_str(), v.cause.as_str())
}

/// What the thread is keyed by: the original message (its Message-ID, else the notice's
/// own identity) and the recipients still delayed or failed.
pub fn thread_key(notice: &Notice, fingerprint: &str) -> (String, String) {
    let original = notice
        .original
        .as_ref()
        .and_then(|o| o.message_id.clone())
        .map(|id| format!("mid:{}", id.to_ascii_lowercase()))
        .unwrap_or_else(|| fingerprint.to_string());
    let mut recipients: Vec<String> = notice
        .recipients
        .iter()
        .filter(|r| {
            matches!(
                r.action,
                Some(crate::notice::Action::Delayed | crate::notice::Action::Failed)
            )
        })
        .map(|r| r.address.to_ascii_lowercase())
        .collect();
    if recipients.is_empty() {
        recipients = notice
            .recipients
            .iter()
            .map(|r| r.address.to_ascii_lowercase())
            .collect();
    }
    recipients.sort();
    recipients.dedup();
    (original, recipients.join(","))
}

/// Decides what a decided notice (not `Recheck`) sends, given its thread.
pub fn plan(kind: Kind, v: &Verdict, thread: Option<&Thread>, reporter: Option<&str>) -> Plan {
    let forward = v.action == Action::ForwardSupport;
    let final_failure = kind == Kind::Failed;
    let Some(t) = thread else {
        return Plan {
            message: Some(Role::Reply),
            package: forward,
            state: if final_failure {
                ThreadState::Closed
            } else {
                ThreadState::Open
            },
            outcome: Outcome::Answered,
        };
    };
    let quiet = |state, outcome| Plan {
        message: None,
        package: false,
        state,
        outcome,
    };
    match t.state {
        ThreadState::Muted => quiet(ThreadState::Muted, Outcome::Muted),
        ThreadState::Closed => quiet(ThreadState::Closed, Outcome::AfterClose),
        // A final failure from another organisation's server than the one whose notices
        // built the thread (a forgery, most likely) cannot close it: recorded, not answered;
        // the real notices go on updating the thread.
        _ if final_failure && disputed(t.reporter.as_deref(), reporter) => {
            quiet(ThreadState::Open, Outcome::Disputed)
        }
        _ if final_failure => Plan {
            message: Some(Role::Closing),
            package: forward && !t.package_sent,
            state: ThreadState::Closed,
            outcome: Outcome::Closed,
        },
        _ if t.verdict == verdict_key(v) => quiet(ThreadState::Open, Outcome::Repeat),
        _ => Plan {
            message: Some(Role::Reply),
            package: forward && !t.package_sent,
            state: ThreadState::Open,
            outcome: Outcome::Updated,
        },
    }
}

/// The organisation a reporting server belongs to, for comparing the notices of one thread:
/// its IP, or the last two labels of its name (`mbx01.corp.example` → `corp.example`).
pub fn reporter_domain(reporting_mta: &str) -> Option<String> {
    let h = reporting_mta
        .trim()
        .trim_matches(['[', ']'])
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if h.is_empty() {
        return None;
    }
    if h.parse::<std::net::IpAddr>().is_ok() {
        return Some(h);
    }
    // Two labels, or three under a country's second-level domain (`mx.corp.co.uk`).
    let labels: Vec<&str> = h.rsplit('.').collect();
    let under_sld = labels.len() >= 3
        && labels[0].len() == 2
        && matches!(
            labels[1],
            "co" | "com" | "org" | "net" | "ac" | "gov" | "edu" | "ne" | "or" | "go"
        );
    let keep = if under_sld { 3 } else { 2 };
    Some(labels.into_iter().take(keep).rev().collect::<Vec<_>>().join("."))
}

/// True when the thread's reporter is known and the closing notice's is another one, or
/// none (a forger need only leave it out).
fn disputed(thread: Option<&str>, closing: Option<&str>) -> bool {
    match (thread, closing) {
        (Some(t), Some(c)) => !t.eq_ignore_ascii_case(c),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Cause;

    fn verdict(action: Action, cause: Cause) -> Verdict {
        Verdict {
            action,
            cause,
            causes: vec![cause],
            rechecks_exhausted: None,
            forwarding: Default::default(),
        }
    }

    fn thread(v: &Verdict, state: ThreadState, package_sent: bool) -> Thread {
        Thread {
            id: 1,
            verdict: verdict_key(v),
            state,
            messages: vec!["m1@bot".into()],
            package_sent,
            reporter: None,
        }
    }

    #[test]
    fn one_conversation_per_message_and_recipient() {
        let reply = verdict(Action::ReplyUser, Cause::RecipientDomain);
        let forward = verdict(Action::ForwardSupport, Cause::Unexplained);
        assert_eq!(verdict_key(&forward), "forward_support/unexplained");
        // First notice: answered; a forward sends the package too.
        let p = plan(Kind::Delayed, &forward, None, None);
        assert_eq!(
            (p.message, p.package, p.state),
            (Some(Role::Reply), true, ThreadState::Open)
        );
        // The same verdict again: nothing.
        let t = thread(&forward, ThreadState::Open, true);
        let p = plan(Kind::Delayed, &forward, Some(&t), None);
        assert_eq!((p.message, p.package, p.outcome), (None, false, Outcome::Repeat));
        // A changed verdict: an update, no second package.
        let p = plan(Kind::Delayed, &reply, Some(&t), None);
        assert_eq!(
            (p.message, p.package, p.outcome),
            (Some(Role::Reply), false, Outcome::Updated)
        );
        // The final failure: one closing message.
        let p = plan(Kind::Failed, &forward, Some(&t), None);
        assert_eq!(
            (p.message, p.package, p.state),
            (Some(Role::Closing), false, ThreadState::Closed)
        );
        // After the close, and when muted: silence.
        let closed = thread(&forward, ThreadState::Closed, true);
        assert_eq!(plan(Kind::Failed, &forward, Some(&closed), None).message, None);
        assert_eq!(
            plan(Kind::Delayed, &reply, Some(&closed), None).outcome,
            Outcome::AfterClose
        );
        let muted = thread(&forward, ThreadState::Muted, false);
        assert_eq!(plan(Kind::Failed, &reply, Some(&muted), None).message, None);
        // A failure with no earlier delay: answered and closed at once.
        let p = plan(Kind::Failed, &reply, None, None);
        assert_eq!((p.message, p.state), (Some(Role::Reply), ThreadState::Closed));
    }

    #[test]
    fn a_final_failure_from_another_organisation_does_not_close_the_thread() {
        let v = verdict(Action::ReplyUser, Cause::RecipientDomain);
        let t = Thread {
            reporter: Some("corp.example".into()),
            ..thread(&v, ThreadState::Open, false)
        };
        let forged = plan(Kind::Failed, &v, Some(&t), Some("evil.example"));
        assert_eq!(
            (forged.message, forged.state, forged.outcome),
            (None, ThreadState::Open, Outcome::Disputed)
        );
        let real = plan(Kind::Failed, &v, Some(&t), Some("corp.example"));
        assert_eq!(
            (real.message, real.state),
            (Some(Role::Closing), ThreadState::Closed)
        );
        // A closing notice that names no reporter where the thread's is known: disputed.
        assert_eq!(plan(Kind::Failed, &v, Some(&t), None).outcome, Outcome::Disputed);
        // The thread's reporter unknown: nothing to compare, it closes.
        let unknown = thread(&v, ThreadState::Open, false);
        assert_eq!(
            plan(Kind::Failed, &v, Some(&unknown), Some("evil.example")).state,
            ThreadState::Closed
        );
        assert_eq!(reporter_domain("mx1.corp.co.uk").as_deref(), Some("corp.co.uk"));
        assert_ne!(reporter_domain("mx.evil.co.uk"), reporter_domain("mx.corp.co.uk"));
        assert_eq!(
            reporter_domain("MBX02.Corp.Example.").as_deref(),
            Some("corp.example")
        );
        assert_eq!(reporter_domain("[192.0.2.5]").as_deref(), Some("192.0.2.5"));
    }
}
