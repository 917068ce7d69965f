//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod authserver;
pub mod bot;
pub mod dovecot;
pub mod hostile;
pub mod imap;
pub mod postfix;
pub mod postgres;
pub mod smtp;
pub mod unbound;

use std::path::PathBuf;

/// Where the team's shared material lives: `$BOUNCEDOC_SHARED`, else `../shared` beside the
/// repository. A missing directory fails the test, loudly — unless `BOUNCEDOC_SKIP_SHARED=1`
/// opts out explicitly (then `None`, and the test says it did not run).
pub fn shared_dir(what: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("BOUNCEDOC_SHARED")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        ))
        .collect();
    for c in &candidates {
        if c.join(what).exists() {
            return Some(c.clone());
        }
    }
    let msg = format!(
        "../shared/{what} not found (looked in {candidates:?}); set BOUNCEDOC_SHARED to the shared directory"
    );
    if std::env::var("BOUNCEDOC_SKIP_SHARED").is_ok_and(|v| v == "1") {
        eprintln!("\n!!! NOT RUN: {msg} (BOUNCEDOC_SKIP_SHARED=1)\n");
        return None;
    }
    panic!("{msg}, or BOUNCEDOC_SKIP_SHARED=1 to skip the tests that need it");
}

/// The bytes of the first attached message (`message/rfc822`) of a parsed message, as decoded.
pub fn attached_message(m: &mail_parser::Message<'_>) -> Option<Vec<u8>> {
    use mail_parser::{MimeHeaders, PartType};
    let part = m
        .parts
        .iter()
        .find(|p| p.content_type().is_some_and(|c| c.ctype() == "message"))?;
    Some(match &part.body {
        PartType::Message(inner) => inner.raw_message().to_vec(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
        PartType::Text(t) => t.as_bytes().to_vec(),
        _ => return None,
    })
}
