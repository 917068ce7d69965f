//! OAuth 2.0 sign-in against real parts: a Dovecot whose oauth2 passdb asks the authorization
//! server about every token (RFC 7662), a Postfix submission port authenticating through that
//! Dovecot, and an authorization server built on Authlib (tests/support/authserver.py), each
//! on loopback. The bot runs as `bouncedoc run`; `bouncedoc login` and `check-config` as the
//! admin would run them.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::authserver::{AuthServer, Client, DEVICE_GRANT};
use support::bot::{bot_messages, exchange_notice, runtime, Bot, Mailbox, World};
use support::dovecot::Dovecot;
use support::imap;
use support::postfix::Postfix;

const APP: &str = "bouncedoc-app";
const APP_SECRET: &str = "app-secret-4f9c";
const DEVICE_APP: &str = "bouncedoc-device";
const NATIVE_APP: &str = "bouncedoc-native";

/// The tenant's application (client credentials) and a public client for device logins.
fn clients() -> Vec<Client<'static>> {
    vec![
        Client {
            id: APP,
            secret: Some(APP_SECRET),
            grants: &["client_credentials"],
            scope: "imap smtp",
            username: Some("bouncedoc-app@corp.test"),
        },
        Client {
            id: NATIVE_APP,
            secret: None,
            grants: &["authorization_code", "refresh_token"],
            scope: "imap smtp",
            username: None,
        },
        Client {
            id: DEVICE_APP,
            secret: None,
            grants: &["refresh_token", DEVICE_GRANT],
            scope: "imap smtp offline_access",
            username: None,
        },
    ]
}

/// An authorization server, a Dovecot that asks it about tokens, and the rest of the world.
fn world(tag: &str, lifetime: Duration) -> (AuthServer, World) {
    let auth = AuthServer::start(&clients(), lifetime);
    let dovecot = Dovecot::start_oauth(&auth.url("/introspect"));
    (auth, World::start_with(tag, dovecot))
}

/// The `username` and `oauth2` lines of an imap or smtp block (indented by `indent`).
fn oauth_lines(auth: &AuthServer, user: &str, secret_file: &Path, scope: &str, indent: usize) -> String {
    let p = " ".repeat(indent);
    format!(
        "{p}username: {user}\n{p}oauth2:\n{p}  token_url: {}\n{p}  client_id: {APP}\n{p}  client_secret_file: {}\n{p}  scope: {scope}\n",
        auth.url("/token"),
        secret_file.display()
    )
}

/// The device client's `oauth2` lines (flow refresh_token).
fn device_lines(auth: &AuthServer, user: &str, scope: &str, indent: usize) -> String {
    let p = " ".repeat(indent);
    format!(
        "{p}username: {user}\n{p}oauth2:\n{p}  flow: refresh_token\n{p}  token_url: {}\n{p}  device_url: {}\n{p}  client_id: {DEVICE_APP}\n{p}  scope: {scope}\n",
        auth.url("/token"),
        auth.url("/devicecode"),
    )
}

/// An alice who signs in to IMAP with the application's token.
fn app_mailbox(auth: &AuthServer, w: &World) -> Mailbox {
    let secret = w.dir.join("app.secret");
    std::fs::write(&secret, format!("{APP_SECRET}\n")).expect("secret");
    let mut m = Mailbox::idle("alice");
    m.sign_in = Some(oauth_lines(auth, "alice@corp.test", &secret, "imap", 6));
    m
}

/// A mailbox `smtp` block (indented by 4) sending through `submission` with the application's
/// token for `user`.
fn submission_block(auth: &AuthServer, w: &World, submission: &Postfix, user: &str) -> String {
    format!(
        "    smtp:\n      host: 127.0.0.1\n      port: {}\n      tls: starttls\n      ca_file: {}\n{}",
        submission.submission.expect("submission").port(),
        submission.ca_file.as_ref().expect("ca").display(),
        oauth_lines(auth, user, &w.dir.join("app.secret"), "smtp", 6)
    )
}

/// Fails the test if any token the server issued, or the client secret, is in `log`.
#[track_caller]
fn no_secrets_in(log: &str, auth: &AuthServer) {
    let issued = auth.tokens();
    assert!(!issued.is_empty(), "the server issued tokens");
    for t in issued {
        assert!(!log.contains(&t), "a token is in the log:\n{log}");
    }
    assert!(!log.contains(APP_SECRET), "the client secret is in the log");
}

