//! The wording of notices: every phrase list the reader looks for, and [`Hits`], which finds
//! all of them in one pass over a notice's text (Aho-Corasick, ASCII case ignored).
//!
//! Scanning each list separately cost a pass over the text per list; one pass over the joined
//! text, with every consumer asking the hits for its own list and range, is what keeps
//! reading within a small multiple of merely reading the file.

use super::languages::LANGUAGES;
use super::phrases::{Catalog, Hit, Phrases};
use std::ops::Range;
use std::sync::LazyLock;

/// Subjects that notices use.
pub const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliverable",
    "undelivered",
    "undeliverd",
    "returned mail",
    "return mail",
    "delivery status notification",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "failure notice",
    "failure delivery",
    "mail delivery",
    "delivery delayed",
    "delayed mail",
    "delivery notification",
    "delivery problem",
    "delivery report",
    "non-delivery",
    "nondeliverable",
    "non delivery",
    "not delivered",
    "could not send",
    "cannot send",
    "couldn't be delivered",
    "could not be delivered",
    "mail system error",
    "message delivery",
    "returned to sender",
    "unable to deliver",
    "warning: message",
    "warning--could not",
    "mail could not",
    "error sending",
    "bounce",
    "nicht zustellbar",
    "unzustellbar",
    "non recapitabile",
    "no se puede entregar",
    "non remis",
    "echec de distribution",
    "undeliverable mail",
    "delivery status",
    "mail failure",
    "permanent error",
    "rejected",
    "delivery error",
    "failed delivery",
    "message not delivered",
    "nondelivery",
    "undelivery",
];

/// Phrases that mail systems write in notices (and people rarely do).
pub const MARKERS: &[&str] = &[
    "this is the mail system at host",
    "this is the qmail-send program",
    "created automatically by mail delivery software",
    "delivery to the following recipient",
    "delivery has failed to these recipients",
    "delivery is delayed to these recipients",
    "hasn't been delivered yet",
    "has not yet been delivered",
    "could not be delivered",
    "couldn't be delivered",
    "was not delivered",
    "could not deliver",
    "permanent fatal errors",
    "transcript of session follows",
    "i'm sorry to have to inform you",
    "sorry to inform you",
    "wasn't able to deliver",
    "was not able to deliver",
    "unable to deliver",
    "did not reach some or all",
    "diagnostic information for administrators",
    "this is the mailer-daemon",
    "mailer-daemon",
    "failed permanently",
    "delivery failed",
    "delivery has failed",
    "undeliverable",
    "undelivered",
    "returned mail",
    "permanent error",
    "temporary error",
    "user unknown",
    "unknown user",
    "no such user",
    "mailbox unavailable",
    "mailbox is full",
    "recipient address rejected",
    "address rejected",
    "smtp error",
    "delivery status notification",
    "non-delivery",
    "nondeliverable",
    "message delayed",
    "delivery attempts will continue",
    "will continue to be attempted",
    "could not send message",
    "has been delayed",
    "the original message was received",
    "following address",
    "following recipient",
    "remote host said",
    "said: 5",
    "said: 4",
    "host unknown",
    "was rejected",
    "rejected your message",
    "message rejected",
    "bounced",
    "error delivering",
    "error occurred while",
    "dns lookup failure",
    // Mailing-list managers (FML) refusing a post.
    "duplicated message-id",
    "loop alert",
    "550 ",
    "554 ",
    "553 ",
    "552 ",
    "551 ",
    "450 ",
    "451 ",
    "452 ",
    "421 ",
];

/// Wording that says delivery was given up.
pub const FINAL: &[&str] = &[
    "gave up",
    "given up",
    "not going to try again",
    "this is a permanent error",
    "has been expired",
    "message expired",
    "queue.expired",
    "failed permanently",
    "permanent fatal error",
    "delivery has failed",
    "retry timeout exceeded",
    "retry time exceeded",
    "cannot send message for",
    "could not be delivered within",
    "has been returned",
];

/// Subject wording of a delay warning.
pub const DELAY_SUBJECTS: &[&str] = &[
    "delay",
    "warning:",
    "warning--",
    "warning -",
    ": warning",
    "still being retried",
    "not yet been delivered",
    "not yet delivered",
    "could not send message for past",
    "could not send mail for past",
];

/// Body wording of a delay warning: the server keeps trying.
pub const DELAY_BODY: &[&str] = &[
    "will continue to be attempted",
    "will keep trying",
    "hasn't been delivered yet",
    "has not been delivered yet",
    "has not yet been delivered",
    "not yet been delivered",
    "still being retried",
    "delivery attempts will continue",
    "this is a warning message only",
    "this is a warning only",
    "you do not need to resend",
    "no action is required on your part",
    "has been delayed",
    "delivery is delayed",
    "will be retried",
    "will retry",
    "still trying",
    "will try again",
    "temporarily deferred",
];

