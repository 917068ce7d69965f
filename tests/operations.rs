//! Operations against real parts: the metrics and health listener of `bouncedoc run` with a
//! real Dovecot, Postfix and Unbound, its text checked by Prometheus's own `promtool`.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::bot::{bot_messages, exchange_notice, runtime, Bot, Mailbox, World};

/// GETs `path` from the listener: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    match agent.get(&format!("http://127.0.0.1:{port}{path}")).call() {
        Ok(mut r) => {
            let status = r.status().as_u16();
            (status, r.body_mut().read_to_string().unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Waits until `path` answers `status`.
#[track_caller]
fn wait_for(port: u16, path: &str, status: u16, within: Duration) -> String {
    let start = Instant::now();
    loop {
        let (s, body) = get(port, path);
        if s == status {
            return body;
        }
        assert!(start.elapsed() < within, "{path}: {s} {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `promtool check metrics` on `text`: what it said, if it complained.
fn promtool(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus): .ci/run installs it");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn metrics_health_and_readiness_of_a_running_bot() {
    let mut w = World::start("ops");
    let rt = runtime();
    let port = support::unbound::free_port();
    let config = w.config_with(
        "ops",
        &[Mailbox::idle("alice"), Mailbox::idle("bea")],
        &format!("metrics: {{listen: \"127.0.0.1:{port}\"}}\nlimits: {{replies_per_hour: 1000, forwards_per_hour: 1000}}\n"),
    );
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    assert_eq!(wait_for(port, "/livez", 200, Duration::from_secs(15)), "ok\n");
    wait_for(port, "/readyz", 200, Duration::from_secs(15));

    let n = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-o1@corp.test",
        "o1@corp.test",
        false,
    );
    rt.block_on(support::imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1,
        "{}",
        bot.log_text()
    );

    let start = Instant::now();
    let text = loop {
        let (_, text) = get(port, "/metrics");
        if text.contains("bouncedoc_messages_sent_total{role=\"reply\"} 1")
            || start.elapsed() > Duration::from_secs(10)
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for line in [
        "bouncedoc_build_info{version=\"",
        "bouncedoc_mailbox_up{mailbox=\"alice\"} 1",
        "bouncedoc_mailbox_up{mailbox=\"bea\"} 1",
        "bouncedoc_notices_total{kind=\"delayed\",mailbox=\"alice\"} 1",
        "bouncedoc_verdicts_total{action=\"reply_user\",cause=\"recipient_domain\",mailbox=\"alice\"} 1",
        "bouncedoc_messages_sent_total{role=\"reply\"} 1",
        "bouncedoc_outbox_queued 0",
        "bouncedoc_diagnosis_duration_seconds_count 1",
        "bouncedoc_dns_queries_total{outcome=\"nxdomain\"}",
        "bouncedoc_last_notice_timestamp_seconds{mailbox=\"alice\"}",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    // `status`, as the admin runs it beside the daemon.
    let text_status = status(&config, false);
    assert!(text_status.contains("daemon    running, ready"), "{text_status}");
    assert!(
        text_status.contains("mailbox   alice: watching; watched since "),
        "{text_status}"
    );
    assert!(
        text_status.contains("0 open threads") || text_status.contains("1 open threads"),
        "{text_status}"
    );
    assert!(
        text_status.contains("outbox    0 queued (0 retrying), none waiting; 0 failed for good"),
        "{text_status}"
    );
    let json: serde_json::Value = serde_json::from_str(&status(&config, true)).expect("status --json");
    assert_eq!(json["daemon"]["ready"], true, "{json}");
    assert_eq!(json["mailboxes"][0]["name"], "alice");
    assert_eq!(json["mailboxes"][0]["watching"], "watching");
    assert!(json["mailboxes"][0]["last_notice"].as_i64().is_some(), "{json}");
    assert_eq!(json["outbox"]["queued"], 0);
    // Labels stay bounded: nothing from the notice.
    assert!(!text.contains("gone.test") && !text.contains("bob@"), "{text}");
    promtool(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));

    // Dovecot goes away: the mailboxes are not watching, and /readyz says so.
    w.dovecot.stop();
    let body = wait_for(port, "/readyz", 503, Duration::from_secs(15));
    assert!(
        body.contains("mailbox alice: not signed in and watching"),
        "{body}"
    );
    assert!(body.contains("mailbox bea"), "{body}");
    let text_status = status(&config, false);
    assert!(
        text_status.contains("NOT ready") && text_status.contains("alice: not watching"),
        "{text_status}"
    );
    assert_eq!(get(port, "/livez").0, 200);
    w.dovecot.restart();
    wait_for(port, "/readyz", 200, Duration::from_secs(20));
    let (_, text) = get(port, "/metrics");
    assert!(
        text.contains("bouncedoc_imap_reconnects_total{mailbox=\"alice\"}"),
        "{text}"
    );
    assert_eq!(get(port, "/nothing").0, 404);
    // The daemon stopped: the state still answers.
    drop(bot);
    let text_status = status(&config, false);
    assert!(
        text_status.contains("not answering at 127.0.0.1:"),
        "{text_status}"
    );
    assert!(
        text_status.contains("alice: unknown; watched since"),
        "{text_status}"
    );
}

/// `bouncedoc status` (`--json`): its output; it must succeed.
fn status(config: &std::path::Path, json: bool) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bouncedoc"));
    cmd.arg("status").arg("--config").arg(config);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("bouncedoc status");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The metric names in a PromQL expression (`bouncedoc_…`, without a histogram's suffixes).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("bouncedoc_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .to_string();
        names.push(base);
    }
    names
}

#[test]
fn the_alert_rules_and_the_dashboard_use_only_metrics_the_bot_exports() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging");
    let rules = root.join("prometheus/bouncedoc.rules.yml");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool (Debian package prometheus): .ci/run installs it");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What a running bot exports (every family appears in `# TYPE` lines).
    let exported: Vec<String> = bouncedoc::metrics::get().names().to_vec();
    assert!(exported.len() >= 15, "{exported:?}");
    let rules_text = std::fs::read_to_string(&rules).expect("rules");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/bouncedoc-dashboard.json")).expect("dashboard"),
    )
    .expect("the dashboard is JSON");
    let mut exprs: Vec<String> = rules_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(str::to_string)
        .collect();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().expect("targets") {
            exprs.push(t["expr"].as_str().expect("expr").to_string());
        }
    }
    assert!(exprs.len() >= 15, "{exprs:?}");
    let mut used = 0;
    for e in &exprs {
        for name in metric_names(e) {
            used += 1;
            assert!(
                exported.contains(&name),
                "{name} (in {e}) is not exported: {exported:?}"
            );
        }
    }
    assert!(used >= 15);
}

