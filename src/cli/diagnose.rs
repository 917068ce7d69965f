//! `bouncedoc diagnose [--config FILE] [--dns IP:PORT] [--json] NOTICE.eml`: reads a notice,
//! runs every check, decides, and prints a report a person understands in ten seconds (or the
//! JSON object). Exit 0 when diagnosed (whatever the verdict), 1 when the input cannot be read
//! or is not a notice, 2 for bad usage or configuration.

use bouncedoc::config::{parse_name_server, Config};
use bouncedoc::diagnose::{Check, Diagnoser, Finding};
use bouncedoc::notice::{self, Kind, Notice};
use bouncedoc::verdict::{self, Verdict};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Runs `diagnose`.
pub fn run(config: Option<&Path>, dns: Option<&str>, json: bool, file: &Path) -> anyhow::Result<ExitCode> {
    let mut cfg = match config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bouncedoc: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => Config::default(),
    };
    if let Some(server) = dns {
        match parse_name_server(server) {
            Some(addr) => cfg.dns.nameservers = vec![addr],
            None => {
                eprintln!("bouncedoc: --dns {server:?}: write an IP address and port, like 127.0.0.1:53");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let name = file.display().to_string();
    let raw = match std::fs::read(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bouncedoc: {name}: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let n = match notice::read(&raw) {
        Ok(n) if !matches!(n.kind, Kind::None | Kind::Autoreply | Kind::Feedback) => n,
        Ok(n) => {
            eprintln!(
                "bouncedoc: {name}: not a delay or failure notice (it reads as {:?}); nothing to diagnose",
                n.kind
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => {
            eprintln!("bouncedoc: {name}: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let diagnosis = runtime.block_on(async {
        let diagnoser = Diagnoser::new(&cfg)?;
        anyhow::Ok(diagnoser.diagnose(&n).await)
    });
    let diagnosis = match diagnosis {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bouncedoc: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let v = verdict::decide(&n, &diagnosis.findings);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let object = serde_json::json!({
            "notice": notice::ParseLine { file: &name, notice: &n },
            "findings": diagnosis.findings,
            "verdict": {"action": v.action, "cause": v.cause, "summary": v.summary},
        });
        serde_json::to_writer(&mut out, &object)?;
        writeln!(out)?;
    } else {
        write_report(&mut out, &n, &diagnosis.findings, &v)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn check_label(c: Check) -> &'static str {
    match c {
        Check::RecipientDomain => "recipient domain mail routing",
        Check::SenderDomain => "sender domain records",
        Check::RecipientListed => "recipient server on a blocklist",
        Check::BlockedByRecipient => "recipient side blocks our server",
        Check::SenderListed => "our sending server on a blocklist",
        Check::SenderPtr => "our sending server's reverse DNS",
        Check::BlocklistZone => "blocklist zone usable",
        Check::SmtpProbe => "recipient server reachable (SMTP)",
    }
}

fn write_report(out: &mut impl Write, n: &Notice, findings: &[Finding], v: &Verdict) -> std::io::Result<()> {
    let subject = n
        .original
        .as_ref()
        .and_then(|o| o.subject.as_deref())
        .unwrap_or("(no subject)");
    let to: Vec<&str> = n.recipients.iter().map(|r| r.address.as_str()).collect();
    let state = if n.kind == Kind::Failed {
        "Failed"
    } else {
        "Delayed"
    };
    writeln!(
        out,
        "{state}: \"{subject}\" → {} — {}",
        to.join(", "),
        v.cause.label()
    )?;
    writeln!(out)?;
    if let Some(d) = n.recipients.iter().find_map(|r| r.diagnostic.as_deref()) {
        writeln!(out, "The server said: {d}")?;
        writeln!(out)?;
    }
    writeln!(out, "Checks:")?;
    for f in findings {
        let mark = if f.is_problem() { "✗" } else { "✓" };
        writeln!(
            out,
            "  {mark} {} — {}: {} ({})",
            check_label(f.check),
            f.subject,
            f.result,
            f.detail
        )?;
    }
    writeln!(out)?;
    writeln!(out, "What to do: {}", v.summary)?;
    let action = match v.action {
        verdict::Action::ReplyUser => "advise the user",
        verdict::Action::ForwardSupport => "forward the full notice to Support",
        verdict::Action::Recheck => "diagnose again later (nothing sent yet)",
    };
    writeln!(out, "Verdict: {action} [{:?}]", v.cause)?;
    Ok(())
}
