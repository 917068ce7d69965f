//! Secrets: where a password comes from (written in the file, a file, a command, the
//! environment), read only when needed and never printed.

use std::path::PathBuf;

/// Where a password comes from: written in the file, a file, a command's first line, or an
/// environment variable. Its value is never printed (not even by `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// `password:` (discouraged: the file then holds a secret).
    Plain(String),
    /// `password_file:`.
    File(PathBuf),
    /// `password_command:` (first line of its standard output).
    Command(String),
    /// `password_env:`.
    Env(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Plain(_) => write!(f, "Secret::Plain(<redacted>)"),
            Secret::File(p) => write!(f, "Secret::File({p:?})"),
            Secret::Command(c) => write!(f, "Secret::Command({c:?})"),
            Secret::Env(v) => write!(f, "Secret::Env({v:?})"),
        }
    }
}

impl Secret {
    /// Reads the secret now. The error says where it failed, never what the secret is.
    pub fn resolve(&self) -> Result<String, String> {
        self.resolve_within(SECRET_COMMAND_TIMEOUT)
    }

    /// As [`Secret::resolve`], giving a `password_command` at most `timeout`.
    pub fn resolve_within(&self, timeout: std::time::Duration) -> Result<String, String> {
        match self {
            Secret::Plain(p) => Ok(p.clone()),
            // The first line is the password (as documented); what follows is ignored.
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.lines().next().unwrap_or("").trim_end_matches('\r').to_string())
                .map_err(|e| format!("password_file {}: {e}", path.display())),
            Secret::Command(cmd) => run_password_command(cmd, timeout),
            Secret::Env(var) => std::env::var(var).map_err(|_| format!("password_env: {var} is not set")),
        }
    }
}

/// Runs a `password_command` in its own process group and returns the first line it prints.
/// Its output is read while it runs (a helper printing a lot cannot block on a full pipe);
/// after `timeout` the whole group is killed (a helper and anything it started, such as a
/// prompt waiting for a passphrase).
fn run_password_command(cmd: &str, timeout: std::time::Duration) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("password_command: cannot run it: {e}"))?;
    let group = child.id();
    let reader = child.stdout.take().map(|stdout| {
        std::thread::spawn(move || {
            // A password is short: at most 64 KB is kept, the rest is read and dropped.
            let mut out = Vec::new();
            let mut limited = stdout.take(64 * 1024);
            let _ = limited.read_to_end(&mut out);
            let _ = std::io::copy(&mut limited.into_inner(), &mut std::io::sink());
            out
        })
    });
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(std::time::Duration::from_millis(20)),
            Ok(None) => {
                kill_group(group);
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "password_command gave no answer within {} ms; stopped",
                    timeout.as_millis()
                ));
            }
            Err(e) => {
                kill_group(group);
                return Err(format!("password_command: {e}"));
            }
        }
    };
    // Whatever it left running (in its group) holds the pipe open: stop it too.
    kill_group(group);
    let out = reader.and_then(|r| r.join().ok()).unwrap_or_default();
    if !status.success() {
        return Err(format!("password_command exited with {status}"));
    }
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

/// Sends SIGKILL to process group `group` (ignoring a group that is already gone), with the
/// shell's own `kill` (no procps needed).
fn kill_group(group: u32) {
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -9 -{group}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// How long a `password_command` may take.
pub const SECRET_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
