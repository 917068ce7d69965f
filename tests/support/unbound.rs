//! A real Unbound on loopback for the diagnosis tests (see ../shared/notes/test-env.md):
//! `local-zone: "." static` so nothing recurses outward, the test's zone data as local-data,
//! SERVFAIL on demand (a zone forwarded to Unbound itself from an interface it refuses), and a
//! "silent" server that accepts queries and never answers.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Unbound; killed on drop.
pub struct Unbound {
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

/// A free loopback port (UDP and TCP) for a server to bind.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Unbound {
    /// Starts Unbound serving `local_data` lines (`"name. TYPE data"`), plus `extra` raw
    /// `server:` lines (local-zone declarations). Panics with Unbound's log when it fails.
    pub fn start(local_data: &[&str], extra: &[&str]) -> Unbound {
        let which = Command::new("unbound").arg("-V").output();
        assert!(
            which.is_ok(),
            "unbound is not installed: .ci/run installs it (apt-get install unbound)"
        );
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("bouncedoc-unbound-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut conf = format!(
            "server:\n  interface: 127.0.0.1\n  port: {port}\n  outgoing-interface: 127.0.0.2\n  do-ip6: no\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"{dir}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  access-control: 127.0.0.1/32 allow\n  access-control: 127.0.0.2/32 refuse\n  do-not-query-localhost: no\n  module-config: \"iterator\"\n  local-zone: \".\" static\n  local-zone: \"servfail.test.\" transparent\n",
            dir = dir.display()
        );
        for line in extra {
            conf.push_str(&format!("  {line}\n"));
        }
        for d in local_data {
            conf.push_str(&format!("  local-data: '{d}'\n"));
        }
        conf.push_str(&format!(
            "forward-zone:\n  name: \"servfail.test.\"\n  forward-addr: 127.0.0.1@{port}\nremote-control:\n  control-enable: no\n"
        ));
        let conf_path = dir.join("unbound.conf");
        std::fs::write(&conf_path, conf).expect("write unbound.conf");
        let log = std::fs::File::create(dir.join("unbound.log")).expect("log file");
        // A shared Unbound lives in a static that is never dropped: a small watcher ends it when
        // the test process is gone, so no server outlives its tests.
        let script = format!(
            "unbound -d -c '{conf}' & u=$!; trap 'kill $u 2>/dev/null' EXIT TERM; \
             while kill -0 {pid} 2>/dev/null && kill -0 $u 2>/dev/null; do sleep 0.2; done",
            conf = conf_path.display(),
            pid = std::process::id()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start unbound");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut u = Unbound { addr, child, dir };
        u.wait_ready();
        u
    }

    /// Waits until Unbound answers a query (a few hundred milliseconds at most).
    fn wait_ready(&mut self) {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        // A minimal query for "." NS.
        let query = [0x12u8, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("unbound.log")).unwrap_or_default();
                panic!("unbound exited ({status}):\n{log}");
            }
            let _ = sock.send_to(&query, self.addr);
            let mut buf = [0u8; 512];
            if sock.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!("unbound did not answer within 10 s");
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        // Unbound itself first (its pid file), then the watcher shell.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("unbound.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A DNS server that accepts queries (UDP and TCP) and never answers.
pub struct Silent {
    /// Where it listens.
    pub addr: SocketAddr,
    _udp: UdpSocket,
    _tcp: TcpListener,
}

impl Silent {
    /// Binds a silent server on a free loopback port.
    pub fn start() -> Silent {
        loop {
            let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
            let port = udp.local_addr().expect("addr").port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                return Silent {
                    addr: ([127, 0, 0, 1], port).into(),
                    _udp: udp,
                    _tcp: tcp,
                };
            }
        }
    }
}
