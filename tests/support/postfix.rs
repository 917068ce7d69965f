//! A private Postfix instance on loopback (see ../shared/notes/test-env.md): its own config,
//! queue and log directories, smtpd on a free port, optionally offering STARTTLS. Stopped (by
//! SIGTERM to its master) on drop.
//!
//! [`Postfix::start_delaying`] makes Postfix write genuine delay notices: mail for a "stuck"
//! domain is routed to a closed loopback port and stays deferred, and with
//! `delay_warning_time = 1s` Postfix's bounce service sends the sender a "Delayed Mail (still
//! being retried)" DSN at the first deferral. [`Postfix::expire_queue`] then makes it give up on that mail and send
//! the final "Undelivered Mail Returned to Sender".
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A running Postfix.
pub struct Postfix {
    /// Where its smtpd listens.
    pub addr: SocketAddr,
    /// Implicit-TLS submission (smtps), when started with TLS and AUTH.
    pub smtps: Option<SocketAddr>,
    /// STARTTLS submission requiring AUTH, when started with TLS and AUTH.
    pub submission: Option<SocketAddr>,
    /// The test CA's certificate (PEM) that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Where mail for the stuck domain is routed, when started by [`Postfix::start_delaying`]:
    /// a port held bound but not listening, so connecting is refused and no other server (of
    /// a test running alongside) can take it.
    pub stuck_route: Option<SocketAddr>,
    stuck_socket: Option<tokio::net::TcpSocket>,
    dir: PathBuf,
}