fn deliver_notice(rt: &tokio::runtime::Runtime, w: &World, user: &str, id: &str) {
    let n = exchange_notice(
        &format!("{user}@corp.test"),
        "bob@gone.test",
        &format!("orig-{id}@corp.test"),
        &format!("{id}@corp.test"),
        false,
    );
    rt.block_on(imap::append(w.dovecot.imap, user, "INBOX", &n));
}

#[test]
fn client_credentials_sign_in_to_imap_and_smtp_end_to_end() {
    let (auth, w) = world("oauth-cc", Duration::from_secs(600));
    let rt = runtime();
    // Answers go out through a submission port that takes only authenticated clients, checked
    // by the same Dovecot (and so by the authorization server).
    let submission = Postfix::start_tls_auth(("corp.test", w.dovecot.lmtp), w.dovecot.auth);
    let mut m = app_mailbox(&auth, &w);
    let secret = w.dir.join("app.secret");
    m.extra = submission_block(&auth, &w, &submission, "alice@corp.test");
    // Bea signs in with the same application and scope: the same token serves both.
    let mut bea = app_mailbox(&auth, &w);
    bea.name = "bea".into();
    bea.sign_in = Some(oauth_lines(&auth, "bea@corp.test", &secret, "imap", 6));
    let config = w.config("cc", &[m, bea]);
    // Everything the bot can log, so that "never in the log" covers every level.
    let bot = Bot::start_env(&config, &w.dir.join("bot.log"), &[("RUST_LOG", "trace")]);
    bot.expect_log("watching", 2, Duration::from_secs(15));
    deliver_notice(&rt, &w, "alice", "cc1");
    let replies = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20));
    assert_eq!(
        replies.len(),
        1,
        "{}\n{}\n{}",
        bot.log_text(),
        submission.log(),
        w.dovecot.log()
    );
    // One token per client and scope (IMAP for both mailboxes, SMTP), each asked for once and
    // checked at each login; the submission port saw OAUTHBEARER (offered beside XOAUTH2).
    assert!(submission
        .log()
        .contains("sasl_method=OAUTHBEARER, sasl_username=alice@corp.test"));
    assert_eq!(auth.issued("client_credentials"), 2, "{}", bot.log_text());
    assert!(auth.stats()["introspected_active"].as_u64().unwrap_or(0) >= 2);
    no_secrets_in(&bot.log_text(), &auth);
}

#[test]
fn a_token_that_expired_while_the_session_ran_is_replaced_when_the_session_is_cut() {
    // Tokens live 6 s: the bot renews 1.5 s before expiry, so the token it logged in with has
    // expired by the time the server cuts the session.
    let (auth, mut w) = world("oauth-exp", Duration::from_secs(6));
    let rt = runtime();
    let config = w.config("exp", &[app_mailbox(&auth, &w)]);
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));
    assert_eq!(auth.issued("client_credentials"), 1);
    std::thread::sleep(Duration::from_secs(7));
    // The server goes away and comes back (as Exchange Online cuts a session at token
    // expiry): the bot comes back with a new token, at the ordinary reconnect pace.
    w.dovecot.restart();
    deliver_notice(&rt, &w, "alice", "exp1");
    bot.expect_log("watching", 2, Duration::from_secs(15));
    let replies = bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20));
    assert_eq!(replies.len(), 1, "{}", bot.log_text());
    assert_eq!(auth.issued("client_credentials"), 2, "{}", bot.log_text());
    let log = bot.log_text();
    assert!(
        !log.contains("refused a cached access token"),
        "renewed before use:\n{log}"
    );
    assert!(!log.contains("IMAP login refused"), "{log}");
}