/// One user's mailbox file for `mailboxes_dir`.
fn mailbox_file(w: &World, name: &str) -> String {
    format!(
        "name: {name}\nuser: {name}@corp.test\nimap:\n  host: 127.0.0.1\n  port: {}\n  tls: none\n  username: {name}\n  password: \"{}\"\nmode: idle\npoll_interval: 1s\n",
        w.dovecot.imap.port(),
        support::dovecot::PASSWORD
    )
}

#[test]
fn one_file_per_users_mailbox_picked_up_on_reload_and_a_bad_one_refused_alone() {
    let w = World::start("mdir");
    let rt = runtime();
    let dir = w.dir.join("mailboxes.d");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("alice.yaml"), mailbox_file(&w, "alice")).expect("alice");
    let config = w.config("mdir", &[]);
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("mailboxes:\n", "mailboxes: []\nmailboxes_dir: mailboxes.d\n");
    std::fs::write(&config, text).expect("config");
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));

    // Configuration management drops bea's file, and a broken one; the admin reloads.
    std::fs::write(dir.join("bea.yaml"), mailbox_file(&w, "bea")).expect("bea");
    std::fs::write(
        dir.join("broken.yaml"),
        mailbox_file(&w, "carl").replace("  tls: none\n", "  tls: sometimes\n"),
    )
    .expect("broken");
    bot.signal("HUP");
    bot.expect_log("mailbox file refused", 1, Duration::from_secs(15));
    bot.expect_log("watching", 2, Duration::from_secs(15));
    let log = bot.log_text();
    assert!(log.contains("broken.yaml:6: imap.tls"), "{log}");
    assert!(log.contains("name=bea"), "{log}");
    // Alice's watcher was left alone by the reload.
    assert!(
        log.contains("restarted_or_added=[\"bea\"] removed=0 unchanged=1"),
        "{log}"
    );
    assert_eq!(bot.log_count("watching"), 2, "{log}");
    let n = exchange_notice(
        "bea@corp.test",
        "bob@gone.test",
        "orig-md1@corp.test",
        "md1@corp.test",
        false,
    );
    rt.block_on(support::imap::append(w.dovecot.imap, "bea", "INBOX", &n));
    assert_eq!(
        bot_messages(&rt, &w, "bea", 1, Duration::from_secs(20)).len(),
        1,
        "{}",
        bot.log_text()
    );

    // check-config names the broken file and fails; the good ones pass.
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("check-config");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("FAIL  ") && said.contains("broken.yaml:6: imap.tls"),
        "{said}"
    );
    assert!(
        said.contains("ok    alice") && said.contains("ok    bea"),
        "{said}"
    );

    // bea's file is caught half-edited: refused, and her mailbox keeps running as it was.
    std::fs::write(
        dir.join("bea.yaml"),
        mailbox_file(&w, "bea").replace("  tls: none\n", "  tls: maybe\n"),
    )
    .expect("bea");
    bot.signal("HUP");
    bot.expect_log(
        "its file was refused: it keeps running",
        1,
        Duration::from_secs(15),
    );
    let n = exchange_notice(
        "bea@corp.test",
        "dan@gone.test",
        "orig-md2@corp.test",
        "md2@corp.test",
        false,
    );
    rt.block_on(support::imap::append(w.dovecot.imap, "bea", "INBOX", &n));
    assert_eq!(
        bot_messages(&rt, &w, "bea", 2, Duration::from_secs(20)).len(),
        2,
        "{}",
        bot.log_text()
    );

    // bea's file goes away: her mailbox is no longer watched.
    std::fs::remove_file(dir.join("bea.yaml")).expect("remove");
    bot.signal("HUP");
    bot.expect_log("configuration reloaded", 3, Duration::from_secs(15));
    assert!(bot.log_text().contains("removed=1"), "{}", bot.log_text());
}

