//! `bouncedoc parse [--json] FILE...`: reads each file as a notice and prints a summary or the
//! contract's JSON line. A file that cannot be read or is not mail prints an error (a JSON
//! `{"file", "error"}` line with `--json`); the rest still run; the exit code is 1 at the end.

use bouncedoc::notice::{self, Notice, ParseLine};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs `parse` over `files` in order.
pub fn run(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut failed = false;
    for path in files {
        let name = path.to_string_lossy();
        let result = std::fs::read(path).map_err(|e| e.to_string()).and_then(|raw| {
            // The reader never panics on any input (fuzzed and tested); should a bug slip
            // through, one bad file still must not stop the others.
            std::panic::catch_unwind(|| notice::read(&raw))
                .map_err(|_| {
                    "internal error while reading this notice (please report it with the file)".to_string()
                })?
                .map_err(|e| e.to_string())
        });
        match result {
            Ok(n) => {
                if json {
                    serde_json::to_writer(
                        &mut out,
                        &ParseLine {
                            file: &name,
                            notice: &n,
                        },
                    )?;
                    out.write_all(b"\n")?;
                } else {
                    write_summary(&mut out, &name, &n)?;
                }
            }
            Err(error) => {
                failed = true;
                if json {
                    serde_json::to_writer(&mut out, &serde_json::json!({"file": name, "error": error}))?;
                    out.write_all(b"\n")?;
                } else {
                    writeln!(out, "{name}: error: {error}")?;
                }
            }
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn kind_word(n: &Notice) -> &'static str {
    match n.kind {
        notice::Kind::Delayed => "delayed (still being retried)",
        notice::Kind::Failed => "failed (delivery given up)",
        notice::Kind::Delivered => "delivered",
        notice::Kind::Relayed => "relayed",
        notice::Kind::Expanded => "expanded",
        notice::Kind::Autoreply => "automatic reply",
        notice::Kind::Feedback => "abuse/feedback report",
        notice::Kind::None => "not a notice",
    }
}

/// Formats seconds as "1d 19h 59m".
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (d, h) {
        (0, 0) => format!("{m}m"),
        (0, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h {m}m"),
    }
}

fn write_summary(out: &mut impl Write, name: &str, n: &Notice) -> std::io::Result<()> {
    write!(out, "{name}: {}", kind_word(n))?;
    if let Some(g) = &n.generator {
        write!(out, " [{g}]")?;
    }
    writeln!(out)?;
    if let Some(o) = &n.original {
        writeln!(
            out,
            "  original: {} from {} to {} ({}), Message-ID {}",
            o.subject
                .as_deref()
                .map_or("(no subject)".to_string(), |s| format!("{s:?}")),
            o.from.as_deref().unwrap_or("?"),
            if o.to.is_empty() {
                "?".to_string()
            } else {
                o.to.join(", ")
            },
            o.date.as_deref().unwrap_or("date unknown"),
            o.message_id.as_deref().unwrap_or("?"),
        )?;
    }
    for r in &n.recipients {
        let action = r
            .action
            .map_or("-".to_string(), |a| format!("{a:?}").to_lowercase());
        write!(out, "  {}: {action}", r.address)?;
        if let Some(s) = &r.status {
            write!(out, " {s}")?;
        }
        if let Some(reason) = &r.reason {
            write!(out, " ({reason})")?;
        }
        match (&r.remote_host, &r.remote_ip) {
            (Some(h), Some(ip)) => write!(out, " at {h} [{ip}]")?,
            (Some(h), None) => write!(out, " at {h}")?,
            (None, Some(ip)) => write!(out, " at [{ip}]")?,
            (None, None) => {}
        }
        writeln!(out)?;
        if let Some(d) = &r.diagnostic {
            writeln!(out, "    server said: {d}")?;
        }
        match (&r.retry_until, r.remaining_seconds) {
            (Some(u), Some(s)) => writeln!(
                out,
                "    retried until {u} ({} left at the time of the notice)",
                human_duration(s)
            )?,
            (Some(u), None) => writeln!(out, "    retried until {u}")?,
            (None, Some(s)) => writeln!(out, "    retried for {} more", human_duration(s))?,
            (None, None) => {}
        }
    }
    if !n.sending_ips.is_empty() {
        let ips: Vec<String> = n.sending_ips.iter().map(|ip| ip.to_string()).collect();
        writeln!(out, "  our sending IPs named: {}", ips.join(", "))?;
    }
    Ok(())
}
