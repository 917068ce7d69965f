//! `bouncedoc login` for servers whose device grant cannot give the mail scope (Google allows
//! no Gmail scope on its device flow): the authorization code grant for native apps (RFC 8252)
//! with PKCE (RFC 7636). The bot listens on a loopback port, prints the authorization address,
//! the person signs in with a browser on this machine (or through `ssh -L PORT:127.0.0.1:PORT`),
//! the browser comes back to the loopback port with a code, and the bot exchanges it. Blocking.

use super::endpoint;
use super::SignInError;
use crate::config::OAuth2;
use base64::Engine;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest a login waits for the browser.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Largest request read from the browser.
const MAX_REQUEST: usize = 16 * 1024;

/// `n` random bytes, base64url without padding.
fn random(n: usize) -> Result<String, SignInError> {
    use ring::rand::SecureRandom;
    let mut bytes = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SignInError::Secret("no randomness available".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// RFC 7636 §4.2: the S256 challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes a query value (`+` is a space; a bad escape is kept as written).
fn decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
            (b'+', _, _) => out.push(b' '),
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key` in a query string.
fn param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| decode(v))
}

/// The authorization address the person opens.
pub fn authorization_url(
    auth_url: &str,
    o: &OAuth2,
    scope: &str,
    redirect: &str,
    state: &str,
    challenge: &str,
) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", o.client_id.as_str()),
        ("redirect_uri", redirect),
        ("scope", scope),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        // Google gives a refresh token only when asked for offline access, and again only
        // when consent is asked again; other servers ignore what they do not know.
        ("access_type", "offline"),
        ("prompt", "consent"),
    ];
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let sep = if auth_url.contains('?') { '&' } else { '?' };
    format!("{auth_url}{sep}{}", query.join("&"))
}

/// What one browser request brought.
enum Arrival {
    /// The code, for our state.
    Code(String),
    /// The server's refusal (`access_denied: …`).
    Refused(String),
    /// Something else (a favicon, a stale or forged state): keep waiting.
    Other,
}

/// Reads one request on `stream` and answers it.
fn arrival(mut stream: TcpStream, state: &str) -> Arrival {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while buf.len() < MAX_REQUEST && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let target = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let (status, page, result) = if param(query, "state").as_deref() != Some(state) {
        (
            "404 Not Found",
            "Not the sign-in this bouncedoc login is waiting for.",
            Arrival::Other,
        )
    } else if let Some(code) = param(query, "code") {
        (
            "200 OK",
            "Signed in to bouncedoc. You can close this window.",
            Arrival::Code(code),
        )
    } else {
        let error = endpoint::printable(&param(query, "error").unwrap_or_else(|| "no code".into()), 64);
        let words = endpoint::printable(&param(query, "error_description").unwrap_or_default(), 300);
        (
            "400 Bad Request",
            "The sign-in did not complete; see the terminal.",
            Arrival::Refused(format!("{error}: {words}")),
        )
    };
    let body = format!("<!doctype html><meta charset=utf-8><title>bouncedoc</title><p>{page}</p>");
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    result
}

/// Runs the grant for `o` asking for `scope` on loopback port `port` (0: any), shows the
/// address with `show`, and stores the refresh token. Returns where it was stored.
pub fn login(
    state_dir: &Path,
    o: &OAuth2,
    scope: &str,
    port: u16,
    show: impl FnOnce(&str, u16),
) -> Result<std::path::PathBuf, SignInError> {
    let auth_url = o
        .auth_url
        .as_deref()
        .ok_or_else(|| SignInError::Refused("no authorization endpoint (auth_url) is configured".into()))?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| SignInError::Unreachable(format!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    listener
        .set_nonblocking(true)
        .map_err(|e| SignInError::Unreachable(e.to_string()))?;
    let redirect = format!("http://127.0.0.1:{port}/");
    let verifier = random(48)?;
    let state = random(18)?;
    show(
        &authorization_url(auth_url, o, scope, &redirect, &state, &challenge(&verifier)),
        port,
    );
    let deadline = Instant::now() + MAX_WAIT;
    let code = loop {
        if Instant::now() > deadline {
            return Err(SignInError::Refused(
                "no sign-in arrived in time: run bouncedoc login again".into(),
            ));
        }
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                match arrival(stream, &state) {
                    Arrival::Code(c) => break c,
                    Arrival::Refused(e) => return Err(SignInError::Refused(e)),
                    Arrival::Other => {}
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => return Err(SignInError::Unreachable(e.to_string())),
        }
    };
    let secret = super::client_secret(o)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("client_id", o.client_id.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    if let Some(s) = &secret {
        form.push(("client_secret", s));
    }
    let granted: super::Granted =
        endpoint::post(&o.token_url, &form).map_err(|e| super::classify(e, None))?;
    super::store_login(state_dir, o, granted, "ask for offline access in the scope")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn query_values_round_trip_and_bad_escapes_do_not_panic() {
        assert_eq!(decode(&encode("a b/c?d=é")), "a b/c?d=é");
        assert_eq!(param("state=x&code=4%2F0Ab", "code").as_deref(), Some("4/0Ab"));
        for s in ["%", "%z", "%zz", "abc%", "%%%", "%e9%"] {
            let _ = decode(s);
        }
    }
}
