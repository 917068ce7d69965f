//! Signing in to IMAP and SMTP servers: a password, or an OAuth 2.0 access token (Microsoft
//! 365, Google Workspace, any authorization server) sent with SASL OAUTHBEARER or XOAUTH2.
//!
//! [`Tokens`] is the daemon's one token cache: a client-credentials token is shared by every
//! mailbox that uses the same client and scope, and reused until shortly before it expires; a
//! refresh token (stored by `bouncedoc login`, see [`device`]) is exchanged for access tokens
//! and replaced when the server rotates it. Every call to an authorization server runs on the
//! blocking pool. Tokens and secrets are never logged, at any level.

pub mod device;
pub mod endpoint;
pub mod loopback;
pub mod refresh;
pub mod sasl;

use crate::config::{Flow, OAuth2, SignIn, TokenOwner};
use endpoint::{EndpointError, Granted};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What a login sends: a password, or a bearer token.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// SASL PLAIN / LOGIN.
    Password(String),
    /// SASL OAUTHBEARER / XOAUTH2.
    Bearer(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password(_) => f.write_str("Credential::Password(<redacted>)"),
            Credential::Bearer(_) => f.write_str("Credential::Bearer(<redacted>)"),
        }
    }
}

/// Why no credential could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The authorization server refused the client (wrong secret, unknown client, scope not
    /// granted): its own words. Waiting does not help; the configuration must change.
    #[error("the authorization server refused: {0}")]
    Refused(String),
    /// The stored refresh token is missing, expired or revoked: someone must sign in again.
    #[error("{detail}: sign in again with `{command}`")]
    NeedsLogin {
        /// What the server (or the state) said.
        detail: String,
        /// The command that does it (`bouncedoc login --config /etc/bouncedoc/config.yaml
        /// --mailbox alice`).
        command: String,
    },
    /// The authorization server could not be reached or answered nonsense (retried).
    #[error("authorization server: {0}")]
    Unreachable(String),
    /// A secret (client secret, password, token command) could not be read.
    #[error("{0}")]
    Secret(String),
}

impl SignInError {
    /// True when retrying soon cannot help (a person must change the configuration or sign
    /// in again): the long backoff applies.
    pub fn needs_a_person(&self) -> bool {
        matches!(self, SignInError::Refused(_) | SignInError::NeedsLogin { .. })
    }
}

/// A cached access token.
struct Cached {
    access: String,
    /// When to stop reusing it: shortly before it expires.
    renew_at: Instant,
}

/// How long before expiry a token is replaced: a quarter of its life, at most five minutes.
pub fn renew_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(300))
}

