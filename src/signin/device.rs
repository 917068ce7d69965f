//! `bouncedoc login`: the device authorization grant (RFC 8628). The bot asks for a code, the
//! person opens the verification page anywhere and enters it, the bot polls the token endpoint
//! until they have, and stores the refresh token (mode 0600). Blocking.

use super::endpoint::{self, EndpointError};
use super::SignInError;
use crate::config::OAuth2;
use std::path::Path;
use std::time::{Duration, Instant};

/// What the device authorization endpoint gave (RFC 8628 §3.2; Google writes
/// `verification_url`).
#[derive(Clone, serde::Deserialize)]
pub struct DeviceCode {
    /// The code the bot polls with (not shown).
    device_code: String,
    /// The code the person enters.
    pub user_code: String,
    /// Where they enter it.
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    /// The page with the code already filled in, if the server offers one.
    pub verification_uri_complete: Option<String>,
    /// Seconds the code is valid for.
    pub expires_in: u64,
    /// Seconds between polls (default 5).
    pub interval: Option<u64>,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCode")
            .field("device_code", &"<redacted>")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .finish_non_exhaustive()
    }
}

/// Longest a login waits for the person, whatever the server says.
const MAX_WAIT: Duration = Duration::from_secs(30 * 60);

/// Runs the grant for `o` asking for `scope` (the scopes of every block that shares this
/// refresh token), shows the code with `show`, and stores the refresh token. Returns where it
/// was stored.
pub fn login(
    state_dir: &Path,
    o: &OAuth2,
    scope: &str,
    show: impl FnOnce(&DeviceCode),
) -> Result<std::path::PathBuf, SignInError> {
    let device_url = o.device_url.as_deref().ok_or_else(|| {
        SignInError::Refused("no device authorization endpoint (device_url) is configured".into())
    })?;
    let secret = super::client_secret(o)?;
    let mut form = vec![("client_id", o.client_id.as_str()), ("scope", scope)];
    if let Some(s) = &secret {
        form.push(("client_secret", s));
    }
    let mut code: DeviceCode = endpoint::post(device_url, &form).map_err(refused)?;
    // What is shown goes to a terminal: printable text only.
    code.user_code = endpoint::printable(&code.user_code, 64);
    code.verification_uri = endpoint::printable(&code.verification_uri, 500);
    code.verification_uri_complete = code
        .verification_uri_complete
        .map(|u| endpoint::printable(&u, 600));
    show(&code);
    let mut interval = Duration::from_secs(code.interval.unwrap_or(5).clamp(1, 60));
    let deadline = Instant::now() + Duration::from_secs(code.expires_in).min(MAX_WAIT);
    let mut poll = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", code.device_code.as_str()),
        ("client_id", o.client_id.as_str()),
    ];
    if let Some(s) = &secret {
        poll.push(("client_secret", s));
    }
    loop {
        if Instant::now() + interval > deadline {
            return Err(SignInError::Refused(
                "the code expired before it was entered: run bouncedoc login again".into(),
            ));
        }
        std::thread::sleep(interval);
        match endpoint::post::<super::Granted>(&o.token_url, &poll) {
            Ok(granted) => {
                return super::store_login(
                    state_dir,
                    o,
                    granted,
                    "Microsoft: include offline_access in the scope",
                )
            }
            Err(e) => match e.code() {
                Some("authorization_pending") => {}
                // RFC 8628 §3.5: five seconds more from now on.
                Some("slow_down") => interval += Duration::from_secs(5),
                Some(_) => return Err(refused(e)),
                None => return Err(SignInError::Unreachable(e.to_string())),
            },
        }
    }
}

fn refused(e: EndpointError) -> SignInError {
    match e {
        EndpointError::Oauth { .. } => SignInError::Refused(e.to_string()),
        EndpointError::Unreachable(m) => SignInError::Unreachable(m),
    }
}
