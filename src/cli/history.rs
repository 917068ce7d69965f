//! `bouncedoc history [--config FILE] [--mailbox NAME] [--limit N] [--json]`: the recent
//! notices, their verdicts, and what was sent for each (with the outbox's state).

use bouncedoc::config::Config;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn time(unix: i64) -> String {
    let dt = mail_parser::DateTime::from_timestamp(unix);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
    )
}

/// Runs `history`.
pub fn run(path: &Path, mailbox: Option<&str>, limit: usize, json: bool) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bouncedoc: {e}");
            return Ok(ExitCode::from(super::run::EX_CONFIG));
        }
    };
    if let Some(name) = mailbox {
        if !config.mailboxes.iter().any(|m| m.name == name) {
            eprintln!("bouncedoc: note: no mailbox named {name:?} in the configuration (showing what the state holds)");
        }
    }
    // Read-only: looking at the history never creates or changes a database.
    let store = match super::read_state(&config)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let entries = store.history(mailbox, limit)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for e in &entries {
        if json {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
            continue;
        }
        let sent: Vec<String> = e
            .sent
            .iter()
            .map(|(role, to, state)| format!("{role} to {to} ({state})"))
            .collect();
        writeln!(
            out,
            "{}  {}  uid {}  {}  {}  {:?}  {}  {}{}",
            time(e.received),
            e.mailbox,
            e.uid,
            e.kind,
            e.recipients,
            e.subject.as_deref().unwrap_or(""),
            e.verdict.as_deref().unwrap_or("-"),
            match &e.why {
                Some(why) => format!("{} ({why})", e.outcome),
                None => e.outcome.clone(),
            },
            if sent.is_empty() {
                String::new()
            } else {
                format!("  → {}", sent.join(", "))
            }
        )?;
    }
    if entries.is_empty() && !json {
        writeln!(out, "(no notices recorded yet)")?;
    }
    Ok(ExitCode::SUCCESS)
}
