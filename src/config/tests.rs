//! The configuration's checks, each naming the key and line it refuses.

use super::*;

/// The line, key and message of the error `yaml` gives.
fn invalid(yaml: &str) -> (usize, String, String) {
    let Invalid { line, key, message } = Config::parse(yaml).unwrap_err();
    (line, key, message)
}

#[test]
fn defaults_and_values() {
    let c = Config::parse("").unwrap();
    assert_eq!(c, Config::default());
    let c = Config::parse("dns:\n  nameservers: [\"127.0.0.1:5353\", \"::1\"]\n  timeout: 500ms\n  budget: 3s\ndnsbl:\n  zones: [bl.test]\nsending_ips: [203.0.113.5]\nprobe_smtp: true\n").unwrap();
    assert_eq!(
        c.dns.nameservers,
        vec!["127.0.0.1:5353".parse().unwrap(), "[::1]:53".parse().unwrap()]
    );
    assert_eq!(c.dns.timeout, Duration::from_millis(500));
    assert_eq!(c.dns.budget, Duration::from_secs(3));
    assert_eq!(c.dnsbl_zones, vec!["bl.test".to_string()]);
    assert!(c.probe_smtp);
}

#[test]
fn errors_name_the_key_and_line() {
    let (line, key, msg) = invalid("dns:\n  nameservers: []\n  timeout: 5x\n");
    assert_eq!((line, key.as_str()), (3, "dns.timeout"));
    assert!(msg.contains("invalid duration \"5x\""), "{msg}");
    let (line, key, _) = invalid("dnsbl:\n  zones:\n    - zen.spamhaus.org\n    - \"bad zone\"\n");
    assert_eq!((line, key.as_str()), (4, "dnsbl.zones[1]"));
    let (line, key, msg) = invalid("dns:\n  timout: 1s\n");
    assert_eq!((line, key.as_str()), (2, "dns.timout"));
    assert!(msg.contains("unknown key `timout`"), "{msg}");
    let (line, key, _) = invalid("probe_smtp: false\nsendng_ips: []\n");
    assert_eq!((line, key.as_str()), (2, "sendng_ips"));
    let (line, key, _) = invalid("sending_ips: [not-an-ip]\n");
    assert_eq!((line, key.as_str()), (1, "sending_ips[0]"));
    let (line, key, _) = invalid("probe_smtp: false\nsupport: \"help desk\"\n");
    assert_eq!((line, key.as_str()), (2, "support"));
    let c = Config::parse("from: \"bouncedoc <bot@corp.example>\"\nsupport: help@corp.example\n").unwrap();
    assert_eq!(
        c.from.as_ref().map(|f| (f.name.as_deref(), f.address.as_str())),
        Some((Some("bouncedoc"), "bot@corp.example"))
    );
    let (line, key, msg) = invalid("smtp:\n  host: mail.example.com\n  tls: none\n");
    assert_eq!((line, key.as_str()), (3, "smtp.tls"), "{msg}");
    let c = Config::parse(
        "smtp:\n  host: 127.0.0.1\n  port: 2525\n  tls: none\n  username: bot\n  password_env: BOT_PW\n",
    )
    .unwrap();
    let smtp = c.smtp.unwrap();
    assert_eq!((smtp.port, smtp.tls), (2525, TlsMode::None));
    assert_eq!(
        format!("{:?}", Secret::Plain("hunter2".into())),
        "Secret::Plain(<redacted>)"
    );
    let (_, key, _) = invalid("smtp:\n  host: x.example\n  username: u\n  password: a\n  password_env: B\n");
    assert_eq!(key, "smtp.password");
    let (line, key, _) = invalid("dns:\n  attempts: 0\n");
    assert_eq!((line, key.as_str()), (2, "dns.attempts"));
}

/// A mailbox whose imap block signs in with `oauth` (YAML lines under `oauth2:`, indented by 8).
fn oauth_mailbox(oauth: &str) -> String {
    format!("from: bot@corp.example\nsupport: help@corp.example\nsmtp:\n  host: 127.0.0.1\n  tls: none\nmailboxes:\n  - name: alice\n    user: alice@corp.example\n    imap:\n      host: outlook.office365.com\n      username: alice@corp.example\n      oauth2:\n{oauth}")
}

