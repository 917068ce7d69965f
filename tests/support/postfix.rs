//! A private Postfix instance on loopback (see ../shared/notes/test-env.md): its own config,
//! queue and log directories, smtpd on a free port, optionally offering STARTTLS. Stopped (by
//! SIGTERM to its master) on drop.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A running Postfix.
pub struct Postfix {
    /// Where its smtpd listens.
    pub addr: SocketAddr,
    dir: PathBuf,
}

impl Postfix {
    /// Starts Postfix with smtpd on a free loopback port; `tls` offers STARTTLS with a
    /// throw-away self-signed certificate.
    pub fn start(tls: bool) -> Postfix {
        Postfix::start_with(tls, None, None)
    }

    /// As [`Postfix::start`], on `port` if given, delivering mail for `domain` over LMTP to
    /// `lmtp` (a Dovecot) if given.
    pub fn start_with(tls: bool, port: Option<u16>, lmtp: Option<(&str, SocketAddr)>) -> Postfix {
        assert!(
            Command::new("postconf")
                .arg("-d")
                .arg("mail_version")
                .output()
                .is_ok(),
            "postfix is not installed: .ci/run installs it"
        );
        let port = port.unwrap_or_else(super::unbound::free_port);
        let dir = std::env::temp_dir().join(format!("bouncedoc-postfix-{}-{port}", std::process::id()));
        for sub in ["conf", "queue", "data", "log"] {
            std::fs::create_dir_all(dir.join(sub)).expect("dirs");
        }
        let d = dir.display();
        let mut main = format!(
            "compatibility_level = 3.6\nqueue_directory = {d}/queue\ndata_directory = {d}/data\nmail_owner = postfix\nsetgid_group = postdrop\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmyhostname = mx.test\nmydestination =\nmynetworks = 127.0.0.0/8\nsmtpd_peername_lookup = no\nmaillog_file = {d}/log/postfix.log\nmaillog_file_prefixes = {d}/log\ndefault_transport = error:not in tests\nrelay_transport = error:not in tests\n"
        );
        if let Some((domain, addr)) = lmtp {
            main.push_str(&format!(
                "virtual_mailbox_domains = {domain}\nvirtual_transport = lmtp:inet:{}:{}\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n",
                addr.ip(),
                addr.port()
            ));
        }
        if tls {
            let ok = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=mx.test",
                ])
                .arg("-keyout")
                .arg(dir.join("conf/key.pem"))
                .arg("-out")
                .arg(dir.join("conf/cert.pem"))
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            assert!(ok, "openssl could not make a test certificate");
            main.push_str(&format!(
                "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {d}/conf/cert.pem\nsmtpd_tls_key_file = {d}/conf/key.pem\n"
            ));
        }
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\npostlog unix-dgram n - n - 1 postlogd\ncleanup unix n - n - 0 cleanup\nrewrite unix - - n - - trivial-rewrite\nanvil unix - - n - 1 anvil\nproxymap unix - - n - - proxymap\ntlsmgr unix - - n 1000? 1 tlsmgr\nqmgr unix n - n 300 1 qmgr\nerror unix - - n - - error\nbounce unix - - n - 0 bounce\ndefer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\nverify unix - - n - 1 verify\nflush unix n - n 1000? 0 flush\nscache unix - - n - 1 scache\nshowq unix n - n - - showq\nlmtp unix - - n - - lmtp\n"
        );
        std::fs::write(dir.join("conf/main.cf"), main).expect("main.cf");
        std::fs::write(dir.join("conf/master.cf"), master).expect("master.cf");
        // Postfix sleeps on start when its config files are brand new: back-date them.
        let _ = Command::new("touch")
            .args(["-d", "1 minute ago"])
            .arg(dir.join("conf/main.cf"))
            .arg(dir.join("conf/master.cf"))
            .status();
        let conf = dir.join("conf");
        let _ = Command::new("postfix").arg("-c").arg(&conf).arg("check").output();
        let _ = Command::new("chown")
            .arg("postfix")
            .arg(dir.join("data"))
            .status();
        let out = Command::new("postfix")
            .arg("-c")
            .arg(&conf)
            .arg("start")
            .output()
            .expect("postfix start");
        let pf = Postfix {
            addr: ([127, 0, 0, 1], port).into(),
            dir,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(pf.addr).is_err() {
            if start.elapsed() > Duration::from_secs(15) {
                let log = std::fs::read_to_string(pf.dir.join("log/postfix.log")).unwrap_or_default();
                panic!(
                    "postfix did not listen: {}\n{log}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        pf
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("queue/pid/master.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
