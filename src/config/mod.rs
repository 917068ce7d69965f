//! The configuration file: raw YAML read into a validated [`Config`] in one place. A bad file is
//! reported with the key's path and line, and what to write instead; nothing starts.
//!
//! Keys that later commands read (`mailboxes`, `smtp`, …) are accepted here as they are and
//! validated by those commands; unknown keys are errors (a typo must not pass silently).

mod database;
mod files;
mod oauth;
mod paths;
mod raw;
mod secrets;
mod servers;
mod values;
mod yaml;

pub use database::DatabaseConfig;
pub use oauth::{Flow, OAuth2, Provider, Service, SignIn, TokenOwner};
pub use paths::{default_path, is_per_user, use_per_user_defaults};
use paths::{systemd_state_directory, user_state_directory};
pub use secrets::{Secret, SECRET_COMMAND_TIMEOUT};
use servers::{server, smtp_config};
pub use values::{
    parse_duration, parse_name_server, ConfigDuration, MailboxAddress, NameServer, Network, ZoneName,
};

use raw::*;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use yaml::line_of_path;

/// What is wrong with a configuration text: where, which key, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {key}: {message}")]
pub struct Invalid {
    /// 1-based line of the offending value (0 when unknown).
    pub line: usize,
    /// The key's path, e.g. `dns.timeout` or `mailboxes[0].imap.tls`.
    pub key: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// What is wrong at one key, before the line is known (`Config::parse` adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    key: String,
    message: String,
}

/// A problem at `key`.
fn problem(key: String, message: String) -> Problem {
    Problem { key, message }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the configuration: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid, at a key and line.
    #[error("{path}:{line}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending value (0 when unknown).
        line: usize,
        /// The key's path, e.g. `dns.timeout`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// How a server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (SMTPS 465, IMAPS 993).
    Implicit,
    /// STARTTLS upgrade (587, 143), required.
    Starttls,
    /// Plain text: loopback hosts only.
    None,
}

/// How the bot sends its mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// Server host name or IP.
    pub host: String,
    /// Port (default 465 implicit, 587 STARTTLS, 25 none).
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// A private CA's certificates (PEM), trusted besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// SMTP AUTH: the user and how the bot signs in as them.
    pub auth: Option<(String, SignIn)>,
}

/// True for host names that are this machine (plain text is allowed only to those).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_matches(['[', ']']);
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Reads YAML `text` into `T`, or the error at its key and line.
fn deserialize<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Invalid> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut key = e.path().to_string();
        let inner = e.into_inner();
        let mut message = inner.to_string();
        // serde_yaml adds the path before and the position after; both are given apart.
        if let Some(p) = message.find(" at line ") {
            message.truncate(p);
        }
        if let Some((head, rest)) = message.split_once(": ") {
            if !head.contains(' ') {
                message = rest.to_string();
            }
        }
        // Name an unknown key itself, not only its parent.
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            let field = field.to_string();
            if key == "." {
                key = field.clone();
            } else if !key.ends_with(&format!(".{field}")) && key != field {
                key = format!("{key}.{field}");
            }
            message =
                format!("unknown key `{field}` (check its spelling; config.example.yaml lists every key)");
        }
        let line = line_of_path(text, &key)
            .or_else(|| inner.location().map(|l| l.line()))
            .unwrap_or(0);
        Invalid { line, key, message }
    })
}

/// How a mailbox is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    /// IMAP IDLE when the server offers it (polling otherwise).
    Idle,
    /// Polling every `poll_interval`.
    Poll,
}

/// Whether the bot forwards packages to Support on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Escalation {
    /// Forward when the verdict says so.
    Auto,
    /// Say what would be sent; the user's `support` reply sends it.
    Ask,
    /// Never forward.
    Never,
}

/// Whether the mailbox's user gets a digest of what was stuck, resolved and still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    /// No digest (the default).
    #[default]
    Off,
    /// One a week.
    Weekly,
}

/// The language the bot writes to the mailbox's user in (`language:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// The notice's own language (its `Content-Language`) where a translation exists, else
    /// English (the default).
    #[default]
    Auto,
    /// English.
    En,
    /// French.
    Fr,
    /// German.
    De,
    /// Spanish.
    Es,
}

impl Language {
    /// The language every message is written in, or `None` for `auto`.
    pub fn fixed(self) -> Option<crate::compose::Lang> {
        use crate::compose::Lang;
        match self {
            Language::Auto => None,
            Language::En => Some(Lang::En),
            Language::Fr => Some(Lang::Fr),
            Language::De => Some(Lang::De),
            Language::Es => Some(Lang::Es),
        }
    }
}

