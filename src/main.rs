//! The `bouncedoc` command line: `run` (the daemon), `check-config`, `login`, `status`,
//! `history`, `parse`, `diagnose`.

mod cli;

use clap::{CommandFactory, Parser, Subcommand};

/// The reader allocates many small strings per notice; mimalloc serves them several times
/// faster than the system allocator (measured with `bench/process.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// bouncedoc: answers email delay notices with the reason the mail is stuck.
#[derive(Parser)]
#[command(name = "bouncedoc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Watch every configured mailbox and answer each delay notice (the daemon).
    Run {
        /// The configuration file [default: /etc/bouncedoc/config.yaml as root, else
        /// $XDG_CONFIG_HOME/bouncedoc/config.yaml]
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Validate the configuration, resolve every secret, and log in to each IMAP and SMTP server.
    CheckConfig {
        /// The configuration file [default: /etc/bouncedoc/config.yaml as root, else
        /// $XDG_CONFIG_HOME/bouncedoc/config.yaml]
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Sign a mailbox (or the global smtp block) in with OAuth 2.0 (device login) and store its
    /// refresh token for the daemon.
    Login {
        /// The configuration file [default: /etc/bouncedoc/config.yaml as root, else
        /// $XDG_CONFIG_HOME/bouncedoc/config.yaml]
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// The mailbox whose imap (and own smtp) block uses `flow: refresh_token`.
        #[arg(long, conflicts_with = "smtp")]
        mailbox: Option<String>,
        /// The global smtp block instead.
        #[arg(long)]
        smtp: bool,
        /// The loopback port a browser sign-in returns to (0: any free one; fix it to forward
        /// it over SSH).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Show each mailbox, the outbox and the blocklist zones at a glance (and what the running
    /// daemon is doing, when it serves metrics.listen).
    Status {
        /// The configuration file [default: /etc/bouncedoc/config.yaml as root, else
        /// $XDG_CONFIG_HOME/bouncedoc/config.yaml]
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Write the man page and shell completions into a directory (for packaging).
    #[command(hide = true)]
    GenerateAssets {
        /// Where to write them.
        dir: std::path::PathBuf,
    },
    /// Show recent notices, their verdicts, and what was sent.
    History {
        /// The configuration file, for `state_dir` [default: as for `run`]
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Only this mailbox.
        #[arg(long)]
        mailbox: Option<String>,
        /// How many notices, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Read delay/failure notices and print what they say.
    Parse {
        /// Print one JSON object per file (the notice contract) instead of a summary.
        #[arg(long)]
        json: bool,
        /// Notice files (raw RFC 5322 messages, LF or CRLF).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Find out why a notice's mail is stuck: DNS, blocklists, reverse DNS, the server's words.
    Diagnose {
        /// The configuration file (config.example.yaml documents every key).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Ask this DNS server (IP:PORT) instead of the configured ones.
        #[arg(long)]
        dns: Option<String>,
        /// Print `{"notice", "findings", "verdict"}` as JSON.
        #[arg(long, conflicts_with = "preview")]
        json: bool,
        /// Print the exact messages that would be sent (RFC 5322), sending nothing.
        #[arg(long)]
        preview: bool,
        /// The notice (a raw message file).
        notice: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = |given: Option<std::path::PathBuf>| given.unwrap_or_else(bouncedoc::config::default_path);
    let result = match cli.command {
        Command::Run { config } => cli::run::run(&path(config)),
        Command::CheckConfig { config } => cli::check::run(&path(config)),
        Command::Login {
            config,
            mailbox,
            smtp,
            port,
        } => cli::login::run(&path(config), mailbox.as_deref(), smtp, port),
        Command::Status { config, json } => cli::status::run(&path(config), json),
        Command::History {
            config,
            mailbox,
            limit,
            json,
        } => cli::history::run(&path(config), mailbox.as_deref(), limit, json),
        Command::Parse { json, files } => cli::parse::run(&files, json),
        Command::GenerateAssets { dir } => cli::assets::run(Cli::command(), &dir),
        Command::Diagnose {
            config,
            dns,
            json,
            preview,
            notice,
        } => {
            let output = match (json, preview) {
                (true, _) => cli::diagnose::Output::Json,
                (_, true) => cli::diagnose::Output::Preview,
                _ => cli::diagnose::Output::Report,
            };
            cli::diagnose::run(config.as_deref(), dns.as_deref(), output, &notice)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bouncedoc: {e:#}");
            ExitCode::from(2)
        }
    }
}
