//! DNS blocklists: `reversed-ip.zone`; an answer in 127.0.0.0/8 is a listing (with its TXT
//! reason), NXDOMAIN is not listed. Spamhaus's 127.255.255.252/254/255 are errors (typo, query
//! through a public resolver, over the limit), never listings. A zone is trusted only after its
//! RFC 5782 self-test (127.0.0.2 listed, 127.0.0.1 not); results are cached per zone.

use super::dns::{reversed, Dns, Outcome};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// What one blocklist says about one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// Not listed (NXDOMAIN).
    Clean,
    /// Listed: the return code and the zone's TXT reason, if any.
    Listed {
        /// The A answer (127.0.0.x).
        code: Ipv4Addr,
        /// The TXT reason or URL.
        reason: Option<String>,
    },
    /// The zone could not answer usefully; the text says why and what to fix.
    Error(String),
}

/// Reads a blocklist's A answers: a listing, or one of the special error answers.
pub fn interpret(zone: &str, answers: &[IpAddr]) -> Listing {
    let v4: Vec<Ipv4Addr> = answers
        .iter()
        .filter_map(|ip| match ip {
            IpAddr::V4(v) => Some(*v),
            IpAddr::V6(_) => None,
        })
        .collect();
    for code in &v4 {
        match code.octets() {
            [127, 255, 255, 252] => {
                return Listing::Error(format!(
                    "{zone} answered 127.255.255.252: the zone name is mistyped or the list is queried the wrong way"
                ))
            }
            [127, 255, 255, 254] => {
                return Listing::Error(format!(
                    "{zone} answered 127.255.255.254: it refuses queries through public or open resolvers; use your own recursive resolver"
                ))
            }
            [127, 255, 255, 255] => {
                return Listing::Error(format!(
                    "{zone} answered 127.255.255.255: too many queries from this resolver; use your own resolver or a data feed"
                ))
            }
            _ => {}
        }
    }
    match v4.iter().find(|c| c.octets()[0] == 127) {
        Some(code) => Listing::Listed {
            code: *code,
            reason: None,
        },
        None => Listing::Error(format!(
            "{zone} gave an answer outside 127.0.0.0/8 ({answers:?}): not a blocklist answer"
        )),
    }
}

/// Whether a zone passed its RFC 5782 self-test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// 127.0.0.2 listed, 127.0.0.1 not: the zone's answers can be trusted.
    Trusted,
    /// The self-test failed; the zone is skipped. The text says how.
    Untrusted(String),
}

/// The configured blocklists, with their self-test results cached for the process.
#[derive(Clone, Default)]
pub struct Blocklists {
    zones: Vec<String>,
    health: Arc<Mutex<HashMap<String, Arc<OnceCell<Health>>>>>,
}

impl Blocklists {
    /// The zones to query, in order.
    pub fn new(zones: Vec<String>) -> Blocklists {
        Blocklists {
            zones,
            health: Arc::default(),
        }
    }

    /// The configured zones.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// The zone's self-test result, run once and cached. A self-test that could not finish
    /// (timeout, SERVFAIL) is not cached: the next diagnosis tries again.
    pub async fn health(&self, dns: &Dns, zone: &str) -> Health {
        let cell = {
            let mut map = self.health.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(zone.to_string()).or_default().clone()
        };
        if let Some(h) = cell.get() {
            return h.clone();
        }
        let (health, definite) = self_test(dns, zone).await;
        crate::metrics::get()
            .zone_up
            .with_label_values(&[zone])
            .set(i64::from(health == Health::Trusted));
        if definite {
            let _ = cell.set(health.clone());
        }
        health
    }

    /// Asks one zone about one address (the zone's health is checked separately).
    pub async fn query(&self, dns: &Dns, zone: &str, ip: IpAddr) -> Listing {
        let name = format!("{}.{zone}", reversed(ip));
        match dns.a(&name).await {
            Outcome::NxDomain | Outcome::NoData => Listing::Clean,
            Outcome::Failed(f) => Listing::Error(format!("{zone}: lookup failed ({f})")),
            Outcome::Answer(answers, _) => match interpret(zone, &answers) {
                Listing::Listed { code, .. } => {
                    let reason = match dns.txt(&name).await {
                        Outcome::Answer(t, _) => Some(t.join(" ")),
                        _ => None,
                    };
                    Listing::Listed { code, reason }
                }
                other => other,
            },
        }
    }
}

/// RFC 5782 §5: the test entries an IPv4 list must (127.0.0.2) and must not (127.0.0.1) list.
async fn self_test(dns: &Dns, zone: &str) -> (Health, bool) {
    let listed = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let unlisted = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let (yes_name, no_name) = (
        format!("{}.{zone}", reversed(listed)),
        format!("{}.{zone}", reversed(unlisted)),
    );
    let (yes, no) = tokio::join!(dns.a(&yes_name), dns.a(&no_name));
    match (&yes, &no) {
        (Outcome::Failed(f), _) | (_, Outcome::Failed(f)) => (
            Health::Untrusted(format!("{zone}: its self-test could not run ({f})")),
            false,
        ),
        (Outcome::Answer(a, _), Outcome::NxDomain | Outcome::NoData) => match interpret(zone, a) {
            Listing::Listed { .. } => (Health::Trusted, true),
            Listing::Error(e) => (Health::Untrusted(e), true),
            Listing::Clean => (Health::Untrusted(format!("{zone}: failed its self-test")), true),
        },
        (Outcome::Answer(a, _), Outcome::Answer(_, _)) => match interpret(zone, a) {
            Listing::Error(e) => (Health::Untrusted(e), true),
            _ => (
                Health::Untrusted(format!(
                    "{zone} lists 127.0.0.1, which no blocklist may list (RFC 5782): it answers everything and is not used"
                )),
                true,
            ),
        },
        _ => (
            Health::Untrusted(format!(
                "{zone} does not list 127.0.0.2 (RFC 5782 self-test): the list is dead or not reachable this way, and is not used"
            )),
            true,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spamhaus_error_answers_are_not_listings() {
        let a = |s: &str| vec![s.parse::<IpAddr>().unwrap()];
        assert!(
            matches!(interpret("zen.spamhaus.org", &a("127.255.255.254")), Listing::Error(e) if e.contains("public"))
        );
        assert!(matches!(
            interpret("zen.spamhaus.org", &a("127.255.255.252")),
            Listing::Error(_)
        ));
        assert!(matches!(
            interpret("zen.spamhaus.org", &a("127.255.255.255")),
            Listing::Error(_)
        ));
        assert!(matches!(
            interpret("zen.spamhaus.org", &a("127.0.0.4")),
            Listing::Listed { .. }
        ));
        assert!(matches!(interpret("x.test", &a("10.0.0.1")), Listing::Error(_)));
    }
}