/// What happens to a notice in the user's mailbox once it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterProcessing {
    /// Nothing: the mail stays as it was, unread if it was unread.
    Leave,
    /// An IMAP keyword is set (e.g. `$BounceDoc`).
    Keyword(String),
    /// The notice is moved to this folder.
    MoveTo(String),
}

/// How the bot logs in to a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    /// Server host name or IP.
    pub host: String,
    /// Port (default 993 implicit, 143 STARTTLS or none).
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// A private CA's certificates (PEM), trusted besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// The login name.
    pub username: String,
    /// How the bot signs in (password, OAuth 2.0, token command).
    pub sign_in: SignIn,
}

/// One watched mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxConfig {
    /// Its name in logs, the state and `history --mailbox`.
    pub name: String,
    /// Who receives the replies (and may send commands).
    pub user: MailboxAddress,
    /// The IMAP account.
    pub imap: ImapConfig,
    /// The folder watched (default `INBOX`).
    pub folder: String,
    /// IDLE or polling.
    pub mode: WatchMode,
    /// How often to poll (polling mode, or servers without IDLE).
    pub poll_interval: Duration,
    /// This mailbox's own SMTP server, overriding the global one.
    pub smtp: Option<SmtpConfig>,
    /// This mailbox's own Support address, overriding the global one.
    pub support: Option<MailboxAddress>,
    /// Our sending addresses or networks, besides the global ones.
    pub sending_ips: Vec<Network>,
    /// Forwarding to Support: auto, ask or never.
    pub escalation: Escalation,
    /// Where the user's answers go (default: the user's own address, i.e. this mailbox).
    pub reply_to: Option<MailboxAddress>,
    /// What happens to an answered notice in the mailbox.
    pub after_processing: AfterProcessing,
    /// The weekly digest to the user.
    pub digest: Digest,
    /// The language of the messages to the user.
    pub language: Language,
    /// The `mailboxes_dir` file it came from (`None`: the main file).
    pub source: Option<PathBuf>,
}

/// How much the bot may send per mailbox, and how long one message may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Replies to the user per hour.
    pub replies_per_hour: u32,
    /// Packages to Support per hour.
    pub forwards_per_hour: u32,
    /// How long reading and deciding one message may take (DNS waits, bounded by
    /// `dns.budget`, not counted); a message over it is recorded as skipped.
    pub message_budget: Duration,
}

/// Who may command the bot, beyond being the mailbox's user replying to the bot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandsConfig {
    /// The receiving server's authserv-id: a command counts only when that server's own
    /// Authentication-Results show dmarc, dkim or spf passing for the user's domain
    /// (`exchange`: Exchange's internal-sender mark, or its id-less results).
    pub require_auth: Option<String>,
}

/// How DNS is queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Name servers; empty means the system's resolv.conf.
    pub nameservers: Vec<SocketAddr>,
    /// Per query attempt.
    pub timeout: Duration,
    /// Tries per query.
    pub attempts: usize,
    /// All queries of one diagnosis together.
    pub budget: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// DNS settings.
    pub dns: DnsConfig,
    /// Blocklist zones, in order.
    pub dnsbl_zones: Vec<String>,
    /// Our own sending servers: addresses (checked against blocklists and reverse DNS) or
    /// networks (an IP a notice names is ours only when it lies inside one).
    pub sending_ips: Vec<Network>,
    /// Whether to probe the recipient's MX over SMTP.
    pub probe_smtp: bool,
    /// The bot's identity (From of every message it sends).
    pub from: Option<MailboxAddress>,
    /// Where Support packages go.
    pub support: Option<MailboxAddress>,
    /// How the bot sends mail.
    pub smtp: Option<SmtpConfig>,
    /// Where the state database lives.
    pub state_dir: PathBuf,
    /// The log filter (`info`, `debug`, or a `tracing` directive); `RUST_LOG` overrides it.
    pub log_level: Option<String>,
    /// How long raw notices, sent messages and finished records are kept (default 90 days).
    pub retention: Duration,
    /// Sending limits per mailbox.
    pub limits: Limits,
    /// Email command settings.
    pub commands: CommandsConfig,
    /// Where `/metrics`, `/livez` and `/readyz` are served (off when absent).
    pub metrics: Option<SocketAddr>,
    /// The IANA time zone the answers show times in (`None`: the system's).
    pub timezone: Option<String>,
    /// Most logins in progress at once against one IMAP server.
    pub imap_connect_concurrency: usize,
    /// The shared PostgreSQL database of several instances (`None`: SQLite in `state_dir`).
    pub database: Option<DatabaseConfig>,
    /// The watched mailboxes (the file's `mailboxes` and those of `mailboxes_dir`).
    pub mailboxes: Vec<MailboxConfig>,
    /// A directory with one file per user's mailbox (`*.yaml`, each one `mailboxes[]` entry).
    pub mailboxes_dir: Option<PathBuf>,
    /// Files of `mailboxes_dir` that were refused, each with why (`FILE:LINE: KEY: MESSAGE`):
    /// the other mailboxes are watched all the same.
    pub refused: Vec<String>,
    /// The files of [`Config::refused`] (a running mailbox from one of them keeps running).
    pub refused_files: Vec<PathBuf>,
}

