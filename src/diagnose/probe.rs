//! The optional SMTP reachability probe of the recipient's mail server: connect, read the
//! banner, EHLO, see whether STARTTLS is offered, QUIT. It never sends mail.

use super::{Finding, Found, Reachability};
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Longest reply line read from the server.
const MAX_LINE: usize = 4096;

/// Probes `ip:port` before `deadline`.
pub async fn probe(ip: IpAddr, port: u16, deadline: Instant) -> Finding {
    let addr = SocketAddr::new(ip, port);
    let subject = addr.to_string();
    let f = |result: Reachability, detail: String| {
        Finding::new(Found::SmtpProbe(result), subject.clone(), detail)
    };
    let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => {
            return f(
                Reachability::Timeout,
                format!("{addr} did not accept a connection in time"),
            )
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return f(
                Reachability::Refused,
                format!("{addr} refused the connection: no mail server listens there"),
            )
        }
        Ok(Err(e)) => return f(Reachability::Refused, format!("{addr}: cannot connect ({e})")),
        Ok(Ok(s)) => s,
    };
    match tokio::time::timeout_at(deadline, conversation(stream)).await {
        Err(_) => f(
            Reachability::Timeout,
            format!("{addr} accepted the connection but did not answer in time"),
        ),
        Ok(Err(e)) => f(
            Reachability::Timeout,
            format!("{addr}: the SMTP conversation broke off ({e})"),
        ),
        Ok(Ok((banner, starttls))) => {
            if starttls {
                f(
                    Reachability::Reachable,
                    format!("{addr} answers: {banner}; STARTTLS offered"),
                )
            } else {
                f(
                    Reachability::NoStarttls,
                    format!("{addr} answers: {banner}; but offers no STARTTLS"),
                )
            }
        }
    }
}

/// Banner, EHLO, QUIT. Returns the banner's first line and whether STARTTLS was offered.
async fn conversation(stream: TcpStream) -> std::io::Result<(String, bool)> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let banner = reply(&mut reader).await?;
    let first = banner.first().cloned().unwrap_or_default();
    if !first.starts_with('2') {
        return Ok((first, false));
    }
    write.write_all(b"EHLO bouncedoc.invalid\r\n").await?;
    let ehlo = reply(&mut reader).await?;
    let starttls = ehlo.iter().any(|l| {
        l.get(4..)
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("STARTTLS"))
    });
    write.write_all(b"QUIT\r\n").await?;
    let _ = reply(&mut reader).await;
    Ok((first, starttls))
}

/// One SMTP reply (all its `NNN-` continuation lines).
async fn reply(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut buf = Vec::new();
        let n = (&mut *reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line);
        if !more || lines.len() > 100 {
            return Ok(lines);
        }
    }
}
