//! DNS for diagnoses: hickory-resolver with the configured name servers, every query bounded
//! by the diagnosis's deadline, and answers sorted into the outcomes a mail administrator tells
//! apart: an answer, the name does not exist (NXDOMAIN), it exists without such records
//! (NODATA), or the lookup failed (SERVFAIL, REFUSED, timeout). A failure is never "does not
//! exist".

use crate::config::DnsConfig;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use std::net::IpAddr;
use tokio::time::Instant;

/// Why a lookup gave no answer although the name may exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server answered SERVFAIL.
    ServFail,
    /// The server refused the query.
    Refused,
    /// No answer before the time allowed.
    Timeout,
    /// Anything else (no connection, a malformed name, …).
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::ServFail => write!(f, "SERVFAIL"),
            Failure::Refused => write!(f, "REFUSED"),
            Failure::Timeout => write!(f, "no answer in time"),
            Failure::Other(s) => write!(f, "{s}"),
        }
    }
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Records of the asked type (and whether the name was an alias, CNAME).
    Answer(Vec<T>, bool),
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no record of this type.
    NoData,
    /// The lookup failed; nothing is known.
    Failed(Failure),
}

impl<T> Outcome<T> {
    /// The records, when there are any.
    pub fn answers(&self) -> &[T] {
        match self {
            Outcome::Answer(v, _) => v,
            _ => &[],
        }
    }

    /// True when the lookup failed (as opposed to a definite answer, positive or negative).
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// A resolver bound to one diagnosis's deadline.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
    deadline: Instant,
}

/// Builds a resolver from the configuration (the system's when no name server is given).
pub fn resolver(config: &DnsConfig) -> Result<TokioResolver, String> {
    let mut builder = if config.nameservers.is_empty() {
        TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system's resolver configuration: {e}"))?
    } else {
        let servers = config
            .nameservers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers),
            TokioRuntimeProvider::default(),
        )
    };
    let opts = builder.options_mut();
    opts.timeout = config.timeout;
    opts.attempts = config.attempts;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.cache_size = 1024;
    builder
        .build()
        .map_err(|e| format!("cannot build the DNS resolver: {e}"))
}

/// A fully qualified name for a lookup (no search domains appended).
fn fqdn(name: &str) -> Result<Name, Failure> {
    let n = name.trim().trim_end_matches('.');
    Name::from_utf8(format!("{n}.")).map_err(|e| Failure::Other(format!("invalid name {name:?}: {e}")))
}

impl Dns {
    /// A resolver whose queries all end by `deadline`.
    pub fn new(resolver: TokioResolver, deadline: Instant) -> Dns {
        Dns { resolver, deadline }
    }

    /// Looks up one name and type, sorting the result into an [`Outcome`].
    async fn lookup(&self, name: &str, rtype: RecordType) -> Outcome<RData> {
        let outcome = self.lookup_uncounted(name, rtype).await;
        let word = match &outcome {
            Outcome::Answer(..) => "answer",
            Outcome::NxDomain => "nxdomain",
            Outcome::NoData => "nodata",
            Outcome::Failed(_) => "failed",
        };
        crate::metrics::Metrics::count(&crate::metrics::get().dns_queries, word);
        outcome
    }