impl Config {
    /// The SMTP server a mailbox's answers go through.
    pub fn smtp_for<'a>(&'a self, m: &'a MailboxConfig) -> Option<&'a SmtpConfig> {
        m.smtp.as_ref().or(self.smtp.as_ref())
    }

    /// The Support address of a mailbox.
    pub fn support_for<'a>(&'a self, m: &'a MailboxConfig) -> Option<&'a MailboxAddress> {
        m.support.as_ref().or(self.support.as_ref())
    }
}

/// The blocklists a mail administrator would pick today (no dead lists such as SORBS).
pub const DEFAULT_ZONES: &[&str] = &[
    "zen.spamhaus.org",
    "b.barracudacentral.org",
    "bl.spamcop.net",
    "psbl.surriel.com",
];

impl Default for Config {
    fn default() -> Config {
        Config {
            dns: DnsConfig {
                nameservers: Vec::new(),
                timeout: Duration::from_secs(2),
                attempts: 2,
                budget: Duration::from_secs(10),
            },
            dnsbl_zones: DEFAULT_ZONES.iter().map(|z| z.to_string()).collect(),
            sending_ips: Vec::new(),
            probe_smtp: false,
            from: None,
            support: None,
            smtp: None,
            state_dir: PathBuf::from("/var/lib/bouncedoc"),
            log_level: None,
            retention: Duration::from_secs(90 * 86_400),
            commands: CommandsConfig::default(),
            metrics: None,
            timezone: None,
            imap_connect_concurrency: 16,
            database: None,
            limits: Limits {
                replies_per_hour: 20,
                forwards_per_hour: 10,
                message_budget: Duration::from_secs(10),
            },
            mailboxes: Vec::new(),
            mailboxes_dir: None,
            refused: Vec::new(),
            refused_files: Vec::new(),
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: e.line,
            key: e.key,
            message: e.message,
        })?;
        if let Some(dir) = config.mailboxes_dir.clone() {
            // Relative to the file that names it.
            let dir = path.parent().unwrap_or(Path::new(".")).join(dir);
            config.add_mailbox_files(&dir)?;
        }
        Ok(config)
    }

    /// Validates configuration text.
    pub fn parse(text: &str) -> Result<Config, Invalid> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let raw: RawConfig = deserialize(text)?;
        let default = Config::default();
        let attempts = raw.dns.attempts.unwrap_or(default.dns.attempts);
        if !(1..=10).contains(&attempts) {
            let line = line_of_path(text, "dns.attempts").unwrap_or(0);
            return Err(Invalid {
                line,
                key: "dns.attempts".into(),
                message: format!("{attempts} is out of range: write a number from 1 to 10"),
            });
        }
        let at = |Problem { key, message }: Problem| {
            let parent = key.rsplit_once('.').map_or(key.as_str(), |(p, _)| p);
            let line = line_of_path(text, &key)
                .or_else(|| line_of_path(text, parent))
                .unwrap_or(0);
            Invalid { line, key, message }
        };
        let smtp = match raw.smtp {
            Some(s) => Some(smtp_config("smtp", s, TokenOwner::GlobalSmtp).map_err(at)?),
            None => None,
        };
        if let Some(level) = &raw.log_level {
            let word = ["off", "error", "warn", "info", "debug", "trace"].contains(&level.trim());
            let directive = level.contains('=') && tracing_subscriber::EnvFilter::try_new(level).is_ok();
            if !word && !directive {
                return Err(at(problem(
                    "log_level".into(),
                    format!("{level:?} is not a log level: write error, warn, info or debug"),
                )));
            }
        }
        let mut mailboxes = Vec::with_capacity(raw.mailboxes.len());
        for (i, m) in raw.mailboxes.into_iter().enumerate() {
            let path = format!("mailboxes[{i}]");
            let m = mailbox_config(&path, m).map_err(at)?;
            if mailboxes.iter().any(|o: &MailboxConfig| o.name == m.name) {
                return Err(at(problem(
                    format!("{path}.name"),
                    format!("{:?} is used twice: every mailbox needs its own name", m.name),
                )));
            }
            if m.smtp.is_none() && smtp.is_none() {
                return Err(at(problem(
                    path.clone(),
                    "no smtp block: add a global `smtp` or one in this mailbox, so answers can be sent"
                        .into(),
                )));
            }
            if m.support.is_none() && raw.support.is_none() {
                return Err(at(problem(
                    path.clone(),
                    "no support address: add a global `support` or one in this mailbox".into(),
                )));
            }
            mailboxes.push(m);
        }
        if !mailboxes.is_empty() && raw.from.is_none() {
            return Err(at(problem(
                "from".into(),
                "watching mailboxes needs `from`: the bot's own address, like \"bouncedoc <bouncedoc@corp.example>\"".into(),
            )));
        }
        let limits = Limits {
            replies_per_hour: raw
                .limits
                .replies_per_hour
                .unwrap_or(default.limits.replies_per_hour),
            forwards_per_hour: raw
                .limits
                .forwards_per_hour
                .unwrap_or(default.limits.forwards_per_hour),
            message_budget: raw
                .limits
                .message_budget
                .map_or(default.limits.message_budget, |d| d.0),
        };
        let retention = raw.retention.map_or(default.retention, |d| d.0);
        if retention < Duration::from_secs(86_400) {
            return Err(at(problem(
                "retention".into(),
                "must be at least 1d (write it like 90d)".into(),
            )));
        }
        if limits.message_budget.is_zero() || limits.message_budget > Duration::from_secs(600) {
            return Err(at(problem(
                "limits.message_budget".into(),
                "must be more than 0 and at most 10m (a notice reads in well under a second)".into(),
            )));
        }
        let metrics = match raw.metrics {
            None => None,
            Some(m) => {
                let listen: SocketAddr = m.listen.trim().parse().map_err(|_| {
                    at(problem(
                        "metrics.listen".into(),
                        format!(
                            "{:?} is not an address and port (write it like 127.0.0.1:9857)",
                            m.listen
                        ),
                    ))
                })?;
                if !listen.ip().is_loopback() && !m.allow_remote {
                    return Err(at(problem(
                        "metrics.listen".into(),
                        format!("{listen} is reachable from other machines: listen on 127.0.0.1, or set metrics.allow_remote: true (and firewall it)"),
                    )));
                }
                Some(listen)
            }
        };
        let timezone = match raw.timezone.map(|t| t.trim().to_string()) {
            None => None,
            Some(t) if jiff::tz::TimeZone::get(&t).is_ok() => Some(t),
            Some(t) => {
                return Err(at(problem(
                    "timezone".into(),
                    format!("{t:?} is not a time zone this machine knows: write an IANA name like Europe/Paris or America/New_York (leave it out for the system's)"),
                )))
            }
        };
        let imap_connect_concurrency = raw
            .imap_connect_concurrency
            .unwrap_or(default.imap_connect_concurrency);
        if !(1..=1000).contains(&imap_connect_concurrency) {
            return Err(at(problem(
                "imap_connect_concurrency".into(),
                format!("{imap_connect_concurrency} is out of range: write a number from 1 to 1000 (logins in progress at once per IMAP server)"),
            )));
        }
        let database = database::database(raw.database).map_err(at)?;
        Ok(Config {
            dns: DnsConfig {
                nameservers: raw.dns.nameservers.into_iter().map(|n| n.0).collect(),
                timeout: raw.dns.timeout.map_or(default.dns.timeout, |d| d.0),
                attempts,
                budget: raw.dns.budget.map_or(default.dns.budget, |d| d.0),
            },
            dnsbl_zones: raw
                .dnsbl
                .zones
                .map_or(default.dnsbl_zones, |z| z.into_iter().map(|z| z.0).collect()),
            sending_ips: raw.sending_ips,
            probe_smtp: raw.probe_smtp,
            from: raw.from,
            support: raw.support,
            smtp,
            state_dir: raw
                .state_dir
                .or_else(systemd_state_directory)
                .or_else(user_state_directory)
                .unwrap_or(default.state_dir),
            log_level: raw.log_level,
            retention,
            commands: CommandsConfig {
                require_auth: raw
                    .commands
                    .require_auth
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            },
            metrics,
            timezone,
            imap_connect_concurrency,
            database,
            limits,
            mailboxes,
            mailboxes_dir: raw.mailboxes_dir,
            refused: Vec::new(),
            refused_files: Vec::new(),
        })
    }
}