/// Lifetime assumed when a server gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
/// Longest lifetime believed (a server's `expires_in` is outside input).
const MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// Which token a sign-in may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renew<'a> {
    /// The cached one while it is good.
    Cached,
    /// Not this one (the server refused it): a newer cached one (another mailbox already
    /// replaced it), else a new one.
    Not(&'a str),
    /// A new one, whatever is cached (`check-config`: does the server give one?).
    Fresh,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// The daemon's access tokens, shared by every mailbox and sender.
pub struct Tokens {
    state_dir: PathBuf,
    /// The configuration file, named in the `login` command a refused refresh token needs.
    config_path: PathBuf,
    slots: Mutex<HashMap<String, Slot>>,
    /// One refresh at a time per refresh token (a rotation makes the old one invalid); across
    /// processes, `refresh::lock` adds a file lock.
    owners: Mutex<HashMap<TokenOwner, Arc<tokio::sync::Mutex<()>>>>,
    /// Rotated refresh tokens that could not be written (a full disk): used until they are.
    unsaved: Arc<Mutex<HashMap<TokenOwner, refresh::Stored>>>,
    /// Tokens obtained from the authorization servers (for tests and metrics).
    fetched: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// A cache whose refresh tokens live under `state_dir/oauth/`, for the configuration
    /// read from `config_path`.
    pub fn new(state_dir: &Path, config_path: &Path) -> Arc<Tokens> {
        Arc::new(Tokens {
            state_dir: state_dir.to_path_buf(),
            config_path: config_path.to_path_buf(),
            slots: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
            unsaved: Arc::new(Mutex::new(HashMap::new())),
            fetched: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many access tokens were obtained from authorization servers so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The credential to sign in with, and whether it came from the cache (a refused cached
    /// token is worth one retry with [`Renew::Not`]).
    pub async fn credential(
        &self,
        how: &SignIn,
        renew: Renew<'_>,
    ) -> Result<(Credential, bool), SignInError> {
        match how {
            SignIn::Password(secret) | SignIn::TokenCommand(secret) => {
                let secret = secret.clone();
                let value =
                    crate::store::off_workers(move || secret.resolve().map_err(SignInError::Secret)).await?;
                Ok(match how {
                    SignIn::Password(_) => (Credential::Password(value), false),
                    _ => (Credential::Bearer(value.trim().to_string()), false),
                })
            }
            SignIn::OAuth2(o) => {
                let (token, cached) = self.access_token(o, renew).await?;
                Ok((Credential::Bearer(token), cached))
            }
        }
    }

    /// An access token for `o`: the cached one while it is good (and not the refused one),
    /// else a new one.
    pub async fn access_token(&self, o: &OAuth2, renew: Renew<'_>) -> Result<(String, bool), SignInError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(cache_key(o)).or_default().clone()
        };
        // Mailboxes sharing a client wait here for the one request instead of each making it.
        let mut held = slot.lock().await;
        let usable = |c: &&Cached| {
            Instant::now() < c.renew_at
                && match renew {
                    Renew::Cached => true,
                    Renew::Not(refused) => c.access != refused,
                    Renew::Fresh => false,
                }
        };
        if let Some(c) = held.as_ref().filter(usable) {
            return Ok((c.access.clone(), true));
        }
        let granted = match o.flow {
            Flow::ClientCredentials => {
                let o = o.clone();
                crate::store::off_workers(move || client_credentials(&o)).await?
            }
            Flow::RefreshToken => self.refreshed(o).await?,
        };
        self.fetched.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let lifetime = granted
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs)
            .min(MAX_LIFETIME);
        *held = Some(Cached {
            access: granted.access_token.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(renew_margin(lifetime)),
        });
        tracing::debug!(client_id = %o.client_id, scope = %o.scope, expires_in_s = lifetime.as_secs(), "new access token");
        Ok((granted.access_token, false))
    }

    /// Exchanges the stored refresh token (one exchange per owner at a time, in this process
    /// and across processes) and stores the rotated one.
    async fn refreshed(&self, o: &OAuth2) -> Result<Granted, SignInError> {
        let lock = {
            let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
            owners.entry(o.owner.clone()).or_default().clone()
        };
        let _one = lock.lock().await;
        let o = o.clone();
        let state_dir = self.state_dir.clone();
        let unsaved = self.unsaved.clone();
        let command = format!(
            "bouncedoc login --config {} {}",
            self.config_path.display(),
            o.owner.login_args()
        );
        crate::store::off_workers(move || refresh_grant(&state_dir, &o, &command, &unsaved)).await
    }
}

impl From<crate::store::ShuttingDown> for SignInError {
    fn from(_: crate::store::ShuttingDown) -> SignInError {
        SignInError::Unreachable("shutting down".into())
    }
}

/// What identifies a cached token: the grant, the server, the client, the scope (and whose
/// refresh token).
fn cache_key(o: &OAuth2) -> String {
    let owner = match o.flow {
        Flow::ClientCredentials => String::new(),
        Flow::RefreshToken => o.owner.file_name(),
    };
    format!(
        "{}\n{}\n{}\n{}\n{owner}",
        o.flow.as_str(),
        o.token_url,
        o.client_id,
        o.scope
    )
}

/// Stores the refresh token a login obtained (`why_none`: what to tell when the server gave
/// none), under the owner's lock. Returns the file.
fn store_login(
    state_dir: &Path,
    o: &OAuth2,
    granted: Granted,
    why_none: &str,
) -> Result<PathBuf, SignInError> {
    let Some(refresh_token) = granted.refresh_token else {
        return Err(SignInError::Refused(format!(
            "the server gave no refresh token ({why_none})"
        )));
    };
    let _lock = refresh::lock(state_dir, &o.owner).map_err(SignInError::Secret)?;
    let stored = refresh::Stored {
        token_url: o.token_url.clone(),
        client_id: o.client_id.clone(),
        refresh_token,
    };
    refresh::save(state_dir, &o.owner, &stored).map_err(SignInError::Secret)?;
    Ok(refresh::path(state_dir, &o.owner))
}

/// The client secret, read now.
fn client_secret(o: &OAuth2) -> Result<Option<String>, SignInError> {
    match &o.client_secret {
        Some(s) => s
            .resolve()
            .map(Some)
            .map_err(|e| SignInError::Secret(format!("client secret: {e}"))),
        None => Ok(None),
    }
}

/// The OAuth errors after which only a new sign-in by a person helps (RFC 6749 `invalid_grant`;
/// Microsoft's `interaction_required`, `consent_required`, `login_required`).
const SIGN_IN_AGAIN: &[&str] = &[
    "invalid_grant",
    "interaction_required",
    "consent_required",
    "login_required",
];

/// What an endpoint's error means for the bot. `login` is the command that signs in again,
/// for grants that use a person's refresh token.
fn classify(e: EndpointError, login: Option<&str>) -> SignInError {
    if e.passing() {
        return SignInError::Unreachable(e.to_string());
    }
    match (e.code(), login) {
        (Some(code), Some(command)) if SIGN_IN_AGAIN.contains(&code) => SignInError::NeedsLogin {
            detail: format!("the refresh token was refused ({e})"),
            command: command.to_string(),
        },
        _ => SignInError::Refused(e.to_string()),
    }
}

/// RFC 6749 §4.4.
fn client_credentials(o: &OAuth2) -> Result<Granted, SignInError> {
    let secret = client_secret(o)?;
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", o.client_id.as_str()),
        ("scope", o.scope.as_str()),
    ];
    if let Some(s) = &secret {
        form.push(("client_secret", s));
    }
    endpoint::post(&o.token_url, &form).map_err(|e| classify(e, None))
}

/// RFC 6749 §6, under the owner's file lock, with the rotated token stored before the access
/// token is used (or kept in `unsaved` while it cannot be written).
fn refresh_grant(
    state_dir: &Path,
    o: &OAuth2,
    command: &str,
    unsaved: &Mutex<HashMap<TokenOwner, refresh::Stored>>,
) -> Result<Granted, SignInError> {
    let _lock = refresh::lock(state_dir, &o.owner).map_err(SignInError::Secret)?;
    let kept = unsaved
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&o.owner)
        .filter(|s| s.token_url == o.token_url && s.client_id == o.client_id)
        .cloned();
    let stored = match kept {
        Some(s) => s,
        None => refresh::load(state_dir, o)
            .map_err(SignInError::Secret)?
            .ok_or_else(|| SignInError::NeedsLogin {
                detail: format!(
                    "no refresh token is stored for client {} at {}",
                    o.client_id, o.token_url
                ),
                command: command.to_string(),
            })?,
    };
    let secret = client_secret(o)?;
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", stored.refresh_token.as_str()),
        ("client_id", o.client_id.as_str()),
        ("scope", o.scope.as_str()),
    ];
    if let Some(s) = &secret {
        form.push(("client_secret", s));
    }
    let granted: Granted = endpoint::post(&o.token_url, &form).map_err(|e| classify(e, Some(command)))?;
    let current = refresh::Stored {
        refresh_token: granted
            .refresh_token
            .clone()
            .unwrap_or_else(|| stored.refresh_token.clone()),
        ..stored.clone()
    };
    let mut memory = unsaved.lock().unwrap_or_else(|p| p.into_inner());
    if current != stored || memory.contains_key(&o.owner) {
        match refresh::save(state_dir, &o.owner, &current) {
            Ok(()) => {
                memory.remove(&o.owner);
                if current != stored {
                    tracing::info!(client_id = %o.client_id, "the authorization server rotated the refresh token; the new one is stored");
                }
            }
            Err(e) => {
                // The old token is spent: the new one is kept here and written when it can be.
                tracing::error!(error = %e, "cannot store the rotated refresh token; it is kept in memory and written when possible (a restart before then needs bouncedoc login)");
                memory.insert(o.owner.clone(), current);
            }
        }
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_a_quarter_of_their_life_early_at_most_five_minutes() {
        assert_eq!(renew_margin(Duration::from_secs(3600)), Duration::from_secs(300));
        assert_eq!(renew_margin(Duration::from_secs(8)), Duration::from_secs(2));
    }

    #[test]
    fn server_errors_are_told_apart() {
        let oauth = |status: u16, code: &str| EndpointError::Oauth {
            status,
            code: code.into(),
            description: "d".into(),
        };
        let login = Some("bouncedoc login --config c.yaml --mailbox alice");
        assert!(matches!(
            classify(oauth(503, "invalid_client"), None),
            SignInError::Unreachable(_)
        ));
        assert!(matches!(
            classify(oauth(429, "invalid_request"), None),
            SignInError::Unreachable(_)
        ));
        assert!(matches!(
            classify(oauth(400, "temporarily_unavailable"), login),
            SignInError::Unreachable(_)
        ));
        assert!(matches!(
            classify(oauth(400, "interaction_required"), login),
            SignInError::NeedsLogin { .. }
        ));
        assert!(matches!(
            classify(oauth(400, "invalid_grant"), login),
            SignInError::NeedsLogin { .. }
        ));
        // A client-credentials grant has no person to sign in: the configuration is wrong.
        assert!(matches!(
            classify(oauth(400, "invalid_grant"), None),
            SignInError::Refused(_)
        ));
        assert!(matches!(
            classify(oauth(401, "invalid_client"), None),
            SignInError::Refused(_)
        ));
        assert!(!classify(oauth(503, "x"), login).needs_a_person());
    }

    #[test]
    fn credentials_and_errors_never_print_secrets() {
        assert!(!format!("{:?}", Credential::Bearer("eyJ-secret".into())).contains("eyJ"));
        assert!(!format!("{:?}", Credential::Password("hunter2".into())).contains("hunter2"));
        let e = SignInError::NeedsLogin {
            detail: "the refresh token was refused (invalid_grant: revoked)".into(),
            command: "bouncedoc login --config /etc/bouncedoc/config.yaml --mailbox alice".into(),
        };
        assert_eq!(
            e.to_string(),
            "the refresh token was refused (invalid_grant: revoked): sign in again with `bouncedoc login --config /etc/bouncedoc/config.yaml --mailbox alice`"
        );
        assert!(e.needs_a_person());
    }
}
