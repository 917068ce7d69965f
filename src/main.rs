//! The `bouncedoc` command line: `parse` reads notices; later commands run the daemon.

mod cli;

use clap::{Parser, Subcommand};

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
    let result = match cli.command {
        Command::Parse { json, files } => cli::parse::run(&files, json),
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