/// True for a name usable in logs and the state: letters, digits, `.`, `_`, `-`, `@`, `+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b'+'))
}

/// True for an IMAP keyword (an atom that is not a system flag such as `\Seen`).
fn valid_keyword(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// True for a folder name that can be sent as an IMAP quoted string.
fn valid_folder(f: &str) -> bool {
    !f.trim().is_empty() && f.len() <= 255 && !f.chars().any(|c| c.is_control() || c == '"' || c == '\\')
}

fn mailbox_config(at: &str, raw: RawMailbox) -> Result<MailboxConfig, Problem> {
    if !valid_name(&raw.name) {
        return Err(problem(
            format!("{at}.name"),
            format!(
                "{:?} is not a usable name: use letters, digits, '.', '_', '-' (like alice)",
                raw.name
            ),
        ));
    }
    let imap_at = format!("{at}.imap");
    let owner = TokenOwner::Mailbox(raw.name.clone());
    let imap = server(
        &imap_at,
        raw.imap,
        TlsMode::Implicit,
        Service::Imap,
        owner.clone(),
    )?;
    // A username with no way to sign in is refused by `server` already.
    let Some((username, sign_in)) = imap.auth else {
        return Err(problem(
            format!("{imap_at}.username"),
            "the mailbox needs a username and a way to sign in: one of password, password_file, password_command, password_env, oauth2, token_command"
                .into(),
        ));
    };
    let folder = raw.folder.unwrap_or_else(|| "INBOX".into());
    if !valid_folder(&folder) {
        return Err(problem(
            format!("{at}.folder"),
            format!("{folder:?} is not a usable folder name"),
        ));
    }
    let after_processing = match (raw.after_processing.keyword, raw.after_processing.move_to) {
        (None, None) => AfterProcessing::Leave,
        (Some(k), None) if valid_keyword(&k) => AfterProcessing::Keyword(k),
        (Some(k), None) => {
            return Err(problem(
                format!("{at}.after_processing.keyword"),
                format!("{k:?} is not an IMAP keyword: write one word without spaces or a leading \\, like $BounceDoc"),
            ))
        }
        (None, Some(f)) if valid_folder(&f) && f != folder => AfterProcessing::MoveTo(f),
        (None, Some(f)) => {
            return Err(problem(
                format!("{at}.after_processing.move_to"),
                format!("{f:?} cannot be used: name a folder other than the watched one"),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(problem(
                format!("{at}.after_processing"),
                "give either keyword or move_to, not both".into(),
            ))
        }
    };
    let smtp = match raw.smtp {
        Some(s) => Some(smtp_config(&format!("{at}.smtp"), s, owner)?),
        None => None,
    };
    // One `bouncedoc login` per mailbox: its blocks that use a refresh token share it.
    let smtp_sign_in = smtp.as_ref().and_then(|s| s.auth.as_ref()).map(|(_, h)| h);
    if let (SignIn::OAuth2(i), Some(SignIn::OAuth2(o))) = (&sign_in, smtp_sign_in) {
        if i.flow == Flow::RefreshToken
            && o.flow == Flow::RefreshToken
            && (i.token_url != o.token_url || i.client_id != o.client_id)
        {
            return Err(problem(
                format!("{at}.smtp.oauth2.client_id"),
                "the mailbox's imap and smtp blocks share one refresh token (one bouncedoc login): give both the same token_url and client_id".into(),
            ));
        }
    }
    Ok(MailboxConfig {
        name: raw.name,
        user: raw.user,
        imap: ImapConfig {
            port: imap
                .port
                .unwrap_or(if imap.tls == TlsMode::Implicit { 993 } else { 143 }),
            host: imap.host,
            tls: imap.tls,
            ca_file: imap.ca_file,
            username,
            sign_in,
        },
        folder,
        mode: raw.mode.unwrap_or(WatchMode::Idle),
        poll_interval: raw.poll_interval.map_or(Duration::from_secs(60), |d| d.0),
        smtp,
        support: raw.support,
        sending_ips: raw.sending_ips,
        escalation: raw.escalation.unwrap_or(Escalation::Auto),
        reply_to: raw.reply_to,
        after_processing,
        digest: raw.digest.unwrap_or_default(),
        language: raw.language.unwrap_or_default(),
        source: None,
    })
}

#[cfg(test)]
mod tests;
