//! OAuth 2.0 sign-in as configured: the `oauth2` block of an `imap` or `smtp` block (or its
//! `token_command`), checked into [`OAuth2`]. Getting and keeping tokens is `crate::signin`.

use super::raw::RawOAuth2;
use super::{is_loopback_host, problem, Problem, Secret};
use serde::Deserialize;

/// A provider whose endpoints and scopes are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft 365 / Exchange Online (Microsoft identity platform v2.0; needs `tenant`).
    Microsoft,
    /// Google Workspace / Gmail.
    Google,
}

/// Which grant gets the access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// RFC 6749 §4.4: the application's own token (Microsoft's `IMAP.AccessAsApp`,
    /// `SMTP.SendAsApp`), one per client and scope, shared by every mailbox that uses it.
    ClientCredentials,
    /// RFC 6749 §6: delegated access from a refresh token that `bouncedoc login` obtained with
    /// the device authorization grant (RFC 8628).
    RefreshToken,
}

impl Flow {
    /// The word as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::ClientCredentials => "client_credentials",
            Flow::RefreshToken => "refresh_token",
        }
    }
}

/// Whose refresh token a block uses: a mailbox's (its `imap` and its own `smtp` block) or the
/// global `smtp` block's. It names the file in the state directory and the `login` command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenOwner {
    /// `bouncedoc login --mailbox NAME`.
    Mailbox(String),
    /// `bouncedoc login --smtp`: the global `smtp` block.
    GlobalSmtp,
}

impl TokenOwner {
    /// The file name (in `state_dir/oauth/`) holding this owner's refresh token.
    pub fn file_name(&self) -> String {
        match self {
            TokenOwner::Mailbox(name) => format!("mailbox-{name}.json"),
            TokenOwner::GlobalSmtp => "smtp.json".into(),
        }
    }

    /// The `bouncedoc login` arguments that store this owner's refresh token.
    pub fn login_args(&self) -> String {
        match self {
            TokenOwner::Mailbox(name) => format!("--mailbox {name}"),
            TokenOwner::GlobalSmtp => "--smtp".into(),
        }
    }
}

/// An `oauth2` block, checked: every endpoint and scope known, secrets not read yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2 {
    /// The provider the defaults came from, if any.
    pub provider: Option<Provider>,
    /// Which grant.
    pub flow: Flow,
    /// The token endpoint.
    pub token_url: String,
    /// The device authorization endpoint (RFC 8628), for `bouncedoc login`.
    pub device_url: Option<String>,
    /// The authorization endpoint, for `bouncedoc login` through a browser and a loopback
    /// redirect (RFC 8252) where the device grant cannot be used (Google and Gmail).
    pub auth_url: Option<String>,
    /// The application (client) ID.
    pub client_id: String,
    /// The client secret's source (none for a public client using a refresh token).
    pub client_secret: Option<Secret>,
    /// The scope asked for.
    pub scope: String,
    /// Whose refresh token (flow `refresh_token`).
    pub owner: TokenOwner,
}

/// How the bot proves who it is to one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// A password (SASL PLAIN or LOGIN).
    Password(Secret),
    /// An access token from an authorization server (SASL OAUTHBEARER or XOAUTH2).
    OAuth2(Box<OAuth2>),
    /// An access token printed by an external helper (`token_command`, e.g. `oama access
    /// alice@contoso.com`), read at each login.
    TokenCommand(Secret),
}

/// Which kind of server block the defaults are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// An `imap` block.
    Imap,
    /// An `smtp` block.
    Smtp,
}

/// An endpoint URL: https, or http to a loopback host only; no credentials in it.
fn endpoint(key: String, url: &str) -> Result<String, Problem> {
    let url = url.trim();
    let (rest, https) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (r, true),
        (None, Some(r)) => (r, false),
        (None, None) => return Err(problem(key, format!("{url:?} is not an https:// URL"))),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() || authority.contains('@') || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(problem(key, format!("{url:?} is not a usable URL")));
    }
    if !https && !is_loopback_host(host) {
        return Err(problem(
            key,
            format!("{url:?}: http:// is allowed only for loopback hosts; use https://"),
        ));
    }
    Ok(url.to_string())
}

