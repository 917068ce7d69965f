//! A private PostgreSQL on loopback (see ../shared/notes/test-env.md, fact 16): `initdb` into a
//! temporary directory, `pg_ctl` on a free port, run as the `postgres` user, trust
//! authentication, one database `bouncedoc`. Stopped (immediately) on drop.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL.
pub struct Postgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

fn as_postgres(program: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", &format!("{BIN}/{program}")]);
    c
}

impl Postgres {
    /// Creates a cluster and starts it; waits until it accepts connections.
    pub fn start() -> Postgres {
        assert!(
            std::path::Path::new(&format!("{BIN}/initdb")).exists(),
            "PostgreSQL 15 is not installed: .ci/run installs the postgresql package"
        );
        let port = super::unbound::free_port();
        let dir = std::env::temp_dir().join(format!("bouncedoc-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pg dir");
        let ok = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown")
            .success();
        assert!(ok, "chown of the PostgreSQL directory");
        let data = dir.join("data");
        let out = as_postgres("initdb")
            .args(["-A", "trust", "-U", "bouncedoc", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = Postgres { port, dir };
        pg.start_server();
        let out = Command::new(format!("{BIN}/createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "bouncedoc",
                "bouncedoc",
            ])
            .output()
            .expect("createdb");
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg
    }

    fn start_server(&self) {
        let out = as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
                self.port,
                self.dir.display()
            ))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "start"])
            .output()
            .expect("pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = Command::new(format!("{BIN}/pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .output()
                .is_ok_and(|o| o.status.success());
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("PostgreSQL did not become ready: {}", self.log());
    }

    /// The URL bouncedoc is configured with.
    pub fn url(&self) -> String {
        format!("postgres://bouncedoc@127.0.0.1:{}/bouncedoc", self.port)
    }

    /// Runs SQL with psql; returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "bouncedoc",
                "-d",
                "bouncedoc",
            ])
            .args(["-At", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stops the server: `fast` is a clean stop, else a crash (`immediate`).
    pub fn stop(&self, fast: bool) {
        let _ = as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", if fast { "fast" } else { "immediate" }, "-w", "stop"])
            .output();
    }

    /// Starts it again after [`Postgres::stop`], on the same port.
    pub fn restart(&self) {
        self.start_server();
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop(false);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
