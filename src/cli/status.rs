//! `bouncedoc status [--config FILE] [--json]`: each mailbox (watching or not, since when, its
//! last notice, open threads, held messages), the outbox (queued, the oldest, failures) and
//! the blocklist zones. Reads the state read-only; when the daemon serves `metrics.listen`, it
//! also asks the running daemon (`/metrics`, `/readyz`) what it is doing now.

use bouncedoc::config::Config;
use bouncedoc::store::{MailboxStanding, QueueSummary};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// What the running daemon says, if it could be asked.
#[derive(Debug, Default, serde::Serialize)]
struct Live {
    /// The daemon answered.
    running: bool,
    /// `/readyz` said ready.
    ready: bool,
    /// What `/readyz` said was wrong.
    problems: Vec<String>,
    /// `bouncedoc_mailbox_up` per mailbox.
    up: Vec<(String, bool)>,
    /// `bouncedoc_blocklist_zone_up` per zone.
    zones: Vec<(String, bool)>,
}

/// One mailbox's line.
#[derive(Debug, serde::Serialize)]
struct MailboxLine {
    name: String,
    /// `watching`, `not watching` or `unknown` (the daemon could not be asked).
    watching: &'static str,
    /// With several instances on PostgreSQL: the one whose lease it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    #[serde(flatten)]
    standing: MailboxStanding,
}

/// Everything `status` prints.
#[derive(Debug, serde::Serialize)]
struct Report {
    daemon: Live,
    mailboxes: Vec<MailboxLine>,
    outbox: QueueSummary,
}

fn get(addr: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .into();
    let mut r = agent.get(&format!("http://{addr}{path}")).call().ok()?;
    let status = r.status().as_u16();
    Some((
        status,
        r.body_mut().with_config().limit(4 << 20).read_to_string().ok()?,
    ))
}

/// The value of a one-label gauge line: `name{label="value"} 1`.
fn gauge_lines(text: &str, family: &str) -> Vec<(String, bool)> {
    text.lines()
        .filter_map(|l| l.strip_prefix(family)?.strip_prefix('{'))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once("} ")?;
            let (_, quoted) = labels.split_once('=')?;
            Some((quoted.trim_matches('"').to_string(), value.trim() == "1"))
        })
        .collect()
}

fn ask(addr: Option<std::net::SocketAddr>) -> Live {
    let Some(addr) = addr else { return Live::default() };
    let Some((status, body)) = get(addr, "/readyz") else {
        return Live::default();
    };
    let metrics = get(addr, "/metrics").map(|(_, t)| t).unwrap_or_default();
    Live {
        running: true,
        ready: status == 200,
        problems: body
            .lines()
            .skip(1)
            .map(str::to_string)
            .filter(|_| status != 200)
            .collect(),
        up: gauge_lines(&metrics, "bouncedoc_mailbox_up"),
        zones: gauge_lines(&metrics, "bouncedoc_blocklist_zone_up"),
    }
}

fn time(clock: &bouncedoc::compose::words::Clock, unix: Option<i64>) -> String {
    unix.map_or("never".into(), |t| clock.moment(t, bouncedoc::compose::Lang::En))
}

/// Runs `status`.
pub fn run(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bouncedoc: {e}");
            return Ok(ExitCode::from(super::run::EX_CONFIG));
        }
    };
    let store = match super::read_state(&config)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let live = ask(config.metrics);
    let holders = store.lease_holders()?;
    let mut mailboxes = Vec::new();
    for m in &config.mailboxes {
        // With several instances, the one asked may not be the one watching: the lease says.
        let watching = match live.up.iter().find(|(n, _)| *n == m.name) {
            _ if config.database.is_some() && holders.contains_key(&m.name) => "watching",
            _ if config.database.is_some() => "not watching",
            Some((_, true)) => "watching",
            Some((_, false)) => "not watching",
            None if live.running => "not watching",
            None => "unknown",
        };
        mailboxes.push(MailboxLine {
            name: m.name.clone(),
            watching,
            instance: holders.get(&m.name).map(|h| h.instance.clone()),
            standing: store.standing(&m.name)?,
        });
    }
    let report = Report {
        outbox: store.queue_summary()?,
        daemon: live,
        mailboxes,
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let daemon = match (&config.metrics, report.daemon.running, report.daemon.ready) {
        (None, _, _) => "not asked (set metrics.listen to see what the running daemon does)".to_string(),
        (Some(a), false, _) => format!("not answering at {a} (stopped?)"),
        (Some(_), true, true) => "running, ready".to_string(),
        (Some(_), true, false) => format!("running, NOT ready: {}", report.daemon.problems.join("; ")),
    };
    writeln!(out, "daemon    {daemon}")?;
    let clock =
        bouncedoc::compose::words::Clock::in_zone(config.timezone.as_deref(), bouncedoc::store::now());
    for m in &report.mailboxes {
        writeln!(
            out,
            "mailbox   {}: {}; watched since {}; last notice {}; {} open threads; {} held",
            m.name,
            m.watching,
            time(&clock, m.standing.watched_since),
            time(&clock, m.standing.last_notice),
            m.standing.open_threads,
            m.standing.held
        )?;
        if config.database.is_some() {
            writeln!(
                out,
                "          leased to {}",
                m.instance
                    .as_deref()
                    .unwrap_or("no instance (not watched anywhere)")
            )?;
        }
    }
    let q = &report.outbox;
    let oldest = q.oldest.map_or("none waiting".to_string(), |t| {
        format!("oldest waiting {} min", (bouncedoc::store::now() - t).max(0) / 60)
    });
    writeln!(
        out,
        "outbox    {} queued ({} retrying), {oldest}; {} failed for good",
        q.queued, q.retrying, q.failed
    )?;
    for (zone, up) in &report.daemon.zones {
        writeln!(
            out,
            "zone      {zone}: {}",
            if *up {
                "passes its self-test"
            } else {
                "FAILS its self-test (skipped)"
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
