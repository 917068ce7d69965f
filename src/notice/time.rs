//! Dates in notices: RFC 5322 dates in, UTC RFC 3339 out.

use mail_parser::DateTime;

/// Parses an RFC 5322 date (tolerating trailing comments such as `(UTC)`) into UTC RFC 3339,
/// e.g. `2026-11-26T04:11:40Z`. `None` when the value is not a valid date.
pub fn rfc3339_from_rfc2822(value: &str) -> Option<String> {
    unix_from_rfc2822(value).map(rfc3339_from_unix)
}

/// Parses an RFC 5322 date into a Unix time; `None` when it is not a valid date.
pub fn unix_from_rfc2822(value: &str) -> Option<i64> {
    DateTime::parse_rfc822(value.trim())
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp())
}

/// Formats a Unix time as UTC RFC 3339.
pub fn rfc3339_from_unix(ts: i64) -> String {
    let dt = DateTime::from_timestamp(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
    )
}

/// Parses the UTC RFC 3339 form this module writes back into a Unix time.
pub fn unix_from_rfc3339(value: &str) -> Option<i64> {
    let dt = DateTime::parse_rfc3339(value)?;
    Some(dt.to_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_utc() {
        assert_eq!(
            rfc3339_from_rfc2822("Thu, 26 Nov 2026 04:11:40 +0000").as_deref(),
            Some("2026-11-26T04:11:40Z")
        );
        assert_eq!(
            rfc3339_from_rfc2822("Fri, 27 Nov 2026 19:55:00 +0900 (JST)").as_deref(),
            Some("2026-11-27T10:55:00Z")
        );
        assert_eq!(rfc3339_from_rfc2822("not a date"), None);
        let t = unix_from_rfc3339("2026-11-26T04:11:40Z").unwrap();
        assert_eq!(rfc3339_from_unix(t), "2026-11-26T04:11:40Z");
    }
}
