//! The two SASL mechanisms that carry an OAuth 2.0 access token: OAUTHBEARER (RFC 7628) and
//! Google's and Microsoft's XOAUTH2. Pure: the bytes a client sends, and what it answers when
//! the server sends an error challenge instead of success.

/// A SASL mechanism for a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 7628.
    OAuthBearer,
    /// The older, provider-defined form (Gmail, Exchange Online).
    XOAuth2,
}

impl Mechanism {
    /// The mechanism's name, as servers advertise it (`AUTH=OAUTHBEARER`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// The one to use among what a server offers: OAUTHBEARER (the standard) first, else
    /// XOAUTH2. `offered` holds mechanism names, any case.
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>) -> Option<Mechanism> {
        let mut best = None;
        for m in offered {
            if m.eq_ignore_ascii_case("OAUTHBEARER") {
                return Some(Mechanism::OAuthBearer);
            }
            if m.eq_ignore_ascii_case("XOAUTH2") {
                best = Some(Mechanism::XOAuth2);
            }
        }
        best
    }

    /// The client's first message: who signs in, with which token (`host`/`port` name the
    /// server, as RFC 7628 asks).
    pub fn initial(self, user: &str, token: &str, host: &str, port: u16) -> Vec<u8> {
        match self {
            Mechanism::OAuthBearer => format!(
                "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01",
                gs2_name(user)
            )
            .into_bytes(),
            Mechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes(),
        }
    }

    /// What the client answers to an error challenge (the server's JSON): RFC 7628 §3.2.3 a
    /// single %x01, XOAUTH2 an empty response. The server then answers NO / 535.
    pub fn after_error(self) -> &'static [u8] {
        match self {
            Mechanism::OAuthBearer => b"\x01",
            Mechanism::XOAuth2 => b"",
        }
    }
}

/// RFC 5801 §4: ',' and '=' in a GS2 authorization identity are written =2C and =3D.
fn gs2_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Reads the server's error challenge (RFC 7628 §3.2.2: JSON with `status`, `scope`,
/// `openid-configuration`), for the log: the status, bounded and printable.
pub fn error_status(challenge: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(challenge.get(..challenge.len().min(4096))?).ok()?;
    let status = v.get("status")?.as_str()?;
    Some(status.chars().filter(|c| !c.is_control()).take(100).collect())
}

/// Drives an IMAP AUTHENTICATE exchange: the initial response first, then the error answer to
/// any further challenge (keeping the challenge's status for the log).
pub struct ImapExchange {
    mechanism: Mechanism,
    initial: Option<Vec<u8>>,
    /// The status the server's error challenge gave, if it sent one.
    pub error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl ImapExchange {
    /// An exchange that signs in as `user` with `token`.
    pub fn new(mechanism: Mechanism, user: &str, token: &str, host: &str, port: u16) -> ImapExchange {
        ImapExchange {
            mechanism,
            initial: Some(mechanism.initial(user, token, host, port)),
            error: Default::default(),
        }
    }
}

impl async_imap::Authenticator for ImapExchange {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        match self.initial.take() {
            Some(first) => first,
            None => {
                if let Ok(mut e) = self.error.lock() {
                    *e = error_status(challenge);
                }
                self.mechanism.after_error().to_vec()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_are_byte_exact() {
        assert_eq!(
            Mechanism::XOAuth2.initial("alice@corp.test", "tok", "h", 1),
            b"user=alice@corp.test\x01auth=Bearer tok\x01\x01"
        );
        // RFC 7628 §4.1's example, with our names.
        assert_eq!(
            Mechanism::OAuthBearer.initial("user@example.com", "vF9dft4qmT", "server.example.com", 143),
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmT\x01\x01"
        );
        assert_eq!(
            Mechanism::OAuthBearer.initial("a,b=c", "t", "h", 1)[..14],
            b"n,a=a=2Cb=3Dc,"[..]
        );
    }

    #[test]
    fn oauthbearer_is_preferred_and_case_does_not_matter() {
        assert_eq!(
            Mechanism::choose(["PLAIN", "xoauth2", "OAUTHBEARER"]),
            Some(Mechanism::OAuthBearer)
        );
        assert_eq!(Mechanism::choose(["PLAIN", "XOAUTH2"]), Some(Mechanism::XOAuth2));
        assert_eq!(Mechanism::choose(["PLAIN", "LOGIN"]), None);
    }

    #[test]
    fn an_error_challenge_is_answered_and_its_status_kept() {
        use async_imap::Authenticator;
        let mut x = ImapExchange::new(Mechanism::OAuthBearer, "u", "t", "h", 1);
        assert!(x.process(b"").starts_with(b"n,a=u,"));
        assert_eq!(
            x.process(br#"{"status":"invalid_token","scope":"imap"}"#),
            b"\x01"
        );
        assert_eq!(x.error.lock().unwrap().as_deref(), Some("invalid_token"));
        assert_eq!(error_status(b"not json"), None);
    }
}
