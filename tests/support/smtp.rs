//! Submitting a message to a test Postfix: a minimal plain-SMTP dialogue over loopback
//! (no TLS, no AUTH; the test Postfix relays for 127.0.0.0/8).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Reads one (possibly multi-line) SMTP reply; panics unless its code is `want`.
fn expect(reader: &mut BufReader<TcpStream>, want: &str, after: &str) -> String {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read SMTP reply");
        assert!(
            n > 0,
            "SMTP server closed the connection after {after:?}; so far: {reply:?}"
        );
        reply.push_str(&line);
        // "250-..." continues, "250 ..." (or a bare "250") ends the reply.
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
    assert!(
        reply.starts_with(want),
        "after {after:?} expected {want}, got {reply:?}"
    );
    reply
}

/// Sends one short text message from `from` to `to` with `subject` over plain SMTP to the
/// server at `addr`, and returns its Message-ID (without angle brackets; in `from`'s domain).
/// Panics when the server refuses any step.
pub fn send_mail(addr: SocketAddr, from: &str, to: &str, subject: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    let domain = from.rsplit_once('@').map_or("test.invalid", |(_, d)| d);
    let message_id = format!(
        "test.{}.{}.{}@{domain}",
        now.as_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let date = mail_parser::DateTime::from_timestamp(now.as_secs() as i64).to_rfc822();
    let message = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nA test message from {from} to {to}.\r\n"
    );

    send_raw(addr, from, to, &message);
    message_id
}

/// Sends `message` (CRLF lines, no line starting with ".") from `from` to `to` over plain SMTP.
pub fn send_raw(addr: SocketAddr, from: &str, to: &str, message: &str) {
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to SMTP at {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    expect(&mut reader, "220", "connect");
    let mut say = |command: &str, want: &str| {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("write SMTP command");
        expect(&mut reader, want, command)
    };
    say("EHLO client.test", "250");
    say(&format!("MAIL FROM:<{from}>"), "250");
    say(&format!("RCPT TO:<{to}>"), "250");
    say("DATA", "354");
    // The message has no line starting with "." to stuff.
    say(&format!("{message}."), "250");
    say("QUIT", "221");
}
