//! `bouncedoc check-config [--config FILE]`: validates the file, resolves every secret, gets
//! every OAuth 2.0 token (the authorization server's own words when it refuses), logs in to
//! each mailbox's IMAP server (read-only EXAMINE) and SMTP server, and prints one line
//! per mailbox. Exit 0 when all is well, 1 when anything failed, 78 for an invalid file.

use bouncedoc::config::{Config, MailboxConfig};
use bouncedoc::outbox::Sender;
use bouncedoc::signin::{Renew, Tokens};
use bouncedoc::watch::imap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

async fn check_imap(m: &MailboxConfig, tokens: &Arc<Tokens>) -> Result<String, String> {
    // A token is asked for afresh: the check is that the authorization server gives one.
    let (credential, _) = tokens
        .credential(&m.imap.sign_in, Renew::Fresh)
        .await
        .map_err(|e| e.to_string())?;
    let mut session = imap::connect(&m.imap, &credential)
        .await
        .map_err(|e| e.to_string())?;
    let examined = session.examine(&m.folder).await;
    let _ = session.logout().await;
    let mb = examined.map_err(|e| format!("folder {:?}: {e}", m.folder))?;
    Ok(format!(
        "imap {}@{}:{} {} ({} messages)",
        m.imap.username, m.imap.host, m.imap.port, m.folder, mb.exists
    ))
}

async fn check_smtp(config: &Config, m: &MailboxConfig, tokens: &Arc<Tokens>) -> Result<String, String> {
    let Some(smtp) = config.smtp_for(m).cloned() else {
        return Err("no smtp block".into());
    };
    let label = format!("smtp {}:{}", smtp.host, smtp.port);
    let tokens = tokens.clone();
    let sender = tokio::task::spawn_blocking(move || Sender::new(&smtp, &tokens))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    sender.check().await.map_err(|e| format!("{label}: {e}"))?;
    Ok(label)
}

/// Reaches the shared PostgreSQL database (read only): its schema and the instances alive.
fn check_database(db: &bouncedoc::config::DatabaseConfig) -> Result<String, String> {
    let connect = bouncedoc::store::postgres::Connect::for_config(db).map_err(|e| e.to_string())?;
    let label = connect.label().to_string();
    let store = bouncedoc::store::Store::look_postgres(&connect).map_err(|e| e.to_string())?;
    Ok(match store {
        None => format!("database {label}: reachable, empty (the first `bouncedoc run` creates the schema)"),
        Some(s) => {
            let version = s.schema_version().map_err(|e| e.to_string())?;
            let alive = s.instances_alive().map_err(|e| e.to_string())?;
            format!(
                "database {label}: schema {version}, {alive} instance{} running, lease {:?}",
                if alive == 1 { "" } else { "s" },
                db.lease
            )
        }
    })
}

/// Runs `check-config`.
pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bouncedoc: {e}");
            return Ok(ExitCode::from(super::run::EX_CONFIG));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0;
    for why in &config.refused {
        failed += 1;
        writeln!(out, "FAIL  {why}")?;
    }
    if let Some(db) = &config.database {
        match check_database(db) {
            Ok(line) => writeln!(out, "ok    {line}")?,
            Err(e) => {
                failed += 1;
                writeln!(out, "FAIL  database: {e}")?;
            }
        }
    }
    if config.mailboxes.is_empty() {
        if failed > 0 {
            return Ok(ExitCode::from(1));
        }
        writeln!(out, "ok    (no mailboxes configured; the file is valid)")?;
        return Ok(ExitCode::SUCCESS);
    }
    let tokens = Tokens::new(&config.state_dir, path);
    for m in &config.mailboxes {
        let (imap, smtp) = runtime.block_on(async {
            (
                check_imap(m, &tokens).await,
                check_smtp(&config, m, &tokens).await,
            )
        });
        let line = match (imap, smtp) {
            (Ok(i), Ok(s)) => format!("ok    {}: {i}; {s}", m.name),
            (i, s) => {
                failed += 1;
                let part = |r: Result<String, String>, what: &str| match r {
                    Ok(v) => v,
                    Err(e) => format!("{what} FAILED: {e}"),
                };
                format!("FAIL  {}: {}; {}", m.name, part(i, "imap"), part(s, "smtp"))
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
