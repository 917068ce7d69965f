//! The configuration file: raw YAML read into a validated [`Config`] in one place. A bad file is
//! reported with the key's path and line, and what to write instead; nothing starts.
//!
//! Keys that later commands read (`mailboxes`, `smtp`, …) are accepted here as they are and
//! validated by those commands; unknown keys are errors (a typo must not pass silently).

mod oauth;
mod raw;
mod secrets;
mod values;
mod yaml;

pub use oauth::{Flow, OAuth2, Provider, Service, SignIn, TokenOwner};
pub use secrets::{Secret, SECRET_COMMAND_TIMEOUT};
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

/// One file of `mailboxes_dir`: a `mailboxes[]` entry on its own, checked against the main
/// file's global settings.
fn mailbox_file(text: &str, global: &Config) -> Result<MailboxConfig, Invalid> {
    let raw: RawMailbox = deserialize(text)?;
    let at = |Problem { key, message }: Problem| {
        let key = key.strip_prefix("mailbox.").unwrap_or(&key).to_string();
        let parent = key.rsplit_once('.').map_or(key.as_str(), |(p, _)| p);
        let line = line_of_path(text, &key)
            .or_else(|| line_of_path(text, parent))
            .unwrap_or(0);
        Invalid { line, key, message }
    };
    let m = mailbox_config("mailbox", raw).map_err(at)?;
    let whole = |message: &str| Invalid {
        line: 1,
        key: "(file)".into(),
        message: message.into(),
    };
    if m.smtp.is_none() && global.smtp.is_none() {
        return Err(whole(
            "no smtp block: add one here or a global `smtp`, so answers can be sent",
        ));
    }
    if m.support.is_none() && global.support.is_none() {
        return Err(whole("no support address: add one here or a global `support`"));
    }
    if global.from.is_none() {
        return Err(whole(
            "watching mailboxes needs `from` in the main configuration file",
        ));
    }
    Ok(m)
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

/// A server block checked: plain text only to loopback hosts, one way to sign in at most.
struct Server {
    host: String,
    port: Option<u16>,
    tls: TlsMode,
    ca_file: Option<PathBuf>,
    auth: Option<(String, SignIn)>,
}

/// The checks every server block (`at`) gets; `tls` is the default when none is written.
fn server(
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

fn smtp_config(at: &str, raw: RawServer, owner: TokenOwner) -> Result<SmtpConfig, Problem> {
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

    /// Adds the mailboxes of `dir` (every `*.yaml`, in name order). A file that is not valid,
    /// or that uses a name already taken, is refused and listed in [`Config::refused`]; the
    /// others are watched.
    pub fn add_mailbox_files(&mut self, dir: &Path) -> Result<(), ConfigError> {
        let read = |source| ConfigError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            // Editors' and tools' hidden files (`.bea.yaml.swp`, `.new.yaml`) are not mailboxes.
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.') && n.ends_with(".yaml"))
                    && p.is_file()
            })
            .collect();
        files.sort();
        let mut good: Vec<MailboxConfig> = Vec::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    self.refuse(&file, format!("{}: cannot read: {e}", file.display()));
                    continue;
                }
            };
            match mailbox_file(&text, self) {
                Err(Invalid { line, key, message }) => {
                    let why = format!("{}:{line}: {key}: {message}", file.display());
                    self.refuse(&file, why);
                }
                Ok(m) => good.push(MailboxConfig {
                    source: Some(file),
                    ..m
                }),
            }
        }
        // A name claimed twice: every file claiming it is refused (the mailbox keeps running as
        // it was), whichever sorts first; the main file's own mailboxes stay.
        for m in &good {
            let others: Vec<String> = good
                .iter()
                .filter(|o| o.name == m.name && o.source != m.source)
                .filter_map(|o| o.source.as_ref().map(|p| p.display().to_string()))
                .chain(
                    self.mailboxes
                        .iter()
                        .filter(|o| o.name == m.name)
                        .map(|_| "the main configuration file".to_string()),
                )
                .collect();
            if let (false, Some(file)) = (others.is_empty(), &m.source) {
                let why = format!(
                    "{}: name: {:?} is also used by {}: every mailbox needs its own name",
                    file.display(),
                    m.name,
                    others.join(", ")
                );
                self.refuse(file, why);
            }
        }
        let refused = self.refused_files.clone();
        self.mailboxes.extend(
            good.into_iter()
                .filter(|m| m.source.as_ref().is_none_or(|f| !refused.contains(f))),
        );
        Ok(())
    }

    fn refuse(&mut self, file: &Path, why: String) {
        self.refused.push(why);
        self.refused_files.push(file.to_path_buf());
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
            limits,
            mailboxes,
            mailboxes_dir: raw.mailboxes_dir,
            refused: Vec::new(),
            refused_files: Vec::new(),
        })
    }
}

