//! Talking to an authorization server's endpoints (RFC 6749 §3.2, RFC 8628 §3.1): one form
//! POST, one JSON answer. Blocking (ureq): callers run it on the blocking pool. The client
//! secret goes in the form body (`client_secret_post`) and into no error or log.

use std::time::Duration;

/// Longest an endpoint may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read (a token answer is a few KB).
const MAX_BODY: u64 = 256 * 1024;

/// What a token endpoint gave.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Granted {
    /// The access token.
    pub access_token: String,
    /// Seconds it is valid for.
    pub expires_in: Option<u64>,
    /// A new refresh token (a rotation, or the first one after a device login).
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Granted")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Why an endpoint gave no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The server answered with an OAuth error (RFC 6749 §5.2): its code and its own words,
    /// e.g. `invalid_client: AADSTS7000215: Invalid client secret provided.`
    #[error("{code}: {description}")]
    Oauth {
        /// The HTTP status it came with.
        status: u16,
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

    /// True when the server is having trouble rather than refusing us (5xx, 429,
    /// `temporarily_unavailable`, `server_error`): worth trying again soon.
    pub fn passing(&self) -> bool {
        match self {
            EndpointError::Oauth { status, code, .. } => {
                *status >= 500
                    || *status == 429
                    || code == "temporarily_unavailable"
                    || code == "server_error"
            }
            EndpointError::Unreachable(_) => true,
        }
    }
}

/// The form fields whose values are secrets: never repeated from a server's answer.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "refresh_token",
    "device_code",
    "code",
    "code_verifier",
];

/// `text` with every secret value sent in `form` replaced (a proxy or a server echoing the
/// request must not put them in a log).
fn scrub(text: String, form: &[(&str, &str)]) -> String {
    form.iter()
        .filter(|(k, v)| SECRET_FIELDS.contains(k) && v.len() >= 4)
        .fold(text, |t, (_, v)| t.replace(v, "<redacted>"))
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
        EndpointError::Unreachable(scrub(
            format!("{}: {}", host_of(url), printable(&e.to_string(), 300)),
            form,
        ))
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
            status,
            code: scrub(printable(&e.error, 64), form),
            description: scrub(
                printable(e.error_description.as_deref().unwrap_or("(no description)"), 500),
                form,
            ),
        }),
        Err(_) => Err(EndpointError::Unreachable(scrub(
            format!("{}: HTTP {status}: {}", host_of(url), printable(&body, 200)),
            form,
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
        assert_eq!(
            scrub(
                "echo: client_secret=hunter22".into(),
                &[("client_secret", "hunter22")]
            ),
            "echo: client_secret=<redacted>"
        );
        let e = EndpointError::Oauth {
            status: 401,
            code: "invalid_client".into(),
            description: "AADSTS7000215: Invalid client secret provided.".into(),
        };
        assert_eq!(
            e.to_string(),
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
    }
}
