//! `bouncedoc login --config FILE (--mailbox NAME | --smtp) [--port N]`: signs a mailbox (its
//! `imap` and own `smtp` blocks) or the global `smtp` block in and stores the refresh token for
//! the daemon: with the device authorization grant (RFC 8628) where the server has one for the
//! scope, else through a browser and a loopback redirect with PKCE (RFC 8252; Google). Exit 0 when stored, 1 when the
//! sign-in failed, 78 for an invalid file or a block that does not use `flow: refresh_token`.

use bouncedoc::config::{Config, Flow, OAuth2, SignIn, TokenOwner};
use bouncedoc::signin::{device, endpoint, loopback};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// The `oauth2` blocks that share `owner`'s refresh token.
fn blocks(config: &Config, owner: &TokenOwner) -> Vec<OAuth2> {
    let mut sign_ins: Vec<&SignIn> = Vec::new();
    match owner {
        TokenOwner::GlobalSmtp => {
            sign_ins.extend(config.smtp.iter().filter_map(|s| s.auth.as_ref()).map(|(_, h)| h))
        }
        TokenOwner::Mailbox(name) => {
            for m in config.mailboxes.iter().filter(|m| &m.name == name) {
                sign_ins.push(&m.imap.sign_in);
                sign_ins.extend(m.smtp.iter().filter_map(|s| s.auth.as_ref()).map(|(_, h)| h));
            }
        }
    }
    sign_ins
        .into_iter()
        .filter_map(|h| match h {
            SignIn::OAuth2(o) if o.flow == Flow::RefreshToken && &o.owner == owner => Some((**o).clone()),
            _ => None,
        })
        .collect()
}

/// Runs `login`.
pub fn run(path: &Path, mailbox: Option<&str>, smtp: bool, port: u16) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bouncedoc: {e}");
            return Ok(ExitCode::from(super::run::EX_CONFIG));
        }
    };
    let owner = match (mailbox, smtp) {
        (Some(name), false) => {
            if !config.mailboxes.iter().any(|m| m.name == name) {
                eprintln!("bouncedoc: no mailbox is named {name:?} in {}", path.display());
                return Ok(ExitCode::from(super::run::EX_CONFIG));
            }
            TokenOwner::Mailbox(name.to_string())
        }
        (None, true) => TokenOwner::GlobalSmtp,
        _ => {
            eprintln!("bouncedoc: say what signs in: --mailbox NAME, or --smtp for the global smtp block");
            return Ok(ExitCode::from(2));
        }
    };
    let found = blocks(&config, &owner);
    let Some(first) = found.first() else {
        eprintln!(
            "bouncedoc: {} does not sign in with oauth2 flow: refresh_token; nothing to log in (client_credentials and token_command need no login)",
            what(&owner)
        );
        return Ok(ExitCode::from(super::run::EX_CONFIG));
    };
    if found
        .iter()
        .any(|o| o.token_url != first.token_url || o.client_id != first.client_id)
    {
        eprintln!(
            "bouncedoc: {}'s imap and smtp blocks share one refresh token: give both the same token_url and client_id",
            what(&owner)
        );
        return Ok(ExitCode::from(super::run::EX_CONFIG));
    }
    // One sign-in covers every block: the union of their scopes.
    let mut scope: Vec<&str> = Vec::new();
    for o in &found {
        for s in o.scope.split_whitespace() {
            if !scope.contains(&s) {
                scope.push(s);
            }
        }
    }
    let scope = scope.join(" ");
    let shown = |code: &device::DeviceCode| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "To sign in {}, open {} and enter the code {} (valid for {} minutes).",
            what(&owner),
            code.verification_uri,
            code.user_code,
            code.expires_in / 60
        );
        if let Some(direct) = &code.verification_uri_complete {
            let _ = writeln!(out, "Or open {direct}");
        }
        let _ = writeln!(out, "Waiting for the sign-in…");
        let _ = out.flush();
    };
    let browser = |url: &str, port: u16| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "To sign in {}, open this address in a browser on this machine:\n{}\n(From another machine: ssh -L {port}:127.0.0.1:{port} THIS-HOST first, then open it there.)\nWaiting for the sign-in…",
            what(&owner),
            endpoint::printable(url, 4000)
        );
        let _ = out.flush();
    };
    let result = if first.device_url.is_some() {
        device::login(&config.state_dir, first, &scope, shown)
    } else {
        loopback::login(&config.state_dir, first, &scope, port, browser)
    };
    match result {
        Ok(stored) => {
            println!(
                "Signed in. The refresh token is stored in {} (readable by its owner only); a running bouncedoc uses it from its next sign-in (a mailbox waiting for it, within seconds).",
                stored.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("bouncedoc: login failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn what(owner: &TokenOwner) -> String {
    match owner {
        TokenOwner::Mailbox(name) => format!("mailbox {name}"),
        TokenOwner::GlobalSmtp => "the global smtp block".into(),
    }
}
