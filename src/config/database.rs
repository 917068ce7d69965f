//! The `database` block: several instances sharing one PostgreSQL database (SQLite under
//! `state_dir` stays the default when the block is absent).

use super::raw::RawDatabase;
use super::*;

/// Where the shared state lives when several instances run (`database:`). `Debug` never
/// shows a password written in the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`.
    pub url: String,
    /// How long a mailbox stays an instance's without being renewed (default 30 s): an
    /// instance that stops renewing loses its mailboxes after this, and the others take them.
    pub lease: Duration,
    /// Trust anchors for the server's certificate (default: the public roots).
    pub ca_file: Option<PathBuf>,
    /// Where the password comes from, when not in the URL.
    pub password: Option<Secret>,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &without_password(&self.url))
            .field("lease", &self.lease)
            .field("ca_file", &self.ca_file)
            .field("password", &self.password)
            .finish()
    }
}

/// `url` with any password in it replaced by `<redacted>`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let mut out = format!("{scheme}://{user}");
    if userinfo.contains(':') {
        out.push_str(":<redacted>");
    }
    out.push('@');
    out.push_str(host);
    out.push_str(tail);
    // A password given as a query parameter.
    match out.find("password=") {
        Some(at) => {
            let end = out[at..].find('&').map_or(out.len(), |e| at + e);
            out.replace_range(at..end, "password=<redacted>");
            out
        }
        None => out,
    }
}

/// The shortest lease: renewals every third of it must fit a slow database round trip.
const SHORTEST_LEASE: Duration = Duration::from_secs(3);

/// Reads the `database` block (`None` when absent).
pub(super) fn database(raw: Option<RawDatabase>) -> Result<Option<DatabaseConfig>, Problem> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let url = raw.url.trim().to_string();
    if let Err(e) = crate::store::postgres::Connect::new(&url, None) {
        return Err(problem("database.url".into(), e.to_string()));
    }
    let lease = raw.lease.map_or(Duration::from_secs(30), |d| d.0);
    if lease < SHORTEST_LEASE || lease > Duration::from_secs(600) {
        return Err(problem(
            "database.lease".into(),
            "must be from 3s to 10m (30s is a good start: a stopped instance's mailboxes are watched again that soon)".into(),
        ));
    }
    let password: Vec<Secret> = [
        raw.password_file.map(Secret::File),
        raw.password_command.map(Secret::Command),
        raw.password_env.map(Secret::Env),
    ]
    .into_iter()
    .flatten()
    .collect();
    if password.len() > 1 {
        return Err(problem(
            "database".into(),
            "give one of password_file, password_command, password_env".into(),
        ));
    }
    Ok(Some(DatabaseConfig {
        url,
        lease,
        ca_file: raw.ca_file,
        password: password.into_iter().next(),
    }))
}