/// Line openings (after dashes and the like) that start the quoted original.
pub const CUT_STARTS: &[&str] = &[
    "original message",
    "original-message",
    "this is a copy of the message",
    "below this line is a copy of the message",
    "a copy of the original message",
    "copy of the original message",
    "returned message",
    "unsent message",
    "undelivered message",
    "message headers follow",
    "the header of the original message",
    "headers of the original message",
    "header of the original message",
    "your original message",
    "the original message follows",
    "the original message headers",
    "original mail",
    "content-type: message/rfc822",
    "content-type: text/rfc822-headers",
    "included is a copy",
    "this is the original message",
    "here is a copy",
    "rejected message",
    "the text of your message",
    "message text follows",
    "original e-mail",
    "original email",
    "orginal message",
    "message header follows",
    "the message header follows",
    "header of message follows",
    "message as received",
];

/// Header lines (at a line start) that only a quoted original has, never an error report.
pub const HEADER_CUTS: &[&str] = &[
    "\nreturn-path:",
    "\nreceived:",
    "\ndkim-signature:",
    "\nmessage-id:",
    "\nmime-version:",
    "\nx-mailer:",
    "\nauthentication-results:",
    "\ncontent-type:",
    "\nx-originating-ip:",
    "\nuser-agent:",
    "\ndelivered-to:",
    "\nreferences:",
    "\nin-reply-to:",
];

/// Fenced lines (`----- … -----`) that may announce the quoted original.
pub const FENCES: &[&str] = &["\n---", "\n===", "\n***"];

/// Words around a refused client in a notice's text: a line holding one of them may name our
/// sending IP ("Client host [203.0.113.5] blocked", "your IP is listed"). Broad on purpose:
/// it only says where to look for our IP, never what the cause is (that is
/// [`REFUSES_OUR_SERVER`]).
pub const CLIENT_REFUSAL_CONTEXT: &[&str] = &[
    "blocked",
    "listed",
    "blacklist",
    "blocklist",
    "reputation",
    "spamhaus",
    "dnsbl",
    "rbl",
    "refused",
    "client host",
];

/// The remote server's own words for refusing our server ("blocked using", "listed at", "poor
/// reputation", …): one of them in a recipient's diagnostic is the cause `blocked_by_recipient`.
/// Narrower than [`CLIENT_REFUSAL_CONTEXT`] ("connection refused" is not a refusal of us).
pub const REFUSES_OUR_SERVER: &[&str] = &[
    "blocked using",
    "listed at",
    "listed in",
    "listed on",
    "blacklist",
    "blocklist",
    "block list",
    "poor reputation",
    "bad reputation",
    "reputation",
    "client host",
    "spamhaus",
    "barracuda",
    "spamcop",
    "dnsbl",
    "rbl",
    "not allowed to send",
    "access denied",
    "rejected due to",
    "sender ip",
    "your ip",
];

/// Exchange's diagnostic wording.
pub const EXCHANGE_KEYS: &[&str] = &[
    "remote server",
    "for the next ",
    "generating server:",
    "receiving server:",
    "\n#",
];

/// Markers of each family, checked in order against headers and the opening text.
pub const FAMILIES: &[(&str, &[&str])] = &[
    (
        "exchange",
        &[
            "diagnostic information for administrators",
            "generating server:",
            "microsoft exchange",
            "x-ms-exchange",
            "microsoftexchange",
        ],
    ),
    (
        "office365",
        &["protection.outlook.com", "office 365", "outlook.com"],
    ),
    (
        "postfix",
        &["this is the mail system at host", "x-postfix", "(postfix)"],
    ),
    (
        "exim",
        &[
            "created automatically by mail delivery software",
            "x-failed-recipients",
            "eximdsn",
            "(exim",
        ],
    ),
    (
        "gmail",
        &[
            "delivery to the following recipient failed permanently",
            "google.com",
            "gmail",
        ],
    ),
    ("qmail", &["this is the qmail-send program", "qmail"]),
    ("opensmtpd", &["this is the mailer-daemon at", "opensmtpd"]),
    (
        "sendmail",
        &[
            "transcript of session follows",
            "the original message was received at",
            "sendmail",
        ],
    ),
    ("amazonses", &["amazonses.com", "amazon ses"]),
    ("yahoo", &["yahoo"]),
    ("courier", &["courier mail server"]),
    ("domino", &["lotus domino", "domino"]),
    ("mailru", &["mail.ru"]),
    ("yandex", &["yandex"]),
    ("gmx", &["gmx"]),
    ("zoho", &["zoho"]),
    ("fml", &["x-mlserver", "fml ["]),
];

/// How Postfix, Exim, Sendmail and qmail name the remote server (`formats::remote::KEYS` is
/// the first four; the rest are qmail's).
pub const REMOTE_KEYS: &[&str] = &[
    "connect to ",
    "host ",
    "remote server at ",
    "while talking to ",
    "connected to ",
    "giving up on ",
    " does not like ",
];

