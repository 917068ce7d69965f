//! The `database` block: several instances sharing one PostgreSQL database (SQLite under
//! `state_dir` stays the default when the block is absent).

use super::raw::RawDatabase;
use super::*;

/// Where the shared state lives when several instances run (`database:`).
#[derive(Debug, Clone, PartialEq, Eq)]
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
