//! The whole chain for daemon tests: a private Dovecot (the users' mailboxes), a Postfix that
//! delivers `corp.test` into it over LMTP (the bot's SMTP server), an Unbound with the test
//! world's DNS, and `bouncedoc run` as a child process with its own state and log file.
#![allow(dead_code)]

use super::dovecot::Dovecot;
use super::postfix::Postfix;
use super::unbound::Unbound;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The test world's DNS: corp.test (ours) works; partner.test and stuck.test resolve (an
/// all-clear delay is unexplained → Support; Postfix itself cannot reach stuck.test, it uses
/// a fixed route); gone.test does not exist (→ advice to the user).
pub const ZONE: &[&str] = &[
    "stuck.test. MX 10 mx.stuck.test.",
    "mx.stuck.test. A 192.0.2.99",
    "corp.test. MX 10 mail.corp.test.",
    "corp.test. A 192.0.2.1",
    "mail.corp.test. A 192.0.2.1",
    "partner.test. MX 10 mx.partner.test.",
    "mx.partner.test. A 192.0.2.25",
];

/// One mailbox in a test configuration.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// Name (and IMAP user).
    pub name: String,
    /// `idle` or `poll`.
    pub mode: &'static str,
    /// The IMAP password written in the config: `$VAR` → `password_env`, `file:PATH` →
    /// `password_file`, `cmd:COMMAND` → `password_command`, else `password`.
    pub password: String,
    /// More YAML lines for the block (indented by 4).
    pub extra: String,
    /// The `imap:` block's lines (indented by 6) instead of plain text to the test Dovecot.
    pub imap: Option<String>,
    /// The `imap:` block's `username` and sign-in lines (indented by 6) instead of
    /// `username: NAME` and the password (e.g. an `oauth2` block).
    pub sign_in: Option<String>,
}

impl Mailbox {
    /// An IDLE mailbox `name` with the right password.
    pub fn idle(name: &str) -> Mailbox {
        Mailbox {
            name: name.into(),
            mode: "idle",
            password: super::dovecot::PASSWORD.into(),
            extra: String::new(),
            imap: None,
            sign_in: None,
        }
    }
}

/// The servers.
pub struct World {
    /// The mail store.
    pub dovecot: Dovecot,
    /// The bot's SMTP server (delivers corp.test into Dovecot) and the users' too: mail to
    /// stuck.test stays deferred and Postfix writes real delay notices.
    pub postfix: Postfix,
    /// DNS.
    pub unbound: Unbound,
    /// A directory for this world's configs, state and logs.
    pub dir: PathBuf,
}

impl World {
    /// Starts Dovecot, Postfix and Unbound.
    pub fn start(tag: &str) -> World {
        World::start_with(tag, Dovecot::start())
    }

