//! Values as the configuration writes them, each read (and checked) by its own deserializer:
//! durations, name servers, zone names, mail addresses, IP networks.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A duration written `30s`, `5m`, `1h` or `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map(ConfigDuration).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid duration {text:?}: write it like 500ms, 30s, 5m or 1h"
            ))
        })
    }
}

/// Parses `250ms`, `30s`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let n: u64 = number.parse().ok()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// A name server written `IP` or `IP:port` (`[IPv6]:port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameServer(pub SocketAddr);

impl<'de> Deserialize<'de> for NameServer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_name_server(&text).map(NameServer).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid name server {text:?}: write an IP address and port, like 127.0.0.1:53"
            ))
        })
    }
}

/// Parses `IP` (port 53) or `IP:port`.
pub fn parse_name_server(text: &str) -> Option<SocketAddr> {
    let t = text.trim();
    t.parse::<SocketAddr>()
        .ok()
        .or_else(|| t.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// A DNS zone name (for blocklists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneName(pub String);

impl<'de> Deserialize<'de> for ZoneName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid = name.contains('.')
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if valid {
            Ok(ZoneName(name))
        } else {
            Err(de::Error::custom(format!(
                "invalid blocklist zone {text:?}: write a DNS name like zen.spamhaus.org"
            )))
        }
    }
}

/// A mailbox written `Name <addr@example>` or `addr@example`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxAddress {
    /// The display name, if any.
    pub name: Option<String>,
    /// The address.
    pub address: String,
}

impl<'de> Deserialize<'de> for MailboxAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let address = crate::mailaddr::header_addresses(&text).into_iter().next();
        let name = text
            .split('<')
            .next()
            .map(|n| n.trim().trim_matches('"').trim().to_string())
            .filter(|n| !n.is_empty() && !n.contains('@'));
        match address {
            Some(address) if crate::mailaddr::is_header_safe(&address) => Ok(MailboxAddress { name, address }),
            _ => Err(de::Error::custom(format!("invalid address {text:?}: write it like bouncedoc@example.com or \"bouncedoc <bouncedoc@example.com>\""))),
        }
    }
}

/// An address or a network in CIDR form (`203.0.113.5`, `198.51.100.0/24`, `2001:db8::/32`),
/// as `sending_ips` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    /// The network's address (its host bits cleared).
    pub addr: IpAddr,
    /// The prefix length: 32 (IPv4) or 128 (IPv6) for a single address.
    pub prefix: u8,
}

impl Network {
    /// Parses `IP` or `IP/PREFIX`.
    pub fn parse(text: &str) -> Option<Network> {
        let (ip, prefix) = match text.trim().split_once('/') {
            Some((ip, p)) => (
                ip.trim().parse::<IpAddr>().ok()?,
                Some(p.trim().parse::<u8>().ok()?),
            ),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(Network {
            addr: mask(ip, prefix),
            prefix,
        })
    }

    /// Whether `ip` lies inside the network.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(*ip, self.prefix) == self.addr
    }

    /// The address, when the entry is one address rather than a network.
    pub fn single(&self) -> Option<IpAddr> {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        (self.prefix == max).then_some(self.addr)
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Network, String> {
        Network::parse(s).ok_or_else(|| format!("{s:?} is not an IP address or network"))
    }
}

impl From<IpAddr> for Network {
    fn from(ip: IpAddr) -> Network {
        Network {
            addr: ip,
            prefix: if ip.is_ipv4() { 32 } else { 128 },
        }
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.single() {
            Some(ip) => write!(f, "{ip}"),
            None => write!(f, "{}/{}", self.addr, self.prefix),
        }
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Network::parse(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "{text:?} is not an IP address or network: write it like 203.0.113.5 or 198.51.100.0/24"
            ))
        })
    }
}