/// The lists in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum List {
    /// [`MARKERS`].
    Marker,
    /// [`FINAL`].
    Final,
    /// [`DELAY_BODY`].
    Delay,
    /// [`CUT_STARTS`].
    Cut,
    /// [`HEADER_CUTS`].
    HeaderCut,
    /// [`FENCES`].
    Fence,
    /// [`CLIENT_REFUSAL_CONTEXT`].
    Block,
    /// [`EXCHANGE_KEYS`].
    Exchange,
    /// [`REMOTE_KEYS`].
    Remote,
    /// [`FAMILIES`]; the hit's index is the family's.
    Family,
    /// Every phrase of one of [`languages::LANGUAGES`] but English; the hit's index is the
    /// language's.
    Language,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let mut entries: Vec<(u8, u16, &'static str)> = Vec::new();
    for (list, phrases) in [
        (List::Marker, MARKERS),
        (List::Final, FINAL),
        (List::Delay, DELAY_BODY),
        (List::Cut, CUT_STARTS),
        (List::HeaderCut, HEADER_CUTS),
        (List::Fence, FENCES),
        (List::Block, CLIENT_REFUSAL_CONTEXT),
        (List::Exchange, EXCHANGE_KEYS),
        (List::Remote, REMOTE_KEYS),
    ] {
        for (i, p) in phrases.iter().enumerate() {
            entries.push((list as u8, i as u16, p));
        }
    }
    for (i, (_, phrases)) in FAMILIES.iter().enumerate() {
        for p in *phrases {
            entries.push((List::Family as u8, i as u16, p));
        }
    }
    // Other languages' phrases join the lists they belong to (indexes past the list's own),
    // and each also says which language it is.
    let mut next = [0u16; LISTS];
    for e in &entries {
        next[usize::from(e.0)] = next[usize::from(e.0)].max(e.1 + 1);
    }
    for (i, lang) in LANGUAGES.iter().enumerate() {
        for (list, phrases) in [
            (List::Marker, lang.markers),
            (List::Delay, lang.delay),
            (List::Final, lang.failed),
            (List::Cut, lang.original),
        ] {
            for p in phrases {
                entries.push((list as u8, next[list as usize], p));
                next[list as usize] += 1;
                if lang.tag != "en" {
                    entries.push((List::Language as u8, i as u16, p));
                }
            }
        }
    }
    Catalog::new(&entries)
});

/// How many lists the catalog holds.
const LISTS: usize = List::Language as usize + 1;

/// Every phrase of every list found in one text, per list, in order of their end.
#[derive(Debug, Default)]
pub struct Hits {
    by_list: [Vec<Hit>; LISTS],
}

impl Hits {
    /// Finds every phrase in `text` in one pass, up to the first line `is_cut` accepts (a
    /// cut hit's line where the quoted original begins). Returns the hits before that line and
    /// the line's offset (`text.len()` when there is none): the quoted original is not scanned.
    pub fn find_until(text: &str, mut is_cut: impl FnMut(&Hit) -> Option<usize>) -> (Hits, usize) {
        let mut hits = Hits::default();
        let mut cut = text.len();
        for h in CATALOG.hits(text) {
            let list = usize::from(h.list);
            if list == List::Cut as usize || list == List::Fence as usize || list == List::HeaderCut as usize
            {
                if let Some(line_start) = is_cut(&h) {
                    cut = line_start;
                    break;
                }
            }
            if let Some(list) = hits.by_list.get_mut(list) {
                list.push(h);
            }
        }
        for list in &mut hits.by_list {
            list.retain(|h| h.end <= cut);
        }
        (hits, cut)
    }

    /// The hits of one list that lie inside `range`.
    pub fn of(&self, list: List, range: Range<usize>) -> impl Iterator<Item = &Hit> + '_ {
        // Hits are in order of their end: binary-search the range's first one instead of
        // filtering them all (the recipients of a notice each ask about their own block).
        let hits = &self.by_list[list as usize];
        let first = hits.partition_point(|h| h.end < range.start);
        hits[first..]
            .iter()
            .take_while(move |h| h.end <= range.end)
            .filter(move |h| h.start >= range.start)
    }

    /// True when a phrase of `list` lies inside `range`.
    pub fn any(&self, list: List, range: Range<usize>) -> bool {
        self.of(list, range).next().is_some()
    }
}

/// True when a subject is one notices use (any case).
pub fn is_bounce_subject(subject: &str) -> bool {
    static P: LazyLock<Phrases> = LazyLock::new(|| {
        let mut all = BOUNCE_SUBJECTS.to_vec();
        for l in LANGUAGES {
            all.extend(l.delay_subjects.iter().chain(l.failed_subjects));
        }
        Phrases::new(&all)
    });
    P.any(subject)
}

/// True when a subject says delivery is only delayed.
pub fn is_delay_subject(subject: &str) -> bool {
    static P: LazyLock<Phrases> = LazyLock::new(|| {
        let mut all = DELAY_SUBJECTS.to_vec();
        for l in LANGUAGES {
            all.extend(l.delay_subjects);
        }
        Phrases::new(&all)
    });
    P.any(subject)
}

/// True when a short text (a subject) says delivery was given up.
pub fn says_final(text: &str) -> bool {
    static P: LazyLock<Phrases> = LazyLock::new(|| Phrases::new(FINAL));
    P.any(text)
}
