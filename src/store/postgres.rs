//! Reaching PostgreSQL (`database.url`): TLS verified with rustls (required by default for
//! any server off this machine), short connect and dead-peer timeouts (an instance cut off
//! from the database must notice within its lease), and a label for errors and logs that
//! never carries the password.

use std::sync::Arc;
use std::time::Duration;

/// How to open a PostgreSQL session; cloned into every session of the pool and into the
/// leases' own session.
#[derive(Clone)]
pub struct Connect {
    config: postgres::Config,
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    label: String,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect").field("database", &self.label).finish()
    }
}

/// Why `database.url` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse.
    #[error(
        "database.url is not a PostgreSQL URL ({0}); write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
    )]
    Url(String),
    /// The password could not be read.
    #[error("database: {0}")]
    Password(String),
    /// The trust anchors could not be loaded.
    #[error("database: {0}")]
    Tls(String),
}

impl Connect {
    /// Reads `url` (`postgres://user:password@host:port/db?sslmode=…`). Without `sslmode`, a
    /// server on loopback or a Unix socket is reached in plain text and any other with TLS
    /// required and verified (against `ca_file` when set, else the public roots).
    pub fn new(url: &str, ca_file: Option<&std::path::Path>) -> Result<Connect, ConnectError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConnectError::Url("it does not start with postgres://".into()));
        }
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| ConnectError::Url(e.to_string()))?;
        let local = config.get_hosts().iter().all(|h| match h {
            postgres::config::Host::Unix(_) => true,
            postgres::config::Host::Tcp(name) => {
                name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
        });
        let explicit = url.contains("sslmode=");
        if !explicit {
            config.ssl_mode(if local {
                postgres::config::SslMode::Disable
            } else {
                postgres::config::SslMode::Require
            });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(3))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(15))
            .application_name("bouncedoc");
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Disable => None,
            _ => Some(
                crate::watch::imap::shared_tls_config(ca_file)
                    .map_err(|e| ConnectError::Tls(e.to_string()))?,
            ),
        };
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
            .map(|(h, port)| match h {
                postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        let label = format!(
            "postgres://{}@{}/{}",
            config.get_user().unwrap_or(""),
            hosts.join(","),
            config.get_dbname().unwrap_or("")
        );
        Ok(Connect { config, tls, label })
    }

    /// How to reach the database of the `database` block; a `password_*` key is read now.
    pub fn for_config(db: &crate::config::DatabaseConfig) -> Result<Connect, ConnectError> {
        let mut connect = Connect::new(&db.url, db.ca_file.as_deref())?;
        if let Some(secret) = &db.password {
            let password = secret
                .resolve()
                .map_err(|e| ConnectError::Password(e.to_string()))?;
            connect.config.password(password);
        }
        Ok(connect)
    }

    /// The database named for people: user, hosts and database, never the password.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Opens a session (blocking: from a blocking thread only).
    pub fn client(&self) -> Result<postgres::Client, postgres::Error> {
        match &self.tls {
            None => self.config.connect(postgres::NoTls),
            Some(tls) => self
                .config
                .connect(tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_never_carries_the_password_and_remote_servers_need_tls() {
        let c = Connect::new("postgres://bot:s3cret@db.example:6543/bounces", None).unwrap();
        assert_eq!(c.label(), "postgres://bot@db.example:6543/bounces");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(c.tls.is_some(), "a remote server is reached over TLS by default");
        let local = Connect::new("postgres://bot@127.0.0.1:5432/bounces", None).unwrap();
        assert!(local.tls.is_none());
        let asked = Connect::new("postgres://bot@127.0.0.1/bounces?sslmode=require", None).unwrap();
        assert!(asked.tls.is_some());
        assert!(Connect::new("mysql://x@y/z", None).is_err());
    }
}
