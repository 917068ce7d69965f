//! Talking to an authorization server's endpoints (RFC 6749 §3.2, RFC 8628 §3.1): one form
//! POST, one JSON answer. Blocking (ureq): callers run it on the blocking pool. The client
//! secret goes in the form body (`client_secret_post`) and into no error or log.

use std::time::Duration;

/// Longest an endpoint may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read (a token answer is a few KB).
const MAX_BODY: u64 = 256 * 1024;

/// What a token endpoint gave.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Granted {
    /// The access token.
    pub access_token: String,
    /// Seconds it is valid for.
    pub expires_in: Option<u64>,
    /// A new refresh token (a rotation, or the first one after a device login).
    pub refresh_token: Option<String>,
}

/// Why an endpoint gave no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The server answered with an OAuth error (RFC 6749 §5.2): its code and its own words,
    /// e.g. `invalid_client: AADSTS7000215: Invalid client secret provided.`
    #[error("{code}: {description}")]
    Oauth {
        /// `invalid_client`, `invalid_grant`, `authorization_pending`, …
        code: String,
        /// The server's `error_description` (bounded, control characters removed).
        description: String,
    },
    /// The server could not be reached, or answered something that is not an OAuth answer.
    #[error("{0}")]
    Unreachable(String),
}

impl EndpointError {
    /// The OAuth error code, if the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            EndpointError::Oauth { code, .. } => Some(code),
            EndpointError::Unreachable(_) => None,
        }
    }
}

/// Server text fit for a log line: printable, at most `max` characters.
pub fn printable(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out.trim().to_string()
}

/// POSTs `form` to `url` and reads the JSON answer into `T`, or the OAuth error.
pub fn post<T: serde::de::DeserializeOwned>(url: &str, form: &[(&str, &str)]) -> Result<T, EndpointError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("bouncedoc/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let unreachable = |e: ureq::Error| {
        EndpointError::Unreachable(format!("{}: {}", host_of(url), printable(&e.to_string(), 300)))
    };
    let mut answer = agent
        .post(url)
        .header("Accept", "application/json")
        .send_form(form.iter().copied())
        .map_err(unreachable)?;
    let status = answer.status().as_u16();
    let body = answer
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(unreachable)?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&body).map_err(|e| {
            EndpointError::Unreachable(format!(
                "{}: HTTP {status}, not a usable answer ({e})",
                host_of(url)
            ))
        });
    }
    #[derive(serde::Deserialize)]
    struct Error {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_str::<Error>(&body) {
        Ok(e) => Err(EndpointError::Oauth {
            code: printable(&e.error, 64),
            description: printable(e.error_description.as_deref().unwrap_or("(no description)"), 500),
        }),
        Err(_) => Err(EndpointError::Unreachable(format!(
            "{}: HTTP {status}: {}",
            host_of(url),
            printable(&body, 200)
        ))),
    }
}

/// The host part of an endpoint URL, for messages.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_words_are_kept_printable_and_bounded() {
        assert_eq!(printable("a\r\nb", 10), "a  b");
        assert_eq!(printable(&"x".repeat(20), 5), "xxxxx…");
        assert_eq!(
            host_of("https://login.example/t/oauth2/v2.0/token"),
            "login.example"
        );
        let e = EndpointError::Oauth {
            code: "invalid_client".into(),
            description: "AADSTS7000215: Invalid client secret provided.".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
    }
}