    async fn lookup_uncounted(&self, name: &str, rtype: RecordType) -> Outcome<RData> {
        let name = match fqdn(name) {
            Ok(n) => n,
            Err(f) => return Outcome::Failed(f),
        };
        let result = tokio::time::timeout_at(self.deadline, self.resolver.lookup(name, rtype)).await;
        match result {
            Err(_) => Outcome::Failed(Failure::Timeout),
            Ok(Ok(lookup)) => {
                let aliased = lookup
                    .answers()
                    .iter()
                    .any(|r| r.record_type() == RecordType::CNAME);
                let data: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data.clone())
                    .collect();
                if data.is_empty() {
                    Outcome::NoData
                } else {
                    Outcome::Answer(data, aliased)
                }
            }
            Ok(Err(e)) => classify(&e),
        }
    }

    /// MX records as (preference, exchange host without the final dot), sorted by preference.
    pub async fn mx(&self, name: &str) -> Outcome<(u16, String)> {
        let mut outcome = self.lookup(name, RecordType::MX).await.map(|d| match d {
            RData::MX(mx) => Some((mx.preference, host_name(&mx.exchange))),
            _ => None,
        });
        if let Outcome::Answer(v, _) = &mut outcome {
            v.sort();
        }
        outcome
    }

    /// A and AAAA addresses (looked up concurrently; an answer in either counts).
    pub async fn addresses(&self, name: &str) -> Outcome<IpAddr> {
        let (a, aaaa) = tokio::join!(
            self.lookup(name, RecordType::A),
            self.lookup(name, RecordType::AAAA)
        );
        let a = a.map(ip_of);
        let aaaa = aaaa.map(ip_of);
        match (a, aaaa) {
            (Outcome::Answer(mut v4, c4), Outcome::Answer(v6, c6)) => {
                v4.extend(v6);
                Outcome::Answer(v4, c4 || c6)
            }
            (Outcome::Answer(v, c), _) | (_, Outcome::Answer(v, c)) => Outcome::Answer(v, c),
            (Outcome::NxDomain, _) | (_, Outcome::NxDomain) => Outcome::NxDomain,
            (Outcome::Failed(f), _) | (_, Outcome::Failed(f)) => Outcome::Failed(f),
            _ => Outcome::NoData,
        }
    }

    /// A records only (blocklist answers).
    pub async fn a(&self, name: &str) -> Outcome<IpAddr> {
        self.lookup(name, RecordType::A).await.map(ip_of)
    }

    /// TXT strings (each record's strings joined).
    pub async fn txt(&self, name: &str) -> Outcome<String> {
        self.lookup(name, RecordType::TXT).await.map(|d| match d {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            _ => None,
        })
    }

    /// PTR names of an address.
    pub async fn ptr(&self, ip: IpAddr) -> Outcome<String> {
        self.lookup(&reverse_name(ip), RecordType::PTR)
            .await
            .map(|d| match d {
                RData::PTR(p) => Some(host_name(&p.0)),
                _ => None,
            })
    }
}

impl Outcome<RData> {
    fn map<T>(self, f: impl Fn(RData) -> Option<T>) -> Outcome<T> {
        match self {
            Outcome::Answer(v, c) => {
                let out: Vec<T> = v.into_iter().filter_map(f).collect();
                if out.is_empty() {
                    Outcome::NoData
                } else {
                    Outcome::Answer(out, c)
                }
            }
            Outcome::NxDomain => Outcome::NxDomain,
            Outcome::NoData => Outcome::NoData,
            Outcome::Failed(e) => Outcome::Failed(e),
        }
    }
}

fn ip_of(d: RData) -> Option<IpAddr> {
    match d {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

/// A host name as written in mail: lower case, no final dot (the root stays ".").
fn host_name(n: &Name) -> String {
    if n.is_root() {
        return ".".to_string();
    }
    n.to_utf8().trim_end_matches('.').to_ascii_lowercase()
}

/// Sorts a resolver error: NXDOMAIN and NODATA are answers; everything else is a failure.
fn classify<T>(e: &NetError) -> Outcome<T> {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            if nr.response_code == ResponseCode::NXDomain {
                Outcome::NxDomain
            } else {
                Outcome::NoData
            }
        }
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => Outcome::Failed(Failure::ServFail),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => Outcome::Failed(Failure::Refused),
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => Outcome::NxDomain,
        NetError::Timeout => Outcome::Failed(Failure::Timeout),
        other => Outcome::Failed(Failure::Other(other.to_string())),
    }
}

/// The reverse-lookup name of an address (`in-addr.arpa` / `ip6.arpa`).
pub fn reverse_name(ip: IpAddr) -> String {
    format!(
        "{}.{}",
        reversed(ip),
        if ip.is_ipv4() { "in-addr.arpa" } else { "ip6.arpa" }
    )
}

/// An address reversed for DNS: IPv4 octets, IPv6 nibbles.
pub fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut parts = Vec::with_capacity(32);
            for byte in v6.octets().iter().rev() {
                parts.push(format!("{:x}", byte & 0x0f));
                parts.push(format!("{:x}", byte >> 4));
            }
            parts.join(".")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(reversed("192.0.2.25".parse().unwrap()), "25.2.0.192");
        assert_eq!(
            reversed("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
        );
        assert_eq!(
            reverse_name("203.0.113.5".parse().unwrap()),
            "5.113.0.203.in-addr.arpa"
        );
    }
}