    /// As [`World::start`] with a given Dovecot.
    pub fn start_with(tag: &str, dovecot: Dovecot) -> World {
        let postfix = Postfix::start_delaying(("corp.test", dovecot.lmtp), "stuck.test");
        let unbound = Unbound::start(ZONE, &[]);
        let dir = std::env::temp_dir().join(format!(
            "bouncedoc-world-{tag}-{}-{}",
            std::process::id(),
            dovecot.imap.port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("world dir");
        World {
            dovecot,
            postfix,
            unbound,
            dir,
        }
    }

    /// Writes a configuration for `mailboxes` (file `name.yaml`) and returns its path. The
    /// rate limits are set out of the way; [`World::config_with`] sets them.
    pub fn config(&self, name: &str, mailboxes: &[Mailbox]) -> PathBuf {
        self.config_with(
            name,
            mailboxes,
            "limits: {replies_per_hour: 100000, forwards_per_hour: 100000}\n",
        )
    }

    /// As [`World::config`], with `global` YAML lines (e.g. `limits`) added at the top.
    pub fn config_with(&self, name: &str, mailboxes: &[Mailbox], global: &str) -> PathBuf {
        let mut text = global.to_string();
        text.push_str(&format!(
            "state_dir: {state}\nfrom: \"bouncedoc <bouncedoc@corp.test>\"\nsupport: support@corp.test\ndns:\n  nameservers: [\"{dns}\"]\n  timeout: 1s\n  attempts: 1\n  budget: 3s\ndnsbl:\n  zones: []\nsmtp:\n  host: 127.0.0.1\n  port: {smtp}\n  tls: none\nmailboxes:\n",
            state = self.dir.join("state").display(),
            dns = self.unbound.addr,
            smtp = self.postfix.addr.port(),
        ));
        for m in mailboxes {
            let password = if let Some(var) = m.password.strip_prefix('$') {
                format!("password_env: {var}")
            } else if let Some(path) = m.password.strip_prefix("file:") {
                format!("password_file: {path}")
            } else if let Some(cmd) = m.password.strip_prefix("cmd:") {
                format!("password_command: \"{cmd}\"")
            } else {
                format!("password: \"{}\"", m.password)
            };
            let sign_in = m
                .sign_in
                .clone()
                .unwrap_or_else(|| format!("      username: {}\n      {password}\n", m.name));
            let imap = m.imap.clone().unwrap_or_else(|| {
                format!(
                    "      host: 127.0.0.1\n      port: {}\n      tls: none\n",
                    self.dovecot.imap.port()
                )
            });
            text.push_str(&format!(
                "  - name: {name}\n    user: {name}@corp.test\n    imap:\n{imap}{sign_in}    mode: {mode}\n    poll_interval: 1s\n{extra}",
                name = m.name,
                mode = m.mode,
                extra = m.extra,
            ));
        }
        let path = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&path, text).expect("write config");
        path
    }
}

/// `bouncedoc run` as a child process; killed on drop.
pub struct Bot {
    child: Option<Child>,
    /// Its stderr, appended across restarts.
    pub log: PathBuf,
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl Bot {
    /// Starts `bouncedoc run --config config`, logging to `log`.
    pub fn start(config: &Path, log: &Path) -> Bot {
        Bot::start_env(config, log, &[])
    }

    /// As [`Bot::start`] with extra environment variables.
    pub fn start_env(config: &Path, log: &Path, env: &[(&str, &str)]) -> Bot {
        let mut bot = Bot {
            child: None,
            log: log.to_path_buf(),
            config: config.to_path_buf(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        bot.spawn();
        bot
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bouncedoc"));
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("start bouncedoc"));
    }

    /// Starts it again after a stop or a kill.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often `needle` appears in the log.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log_text().matches(needle).count()
    }

    /// Waits until the log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.log_count(needle) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    /// As [`Bot::wait_log`], failing the test (with the log) if the lines do not come.
    #[track_caller]
    pub fn expect_log(&self, needle: &str, n: usize, within: Duration) {
        assert!(self.wait_log(needle, n, within), "{}", self.log_text());
    }

    /// Sends a signal (`TERM`, `HUP`, `KILL`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
    }

