//! The test authorization server (tests/support/authserver.py: Authlib on Flask) on loopback:
//! started per test on a free port, killed on drop. Its /admin endpoints let a test play the
//! person approving a device login, revoke a user's tokens, and read what was issued.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python that has Authlib and Flask (Debian's python3-authlib, python3-flask).
const PYTHON: &str = "/usr/bin/python3";

/// A client the server knows.
pub struct Client<'a> {
    /// Its ID.
    pub id: &'a str,
    /// Its secret (`None`: a public client).
    pub secret: Option<&'a str>,
    /// The grants it may use (`client_credentials`, `refresh_token`, the device code URN).
    pub grants: &'a [&'a str],
    /// The scopes it may ask for.
    pub scope: &'a str,
    /// Whom its own (client-credentials) tokens stand for.
    pub username: Option<&'a str>,
}

/// The device code grant's name.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A running authorization server.
pub struct AuthServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl AuthServer {
    /// Starts the server knowing `clients`, issuing tokens valid for `lifetime`.
    pub fn start(clients: &[Client<'_>], lifetime: Duration) -> AuthServer {
        let ok = Command::new(PYTHON)
            .args(["-c", "import authlib, flask"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python3-authlib and python3-flask are not installed: .ci/run installs them"
        );
        let port = super::unbound::free_port();
        let dir = std::env::temp_dir().join(format!("bouncedoc-as-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let list: Vec<serde_json::Value> = clients
            .iter()
            .map(|c| {
                serde_json::json!({
                    "client_id": c.id,
                    "client_secret": c.secret,
                    "grant_types": c.grants,
                    "scope": c.scope,
                    "username": c.username,
                })
            })
            .collect();
        let clients_file = dir.join("clients.json");
        std::fs::write(&clients_file, serde_json::to_vec(&list).expect("json")).expect("clients");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/authserver.py");
        let log = std::fs::File::create(dir.join("server.log")).expect("log");
        let child = Command::new(PYTHON)
            .arg(script)
            .arg(port.to_string())
            .arg(&clients_file)
            .arg(lifetime.as_secs().to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the authorization server");
        let mut s = AuthServer { port, child, dir };
        let start = Instant::now();
        while s.get("/ready").is_none() {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("the authorization server exited ({status}):\n{}", s.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the authorization server did not start:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What the server logged (its errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn get(&self, path: &str) -> Option<String> {
        let mut r = ureq::get(&self.url(path)).call().ok()?;
        r.body_mut().read_to_string().ok()
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(&self.url(path))
            .send_form(form.iter().copied())
            .expect("admin call");
        let body = r.body_mut().read_to_string().expect("body");
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null)
    }

    /// Plays the person: approves the newest pending device login as `username`. True when
    /// there was one.
    pub fn approve(&self, username: &str) -> bool {
        !self.post("/admin/approve", &[("username", username)])["approved"].is_null()
    }

    /// Plays the person at the authorization page: the next browser sign-in is `username`'s.
    pub fn approve_next(&self, username: &str) {
        self.post("/admin/approve-next", &[("username", username)]);
    }

    /// Revokes every token of `username` (access and refresh). Returns how many.
    pub fn revoke(&self, username: &str) -> u64 {
        self.post("/admin/revoke", &[("username", username)])["revoked"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Tokens issued per grant, introspections, device logins waiting for a person.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&self.get("/admin/stats").unwrap_or_default()).unwrap_or_default()
    }

    /// Every access and refresh token issued so far.
    pub fn tokens(&self) -> Vec<String> {
        serde_json::from_str(&self.get("/admin/tokens").unwrap_or_default()).unwrap_or_default()
    }

    /// How many tokens were issued with `grant`.
    pub fn issued(&self, grant: &str) -> u64 {
        self.stats()["issued"][grant].as_u64().unwrap_or(0)
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
