//! Amazon SES notifications delivered by SNS as email: a JSON object in the body
//! (`{"notificationType":"Bounce","bounce":{"bouncedRecipients":[…]}}`) instead of a report.

use crate::notice::{address, codes, Action, Recipient};

/// Reads the recipients of an SES bounce or delivery notification; `None` when the text holds
/// no such JSON.
pub fn read(text: &str) -> Option<Vec<Recipient>> {
    if !text.contains("\"notificationType\"") {
        return None;
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    if end <= start {
        return None;
    }
    // SNS wraps long lines; the breaks fall inside the JSON and are not part of it.
    let json: String = text[start..=end]
        .chars()
        .filter(|c| *c != '\n' && *c != '\r')
        .collect();
    let value: serde_json::Value = serde_json::from_str(&json).ok()?;
    let (list, action) = match value.get("notificationType")?.as_str()? {
        "Bounce" => (value.get("bounce")?.get("bouncedRecipients")?, Action::Failed),
        "Delivery" => (value.get("delivery")?.get("recipients")?, Action::Delivered),
        _ => return None,
    };
    let recipients: Vec<Recipient> = list
        .as_array()?
        .iter()
        .filter_map(|r| {
            let addr = r
                .get("emailAddress")
                .and_then(|a| a.as_str())
                .or_else(|| r.as_str())?;
            let diagnostic = r.get("diagnosticCode").and_then(|d| d.as_str()).map(|d| {
                d.split_once(';')
                    .map_or(d, |(kind, rest)| if kind.len() < 12 { rest } else { d })
                    .trim()
                    .to_string()
            });
            Some(Recipient {
                address: address::normalize_address(addr)?,
                action: Some(action),
                status: r
                    .get("status")
                    .and_then(|s| s.as_str())
                    .and_then(codes::status_code)
                    .or_else(|| diagnostic.as_deref().and_then(codes::status_code)),
                reply_code: diagnostic.as_deref().and_then(codes::reply_code),
                diagnostic,
                ..Recipient::default()
            })
        })
        .take(crate::notice::MAX_RECIPIENTS)
        .collect();
    (!recipients.is_empty()).then_some(recipients)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_bounce_notification() {
        let text = "\n{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{\"emailAddress\":\"x@y.example\",\"action\":\"failed\",\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user\n unknown\"}]}}\n--\nunsubscribe";
        let r = read(text).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].address, "x@y.example");
        assert_eq!(r[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(r[0].reply_code.as_deref(), Some("550"));
        assert_eq!(r[0].diagnostic.as_deref(), Some("550 5.1.1 user unknown"));
        assert!(read("no json here").is_none());
    }
}
