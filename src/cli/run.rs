//! `bouncedoc run [--config FILE]`: the daemon. Logs go to stderr (journald reads them), one
//! line per event, with the mailbox's name. Exit 0 after SIGTERM/SIGINT, 78 (EX_CONFIG) when
//! the configuration is not valid (systemd does not restart that in a loop), 1 when the
//! daemon cannot start.

use bouncedoc::config::Config;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The exit code for a configuration that cannot be used (sysexits.h EX_CONFIG).
pub const EX_CONFIG: u8 = 78;

/// Libraries whose debug output would show the protocol on the wire, credentials included
/// (SMTP AUTH, IMAP LOGIN lines, requests to authorization servers).
const WIRE_TARGETS: &[&str] = &[
    "lettre",
    "async_imap",
    "imap_proto",
    "rustls",
    "tokio_rustls",
    "ureq",
    "ureq_proto",
];

/// Whether an event may be logged whatever the filter asked for: the wire libraries' output
/// stops at info. This is a second filter after `RUST_LOG` / `log_level`, so no directive
/// (`lettre::transport=trace`, more specific than any cap written in the same filter) can
/// turn their wire logs on.
pub fn allowed(target: &str, level: &tracing::Level) -> bool {
    let wire = WIRE_TARGETS
        .iter()
        .any(|w| target == *w || target.strip_prefix(w).is_some_and(|rest| rest.starts_with("::")));
    !wire || *level <= tracing::Level::INFO
}

/// Installs the stderr logger: `RUST_LOG` if set, else the config's `log_level`, else info.
pub fn init_logging(level: Option<&str>) {
    let wanted = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v,
        _ => level.unwrap_or("info").to_string(),
    };
    let filter = EnvFilter::try_new(&wanted).unwrap_or_else(|_| EnvFilter::new("info"));
    let cap = tracing_subscriber::filter::filter_fn(|meta| allowed(meta.target(), meta.level()));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // journald stamps each line itself.
    let layer = if std::env::var_os("JOURNAL_STREAM").is_some() {
        layer.without_time().boxed()
    } else {
        layer.boxed()
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(cap))
        .init();
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
        // Messages are read and decided on blocking threads, one per busy mailbox: a bound
        // keeps the process within the unit's TasksMax whatever arrives.
        .max_blocking_threads(128)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn wire_library_output_stops_at_info_whatever_the_filter() {
        assert!(!allowed("lettre::transport::smtp::client", &Level::DEBUG));
        assert!(!allowed("async_imap::client", &Level::TRACE));
        assert!(!allowed("imap_proto", &Level::DEBUG));
        assert!(allowed("async_imap::client", &Level::WARN));
        assert!(allowed("bouncedoc::watch::mailbox", &Level::TRACE));
        assert!(allowed("lettrex", &Level::TRACE), "only the libraries themselves");
    }
}
