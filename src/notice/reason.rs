//! The cause of a failure or delay in the vocabulary of the Sisimai project, which bounce
//! tooling already speaks: from the remote server's words first, then the status code.

use super::phrases::Labelled;
use super::Action;
use std::sync::LazyLock;

/// Words in a diagnostic, checked in order; the first match names the reason.
const BY_TEXT: &[(&str, &[&str])] = &[
    (
        "expired",
        &[
            "queue.expired",
            "message expired",
            "has been expired",
            "retry timeout exceeded",
            "retry time exceeded",
            "too long in the queue",
            "delivery time expired",
            "could not be delivered for",
            "cannot send message for",
            // Exim, when a host's retry time is past its cutoff.
            "have been failing for a long time",
            "after a long failure period",
        ],
    ),
    (
        "blocked",
        &[
            "blocked using",
            "listed at",
            "listed in",
            "blacklist",
            "blocklist",
            "dnsbl",
            "spamhaus",
            "poor reputation",
            "client host",
            "not allowed to send",
            "access denied",
            "ip address block",
            "reverse dns",
            "no ptr",
            "rdns",
        ],
    ),
    ("spamdetected", &["spam", "junk mail", "unsolicited"]),
    (
        "userunknown",
        &[
            "user unknown",
            "unknown user",
            "no such user",
            "user not found",
            "recipnotfound",
            "does not exist",
            "mailbox not found",
            "unknown recipient",
            "recipient address rejected",
            "invalid recipient",
            "no mailbox",
            "address unknown",
            "not a valid mailbox",
            "mailbox unavailable",
            "unrouteable address",
            "no such recipient",
            "account does not exist",
            "unknown local part",
            "recipient unknown",
            "bad recipient",
            "user doesn't exist",
            "mailbox does not exist",
        ],
    ),
    (
        "mailboxfull",
        &[
            "mailbox full",
            "mailbox is full",
            "quota",
            "over quota",
            "insufficient storage",
            "mailbox size limit",
            "too much mail",
        ],
    ),
    (
        "hostunknown",
        &[
            "host not found",
            "host unknown",
            "name service error",
            "domain not found",
            "no mx",
            "unrouteable mail domain",
            "domain does not exist",
            "nxdomain",
            "no such domain",
            "unknown host",
        ],
    ),
    (
        "emailtoolarge",
        &[
            "message too large",
            "message size exceeds",
            "too big",
            "size limit",
            "message is too large",
        ],
    ),
    (
        "suspend",
        &["disabled", "suspended", "inactive", "deactivated", "not active"],
    ),
    (
        "norelaying",
        &[
            "relay access denied",
            "relaying denied",
            "relay not permitted",
            "not permitted to relay",
            "relaying not allowed",
        ],
    ),
    (
        "ratelimited",
        &["too many", "rate limit", "try again later", "throttl"],
    ),
    (
        "networkerror",
        &[
            "connection refused",
            "connection timed out",
            "failed to connect",
            "network is unreachable",
            "no route to host",
            "connection reset",
            "lost connection",
            "timed out",
            "unable to connect",
        ],
    ),
    (
        "rejected",
        &[
            "sender rejected",
            "sender address rejected",
            "domain of sender",
            "sender verify failed",
        ],
    ),
    ("policyviolation", &["policy", "not accepted", "content rejected"]),
    (
        "systemerror",
        &[
            "system error",
            "internal error",
            "local error",
            "temporary failure",
            "server error",
            "duplicated message-id",
        ],
    ),
];

/// Status codes (prefix match on the part after the class) and their reasons.
const BY_STATUS: &[(&str, &str)] = &[
    ("1.1", "userunknown"),
    ("1.0", "userunknown"),
    ("1.2", "hostunknown"),
    ("1.10", "notaccept"),
    ("1.3", "syntaxerror"),
    ("1.6", "hasmoved"),
    ("1.7", "rejected"),
    ("1.8", "rejected"),
    ("2.1", "suspend"),
    ("2.2", "mailboxfull"),
    ("2.3", "emailtoolarge"),
    ("3.1", "systemfull"),
    ("3.4", "emailtoolarge"),
    ("3.5", "systemerror"),
    ("4.1", "networkerror"),
    ("4.2", "networkerror"),
    ("4.3", "systemerror"),
    ("4.4", "networkerror"),
    ("4.6", "networkerror"),
    ("4.7", "expired"),
    ("4.316", "expired"),
    ("4.300", "expired"),
    ("5.3", "toomanyconn"),
    ("6.0", "contenterror"),
    ("7.1", "blocked"),
    ("7.0", "securityerror"),
    ("7.23", "blocked"),
    ("7.25", "requireptr"),
    ("7.26", "authfailure"),
    ("7.", "securityerror"),
];

/// Names the cause; `None` when neither the words nor the code say anything.
pub fn classify(diagnostic: Option<&str>, status: Option<&str>, action: Option<Action>) -> Option<String> {
    if action == Some(Action::Delivered) {
        return Some("delivered".into());
    }
    static WORDS: LazyLock<Labelled> = LazyLock::new(|| Labelled::new(BY_TEXT));
    if let Some(reason) = diagnostic.and_then(|d| WORDS.first_label([d])) {
        return Some(reason.to_string());
    }
    let status = status?;
    let detail = status.get(2..)?;
    let mut best: Option<(&str, usize)> = None;
    for (prefix, reason) in BY_STATUS {
        let matches = if prefix.ends_with('.') {
            detail.starts_with(prefix)
        } else {
            detail == *prefix || detail.starts_with(&format!("{prefix}."))
        };
        if matches && best.is_none_or(|(_, l)| prefix.len() > l) {
            best = Some((reason, prefix.len()));
        }
    }
    best.map(|(r, _)| r.to_string()).or(Some("undefined".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_then_codes() {
        assert_eq!(
            classify(
                Some("550 5.1.1 <a@b>: Recipient address rejected: User unknown"),
                Some("5.1.1"),
                None
            )
            .as_deref(),
            Some("userunknown")
        );
        assert_eq!(
            classify(
                Some("500 4.4.7 QUEUE.Expired; message expired"),
                Some("5.4.7"),
                None
            )
            .as_deref(),
            Some("expired")
        );
        assert_eq!(classify(None, Some("4.4.7"), None).as_deref(), Some("expired"));
        assert_eq!(
            classify(None, Some("5.2.2"), None).as_deref(),
            Some("mailboxfull")
        );
        assert_eq!(
            classify(
                Some("554 5.7.1 Client host [203.0.113.5] blocked using zen.spamhaus.org"),
                Some("5.7.1"),
                None
            )
            .as_deref(),
            Some("blocked")
        );
        assert_eq!(classify(None, None, None), None);
    }
}
