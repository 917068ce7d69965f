//! `bouncedoc run [--config FILE]`: the daemon. Logs go to stderr (journald reads them), one
//! line per event, with the mailbox's name. Exit 0 after SIGTERM/SIGINT, 78 (EX_CONFIG) when
//! the configuration is not valid (systemd does not restart that in a loop), 1 when the
//! daemon cannot start.

use bouncedoc::config::Config;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// The exit code for a configuration that cannot be used (sysexits.h EX_CONFIG).
pub const EX_CONFIG: u8 = 78;

/// Libraries whose debug output would contain credentials (SMTP AUTH, IMAP LOGIN lines):
/// capped whatever the log level asked for.
const CAPS: &str = "lettre=info,async_imap=info,imap_proto=info";

/// Installs the stderr logger: `RUST_LOG` if set, else the config's `log_level`, else info.
pub fn init_logging(level: Option<&str>) {
    let wanted = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v,
        _ => level.unwrap_or("info").to_string(),
    };
    let filter = EnvFilter::try_new(format!("{wanted},{CAPS}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{CAPS}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // journald stamps each line itself.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

/// Runs the daemon until stopped.
pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bouncedoc: {e}");
            return Ok(ExitCode::from(EX_CONFIG));
        }
    };
    init_logging(config.log_level.as_deref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(bouncedoc::daemon::run(path, config));
    // A blocking helper still running (a password_command) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            tracing::error!(error = %e, "cannot run");
            Ok(ExitCode::from(1))
        }
    }
}