#[test]
fn a_user_other_than_root_reads_its_own_configuration_and_keeps_its_own_state() {
    // A home of its own for `nobody` (uid 65534), with XDG directories inside.
    let home = std::env::temp_dir().join(format!("bouncedoc-xdg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let config_dir = home.join("config/bouncedoc");
    std::fs::create_dir_all(&config_dir).expect("dirs");
    std::fs::write(config_dir.join("config.yaml"), "log_level: info\n").expect("config");
    let _ = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&home)
        .status();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_bouncedoc"))
            .args(args)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_STATE_HOME", home.join("state"))
            .env_remove("STATE_DIRECTORY")
            .output()
            .expect("setpriv (util-linux)")
    };
    // No --config: $XDG_CONFIG_HOME/bouncedoc/config.yaml is read.
    let out = as_nobody(&["check-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the file is valid"));
    // And the state lives in $XDG_STATE_HOME/bouncedoc (none yet).
    let out = as_nobody(&["history"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("{}/state/bouncedoc/bouncedoc.sqlite", home.display())),
        "{said}"
    );
    // With --config (an admin checking the service's file as its user), the service's
    // defaults stay: the state is not looked for in the user's home.
    let config_file = config_dir.join("config.yaml").display().to_string();
    let out = as_nobody(&["history", "--config", &config_file]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("/var/lib/bouncedoc/bouncedoc.sqlite"), "{said}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn a_weekly_digest_says_what_was_stuck_and_what_is_still_open() {
    let w = World::start("digest");
    let rt = runtime();
    let mut m = Mailbox::idle("alice");
    m.extra = "    digest: weekly\n".into();
    let config = w.config("digest", &[m]);
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));
    let n = exchange_notice(
        "alice@corp.test",
        "bob@gone.test",
        "orig-dg1@corp.test",
        "dg1@corp.test",
        false,
    );
    rt.block_on(support::imap::append(w.dovecot.imap, "alice", "INBOX", &n));
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1
    );
    // A week passes (the digest's clock is moved back), then the mailbox stirs.
    let db = rusqlite::Connection::open(w.dir.join("state/bouncedoc.sqlite")).expect("state");
    db.busy_timeout(Duration::from_secs(5)).expect("timeout");
    let moved = db
        .execute(
            "UPDATE digest SET last = last - 8 * 86400 WHERE mailbox = 'alice'",
            [],
        )
        .expect("update");
    assert_eq!(moved, 1, "the digest's clock starts with the watch");
    drop(db);
    rt.block_on(support::imap::append(
        w.dovecot.imap,
        "alice",
        "INBOX",
        b"From: colleague@corp.test\r\nTo: alice@corp.test\r\nSubject: lunch?\r\nMessage-ID: <lunch@corp.test>\r\n\r\nnoon?\r\n",
    ));
    bot.expect_log("weekly digest queued", 1, Duration::from_secs(20));
    let messages = bot_messages(&rt, &w, "alice", 2, Duration::from_secs(20));
    let digest = messages
        .iter()
        .map(|raw| mail_parser::MessageParser::default().parse(raw).expect("parses"))
        .find(|m| m.subject().is_some_and(|s| s.starts_with("bouncedoc this week")))
        .expect("the digest");
    assert_eq!(
        digest.subject(),
        Some("bouncedoc this week: 1 notice, 1 still stuck")
    );
    let text = digest.body_text(0).expect("text").to_string();
    assert!(text.contains("Still stuck (1):"), "{text}");
    assert!(
        text.contains("Quarterly figures → bob@gone.test: the recipient's domain"),
        "{text}"
    );
    let html = digest.body_html(0).expect("html").to_string();
    assert!(
        html.contains("<h3") && html.contains("Quarterly figures"),
        "{html}"
    );
    // One a week: another notice goes round the watch loop (the reply to it arrives after the
    // loop's look for a due digest), and no second digest comes.
    let n2 = exchange_notice(
        "alice@corp.test",
        "carl@gone.test",
        "orig-dg2@corp.test",
        "dg2@corp.test",
        false,
    );
    rt.block_on(support::imap::append(w.dovecot.imap, "alice", "INBOX", &n2));
    assert_eq!(
        bot_messages(&rt, &w, "alice", 3, Duration::from_secs(20)).len(),
        3
    );
    support::bot::settle(&rt, &w, &w.dir.join("state"), &["alice"], Duration::from_secs(20));
    assert_eq!(bot.log_count("weekly digest queued"), 1, "{}", bot.log_text());
}
