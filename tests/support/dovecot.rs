//! A private Dovecot on loopback (see ../shared/notes/test-env.md): IMAP and LMTP over TCP,
//! Maildir under a temp directory, any user with the password "secret" (static passdb), mail
//! owned by uid/gid 65534. Killed on drop.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password every test user has.
pub const PASSWORD: &str = "secret";

/// A running Dovecot.
pub struct Dovecot {
    /// IMAP (plain text, loopback).
    pub imap: SocketAddr,
    /// LMTP (for Postfix to deliver into).
    pub lmtp: SocketAddr,
    /// The auth service (for Postfix's SMTP AUTH: smtpd_sasl_type = dovecot).
    pub auth: SocketAddr,
    /// The password of every user of this instance.
    pub password: String,
    /// Implicit-TLS IMAP (imaps), when started with TLS; the IMAP port then offers STARTTLS.
    pub imaps: Option<SocketAddr>,
    /// The test CA that signed the server's certificate (PEM), when started with TLS.
    pub ca_file: Option<PathBuf>,
    child: Child,
    dir: PathBuf,
}

impl Dovecot {
    /// Starts Dovecot and waits until IMAP answers.
    pub fn start() -> Dovecot {
        Dovecot::start_with_password(PASSWORD)
    }

    /// As [`Dovecot::start`], where every user's password is `password`.
    pub fn start_with_password(password: &str) -> Dovecot {
        Dovecot::start_with(password, false, "")
    }

    /// As [`Dovecot::start`]; `tls` adds imaps and STARTTLS with a certificate from a test CA;
    /// `extra` is appended to dovecot.conf (e.g. an `imap_capability` without IDLE).
    pub fn start_with(password: &str, tls: bool, extra: &str) -> Dovecot {
        Dovecot::start_full(password, tls, extra, None)
    }

    /// As [`Dovecot::start_with`] (TLS), also an OAuth 2.0 resource server: XOAUTH2 and
    /// OAUTHBEARER logins are checked by asking the authorization server at `introspection_url`
    /// (RFC 7662) at each login; the token's user must be of the login's domain (an
    /// application's token may read any mailbox of its tenant; see test-env.md, fact 12).
    pub fn start_oauth(introspection_url: &str) -> Dovecot {
        Dovecot::start_full(
            PASSWORD,
            true,
            "",
            Some((introspection_url, "xoauth2 oauthbearer")),
        )
    }

    /// As [`Dovecot::start_oauth`], offering only the token `mechanisms` (e.g. `xoauth2`, as
    /// Exchange Online and Gmail do).
    pub fn start_oauth_offering(introspection_url: &str, mechanisms: &str) -> Dovecot {
        Dovecot::start_full(PASSWORD, true, "", Some((introspection_url, mechanisms)))
    }

