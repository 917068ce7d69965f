//! The `imap` and `smtp` blocks: plain text only to loopback hosts, and how each signs in (one
//! password source, an `oauth2` block, or a `token_command`).

use super::raw::RawServer;
use super::*;

/// How a server block signs in: one password source out of the four keys, an `oauth2`
/// block, or a `token_command`; or an error naming the key (`at` is the block's path, e.g.
/// `smtp` or `mailboxes[0].imap`).
fn sign_in(
    at: &str,
    raw: &mut RawServer,
    service: Service,
    owner: TokenOwner,
) -> Result<Option<(String, SignIn)>, Problem> {
    let mut passwords: Vec<Secret> = [
        raw.password.take().map(Secret::Plain),
        raw.password_file.take().map(Secret::File),
        raw.password_command.take().map(Secret::Command),
        raw.password_env.take().map(Secret::Env),
    ]
    .into_iter()
    .flatten()
    .collect();
    let oauth = raw.oauth2.take();
    let command = raw.token_command.take();
    let kinds =
        usize::from(!passwords.is_empty()) + usize::from(oauth.is_some()) + usize::from(command.is_some());
    if kinds > 1 {
        let key = if oauth.is_some() {
            "oauth2"
        } else {
            "token_command"
        };
        return Err(problem(
            format!("{at}.{key}"),
            "give one way to sign in: a password (password, password_file, password_command, password_env), oauth2, or token_command".into(),
        ));
    }
    if passwords.len() > 1 {
        return Err(problem(
            format!("{at}.password"),
            "give only one of password, password_file, password_command, password_env".into(),
        ));
    }
    let how = match (passwords.pop(), oauth, command) {
        (Some(p), _, _) => Some(SignIn::Password(p)),
        (None, Some(o), _) => Some(SignIn::OAuth2(Box::new(oauth::oauth2(
            &format!("{at}.oauth2"),
            o,
            service,
            owner,
        )?))),
        (None, None, Some(c)) if !c.trim().is_empty() => Some(SignIn::TokenCommand(Secret::Command(c))),
        (None, None, Some(_)) => {
            return Err(problem(
                format!("{at}.token_command"),
                "the command is empty".into(),
            ))
        }
        (None, None, None) => None,
    };
    match (raw.username.take(), how) {
        (None, None) => Ok(None),
        (Some(u), Some(h)) => Ok(Some((u, h))),
        (Some(_), None) => Err(problem(
            format!("{at}.username"),
            "a username needs a way to sign in: one of password, password_file, password_command, password_env, oauth2, token_command".into(),
        )),
        (None, Some(_)) => Err(problem(
            format!("{at}.username"),
            "a way to sign in is given but no username (the account signed in as)".into(),
        )),
    }
}

/// A server block checked: plain text only to loopback hosts, one way to sign in at most.
pub(super) struct Server {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) tls: TlsMode,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) auth: Option<(String, SignIn)>,
}

/// The checks every server block (`at`) gets; `tls` is the default when none is written.
pub(super) fn server(
    at: &str,
    mut raw: RawServer,
    tls: TlsMode,
    service: Service,
    owner: TokenOwner,
) -> Result<Server, Problem> {
    let tls = raw.tls.unwrap_or(tls);
    if tls == TlsMode::None && !is_loopback_host(&raw.host) {
        return Err(problem(
            format!("{at}.tls"),
            format!(
                "tls: none is allowed only for loopback hosts, not {:?}: use implicit or starttls",
                raw.host
            ),
        ));
    }
    let auth = sign_in(at, &mut raw, service, owner)?;
    Ok(Server {
        host: raw.host,
        port: raw.port,
        tls,
        ca_file: raw.ca_file,
        auth,
    })
}

pub(super) fn smtp_config(at: &str, raw: RawServer, owner: TokenOwner) -> Result<SmtpConfig, Problem> {
    let s = server(at, raw, TlsMode::Starttls, Service::Smtp, owner)?;
    Ok(SmtpConfig {
        port: s.port.unwrap_or(match s.tls {
            TlsMode::Implicit => 465,
            TlsMode::Starttls => 587,
            TlsMode::None => 25,
        }),
        host: s.host,
        tls: s.tls,
        ca_file: s.ca_file,
        auth: s.auth,
    })
}