#[test]
fn a_cached_token_the_server_refuses_gets_one_fresh_token_and_one_retry() {
    let (auth, mut w) = world("oauth-retry", Duration::from_secs(600));
    let rt = runtime();
    let submission = Postfix::start_tls_auth(("corp.test", w.dovecot.lmtp), w.dovecot.auth);
    let mut m = app_mailbox(&auth, &w);
    m.extra = submission_block(&auth, &w, &submission, "alice@corp.test");
    let config = w.config("retry", &[m]);
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));
    // A first answer: the SMTP token is cached too.
    deliver_notice(&rt, &w, "alice", "retry0");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1
    );
    assert_eq!(auth.issued("client_credentials"), 2);
    // The application's tokens are revoked (an admin action, a key roll-over): the cached
    // ones still look valid to the bot.
    assert!(auth.revoke("bouncedoc-app@corp.test") >= 2);
    w.dovecot.restart();
    bot.expect_log(
        "the server refused a cached access token; trying once with a new one",
        1,
        Duration::from_secs(15),
    );
    bot.expect_log("watching", 2, Duration::from_secs(15));
    deliver_notice(&rt, &w, "alice", "retry1");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 2, Duration::from_secs(20)).len(),
        2,
        "{}",
        bot.log_text()
    );
    bot.expect_log(
        "the SMTP server refused a cached access token; trying once with a new one",
        1,
        Duration::from_secs(5),
    );
    assert_eq!(auth.issued("client_credentials"), 4);
    let log = bot.log_text();
    assert!(!log.contains("IMAP login refused"), "{log}");
    assert!(
        !log.contains("not sent; will retry"),
        "sent at the first try:\n{log}"
    );
}

#[test]
fn a_token_command_prints_the_token() {
    let (auth, w) = world("oauth-cmd", Duration::from_secs(600));
    let rt = runtime();
    // A helper in the way `oama access` is one: it gets a token and prints it.
    let helper = w.dir.join("token-helper.py");
    std::fs::write(
        &helper,
        format!(
            "import json, urllib.parse, urllib.request\nform = urllib.parse.urlencode({{'grant_type': 'client_credentials', 'client_id': '{APP}', 'client_secret': '{APP_SECRET}', 'scope': 'imap'}}).encode()\nprint(json.load(urllib.request.urlopen('{}', form))['access_token'])\n",
            auth.url("/token")
        ),
    )
    .expect("helper");
    let mut m = Mailbox::idle("alice");
    m.sign_in = Some(format!(
        "      username: alice@corp.test\n      token_command: \"/usr/bin/python3 {}\"\n",
        helper.display()
    ));
    let config = w.config("cmd", &[m]);
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));
    deliver_notice(&rt, &w, "alice", "cmd1");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1
    );
    assert_eq!(auth.issued("client_credentials"), 1);
    assert!(w
        .dovecot
        .log()
        .contains("Login: user=<alice@corp.test>, method=OAUTHBEARER"));
    no_secrets_in(&bot.log_text(), &auth);
}

/// Runs `bouncedoc login` for `args`, approving the code as `user` once it is shown. Returns
/// its output.
fn device_login(config: &Path, args: &[&str], auth: &AuthServer, user: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .arg("login")
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bouncedoc login");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut shown = String::new();
    // The person reads the code, opens the page and approves.
    for line in lines.by_ref() {
        let line = line.expect("line");
        shown.push_str(&line);
        shown.push('\n');
        if line.contains("code") && auth.approve(user) {
            break;
        }
    }
    for line in lines {
        shown.push_str(&line.expect("line"));
        shown.push('\n');
    }
    let out = child.wait_with_output().expect("login ends");
    let all = format!("{shown}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "login failed:\n{all}");
    all
}

fn stored_refresh_token(w: &World, owner_file: &str) -> String {
    let text = std::fs::read_to_string(w.dir.join("state/oauth").join(owner_file)).expect("stored token");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["refresh_token"].as_str().expect("token").to_string()
}

#[test]
fn device_login_then_refresh_with_rotation_persisted_across_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let (auth, mut w) = world("oauth-device", Duration::from_secs(600));
    let rt = runtime();
    let mut m = Mailbox::idle("alice");
    m.sign_in = Some(device_lines(&auth, "alice@corp.test", "imap", 6));
    let config = w.config("device", &[m]);
    let shown = device_login(&config, &["--mailbox", "alice"], &auth, "alice@corp.test");
    assert!(shown.contains(&auth.url("/device")), "{shown}");
    let file = w.dir.join("state/oauth/mailbox-alice.json");
    assert_eq!(
        std::fs::metadata(&file).expect("file").permissions().mode() & 0o777,
        0o600
    );
    let first = stored_refresh_token(&w, "mailbox-alice.json");
    assert!(!shown.contains(&first), "the refresh token is not printed");

    let mut bot = Bot::start_env(&config, &w.dir.join("bot.log"), &[("RUST_LOG", "trace")]);
    bot.expect_log("watching", 1, Duration::from_secs(15));
    // The server rotated the refresh token at the first refresh; the new one is stored.
    let second = stored_refresh_token(&w, "mailbox-alice.json");
    assert_ne!(first, second);
    // A restart (nothing cached in memory) refreshes with the stored, rotated token: the old
    // one no longer works at this server.
    bot.kill9();
    w.dovecot.restart();
    bot.restart();
    bot.expect_log("watching", 2, Duration::from_secs(15));
    assert_ne!(stored_refresh_token(&w, "mailbox-alice.json"), second);
    deliver_notice(&rt, &w, "alice", "dev1");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1
    );
    assert_eq!(auth.issued("refresh_token"), 2);
    no_secrets_in(&bot.log_text(), &auth);
}