    fn start_full(password: &str, tls: bool, extra: &str, oauth: Option<(&str, &str)>) -> Dovecot {
        assert!(
            Command::new("dovecot").arg("--version").output().is_ok(),
            "dovecot is not installed: .ci/run installs it"
        );
        let imap_port = super::unbound::free_port();
        let lmtp_port = super::unbound::free_port();
        let auth_port = super::unbound::free_port();
        let dir = std::env::temp_dir().join(format!("bouncedoc-dovecot-{}-{imap_port}", std::process::id()));
        for sub in ["run", "state", "log", "mail", "home"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dirs");
        }
        let _ = Command::new("chmod").args(["0755"]).arg(&dir).status();
        let _ = Command::new("chown")
            .args(["65534:65534"])
            .arg(dir.join("mail"))
            .arg(dir.join("home"))
            .status();
        let d = dir.display();
        let imaps_port = super::unbound::free_port();
        let (ssl, imaps, ca_file) = if tls {
            let (ca, cert, key) = super::postfix::test_pki(&dir);
            (
                format!(
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                    cert.display(),
                    key.display()
                ),
                Some(SocketAddr::from(([127, 0, 0, 1], imaps_port))),
                Some(ca),
            )
        } else {
            ("ssl = no\n".to_string(), None, None)
        };
        let imaps_listen = if tls {
            format!("address = 127.0.0.1\n    port = {imaps_port}")
        } else {
            "port = 0".to_string()
        };
        let (mechanisms, oauth_passdb) = match oauth {
            Some((url, token_mechanisms)) => {
                let args = dir.join("oauth2.conf");
                std::fs::write(
                    &args,
                    format!(
                        "introspection_mode = post\nintrospection_url = {url}\nforce_introspection = yes\nusername_attribute = username\nusername_format = %d\nactive_attribute = active\nactive_value = true\n"
                    ),
                )
                .expect("oauth2.conf");
                (
                    format!("plain login {token_mechanisms}"),
                    format!(
                        "passdb {{\n  driver = oauth2\n  mechanisms = {token_mechanisms}\n  args = {}\n}}\n",
                        args.display()
                    ),
                )
            }
            None => ("plain login".to_string(), String::new()),
        };
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/log/dovecot.log\ninfo_log_path = {d}/log/dovecot.log\nprotocols = imap lmtp\nlisten = 127.0.0.1\n{ssl}disable_plaintext_auth = no\nauth_mechanisms = {mechanisms}\nauth_failure_delay = 0\nmail_location = maildir:{d}/mail/%n\nmail_max_userip_connections = 200\ndefault_process_limit = 500\nfirst_valid_uid = 1\ndefault_internal_user = dovecot\ndefault_login_user = dovenull\n{oauth_passdb}passdb {{\n  mechanisms = plain login\n  driver = static\n  args = password={password}\n}}\nuserdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={d}/home/%n allow_all_users=yes\n}}\nservice imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  inet_listener imaps {{\n    {imaps_listen}\n  }}\n}}\nservice lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {lmtp_port}\n  }}\n}}\nservice auth {{\n  inet_listener {{\n    address = 127.0.0.1\n    port = {auth_port}\n  }}\n}}\nservice anvil {{\n  unix_listener anvil-auth-penalty {{\n    mode = 0\n  }}\n}}\n{extra}"
        );
        let conf_path = dir.join("dovecot.conf");
        std::fs::write(&conf_path, conf).expect("dovecot.conf");
        let child = spawn(&conf_path);
        let mut dv = Dovecot {
            imap: ([127, 0, 0, 1], imap_port).into(),
            lmtp: ([127, 0, 0, 1], lmtp_port).into(),
            auth: ([127, 0, 0, 1], auth_port).into(),
            password: password.to_string(),
            imaps,
            ca_file,
            child,
            dir,
        };
        dv.wait_ready();
        dv
    }

    /// Stops the server (connections drop) and starts it again on the same ports and mail.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn(&self.dir.join("dovecot.conf"));
        self.wait_ready();
    }

    /// Stops the server and every process of it (as systemd does with the service's cgroup:
    /// Dovecot's imap processes would otherwise go on serving open connections);
    /// [`Dovecot::restart`] brings it back.
    pub fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        // Its listeners are gone once it exited.
        let start = Instant::now();
        while std::net::TcpStream::connect(self.imap).is_ok() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/dovecot.log")).unwrap_or_default()
    }

    /// The Maildir of `user` (for tests that edit it behind the server's back).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("mail").join(user)
    }

    fn wait_ready(&mut self) {
        let dv = self;
        let start = Instant::now();
        while std::net::TcpStream::connect(dv.imap).is_err()
            || std::net::TcpStream::connect(dv.lmtp).is_err()
            || dv.imaps.is_some_and(|a| std::net::TcpStream::connect(a).is_err())
        {
            if let Ok(Some(status)) = dv.child.try_wait() {
                let log = std::fs::read_to_string(dv.dir.join("log/dovecot.log")).unwrap_or_default();
                panic!("dovecot exited ({status}):\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "dovecot did not listen"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

fn spawn(conf_path: &std::path::Path) -> Child {
    use std::os::unix::process::CommandExt;
    Command::new("dovecot")
        .process_group(0)
        .arg("-F")
        .arg("-c")
        .arg(conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dovecot")
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
