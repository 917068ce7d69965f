//! The file as written: serde structures, no checks beyond the value types. `mod.rs` turns
//! them into the validated [`super::Config`]. No `Debug`: they hold secrets as written.

use super::oauth::{Flow, Provider};
use super::values::{ConfigDuration, MailboxAddress, NameServer, Network, ZoneName};
use super::{Escalation, TlsMode, WatchMode};
use serde::Deserialize;
use std::path::PathBuf;

/// A server block as written: `smtp`, a mailbox's `smtp` or `imap`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<TlsMode>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_command: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) oauth2: Option<RawOAuth2>,
    pub(super) token_command: Option<String>,
}

/// An `oauth2` block as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    pub(super) provider: Option<Provider>,
    pub(super) tenant: Option<String>,
    pub(super) flow: Option<Flow>,
    pub(super) token_url: Option<String>,
    pub(super) device_url: Option<String>,
    pub(super) auth_url: Option<String>,
    pub(super) client_id: String,
    pub(super) client_secret: Option<String>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) client_secret_command: Option<String>,
    pub(super) client_secret_env: Option<String>,
    pub(super) scope: Option<String>,
}

/// The `after_processing` block as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAfter {
    pub(super) keyword: Option<String>,
    pub(super) move_to: Option<String>,
}

/// One `mailboxes[]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    pub(super) name: String,
    pub(super) user: MailboxAddress,
    pub(super) imap: RawServer,
    pub(super) folder: Option<String>,
    pub(super) mode: Option<WatchMode>,
    pub(super) poll_interval: Option<ConfigDuration>,
    pub(super) smtp: Option<RawServer>,
    pub(super) support: Option<MailboxAddress>,
    #[serde(default)]
    pub(super) sending_ips: Vec<Network>,
    pub(super) escalation: Option<Escalation>,
    pub(super) reply_to: Option<MailboxAddress>,
    #[serde(default)]
    pub(super) after_processing: RawAfter,
    pub(super) digest: Option<super::Digest>,
    pub(super) language: Option<super::Language>,
}

/// The `limits` block as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) replies_per_hour: Option<u32>,
    pub(super) forwards_per_hour: Option<u32>,
    pub(super) message_budget: Option<ConfigDuration>,
}

/// The `dns` block as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    #[serde(default)]
    pub(super) nameservers: Vec<NameServer>,
    pub(super) timeout: Option<ConfigDuration>,
    pub(super) attempts: Option<usize>,
    pub(super) budget: Option<ConfigDuration>,
}

/// The `dnsbl` block as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDnsbl {
    pub(super) zones: Option<Vec<ZoneName>>,
}

/// The file as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) dns: RawDns,
    #[serde(default)]
    pub(super) dnsbl: RawDnsbl,
    #[serde(default)]
    pub(super) sending_ips: Vec<Network>,
    #[serde(default)]
    pub(super) probe_smtp: bool,
    // Read by the daemon's commands; accepted as written here.
    pub(super) state_dir: Option<PathBuf>,
    pub(super) from: Option<MailboxAddress>,
    pub(super) support: Option<MailboxAddress>,
    pub(super) log_level: Option<String>,
    pub(super) retention: Option<ConfigDuration>,
    pub(super) smtp: Option<RawServer>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) commands: RawCommands,
    pub(super) metrics: Option<RawMetrics>,
    #[serde(default)]
    pub(super) mailboxes: Vec<RawMailbox>,
    pub(super) mailboxes_dir: Option<PathBuf>,
    pub(super) timezone: Option<String>,
    pub(super) imap_connect_concurrency: Option<usize>,
    pub(super) database: Option<RawDatabase>,
}

/// The `database` block as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) url: String,
    pub(super) lease: Option<ConfigDuration>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_command: Option<String>,
    pub(super) password_env: Option<String>,
}

/// The `commands` block as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommands {
    pub(super) require_auth: Option<String>,
}

/// The `metrics` block as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: String,
    #[serde(default)]
    pub(super) allow_remote: bool,
}