#[test]
fn a_revoked_refresh_token_names_the_login_command_and_the_other_mailboxes_go_on() {
    let (auth, w) = world("oauth-revoked", Duration::from_secs(600));
    let rt = runtime();
    let mut alice = Mailbox::idle("alice");
    alice.sign_in = Some(device_lines(&auth, "alice@corp.test", "imap", 6));
    let config = w.config("revoked", &[alice, Mailbox::idle("bea")]);
    device_login(&config, &["--mailbox", "alice"], &auth, "alice@corp.test");
    assert!(auth.revoke("alice@corp.test") >= 1);

    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log(
        "sign in again with `bouncedoc login --config",
        1,
        Duration::from_secs(15),
    );
    let log = bot.log_text();
    assert!(
        log.contains(&format!(
            "bouncedoc login --config {} --mailbox alice`",
            config.display()
        )),
        "{log}"
    );
    assert!(
        log.contains("invalid_grant: AADSTS70008"),
        "the server's own words:\n{log}"
    );
    // One line, then the long wait: no loop.
    assert_eq!(bot.log_count("sign in again with"), 1, "{log}");
    // Bea, signing in with a password, is watched and answered all the same.
    deliver_notice(&rt, &w, "bea", "bea1");
    assert_eq!(bot_messages(&rt, &w, "bea", 1, Duration::from_secs(20)).len(), 1);

    // Alice signs in again: the mailbox comes back without waiting out its backoff.
    device_login(&config, &["--mailbox", "alice"], &auth, "alice@corp.test");
    bot.expect_log("a new sign-in was stored; signing in", 1, Duration::from_secs(15));
    bot.expect_log("watching", 2, Duration::from_secs(15));
    deliver_notice(&rt, &w, "alice", "alice1");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1
    );
    assert!(auth.revoke("alice@corp.test") >= 1);
    let out = check_config(&config);
    assert!(
        out.contains("FAIL  alice") && out.contains("--mailbox alice"),
        "{out}"
    );
    assert!(out.contains("ok    bea"), "{out}");
    no_secrets_in(&format!("{}{out}", bot.log_text()), &auth);
}

fn check_config(config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .arg("check-config")
        .arg("--config")
        .arg(config)
        .output()
        .expect("check-config");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_wrong_client_secret_is_named_in_the_servers_words_in_check_config_and_the_log() {
    let (auth, w) = world("oauth-badsecret", Duration::from_secs(600));
    let m = app_mailbox(&auth, &w);
    std::fs::write(w.dir.join("app.secret"), "not-the-secret\n").expect("secret");
    let config = w.config("badsecret", &[m]);
    let out = check_config(&config);
    assert!(
        out.contains("invalid_client: AADSTS7000215: Invalid client secret provided."),
        "{out}"
    );
    assert!(out.contains("FAIL  alice"), "{out}");
    assert!(!out.contains("not-the-secret"), "{out}");

    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log(
        "invalid_client: AADSTS7000215: Invalid client secret provided.",
        1,
        Duration::from_secs(15),
    );
    let log = bot.log_text();
    assert!(!log.contains("not-the-secret"), "{log}");
    assert_eq!(auth.issued("client_credentials"), 0);

    // With the right secret, check-config gets a token and logs in.
    std::fs::write(w.dir.join("app.secret"), format!("{APP_SECRET}\n")).expect("secret");
    let out = check_config(&config);
    assert!(out.contains("ok    alice"), "{out}");
    assert_eq!(auth.issued("client_credentials"), 1);
}

#[test]
fn the_global_smtp_block_signs_in_with_a_device_login_of_its_own() {
    let (auth, w) = world("oauth-smtp", Duration::from_secs(600));
    let rt = runtime();
    let submission = Postfix::start_tls_auth(("corp.test", w.dovecot.lmtp), w.dovecot.auth);
    let config = w.config("smtp", &[Mailbox::idle("alice")]);
    // The global smtp block: the submission port, signed in as the bot's own account.
    let text = std::fs::read_to_string(&config).expect("config").replace(
        &format!(
            "smtp:\n  host: 127.0.0.1\n  port: {}\n  tls: none\n",
            w.postfix.addr.port()
        ),
        &format!(
            "smtp:\n  host: 127.0.0.1\n  port: {}\n  tls: starttls\n  ca_file: {}\n{}",
            submission.submission.expect("submission").port(),
            submission.ca_file.as_ref().expect("ca").display(),
            device_lines(&auth, "bouncedoc@corp.test", "smtp", 2)
        ),
    );
    std::fs::write(&config, text).expect("config");
    device_login(&config, &["--smtp"], &auth, "bouncedoc@corp.test");
    assert!(w.dir.join("state/oauth/smtp.json").is_file());
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));
    deliver_notice(&rt, &w, "alice", "g1");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1,
        "{}",
        bot.log_text()
    );
    assert_eq!(auth.issued("refresh_token"), 1);
    let start = Instant::now();
    while auth.stats()["introspected_active"].as_u64().unwrap_or(0) < 1
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(auth.stats()["introspected_active"].as_u64().unwrap_or(0) >= 1);
}

