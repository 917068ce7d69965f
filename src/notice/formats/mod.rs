//! Wording that belongs to one family of mail software: who wrote a notice (`generator`),
//! Exchange's diagnostic block, and the remote-server phrases of Postfix, Exim and Sendmail.

pub mod exchange;
pub mod remote;
pub mod ses;

use super::message::Parsed;
use super::phrases::Labelled;
use super::text::Scan;
use std::sync::LazyLock;

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
];

/// Names the software that wrote the notice, when a marker says so; `rfc3464` for an
/// otherwise unknown notice with a delivery-status part; `None` when nothing says.
pub fn generator(parsed: &Parsed, scan: &Scan, has_dsn: bool) -> Option<String> {
    static MARKERS: LazyLock<Labelled> = LazyLock::new(|| Labelled::new(FAMILIES));
    // Header names (X-Postfix-Queue-ID, X-Failed-Recipients, X-MS-Exchange-…), and the values
    // of the few headers that name the software.
    let names = parsed
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.len() > 2 && n.as_bytes()[..2].eq_ignore_ascii_case(b"x-"));
    let values = ["From", "Message-ID", "Content-Type", "X-Mailer"]
        .into_iter()
        .filter_map(|h| parsed.header(h));
    let from_headers = MARKERS.first_index(names.chain(values));
    let from_text = scan.family(8192);
    let best = match (from_headers, from_text) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match best {
        Some(i) => Some(FAMILIES[i].0.to_string()),
        None => has_dsn.then(|| "rfc3464".to_string()),
    }
}