/// Checks an `oauth2` block at `at` (e.g. `mailboxes[0].imap.oauth2`).
pub(super) fn oauth2(
    at: &str,
    raw: RawOAuth2,
    service: Service,
    owner: TokenOwner,
) -> Result<OAuth2, Problem> {
    let flow = raw.flow.unwrap_or(Flow::ClientCredentials);
    if raw.client_id.trim().is_empty() {
        return Err(problem(
            format!("{at}.client_id"),
            "the application (client) ID is empty".into(),
        ));
    }
    let tenant = match (raw.provider, raw.tenant) {
        (Some(Provider::Microsoft), Some(t)) if valid_tenant(&t) => Some(t),
        (Some(Provider::Microsoft), Some(t)) => {
            return Err(problem(
                format!("{at}.tenant"),
                format!(
                    "{t:?} is not a tenant: write the tenant's domain (contoso.onmicrosoft.com) or its ID"
                ),
            ))
        }
        (Some(Provider::Microsoft), None) if raw.token_url.is_none() => {
            return Err(problem(
                format!("{at}.tenant"),
                "provider: microsoft needs the tenant (contoso.onmicrosoft.com, or the directory ID)".into(),
            ))
        }
        (Some(Provider::Microsoft), None) => None,
        (_, Some(_)) => {
            return Err(problem(
                format!("{at}.tenant"),
                "tenant is for provider: microsoft only".into(),
            ))
        }
        (_, None) => None,
    };
    if raw.provider == Some(Provider::Google) && flow == Flow::ClientCredentials {
        return Err(problem(
            format!("{at}.flow"),
            "Google issues no client-credentials tokens for Gmail: use flow: refresh_token (bouncedoc login), or token_command with a service-account helper".into(),
        ));
    }
    let (default_token, default_device, default_auth) = match (raw.provider, &tenant) {
        (Some(Provider::Microsoft), Some(t)) => (
            Some(format!("https://login.microsoftonline.com/{t}/oauth2/v2.0/token")),
            Some(format!(
                "https://login.microsoftonline.com/{t}/oauth2/v2.0/devicecode"
            )),
            Some(format!(
                "https://login.microsoftonline.com/{t}/oauth2/v2.0/authorize"
            )),
        ),
        // Google's device grant allows no Gmail scope: a browser and a loopback redirect.
        (Some(Provider::Google), _) => (
            Some("https://oauth2.googleapis.com/token".to_string()),
            None,
            Some("https://accounts.google.com/o/oauth2/v2/auth".to_string()),
        ),
        _ => (None, None, None),
    };
    let token_url = match (raw.token_url, default_token) {
        (Some(u), _) => endpoint(format!("{at}.token_url"), &u)?,
        (None, Some(u)) => u,
        (None, None) => {
            return Err(problem(
                format!("{at}.token_url"),
                "without a provider the token endpoint is needed: token_url: https://…/token".into(),
            ))
        }
    };
    let device_url = match (raw.device_url, default_device) {
        (Some(u), _) => Some(endpoint(format!("{at}.device_url"), &u)?),
        (None, d) => d,
    };
    let auth_url = match (raw.auth_url, default_auth) {
        (Some(u), _) => Some(endpoint(format!("{at}.auth_url"), &u)?),
        (None, d) => d,
    };
    if flow == Flow::RefreshToken && device_url.is_none() && auth_url.is_none() {
        return Err(problem(
            format!("{at}.device_url"),
            "flow: refresh_token without a provider needs where bouncedoc login signs in: the device authorization endpoint (device_url: https://…/devicecode) or the authorization endpoint (auth_url: https://…/authorize)".into(),
        ));
    }
    let scope = match (raw.scope, raw.provider) {
        (Some(s), _) if !s.trim().is_empty() => s.split_whitespace().collect::<Vec<_>>().join(" "),
        (Some(_), _) => return Err(problem(format!("{at}.scope"), "the scope is empty".into())),
        (None, Some(p)) => default_scope(p, flow, service).to_string(),
        (None, None) => {
            return Err(problem(
                format!("{at}.scope"),
                "without a provider the scope is needed (e.g. scope: imap)".into(),
            ))
        }
    };
    let mut secrets: Vec<Secret> = [
        raw.client_secret.map(Secret::Plain),
        raw.client_secret_file.map(Secret::File),
        raw.client_secret_command.map(Secret::Command),
        raw.client_secret_env.map(Secret::Env),
    ]
    .into_iter()
    .flatten()
    .collect();
    if secrets.len() > 1 {
        return Err(problem(
            format!("{at}.client_secret"),
            "give only one of client_secret, client_secret_file, client_secret_command, client_secret_env"
                .into(),
        ));
    }
    let client_secret = secrets.pop();
    if flow == Flow::ClientCredentials && client_secret.is_none() {
        return Err(problem(
            format!("{at}.client_secret"),
            "flow: client_credentials needs the application's secret: client_secret_file (or client_secret, _command, _env)".into(),
        ));
    }
    Ok(OAuth2 {
        provider: raw.provider,
        flow,
        token_url,
        device_url,
        auth_url,
        client_id: raw.client_id.trim().to_string(),
        client_secret,
        scope,
        owner,
    })
}

/// The scope a provider documents for each flow and service.
fn default_scope(p: Provider, flow: Flow, service: Service) -> &'static str {
    match (p, flow, service) {
        // App-only tokens: one `.default` scope carries whatever the admin granted.
        (Provider::Microsoft, Flow::ClientCredentials, _) => "https://outlook.office365.com/.default",
        (Provider::Microsoft, Flow::RefreshToken, Service::Imap) => {
            "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"
        }
        (Provider::Microsoft, Flow::RefreshToken, Service::Smtp) => {
            "https://outlook.office365.com/SMTP.Send offline_access"
        }
        (Provider::Google, _, _) => "https://mail.google.com/",
    }
}

/// A tenant: a domain or a directory ID (letters, digits, '.', '-').
fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 256
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        assert!(endpoint("k".into(), "https://login.example/token").is_ok());
        assert!(endpoint("k".into(), "http://127.0.0.1:8080/token").is_ok());
        assert!(endpoint("k".into(), "http://localhost/token").is_ok());
        assert!(endpoint("k".into(), "http://[::1]:9/token").is_ok());
        assert!(endpoint("k".into(), "http://login.example/token").is_err());
        assert!(endpoint("k".into(), "http://127.0.0.1.evil.example/token").is_err());
        assert!(endpoint("k".into(), "ftp://x/token").is_err());
        assert!(endpoint("k".into(), "https:///token").is_err());
        assert!(endpoint("k".into(), "http://127.0.0.1@evil.example/token").is_err());
    }
}