#[test]
fn xoauth2_is_used_where_oauthbearer_is_not_offered() {
    let auth = AuthServer::start(&clients(), Duration::from_secs(600));
    let dovecot = Dovecot::start_oauth_offering(&auth.url("/introspect"), "xoauth2");
    let w = World::start_with("oauth-x2", dovecot);
    let rt = runtime();
    let submission = Postfix::start_tls_auth(("corp.test", w.dovecot.lmtp), w.dovecot.auth);
    let mut m = app_mailbox(&auth, &w);
    m.extra = submission_block(&auth, &w, &submission, "alice@corp.test");
    let config = w.config("x2", &[m]);
    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));
    deliver_notice(&rt, &w, "alice", "x2");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1,
        "{}",
        bot.log_text()
    );
    assert!(
        submission
            .log()
            .contains("sasl_method=XOAUTH2, sasl_username=alice@corp.test"),
        "{}",
        submission.log()
    );
    assert!(
        w.dovecot
            .log()
            .contains("Login: user=<alice@corp.test>, method=XOAUTH2"),
        "{}",
        w.dovecot.log()
    );
}

#[test]
fn a_browser_login_with_pkce_where_the_server_has_no_device_grant() {
    let (auth, w) = world("oauth-browser", Duration::from_secs(600));
    let rt = runtime();
    let mut m = Mailbox::idle("alice");
    m.sign_in = Some(format!(
        "      username: alice@corp.test\n      oauth2:\n        flow: refresh_token\n        token_url: {}\n        auth_url: {}\n        client_id: {NATIVE_APP}\n        scope: imap\n",
        auth.url("/token"),
        auth.url("/authorize")
    ));
    let config = w.config("browser", &[m]);
    auth.approve_next("alice@corp.test");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
        .args(["login", "--config"])
        .arg(&config)
        .args(["--mailbox", "alice"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bouncedoc login");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with(&auth.url("/authorize?")))
        .expect("the authorization address is shown");
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "{url}"
    );
    // The browser: the server signs the person in and sends it back to the bot's loopback port.
    let mut page = ureq::get(&url).call().expect("the sign-in completes");
    let body = page.body_mut().read_to_string().expect("page");
    assert!(body.contains("Signed in to bouncedoc"), "{body}");
    let out = child.wait_with_output().expect("login ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(auth.issued("authorization_code"), 1);
    assert!(w.dir.join("state/oauth/mailbox-alice.json").is_file());

    let bot = Bot::start(&config, &w.dir.join("bot.log"));
    bot.expect_log("watching", 1, Duration::from_secs(15));
    deliver_notice(&rt, &w, "alice", "br1");
    assert_eq!(
        bot_messages(&rt, &w, "alice", 1, Duration::from_secs(20)).len(),
        1
    );
    assert_eq!(auth.issued("refresh_token"), 1);
    no_secrets_in(&bot.log_text(), &auth);
}
