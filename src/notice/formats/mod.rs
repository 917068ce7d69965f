//! Wording that belongs to one family of mail software: who wrote a notice (`generator`),
//! Exchange's diagnostic block, and the remote-server phrases of Postfix, Exim and Sendmail.

pub mod exchange;
pub mod remote;

use super::message::Parsed;
use super::text::Scan;

/// Markers of each family, checked in order against headers and the opening text.
const FAMILIES: &[(&str, &[&str])] = &[
    ("exchange", &["diagnostic information for administrators", "generating server:", "microsoft exchange", "x-ms-exchange", "microsoftexchange"]),
    ("office365", &["protection.outlook.com", "office 365", "outlook.com"]),
    ("postfix", &["this is the mail system at host", "x-postfix", "(postfix)"]),
    ("exim", &["created automatically by mail delivery software", "x-failed-recipients", "eximdsn", "(exim"]),
    ("gmail", &["delivery to the following recipient failed permanently", "google.com", "gmail"]),
    ("qmail", &["this is the qmail-send program", "qmail"]),
    ("opensmtpd", &["this is the mailer-daemon at", "opensmtpd"]),
    ("sendmail", &["transcript of session follows", "the original message was received at", "sendmail"]),
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
    let mut hay = String::new();
    for (n, v) in &parsed.headers {
        let ln = n.to_ascii_lowercase();
        if ln.starts_with("x-") || ln == "from" || ln == "message-id" || ln == "received" || ln == "content-type" {
            hay.push_str(&ln);
            hay.push(':');
            hay.push_str(&v.to_ascii_lowercase());
            hay.push('\n');
        }
    }
    let mut end = scan.error_text.len().min(8192);
    while !scan.error_text.is_char_boundary(end) {
        end -= 1;
    }
    hay.push_str(&scan.error_text[..end].to_ascii_lowercase());
    for (name, markers) in FAMILIES {
        if markers.iter().any(|m| hay.contains(m)) {
            return Some((*name).to_string());
        }
    }
    has_dsn.then(|| "rfc3464".to_string())
}
