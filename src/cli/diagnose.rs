//! `bouncedoc diagnose [--config FILE] [--dns IP:PORT] [--json] NOTICE.eml`: reads a notice,
//! runs every check, decides, and prints a report a person understands in ten seconds (or the
//! JSON object). Exit 0 when diagnosed (whatever the verdict), 1 when the input cannot be read
//! or is not a notice, 2 for bad usage or configuration.

use bouncedoc::compose;
use bouncedoc::config::{parse_name_server, Config};
use bouncedoc::diagnose::{Check, Diagnoser, Finding};
use bouncedoc::notice::{self, Kind, Notice};
use bouncedoc::verdict::{self, Verdict};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// What `diagnose` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The report for people.
    Report,
    /// `{"notice", "findings", "verdict"}`.
    Json,
    /// The exact messages that would be sent, as RFC 5322 text; nothing is sent.
    Preview,
}

/// Runs `diagnose`.
pub fn run(
    config: Option<&Path>,
    dns: Option<&str>,
    output: Output,
    file: &Path,
) -> anyhow::Result<ExitCode> {
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
    let v = verdict::decide(&diagnosis.findings);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let clock = compose::words::Clock::in_zone(cfg.timezone.as_deref(), bouncedoc::store::now());
    let object = compose::diagnosis_json(&name, &n, &diagnosis.findings, &v, &clock);
    match output {
        Output::Json => {
            serde_json::to_writer(&mut out, &object)?;
            writeln!(out)?;
        }
        Output::Report => write_report(&mut out, &n, &diagnosis.findings, &v, &clock)?,
        Output::Preview => {
            return preview(
                &mut out,
                &cfg,
                &raw,
                &n,
                &diagnosis.findings,
                &v,
                &object.to_string(),
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the messages the bot would send for this notice, exactly, and sends nothing.
fn preview(
    out: &mut impl Write,
    cfg: &Config,
    raw: &[u8],
    n: &Notice,
    findings: &[Finding],
    v: &Verdict,
    diagnosis_json: &str,
) -> anyhow::Result<ExitCode> {
    let envelope = notice::envelope(raw);
    let Some(user) = envelope.to.first() else {
        eprintln!("bouncedoc: the notice has no To address: there is no one to answer");
        return Ok(ExitCode::from(1));
    };
    let (bot_name, bot) = match &cfg.from {
        Some(f) => (f.name.as_deref(), f.address.as_str()),
        None => {
            eprintln!("bouncedoc: no `from` in the configuration: previewing as bouncedoc@localhost");
            (Some("bouncedoc"), "bouncedoc@localhost")
        }
    };
    let support = match &cfg.support {
        Some(s) => s.address.as_str(),
        None => {
            eprintln!("bouncedoc: no `support` in the configuration: previewing as support@localhost");
            "support@localhost"
        }
    };
    let now = bouncedoc::store::now();
    let ctx = compose::Context {
        bot_name,
        bot_address: bot,
        user,
        reply_to: user,
        support,
        notice_raw: raw,
        notice_message_id: envelope.message_id.as_deref(),
        thread: &[],
        clock: compose::words::Clock::in_zone(cfg.timezone.as_deref(), now),
        lang: compose::Lang::En,
    };
    let mut messages = Vec::new();
    match v.action {
        verdict::Action::Recheck => {
            writeln!(out, "Nothing would be sent now: the cause is not known yet (a DNS lookup failed); the notice is diagnosed again later.")?;
            return Ok(ExitCode::SUCCESS);
        }
        verdict::Action::ReplyUser => messages.push(compose::user_reply(&ctx, n, findings, v)?),
        verdict::Action::ForwardSupport => {
            messages.push(compose::user_reply(&ctx, n, findings, v)?);
            messages.push(compose::support_package(&ctx, n, findings, v, diagnosis_json)?);
        }
    }
    let count = messages.len();
    for (i, m) in messages.iter().enumerate() {
        writeln!(
            out,
            "===== message {} of {count}: MAIL FROM:<{}> RCPT TO:<{}> =====",
            i + 1,
            m.from,
            m.to
        )?;
        out.write_all(&m.raw)?;
        writeln!(out)?;
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

fn write_report(
    out: &mut impl Write,
    n: &Notice,
    findings: &[Finding],
    v: &Verdict,
    clock: &compose::words::Clock,
) -> std::io::Result<()> {
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
        let mark = f.mark();
        writeln!(
            out,
            "  {mark} {} — {}: {} ({})",
            check_label(f.check()),
            f.subject,
            f.result(),
            f.detail
        )?;
    }
    writeln!(out)?;
    // The report is for the administrator at the terminal: English.
    let en = compose::Lang::En;
    writeln!(out, "{}", bouncedoc::compose::words::what_happened(n, en))?;
    writeln!(out, "What to do:")?;
    for c in &v.causes {
        writeln!(out, "  - {}", c.advice(v.forwarding, en))?;
    }
    writeln!(out, "{}", bouncedoc::compose::words::retry_sentence(n, clock, en))?;
    let action = match v.action {
        verdict::Action::ReplyUser => "advise the user",
        verdict::Action::ForwardSupport => "forward the full notice to Support",
        verdict::Action::Recheck => "diagnose again later (nothing sent yet)",
    };
    writeln!(out, "Verdict: {action} [{:?}]", v.cause)?;
    Ok(())
}