/// The directory systemd made for the service (`StateDirectory=` sets `$STATE_DIRECTORY`): the
/// state's home when the file names none.
fn systemd_state_directory() -> Option<PathBuf> {
    let v = std::env::var_os("STATE_DIRECTORY")?;
    let first = std::env::split_paths(&v).next()?;
    (!first.as_os_str().is_empty()).then_some(first)
}

/// True when running as a user other than root: the per-user defaults apply.
pub fn is_per_user() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() != 0 }
}

/// An XDG base directory: `$VAR` when set to an absolute path, else `~/fallback`.
fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.is_absolute() => Some(p),
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|h| h.is_absolute())
            .map(|h| h.join(fallback)),
    }
}

/// Whether the per-user defaults apply: set by the command line when it runs as a user other
/// than root and no `--config` was given (an admin's `--config /etc/…` keeps the service's).
static PER_USER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns the per-user defaults on (see [`default_path`]).
pub fn use_per_user_defaults() {
    PER_USER.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A user's own state directory, `$XDG_STATE_HOME/bouncedoc` (`~/.local/state/bouncedoc`),
/// when the per-user defaults apply.
fn user_state_directory() -> Option<PathBuf> {
    PER_USER
        .load(std::sync::atomic::Ordering::Relaxed)
        .then(|| xdg("XDG_STATE_HOME", ".local/state"))
        .flatten()
        .map(|d| d.join("bouncedoc"))
}

/// Where the configuration is read from without `--config`: root (the service) reads
/// `/etc/bouncedoc/config.yaml`; anyone else their own `$XDG_CONFIG_HOME/bouncedoc/config.yaml`
/// (`~/.config/bouncedoc/config.yaml`).
/// Calling it as a user other than root turns the per-user state directory on too.
pub fn default_path() -> PathBuf {
    let system = PathBuf::from("/etc/bouncedoc/config.yaml");
    if !is_per_user() {
        return system;
    }
    use_per_user_defaults();
    xdg("XDG_CONFIG_HOME", ".config").map_or(system, |d| d.join("bouncedoc/config.yaml"))
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
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line, key and message of the error `yaml` gives.
    fn invalid(yaml: &str) -> (usize, String, String) {
        let Invalid { line, key, message } = Config::parse(yaml).unwrap_err();
        (line, key, message)
    }

    #[test]
    fn defaults_and_values() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        let c = Config::parse("dns:\n  nameservers: [\"127.0.0.1:5353\", \"::1\"]\n  timeout: 500ms\n  budget: 3s\ndnsbl:\n  zones: [bl.test]\nsending_ips: [203.0.113.5]\nprobe_smtp: true\n").unwrap();
        assert_eq!(
            c.dns.nameservers,
            vec!["127.0.0.1:5353".parse().unwrap(), "[::1]:53".parse().unwrap()]
        );
        assert_eq!(c.dns.timeout, Duration::from_millis(500));
        assert_eq!(c.dns.budget, Duration::from_secs(3));
        assert_eq!(c.dnsbl_zones, vec!["bl.test".to_string()]);
        assert!(c.probe_smtp);
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let (line, key, msg) = invalid("dns:\n  nameservers: []\n  timeout: 5x\n");
        assert_eq!((line, key.as_str()), (3, "dns.timeout"));
        assert!(msg.contains("invalid duration \"5x\""), "{msg}");
        let (line, key, _) = invalid("dnsbl:\n  zones:\n    - zen.spamhaus.org\n    - \"bad zone\"\n");
        assert_eq!((line, key.as_str()), (4, "dnsbl.zones[1]"));
        let (line, key, msg) = invalid("dns:\n  timout: 1s\n");
        assert_eq!((line, key.as_str()), (2, "dns.timout"));
        assert!(msg.contains("unknown key `timout`"), "{msg}");
        let (line, key, _) = invalid("probe_smtp: false\nsendng_ips: []\n");
        assert_eq!((line, key.as_str()), (2, "sendng_ips"));
        let (line, key, _) = invalid("sending_ips: [not-an-ip]\n");
        assert_eq!((line, key.as_str()), (1, "sending_ips[0]"));
        let (line, key, _) = invalid("probe_smtp: false\nsupport: \"help desk\"\n");
        assert_eq!((line, key.as_str()), (2, "support"));
        let c =
            Config::parse("from: \"bouncedoc <bot@corp.example>\"\nsupport: help@corp.example\n").unwrap();
        assert_eq!(
            c.from.as_ref().map(|f| (f.name.as_deref(), f.address.as_str())),
            Some((Some("bouncedoc"), "bot@corp.example"))
        );
        let (line, key, msg) = invalid("smtp:\n  host: mail.example.com\n  tls: none\n");
        assert_eq!((line, key.as_str()), (3, "smtp.tls"), "{msg}");
        let c = Config::parse(
            "smtp:\n  host: 127.0.0.1\n  port: 2525\n  tls: none\n  username: bot\n  password_env: BOT_PW\n",
        )
        .unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!((smtp.port, smtp.tls), (2525, TlsMode::None));
        assert_eq!(
            format!("{:?}", Secret::Plain("hunter2".into())),
            "Secret::Plain(<redacted>)"
        );
        let (_, key, _) =
            invalid("smtp:\n  host: x.example\n  username: u\n  password: a\n  password_env: B\n");
        assert_eq!(key, "smtp.password");
        let (line, key, _) = invalid("dns:\n  attempts: 0\n");
        assert_eq!((line, key.as_str()), (2, "dns.attempts"));
    }

    /// A mailbox whose imap block signs in with `oauth` (YAML lines under `oauth2:`, indented by 8).
    fn oauth_mailbox(oauth: &str) -> String {
        format!("from: bot@corp.example\nsupport: help@corp.example\nsmtp:\n  host: 127.0.0.1\n  tls: none\nmailboxes:\n  - name: alice\n    user: alice@corp.example\n    imap:\n      host: outlook.office365.com\n      username: alice@corp.example\n      oauth2:\n{oauth}")
    }

    #[test]
    fn oauth2_with_a_provider_fills_endpoints_and_scope() {
        let c = Config::parse(&oauth_mailbox(
            "        provider: microsoft\n        tenant: contoso.onmicrosoft.com\n        client_id: 8a4c\n        client_secret_file: /etc/bouncedoc/oauth.secret\n",
        ))
        .unwrap();
        let SignIn::OAuth2(o) = &c.mailboxes[0].imap.sign_in else {
            panic!("not oauth2: {:?}", c.mailboxes[0].imap.sign_in)
        };
        assert_eq!(o.flow, Flow::ClientCredentials);
        assert_eq!(
            o.token_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(o.scope, "https://outlook.office365.com/.default");
        assert_eq!(
            o.client_secret,
            Some(Secret::File("/etc/bouncedoc/oauth.secret".into()))
        );
        assert_eq!(o.owner, TokenOwner::Mailbox("alice".into()));
        // Delegated access asks for the mailbox scope and a refresh token.
        let c = Config::parse(&oauth_mailbox(
            "        provider: microsoft\n        tenant: contoso.onmicrosoft.com\n        flow: refresh_token\n        client_id: 8a4c\n",
        ))
        .unwrap();
        let SignIn::OAuth2(o) = &c.mailboxes[0].imap.sign_in else {
            panic!()
        };
        assert_eq!(
            o.scope,
            "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"
        );
        assert!(o
            .device_url
            .as_deref()
            .unwrap_or("")
            .ends_with("/oauth2/v2.0/devicecode"));
        let c = Config::parse(&oauth_mailbox(
            "        provider: google\n        flow: refresh_token\n        client_id: 1234.apps.googleusercontent.com\n        client_secret_env: GOOGLE_SECRET\n",
        ))
        .unwrap();
        let SignIn::OAuth2(o) = &c.mailboxes[0].imap.sign_in else {
            panic!()
        };
        assert_eq!(
            (o.token_url.as_str(), o.scope.as_str()),
            ("https://oauth2.googleapis.com/token", "https://mail.google.com/")
        );
        // Google's device grant allows no Gmail scope: login goes through a browser.
        assert_eq!(o.device_url, None);
        assert_eq!(
            o.auth_url.as_deref(),
            Some("https://accounts.google.com/o/oauth2/v2/auth")
        );
    }

    #[test]
    fn one_file_per_mailbox_and_a_bad_one_refused_alone() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-mailboxes-d-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mailboxes.d")).unwrap();
        let block = |name: &str| {
            format!("name: {name}\nuser: {name}@corp.example\nimap:\n  host: imap.corp.example\n  username: {name}\n  password_env: PW\n")
        };
        std::fs::write(
            dir.join("config.yaml"),
            format!("{}mailboxes_dir: mailboxes.d\n", MAILBOX),
        )
        .unwrap();
        std::fs::write(dir.join("mailboxes.d/bea.yaml"), block("bea")).unwrap();
        std::fs::write(dir.join("mailboxes.d/carl.yaml"), block("carl")).unwrap();
        // Line 5: a plain-text connection to a host that is not this machine.
        std::fs::write(
            dir.join("mailboxes.d/dora.yaml"),
            block("dora").replace(
                "  host: imap.corp.example\n",
                "  host: imap.corp.example\n  tls: none\n",
            ),
        )
        .unwrap();
        // The same name as the main file's mailbox.
        std::fs::write(dir.join("mailboxes.d/other-alice.yaml"), block("alice")).unwrap();
        std::fs::write(dir.join("mailboxes.d/notes.txt"), "not a mailbox").unwrap();
        let c = Config::load(&dir.join("config.yaml")).unwrap();
        let names: Vec<&str> = c.mailboxes.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["alice", "bea", "carl"]);
        assert_eq!(c.refused.len(), 2, "{:?}", c.refused);
        assert!(
            c.refused[0].contains("dora.yaml:5: imap.tls: tls: none is allowed only for loopback hosts"),
            "{:?}",
            c.refused
        );
        assert!(
            c.refused[1]
                .contains("other-alice.yaml: name: \"alice\" is also used by the main configuration file"),
            "{:?}",
            c.refused
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_metrics_listener_stays_on_loopback_unless_told() {
        let c = Config::parse("metrics: {listen: \"127.0.0.1:9857\"}\n").unwrap();
        assert_eq!(c.metrics, Some("127.0.0.1:9857".parse().unwrap()));
        let (line, key, message) = invalid("\nmetrics:\n  listen: \"0.0.0.0:9857\"\n");
        assert_eq!((line, key.as_str()), (3, "metrics.listen"));
        assert!(message.contains("allow_remote"), "{message}");
        let c = Config::parse("metrics: {listen: \"0.0.0.0:9857\", allow_remote: true}\n").unwrap();
        assert_eq!(c.metrics, Some("0.0.0.0:9857".parse().unwrap()));
        let (_, key, _) = invalid("metrics: {listen: \"localhost\"}\n");
        assert_eq!(key, "metrics.listen");
    }

    #[test]
    fn token_command_is_a_way_to_sign_in() {
        let yaml = MAILBOX.replace(
            "      password_env: ALICE_PW\n",
            "      token_command: \"oama access alice@corp.example\"\n",
        );
        let c = Config::parse(&yaml).unwrap();
        assert_eq!(
            c.mailboxes[0].imap.sign_in,
            SignIn::TokenCommand(Secret::Command("oama access alice@corp.example".into()))
        );
    }

    #[test]
    fn oauth2_mistakes_name_the_key_and_line() {
        let cases: &[(&str, &str, &str)] = &[
            ("        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.token_url", "token endpoint"),
            ("        provider: microsoft\n        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.tenant", "needs the tenant"),
            ("        provider: google\n        tenant: x.example\n        flow: refresh_token\n        client_id: x\n", "mailboxes[0].imap.oauth2.tenant", "microsoft only"),
            ("        provider: google\n        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.flow", "no client-credentials"),
            ("        token_url: http://login.example/token\n        client_id: x\n        client_secret: s\n        scope: imap\n", "mailboxes[0].imap.oauth2.token_url", "loopback"),
            ("        token_url: https://login.example/token\n        client_id: x\n        scope: imap\n", "mailboxes[0].imap.oauth2.client_secret", "needs the application's secret"),
            ("        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n        client_secret_env: S\n        scope: imap\n", "mailboxes[0].imap.oauth2.client_secret", "only one"),
            ("        token_url: https://login.example/token\n        flow: refresh_token\n        client_id: x\n        scope: imap\n", "mailboxes[0].imap.oauth2.device_url", "device authorization endpoint"),
            ("        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.scope", "scope is needed"),
            ("        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n        scope: imap\n        secret: oops\n", "mailboxes[0].imap.oauth2.secret", "unknown"),
        ];
        for (lines, key, words) in cases {
            let (line, k, message) = invalid(&oauth_mailbox(lines));
            assert_eq!(&k, key, "{lines}: {message}");
            assert!(message.contains(words), "{lines}: {message}");
            assert!(line > 0, "{lines}: no line");
        }
        // A password and oauth2 together.
        let (_, key, message) = invalid(&oauth_mailbox(
            "        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n        scope: imap\n      password: p\n",
        ));
        assert_eq!(key, "mailboxes[0].imap.oauth2");
        assert!(message.contains("one way to sign in"), "{message}");
        // The imap and smtp blocks of one mailbox share one refresh token.
        let device = |client: &str| {
            format!("oauth2: {{flow: refresh_token, token_url: \"https://login.example/token\", device_url: \"https://login.example/device\", client_id: {client}, scope: s}}")
        };
        let yaml = format!(
            "smtp:\n  host: 127.0.0.1\n  tls: none\nmailboxes:\n  - name: alice\n    user: alice@corp.example\n    imap:\n      host: h.example\n      username: a\n      {}\n    smtp:\n      host: h.example\n      username: a\n      {}\n",
            device("one"),
            device("two")
        );
        let (_, key, _) = invalid(&yaml);
        assert_eq!(key, "mailboxes[0].smtp.oauth2.client_id");
    }

    const MAILBOX: &str = "from: bot@corp.example\nsupport: help@corp.example\nsmtp:\n  host: 127.0.0.1\n  tls: none\nmailboxes:\n  - name: alice\n    user: alice@corp.example\n    imap:\n      host: imap.corp.example\n      username: alice\n      password_env: ALICE_PW\n";

    #[test]
    fn mailboxes_are_validated() {
        let c = Config::parse(MAILBOX).unwrap();
        let m = &c.mailboxes[0];
        assert_eq!(
            (m.name.as_str(), m.folder.as_str(), m.mode),
            ("alice", "INBOX", WatchMode::Idle)
        );
        assert_eq!((m.imap.port, m.imap.tls), (993, TlsMode::Implicit));
        assert_eq!(m.imap.sign_in, SignIn::Password(Secret::Env("ALICE_PW".into())));
        assert_eq!(m.after_processing, AfterProcessing::Leave);
        assert_eq!(c.smtp_for(m).map(|s| s.port), Some(25));
        assert_eq!(c.limits.replies_per_hour, 20);
        let bad = |extra: &str| invalid(&format!("{MAILBOX}{extra}"));
        let (line, key, _) = bad("    after_processing: {keyword: \"\\\\Seen\"}\n");
        assert_eq!(
            (line, key.as_str()),
            (13, "mailboxes[0].after_processing.keyword")
        );
        let (_, key, _) = bad("    after_processing: {keyword: a, move_to: b}\n");
        assert_eq!(key, "mailboxes[0].after_processing");
        let (line, key, _) = bad("    mode: push\n");
        assert_eq!((line, key.as_str()), (13, "mailboxes[0].mode"));
        let (line, key, _) = bad(
            "  - name: alice\n    user: a@x.example\n    imap: {host: h.example, username: u, password: p}\n",
        );
        assert_eq!((line, key.as_str()), (13, "mailboxes[1].name"));
        let (_, key, msg) = bad("    flder: INBOX\n");
        assert_eq!(key, "mailboxes[0].flder", "{msg}");
        let no_tls = MAILBOX.replace(
            "host: imap.corp.example",
            "host: imap.corp.example\n      tls: none",
        );
        let (line, key, _) = invalid(&no_tls);
        assert_eq!((line, key.as_str()), (11, "mailboxes[0].imap.tls"));
        let no_pw = MAILBOX.replace("      password_env: ALICE_PW\n", "");
        let (_, key, _) = invalid(&no_pw);
        assert_eq!(key, "mailboxes[0].imap.username");
        let no_from = MAILBOX.replace("from: bot@corp.example\n", "");
        let (_, key, _) = invalid(&no_from);
        assert_eq!(key, "from");
        let (line, key, _) = invalid("log_level: loud\n");
        assert_eq!((line, key.as_str()), (1, "log_level"));
    }

    #[test]
    fn password_sources_resolve_and_a_hanging_command_is_stopped() {
        let ms = std::time::Duration::from_millis(300);
        assert_eq!(
            Secret::Command("printf 'pw\\nrest'".into())
                .resolve_within(ms)
                .as_deref(),
            Ok("pw")
        );
        let start = std::time::Instant::now();
        let e = Secret::Command("sleep 30".into()).resolve_within(ms).unwrap_err();
        assert!(e.contains("no answer within 300 ms"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(Secret::Command("exit 3".into())
            .resolve()
            .unwrap_err()
            .contains("exited"));
        assert!(Secret::Env("BOUNCEDOC_SURELY_UNSET".into())
            .resolve()
            .unwrap_err()
            .contains("not set"));
    }

    #[test]
    fn password_file_first_line_and_command_groups() {
        let dir = std::env::temp_dir().join(format!("bouncedoc-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "s3cret\r\nsecond line\n").unwrap();
        assert_eq!(Secret::File(file.clone()).resolve().as_deref(), Ok("s3cret"));
        // A command that prints more than a pipe holds after its password still answers.
        assert_eq!(
            Secret::Command("printf 'pw\\n'; head -c 300000 /dev/zero".into())
                .resolve_within(std::time::Duration::from_secs(10))
                .as_deref(),
            Ok("pw")
        );
        // On timeout its whole process group goes, what it started included.
        let pid_file = dir.join("child.pid");
        let cmd = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let e = Secret::Command(cmd)
            .resolve_within(std::time::Duration::from_millis(500))
            .unwrap_err();
        assert!(e.contains("no answer"), "{e}");
        let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
        let gone = (0..100).any(|_| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next();
            if stat.is_empty() || state == Some("Z") {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            false
        });
        assert!(gone, "the command's child {pid} outlived the timeout");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../config.example.yaml");
        Config::parse(text).unwrap();
    }

    #[test]
    fn sending_ips_are_addresses_or_networks() {
        let c = Config::parse("sending_ips: [203.0.113.5, 198.51.100.0/24, \"2001:db8::/32\"]\n").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(c.sending_ips[0].single(), Some(ip("203.0.113.5")));
        assert!(c.sending_ips[1].single().is_none());
        assert!(c.sending_ips[1].contains(&ip("198.51.100.77")));
        assert!(!c.sending_ips[1].contains(&ip("198.51.101.1")));
        assert!(c.sending_ips[2].contains(&ip("2001:db8:1::5")));
        assert!(!c.sending_ips[2].contains(&ip("203.0.113.5")));
        assert_eq!(c.sending_ips[1].to_string(), "198.51.100.0/24");
        let (line, key, message) = invalid("sending_ips:\n  - 10.0.0.0/33\n");
        assert_eq!((line, key.as_str()), (2, "sending_ips[0]"), "{message}");
        let (_, key, _) = invalid("limits: {message_budget: 0s}\n");
        assert_eq!(key, "limits.message_budget");
    }
}