/// Makes a test CA and a server certificate for localhost / 127.0.0.1 signed by it (rustls
/// rejects a self-signed leaf that is also a CA). Returns (ca, cert, key) paths.
pub fn test_pki(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(ok, "openssl {args:?} failed");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=bouncedoc test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

impl Postfix {
    /// Starts Postfix with smtpd on a free loopback port; `tls` offers STARTTLS with a
    /// certificate from a throw-away test CA.
    pub fn start(tls: bool) -> Postfix {
        Postfix::start_full(tls, None, None, None, None)
    }

    /// As [`Postfix::start_with`], plus an implicit-TLS (smtps) and a STARTTLS submission
    /// listener that require SMTP AUTH, checked by the Dovecot auth service at `auth`.
    pub fn start_tls_auth(lmtp: (&str, SocketAddr), auth: SocketAddr) -> Postfix {
        Postfix::start_full(true, None, Some(lmtp), Some(auth), None)
    }

    /// As [`Postfix::start`], on `port` if given, delivering mail for `domain` over LMTP to
    /// `lmtp` (a Dovecot) if given.
    pub fn start_with(tls: bool, port: Option<u16>, lmtp: Option<(&str, SocketAddr)>) -> Postfix {
        Postfix::start_full(tls, port, lmtp, None, None)
    }

    /// Starts Postfix (plain SMTP, no TLS) that delivers mail for `lmtp.0` over LMTP to the
    /// Dovecot at `lmtp.1`, and routes mail for `stuck_domain` to a closed loopback port, so
    /// that mail stays deferred. Postfix then sends the envelope sender (which should be a user
    /// of the LMTP domain, so the notice lands in Dovecot) a genuine "Delayed Mail (still being
    /// retried)" notice at the first deferral, some 0.03 s after the message arrives (its text
    /// says "for more than 0 hour(s)": Postfix's template rounds to hours). Postfix keeps
    /// retrying (every second) for a day, so no final failure follows until
    /// [`Postfix::expire_queue`].
    pub fn start_delaying(lmtp: (&str, SocketAddr), stuck_domain: &str) -> Postfix {
        Postfix::start_full(false, None, Some(lmtp), None, Some(stuck_domain))
    }

    /// The directory holding main.cf and master.cf (for `postconf -c`, `postqueue -c`, ...).
    pub fn conf_dir(&self) -> PathBuf {
        self.dir.join("conf")
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/postfix.log")).unwrap_or_default()
    }

    /// The queue as `postqueue -j` lists it: one JSON object a message.
    fn queue(&self) -> Vec<serde_json::Value> {
        let out = Command::new("postqueue")
            .arg("-c")
            .arg(self.conf_dir())
            .arg("-j")
            .output()
            .expect("postqueue -j");
        assert!(
            out.status.success(),
            "postqueue -j: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect()
    }

    /// How many messages are in the queue (any of incoming, active, deferred, hold).
    pub fn queued(&self) -> usize {
        self.queue().len()
    }

    /// How many queued messages go to an address in `domain` (mail for other domains, such
    /// as a test's deliberately stuck one, does not count).
    pub fn queued_for(&self, domain: &str) -> usize {
        let suffix = format!("@{domain}");
        self.queue()
            .iter()
            .filter(|m| {
                m["recipients"].as_array().is_some_and(|rs| {
                    rs.iter()
                        .any(|r| r["address"].as_str().is_some_and(|a| a.ends_with(&suffix)))
                })
            })
            .count()
    }

    /// Makes Postfix give up on every deferred message, as if its queue lifetime had run out:
    /// sets `maximal_queue_lifetime` and `bounce_queue_lifetime` to 0 and reloads. The new
    /// queue manager tries each deferred message once more and returns it to its sender with a
    /// genuine "Undelivered Mail Returned to Sender" notice (`Action: failed`, the original
    /// attached). Returns at once; the notice follows about 2 s later (the old queue manager
    /// lingers that long after a reload). Meant for [`Postfix::start_delaying`], whose 1 s
    /// backoff makes the deferred mail due at once; `postqueue -f` would not speed it up (it
    /// blocks during the reload).
    pub fn expire_queue(&self) {
        let out = Command::new("postconf")
            .arg("-c")
            .arg(self.conf_dir())
            .args(["-e", "maximal_queue_lifetime=0", "bounce_queue_lifetime=0"])
            .output()
            .expect("postconf");
        assert!(
            out.status.success(),
            "postconf -e: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // What `postfix reload` does, without its script's second of checks: SIGHUP makes the
        // master re-read main.cf and start a new queue manager.
        self.signal_master("-HUP");
    }

    fn signal_master(&self, signal: &str) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("queue/pid/master.pid")) {
            let _ = Command::new("kill").arg(signal).arg(pid.trim()).status();
        }
    }

    fn start_full(
        tls: bool,
        port: Option<u16>,
        lmtp: Option<(&str, SocketAddr)>,
        auth: Option<SocketAddr>,
        stuck: Option<&str>,
    ) -> Postfix {
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
            "compatibility_level = 3.6\nqueue_directory = {d}/queue\ndata_directory = {d}/data\nmail_owner = postfix\nsetgid_group = postdrop\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmyhostname = mx.test\nmydestination =\nmynetworks = 127.0.0.0/8\nsmtpd_peername_lookup = no\nmaillog_file = {d}/log/postfix.log\nmaillog_file_prefixes = {d}/log\ndefault_transport = error:not in tests\nrelay_transport = error:not in tests\nalias_maps =\nalias_database =\nbiff = no\nheader_checks = regexp:{d}/conf/header_checks\n"
        );
        if let Some((domain, addr)) = lmtp {
            main.push_str(&format!(
                "virtual_mailbox_domains = {domain}\nvirtual_transport = lmtp:inet:{}:{}\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n",
                addr.ip(),
                addr.port()
            ));
        }
        let (mut stuck_route, mut stuck_socket) = (None, None);
        if let Some(domain) = stuck {
            // A port bound but not listening: connecting is refused at once, so the mail is
            // deferred (never bounced). Literal [IP]:port route and no DNS at all (pitfall 9).
            // qmgr sends the delay warning at a deferral once now >= arrival +
            // delay_warning_time - 1 s, so 1s means the first deferral. Backoff and queue runs
            // of 1 s keep retries (and expire_queue) prompt; a lifetime of a day means no final
            // failure follows by itself.
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket.bind(([127, 0, 0, 1], 0).into()).expect("bind");
            let closed = socket.local_addr().expect("local addr");
            stuck_socket = Some(socket);
            main.push_str(&format!(
                "transport_maps = inline:{{ {domain}=smtp:[{}]:{} }}\nsmtp_dns_support_level = disabled\nsmtp_host_lookup = native\nlmtp_host_lookup = native\nsmtp_connect_timeout = 2s\ndelay_warning_time = 1s\nqueue_run_delay = 1s\nminimal_backoff_time = 1s\nmaximal_backoff_time = 1s\nmaximal_queue_lifetime = 1d\nbounce_queue_lifetime = 1d\n",
                closed.ip(),
                closed.port()
            ));
            stuck_route = Some(closed);
        }
        let mut ca_file = None;
        if tls {
            let (ca, cert, key) = test_pki(&dir.join("conf"));
            main.push_str(&format!(
                "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\n",
                cert.display(),
                key.display()
            ));
            ca_file = Some(ca);
        }
        let (smtps_port, sub_port) = (super::unbound::free_port(), super::unbound::free_port());
        let mut extra_services = String::new();
        if let Some(auth) = auth {
            main.push_str(&format!(
                "smtpd_sasl_type = dovecot\nsmtpd_sasl_path = inet:{}:{}\n",
                auth.ip(),
                auth.port()
            ));
            let restrict = "-o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_relay_restrictions=permit_sasl_authenticated,reject";
            extra_services.push_str(&format!(
                "127.0.0.1:{smtps_port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes {restrict}\n127.0.0.1:{sub_port} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt {restrict}\n"
            ));
        }
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\npostlog unix-dgram n - n - 1 postlogd\ncleanup unix n - n - 0 cleanup\nrewrite unix - - n - - trivial-rewrite\nanvil unix - - n - 1 anvil\nproxymap unix - - n - - proxymap\ntlsmgr unix - - n 1000? 1 tlsmgr\nqmgr unix n - n 300 1 qmgr\nerror unix - - n - - error\nbounce unix - - n - 0 bounce\ndefer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\nverify unix - - n - 1 verify\nflush unix n - n 1000? 0 flush\nscache unix - - n - 1 scache\nshowq unix n - n - - showq\nlmtp unix - - n - - lmtp\nsmtp unix - - n - - smtp\nretry unix - - n - - error\npickup unix n - n 60 1 pickup\n{extra_services}"
        );
        // A message carrying `X-Test-Reject:` is refused after DATA (550 5.7.1): a rejection
        // of the message itself.
        std::fs::write(
            dir.join("conf/header_checks"),
            "/^X-Test-Reject:/ REJECT refused by the test's content policy\n",
        )
        .expect("header_checks");
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
        let with_auth = auth.is_some();
        let pf = Postfix {
            addr: ([127, 0, 0, 1], port).into(),
            smtps: with_auth.then(|| ([127, 0, 0, 1], smtps_port).into()),
            submission: with_auth.then(|| ([127, 0, 0, 1], sub_port).into()),
            ca_file,
            stuck_route,
            stuck_socket,
            dir,
        };
        let start = Instant::now();
        // Ready when smtpd greets (a bare connect can succeed before it is ready to talk).
        let greets = |a: SocketAddr| {
            use std::io::Read;
            let Ok(mut s) = std::net::TcpStream::connect(a) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).is_ok() && &buf[..3] == b"220"
        };
        let listening = |a: Option<SocketAddr>| a.is_none_or(|a| std::net::TcpStream::connect(a).is_ok());
        while !greets(pf.addr) || !listening(pf.smtps) || !listening(pf.submission) {
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
        if std::env::var_os("BOUNCEDOC_TEST_LOGS").is_some() {
            eprintln!(
                "{}",
                std::fs::read_to_string(self.dir.join("log/postfix.log")).unwrap_or_default()
            );
        }
        self.signal_master("-TERM");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