    /// Waits for the process to exit; `None` if it did not within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        let child = self.child.as_mut()?;
        while start.elapsed() < within {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.kill9();
        if std::env::var_os("BOUNCEDOC_TEST_LOGS").is_some() {
            eprintln!("--- bouncedoc log ---\n{}", self.log_text());
        }
    }
}

/// An Exchange-style notice to `user` about `original_id` sent to `recipient`: `failed` makes
/// it the final failure. `notice_id` is the notice's own Message-ID.
pub fn exchange_notice(
    user: &str,
    recipient: &str,
    original_id: &str,
    notice_id: &str,
    failed: bool,
) -> Vec<u8> {
    let (subject, intro, action, status, text) = if failed {
        (
            "Undeliverable: Quarterly figures",
            "Delivery has failed to these recipients or groups:",
            "failed",
            "5.4.7",
            "The message couldn't be delivered in the time allowed.",
        )
    } else {
        (
            "Delivery delayed:Quarterly figures",
            "Delivery is delayed to these recipients or groups:",
            "delayed",
            "4.4.7",
            "This message hasn't been delivered yet. Delivery will continue to be attempted.\r\n\r\nThe server will keep trying to deliver this message for the next 1 days, 19 hours and 56 minutes. You'll be notified if the message can't be delivered by that time.",
        )
    };
    let domain = recipient.rsplit_once('@').map_or("x.test", |(_, d)| d);
    format!(
        "From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@corp.test>\r\nTo: <{user}>\r\nSubject: {subject}\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{notice_id}>\r\nX-MS-Exchange-Message-Is-Ndr:\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\r\n--B1\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\n{intro}\r\n\r\n{recipient} ({recipient})<mailto:{recipient}>\r\n\r\nSubject: Quarterly figures\r\n\r\n{text}\r\n\r\nDiagnostic information for administrators:\r\n\r\nGenerating server: MBX01.corp.test\r\nReceiving server: mx.{domain} (198.51.100.23)\r\n\r\n{recipient}\r\nRemote Server at mx.{domain} (198.51.100.23) returned '400 4.4.7 Message delayed'\r\n\r\n--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns;MBX01.corp.test\r\n\r\nFinal-Recipient: rfc822;{recipient}\r\nAction: {action}\r\nStatus: {status}\r\nDiagnostic-Code: smtp;400 4.4.7 Message delayed\r\n\r\n--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {user}\r\nTo: {recipient}\r\nSubject: Quarterly figures\r\nDate: Fri, 27 Nov 2026 09:00:00 +0000\r\nMessage-ID: <{original_id}>\r\n\r\n--B1--\r\n"
    )
    .into_bytes()
}

/// The header `name` of a raw message (first occurrence, unfolded), if present.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}

/// The messages in `all` the bot sent (its From).
pub fn from_bot(all: &[Vec<u8>]) -> Vec<&Vec<u8>> {
    all.iter()
        .filter(|m| header(m, "From").is_some_and(|f| f.contains("bouncedoc@corp.test")))
        .collect()
}

/// The decoded Subject of a raw message.
pub fn subject(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}

/// The decoded text body of a raw message.
pub fn text(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

/// A two-thread runtime for the tests' IMAP reads.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Waits until `user`'s INBOX holds at least `n` messages from the bot (or `within` passed);
/// returns them.
pub fn bot_messages(
    rt: &tokio::runtime::Runtime,
    w: &World,
    user: &str,
    n: usize,
    within: Duration,
) -> Vec<Vec<u8>> {
    let start = Instant::now();
    loop {
        let all = rt.block_on(super::imap::fetch_all(w.dovecot.imap, user));
        let mine: Vec<Vec<u8>> = from_bot(&all).into_iter().cloned().collect();
        if mine.len() >= n || start.elapsed() > within {
            return mine;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A world with `bouncedoc run` watching its mailboxes, ready: what most daemon tests start
/// from.
pub struct Scene {
    /// The servers.
    pub w: World,
    /// A runtime for IMAP reads.
    pub rt: tokio::runtime::Runtime,
    /// The configuration file the bot reads (rewritten by reload tests).
    pub config: PathBuf,
    /// The bot.
    pub bot: Bot,
}

impl Scene {
    /// Starts a world, writes a configuration for `mailboxes` (with `global` YAML lines, or the
    /// limits out of the way), starts the bot and waits until it logs `ready` (e.g.
    /// "watching").
    pub fn start(tag: &str, mailboxes: &[Mailbox], global: Option<&str>, ready: &str) -> Scene {
        let w = World::start(tag);
        let rt = runtime();
        let config = match global {
            Some(g) => w.config_with(tag, mailboxes, g),
            None => w.config(tag, mailboxes),
        };
        let bot = Bot::start(&config, &w.dir.join("bot.log"));
        assert!(
            bot.wait_log(ready, 1, Duration::from_secs(10)),
            "{}",
            bot.log_text()
        );
        Scene { w, rt, config, bot }
    }
}

/// Waits until the bot has nothing left to do, a positive condition rather than a fixed wait:
/// for each mailbox, its cursor (in the state under `state_dir`) has reached the highest UID
/// in its INBOX; the bot's outbox holds nothing queued; and Postfix holds nothing for
/// corp.test. After that, a message that has not arrived was never sent. Panics after
/// `within`.
pub fn settle(
    rt: &tokio::runtime::Runtime,
    w: &World,
    state_dir: &Path,
    mailboxes: &[&str],
    within: Duration,
) {
    let start = Instant::now();
    let db = state_dir.join("bouncedoc.sqlite");
    let mut last = String::new();
    while start.elapsed() < within {
        let state = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
        if let Ok(state) = state {
            let queued: i64 = state
                .query_row("SELECT COUNT(*) FROM outbox WHERE state = 'queued'", [], |r| {
                    r.get(0)
                })
                .unwrap_or(-1);
            let mut behind = Vec::new();
            for m in mailboxes {
                let cursor: i64 = state
                    .query_row("SELECT last_uid FROM cursor WHERE mailbox = ?1", [m], |r| {
                        r.get(0)
                    })
                    .unwrap_or(-1);
                let newest = i64::from(rt.block_on(super::imap::max_uid(w.dovecot.imap, m)));
                if cursor < newest {
                    behind.push(format!("{m}: cursor {cursor} < uid {newest}"));
                }
            }
            let in_postfix = w.postfix.queued_for("corp.test");
            if queued == 0 && behind.is_empty() && in_postfix == 0 {
                return;
            }
            last = format!("outbox queued {queued}, postfix {in_postfix}, {behind:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the bot did not settle within {within:?}: {last}");
}