#[test]
fn oauth2_with_a_provider_fills_endpoints_and_scope() {
    let c = Config::parse(&oauth_mailbox(
        "        provider: microsoft\n        tenant: contoso.onmicrosoft.com\n        client_id: 8a4c\n        client_secret_file: /etc/bouncedoc/oauth.secret\n",
    ))
    .unwrap();
    let SignIn::OAuth2(o) = &c.mailboxes[0].imap.sign_in else {
        panic!("not oauth2: {:?}", c.mailboxes[0].imap.sign_in)
    };
    assert_eq!(o.flow, Flow::ClientCredentials);
    assert_eq!(
        o.token_url,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(o.scope, "https://outlook.office365.com/.default");
    assert_eq!(
        o.client_secret,
        Some(Secret::File("/etc/bouncedoc/oauth.secret".into()))
    );
    assert_eq!(o.owner, TokenOwner::Mailbox("alice".into()));
    // Delegated access asks for the mailbox scope and a refresh token.
    let c = Config::parse(&oauth_mailbox(
        "        provider: microsoft\n        tenant: contoso.onmicrosoft.com\n        flow: refresh_token\n        client_id: 8a4c\n",
    ))
    .unwrap();
    let SignIn::OAuth2(o) = &c.mailboxes[0].imap.sign_in else {
        panic!()
    };
    assert_eq!(
        o.scope,
        "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"
    );
    assert!(o
        .device_url
        .as_deref()
        .unwrap_or("")
        .ends_with("/oauth2/v2.0/devicecode"));
    let c = Config::parse(&oauth_mailbox(
        "        provider: google\n        flow: refresh_token\n        client_id: 1234.apps.googleusercontent.com\n        client_secret_env: GOOGLE_SECRET\n",
    ))
    .unwrap();
    let SignIn::OAuth2(o) = &c.mailboxes[0].imap.sign_in else {
        panic!()
    };
    assert_eq!(
        (o.token_url.as_str(), o.scope.as_str()),
        ("https://oauth2.googleapis.com/token", "https://mail.google.com/")
    );
    // Google's device grant allows no Gmail scope: login goes through a browser.
    assert_eq!(o.device_url, None);
    assert_eq!(
        o.auth_url.as_deref(),
        Some("https://accounts.google.com/o/oauth2/v2/auth")
    );
}

#[test]
fn one_file_per_mailbox_and_a_bad_one_refused_alone() {
    let dir = std::env::temp_dir().join(format!("bouncedoc-mailboxes-d-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mailboxes.d")).unwrap();
    let block = |name: &str| {
        format!("name: {name}\nuser: {name}@corp.example\nimap:\n  host: imap.corp.example\n  username: {name}\n  password_env: PW\n")
    };
    std::fs::write(
        dir.join("config.yaml"),
        format!("{}mailboxes_dir: mailboxes.d\n", MAILBOX),
    )
    .unwrap();
    std::fs::write(dir.join("mailboxes.d/bea.yaml"), block("bea")).unwrap();
    std::fs::write(dir.join("mailboxes.d/carl.yaml"), block("carl")).unwrap();
    // Line 5: a plain-text connection to a host that is not this machine.
    std::fs::write(
        dir.join("mailboxes.d/dora.yaml"),
        block("dora").replace(
            "  host: imap.corp.example\n",
            "  host: imap.corp.example\n  tls: none\n",
        ),
    )
    .unwrap();
    // The same name as the main file's mailbox.
    std::fs::write(dir.join("mailboxes.d/other-alice.yaml"), block("alice")).unwrap();
    std::fs::write(dir.join("mailboxes.d/notes.txt"), "not a mailbox").unwrap();
    let c = Config::load(&dir.join("config.yaml")).unwrap();
    let names: Vec<&str> = c.mailboxes.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["alice", "bea", "carl"]);
    assert_eq!(c.refused.len(), 2, "{:?}", c.refused);
    assert!(
        c.refused[0].contains("dora.yaml:5: imap.tls: tls: none is allowed only for loopback hosts"),
        "{:?}",
        c.refused
    );
    assert!(
        c.refused[1]
            .contains("other-alice.yaml: name: \"alice\" is also used by the main configuration file"),
        "{:?}",
        c.refused
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_metrics_listener_stays_on_loopback_unless_told() {
    let c = Config::parse("metrics: {listen: \"127.0.0.1:9857\"}\n").unwrap();
    assert_eq!(c.metrics, Some("127.0.0.1:9857".parse().unwrap()));
    let (line, key, message) = invalid("\nmetrics:\n  listen: \"0.0.0.0:9857\"\n");
    assert_eq!((line, key.as_str()), (3, "metrics.listen"));
    assert!(message.contains("allow_remote"), "{message}");
    let c = Config::parse("metrics: {listen: \"0.0.0.0:9857\", allow_remote: true}\n").unwrap();
    assert_eq!(c.metrics, Some("0.0.0.0:9857".parse().unwrap()));
    let (_, key, _) = invalid("metrics: {listen: \"localhost\"}\n");
    assert_eq!(key, "metrics.listen");
}

#[test]
fn token_command_is_a_way_to_sign_in() {
    let yaml = MAILBOX.replace(
        "      password_env: ALICE_PW\n",
        "      token_command: \"oama access alice@corp.example\"\n",
    );
    let c = Config::parse(&yaml).unwrap();
    assert_eq!(
        c.mailboxes[0].imap.sign_in,
        SignIn::TokenCommand(Secret::Command("oama access alice@corp.example".into()))
    );
}

#[test]
fn oauth2_mistakes_name_the_key_and_line() {
    let cases: &[(&str, &str, &str)] = &[
        ("        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.token_url", "token endpoint"),
        ("        provider: microsoft\n        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.tenant", "needs the tenant"),
        ("        provider: google\n        tenant: x.example\n        flow: refresh_token\n        client_id: x\n", "mailboxes[0].imap.oauth2.tenant", "microsoft only"),
        ("        provider: google\n        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.flow", "no client-credentials"),
        ("        token_url: http://login.example/token\n        client_id: x\n        client_secret: s\n        scope: imap\n", "mailboxes[0].imap.oauth2.token_url", "loopback"),
        ("        token_url: https://login.example/token\n        client_id: x\n        scope: imap\n", "mailboxes[0].imap.oauth2.client_secret", "needs the application's secret"),
        ("        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n        client_secret_env: S\n        scope: imap\n", "mailboxes[0].imap.oauth2.client_secret", "only one"),
        ("        token_url: https://login.example/token\n        flow: refresh_token\n        client_id: x\n        scope: imap\n", "mailboxes[0].imap.oauth2.device_url", "device authorization endpoint"),
        ("        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n", "mailboxes[0].imap.oauth2.scope", "scope is needed"),
        ("        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n        scope: imap\n        secret: oops\n", "mailboxes[0].imap.oauth2.secret", "unknown"),
    ];
    for (lines, key, words) in cases {
        let (line, k, message) = invalid(&oauth_mailbox(lines));
        assert_eq!(&k, key, "{lines}: {message}");
        assert!(message.contains(words), "{lines}: {message}");
        assert!(line > 0, "{lines}: no line");
    }
    // A password and oauth2 together.
    let (_, key, message) = invalid(&oauth_mailbox(
        "        token_url: https://login.example/token\n        client_id: x\n        client_secret: s\n        scope: imap\n      password: p\n",
    ));
    assert_eq!(key, "mailboxes[0].imap.oauth2");
    assert!(message.contains("one way to sign in"), "{message}");
    // The imap and smtp blocks of one mailbox share one refresh token.
    let device = |client: &str| {
        format!("oauth2: {{flow: refresh_token, token_url: \"https://login.example/token\", device_url: \"https://login.example/device\", client_id: {client}, scope: s}}")
    };
    let yaml = format!(
        "smtp:\n  host: 127.0.0.1\n  tls: none\nmailboxes:\n  - name: alice\n    user: alice@corp.example\n    imap:\n      host: h.example\n      username: a\n      {}\n    smtp:\n      host: h.example\n      username: a\n      {}\n",
        device("one"),
        device("two")
    );
    let (_, key, _) = invalid(&yaml);
    assert_eq!(key, "mailboxes[0].smtp.oauth2.client_id");
}

const MAILBOX: &str = "from: bot@corp.example\nsupport: help@corp.example\nsmtp:\n  host: 127.0.0.1\n  tls: none\nmailboxes:\n  - name: alice\n    user: alice@corp.example\n    imap:\n      host: imap.corp.example\n      username: alice\n      password_env: ALICE_PW\n";

#[test]
fn mailboxes_are_validated() {
    let c = Config::parse(MAILBOX).unwrap();
    let m = &c.mailboxes[0];
    assert_eq!(
        (m.name.as_str(), m.folder.as_str(), m.mode),
        ("alice", "INBOX", WatchMode::Idle)
    );
    assert_eq!((m.imap.port, m.imap.tls), (993, TlsMode::Implicit));
    assert_eq!(m.imap.sign_in, SignIn::Password(Secret::Env("ALICE_PW".into())));
    assert_eq!(m.after_processing, AfterProcessing::Leave);
    assert_eq!(c.smtp_for(m).map(|s| s.port), Some(25));
    assert_eq!(c.limits.replies_per_hour, 20);
    let bad = |extra: &str| invalid(&format!("{MAILBOX}{extra}"));
    let (line, key, _) = bad("    after_processing: {keyword: \"\\\\Seen\"}\n");
    assert_eq!(
        (line, key.as_str()),
        (13, "mailboxes[0].after_processing.keyword")
    );
    let (_, key, _) = bad("    after_processing: {keyword: a, move_to: b}\n");
    assert_eq!(key, "mailboxes[0].after_processing");
    let (line, key, _) = bad("    mode: push\n");
    assert_eq!((line, key.as_str()), (13, "mailboxes[0].mode"));
    assert_eq!(m.language, Language::Auto);
    let c = Config::parse(&format!("{MAILBOX}    language: fr\n")).unwrap();
    assert_eq!(c.mailboxes[0].language.fixed(), Some(crate::compose::Lang::Fr));
    let (line, key, msg) = bad("    language: klingon\n");
    assert_eq!((line, key.as_str()), (13, "mailboxes[0].language"), "{msg}");
    assert!(msg.contains("auto") && msg.contains("fr"), "{msg}");
    let (line, key, _) = bad(
        "  - name: alice\n    user: a@x.example\n    imap: {host: h.example, username: u, password: p}\n",
    );
    assert_eq!((line, key.as_str()), (13, "mailboxes[1].name"));
    let (_, key, msg) = bad("    flder: INBOX\n");
    assert_eq!(key, "mailboxes[0].flder", "{msg}");
    let no_tls = MAILBOX.replace(
        "host: imap.corp.example",
        "host: imap.corp.example\n      tls: none",
    );
    let (line, key, _) = invalid(&no_tls);
    assert_eq!((line, key.as_str()), (11, "mailboxes[0].imap.tls"));
    let no_pw = MAILBOX.replace("      password_env: ALICE_PW\n", "");
    let (_, key, _) = invalid(&no_pw);
    assert_eq!(key, "mailboxes[0].imap.username");
    let no_from = MAILBOX.replace("from: bot@corp.example\n", "");
    let (_, key, _) = invalid(&no_from);
    assert_eq!(key, "from");
    let (line, key, _) = invalid("log_level: loud\n");
    assert_eq!((line, key.as_str()), (1, "log_level"));
}

#[test]
fn password_sources_resolve_and_a_hanging_command_is_stopped() {
    let ms = std::time::Duration::from_millis(300);
    assert_eq!(
        Secret::Command("printf 'pw\\nrest'".into())
            .resolve_within(ms)
            .as_deref(),
        Ok("pw")
    );
    let start = std::time::Instant::now();
    let e = Secret::Command("sleep 30".into()).resolve_within(ms).unwrap_err();
    assert!(e.contains("no answer within 300 ms"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert!(Secret::Command("exit 3".into())
        .resolve()
        .unwrap_err()
        .contains("exited"));
    assert!(Secret::Env("BOUNCEDOC_SURELY_UNSET".into())
        .resolve()
        .unwrap_err()
        .contains("not set"));
}

#[test]
fn password_file_first_line_and_command_groups() {
    let dir = std::env::temp_dir().join(format!("bouncedoc-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pw");
    std::fs::write(&file, "s3cret\r\nsecond line\n").unwrap();
    assert_eq!(Secret::File(file.clone()).resolve().as_deref(), Ok("s3cret"));
    // A command that prints more than a pipe holds after its password still answers.
    assert_eq!(
        Secret::Command("printf 'pw\\n'; head -c 300000 /dev/zero".into())
            .resolve_within(std::time::Duration::from_secs(10))
            .as_deref(),
        Ok("pw")
    );
    // On timeout its whole process group goes, what it started included.
    let pid_file = dir.join("child.pid");
    let cmd = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
    let e = Secret::Command(cmd)
        .resolve_within(std::time::Duration::from_millis(500))
        .unwrap_err();
    assert!(e.contains("no answer"), "{e}");
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let gone = (0..100).any(|_| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next();
        if stat.is_empty() || state == Some("Z") {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        false
    });
    assert!(gone, "the command's child {pid} outlived the timeout");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_example_file_is_valid() {
    let text = include_str!("../../config.example.yaml");
    Config::parse(text).unwrap();
}

#[test]
fn sending_ips_are_addresses_or_networks() {
    let c = Config::parse("sending_ips: [203.0.113.5, 198.51.100.0/24, \"2001:db8::/32\"]\n").unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(c.sending_ips[0].single(), Some(ip("203.0.113.5")));
    assert!(c.sending_ips[1].single().is_none());
    assert!(c.sending_ips[1].contains(&ip("198.51.100.77")));
    assert!(!c.sending_ips[1].contains(&ip("198.51.101.1")));
    assert!(c.sending_ips[2].contains(&ip("2001:db8:1::5")));
    assert!(!c.sending_ips[2].contains(&ip("203.0.113.5")));
    assert_eq!(c.sending_ips[1].to_string(), "198.51.100.0/24");
    let (line, key, message) = invalid("sending_ips:\n  - 10.0.0.0/33\n");
    assert_eq!((line, key.as_str()), (2, "sending_ips[0]"), "{message}");
    let (_, key, _) = invalid("limits: {message_budget: 0s}\n");
    assert_eq!(key, "limits.message_budget");
}

#[test]
fn the_database_block_is_checked_key_by_key() {
    let c = Config::parse("database:\n  url: \"postgres://bot@db.example:5433/bounces\"\n  lease: 45s\n  password_env: PGPASS\n").unwrap();
    let db = c.database.unwrap();
    assert_eq!(db.lease, Duration::from_secs(45));
    let written = Config::parse(
        "database: {url: \"postgres://bot:s3cret@db.example/b?password=other&sslmode=require\"}\n",
    )
    .unwrap()
    .database
    .unwrap();
    let shown = format!("{written:?}");
    assert!(!shown.contains("s3cret") && !shown.contains("other"), "{shown}");
    assert!(
        shown.contains("postgres://bot:<redacted>@db.example/b?password=<redacted>&sslmode=require"),
        "{shown}"
    );
    assert_eq!(db.password, Some(Secret::Env("PGPASS".into())));
    assert_eq!(
        Config::parse("database: {url: \"postgres://bot@127.0.0.1/b\"}\n")
            .unwrap()
            .database
            .unwrap()
            .lease,
        Duration::from_secs(30),
        "30 s unless said"
    );
    assert!(Config::parse("").unwrap().database.is_none(), "SQLite by default");
    let (line, key, message) = invalid("log_level: info\ndatabase:\n  url: \"mysql://x@y/z\"\n");
    assert_eq!((line, key.as_str()), (3, "database.url"), "{message}");
    assert!(message.contains("postgres://"), "{message}");
    let (_, key, message) = invalid("database: {url: \"postgres://x@y/z\", lease: 1s}\n");
    assert_eq!(key, "database.lease", "{message}");
    let (_, key, _) = invalid("database: {url: \"postgres://x@y/z\", password_env: A, password_file: /f}\n");
    assert_eq!(key, "database");
    let (_, key, _) = invalid("database: {url: \"postgres://x@y/z\", leese: 30s}\n");
    assert!(key.starts_with("database"), "{key}");
}
