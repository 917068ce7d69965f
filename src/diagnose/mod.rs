//! Diagnosis: the five causes on the delay-notice help page, checked automatically.
//!
//! Every DNS query of one diagnosis runs concurrently under one deadline (`dns.budget`): the
//! recipient domains' mail routing, the sender domain's records, blocklists for the recipient's
//! servers and ours, and our reverse DNS. The chains that must wait (MX → the MX host's address →
//! blocklist) wait only on each other. A check cut short by the deadline says so
//! (`dns-error`); it never says "does not exist".

pub mod dns;
pub mod dnsbl;
pub mod found;
pub mod probe;

use crate::config::{Config, Network};
use crate::notice::{is_public, Notice};
use dns::{Dns, Failure, Outcome};
use dnsbl::{Blocklists, Health, Listing};
pub use found::{
    Found, OurListing, Reachability, Refusal, ReverseDns, Routing, SenderRecords, TheirListing, ZoneHealth,
};
use futures::future::join_all;
use serde::Serialize;
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// Most recipient domains checked for one notice.
pub const MAX_DOMAINS: usize = 20;
/// Most addresses (recipient servers, our sending IPs) checked against blocklists per notice.
pub const MAX_IPS: usize = 16;
/// Most MX hosts of one recipient domain whose addresses are looked up (by preference).
pub const MAX_MX_HOSTS: usize = 5;

/// Which check a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The recipient domain's mail routing (MX, implicit MX, null MX, MX hosts' addresses).
    RecipientDomain,
    /// The sender domain's A/AAAA and MX records.
    SenderDomain,
    /// A recipient server's IP on a blocklist.
    RecipientListed,
    /// The remote server's own words refusing our server.
    BlockedByRecipient,
    /// Our sending IP on a blocklist.
    SenderListed,
    /// Our sending IP's forward-confirmed reverse DNS.
    SenderPtr,
    /// A blocklist zone that cannot be trusted (failed self-test, error answers).
    BlocklistZone,
    /// SMTP reachability of the recipient's MX (optional).
    SmtpProbe,
}

/// One check's result about one subject (a domain, an IP, a zone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The check and what it found (printed as `check` and `result`: `recipient_domain`,
    /// `nxdomain`).
    pub found: Found,
    /// What was checked: a domain, an IP, a zone, a recipient.
    pub subject: String,
    /// The evidence, in words: technical (record names, addresses, the server's words), in
    /// English, and shown as it is in every language's message (not translated).
    pub detail: String,
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Finding", 4)?;
        out.serialize_field("check", &self.found.check())?;
        out.serialize_field("subject", &self.subject)?;
        out.serialize_field("result", self.found.as_str())?;
        out.serialize_field("detail", &self.detail)?;
        out.end()
    }
}

impl Finding {
    /// A finding about `subject`.
    pub fn new(found: Found, subject: impl Into<String>, detail: impl Into<String>) -> Finding {
        Finding {
            found,
            subject: subject.into(),
            detail: detail.into(),
        }
    }

    /// Which check this finding comes from.
    pub fn check(&self) -> Check {
        self.found.check()
    }

    /// The result's word (`ok`, `nxdomain`, `listed`, `dns-error`, …).
    pub fn result(&self) -> &'static str {
        self.found.as_str()
    }

    /// True when this finding shows a problem (neither fine nor a note).
    pub fn is_problem(&self) -> bool {
        !self.found.is_note() && !self.found.is_fine()
    }

    /// True for a note rather than a result: something not checked (a limit), or an IP a
    /// notice names that is not ours.
    pub fn is_note(&self) -> bool {
        self.found.is_note()
    }

    /// The mark a report shows beside the finding: ✗ a problem, ✓ fine, – a note.
    pub fn mark(&self) -> &'static str {
        if self.is_note() {
            "–"
        } else if self.is_problem() {
            "✗"
        } else {
            "✓"
        }
    }
}

/// Everything the checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The findings, grouped by check.
    pub findings: Vec<Finding>,
}

/// Whatever diagnoses a notice: the real checks ([`Diagnoser`]), or fixed findings in the
/// processor's unit tests.
pub trait Checks: Send + Sync {
    /// Every check of one notice.
    fn diagnose<'a>(
        &'a self,
        notice: &'a Notice,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Diagnosis> + Send + 'a>>;
}

impl Checks for Diagnoser {
    fn diagnose<'a>(
        &'a self,
        notice: &'a Notice,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Diagnosis> + Send + 'a>> {
        Box::pin(Diagnoser::diagnose(self, notice))
    }
}

/// What a diagnosis needs besides the notice: DNS, blocklists, our IPs, options.
#[derive(Clone)]
pub struct Diagnoser {
    resolver: hickory_resolver::TokioResolver,
    blocklists: Blocklists,
    sending_ips: Vec<Network>,
    budget: Duration,
    probe_smtp: bool,
    /// The SMTP port probed (25; tests use another).
    pub smtp_port: u16,
    /// Whether the probe may connect to a non-public address (tests against loopback
    /// servers only; never set from the configuration: an MX pointing at 127.0.0.1 or a
    /// metadata address must not make the bot connect there).
    pub probe_private: bool,
}

/// The failure of setting up a diagnosis.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// The resolver could not be built.
    #[error("{0}")]
    Resolver(String),
}

impl Diagnoser {
    /// Prepares diagnoses with a configuration.
    pub fn new(config: &Config) -> Result<Diagnoser, DiagnoseError> {
        Ok(Diagnoser {
            resolver: dns::resolver(&config.dns).map_err(DiagnoseError::Resolver)?,
            blocklists: Blocklists::new(config.dnsbl_zones.clone()),
            sending_ips: config.sending_ips.clone(),
            budget: config.dns.budget,
            probe_smtp: config.probe_smtp,
            smtp_port: 25,
            probe_private: false,
        })
    }

    /// The same diagnoser, also with `extra` sending addresses or networks (a mailbox's own
    /// `sending_ips`).
    pub fn with_sending_ips(&self, extra: &[Network]) -> Diagnoser {
        let mut d = self.clone();
        for ip in extra {
            if !d.sending_ips.contains(ip) {
                d.sending_ips.push(*ip);
            }
        }
        d
    }

    /// Runs every check for a notice, all at once, within the budget.
    pub async fn diagnose(&self, notice: &Notice) -> Diagnosis {
        let started = Instant::now();
        let diagnosis = self.diagnose_uncounted(notice).await;
        crate::metrics::get()
            .diagnosis_duration
            .observe(started.elapsed().as_secs_f64());
        diagnosis
    }

    async fn diagnose_uncounted(&self, notice: &Notice) -> Diagnosis {
        let deadline = Instant::now() + self.budget;
        let dns = Dns::new(self.resolver.clone(), deadline);

        // A notice may name hundreds of recipients (or a hostile one, thousands): the checks
        // are bounded so one notice cannot set off a storm of queries.
        let mut recipient_domains: Vec<String> = Vec::new();
        // The rest (a notice holds at most 1,000 recipients) are counted and reported.
        let mut unchecked_domains: Vec<String> = Vec::new();
        let mut unchecked_seen = std::collections::HashSet::new();
        for r in &notice.recipients {
            if let Some(d) = domain_of(&r.address) {
                if recipient_domains.contains(&d) {
                    continue;
                }
                if recipient_domains.len() < MAX_DOMAINS {
                    recipient_domains.push(d);
                } else if unchecked_seen.insert(d.clone()) {
                    unchecked_domains.push(d);
                }
            }
        }
        let sender_domain = notice
            .original
            .as_ref()
            .and_then(|o| o.from.as_deref())
            .and_then(domain_of);
        let remote_ips: Vec<IpAddr> = notice
            .recipients
            .iter()
            .filter_map(|r| r.remote_ip)
            .filter(is_public)
            .fold(Vec::new(), push_unique)
            .into_iter()
            .take(MAX_IPS)
            .collect();
        // The IPs the notice names as our sending side. With `sending_ips` configured, one
        // outside them is a stranger's (a forged notice's) claim: reported, never checked as
        // ours, so it cannot make the verdict blame our servers.
        let named: Vec<IpAddr> = notice
            .sending_ips
            .iter()
            .copied()
            .filter(is_public)
            .fold(Vec::new(), push_unique);
        let (mut sending, not_ours): (Vec<IpAddr>, Vec<IpAddr>) = named
            .into_iter()
            .partition(|ip| self.sending_ips.is_empty() || self.sending_ips.iter().any(|n| n.contains(ip)));
        for ip in self.sending_ips.iter().filter_map(Network::single) {
            if !sending.contains(&ip) {
                sending.push(ip);
            }
        }
        sending.truncate(MAX_IPS);

        // Self-tests start at once, beside the first lookups: they are not on the critical path.
        let zones = self.blocklists.zones().to_vec();
        let health = join_all(zones.iter().map(|z| {
            let dns = dns.clone();
            let lists = self.blocklists.clone();
            let z = z.clone();
            async move { (z.clone(), lists.health(&dns, &z).await) }
        }));
        let routing = join_all(recipient_domains.iter().map(|d| recipient_routing(&dns, d)));
        let sender = async {
            match &sender_domain {
                Some(d) => Some(sender_records(&dns, d).await),
                None => None,
            }
        };
        let ptrs = join_all(sending.iter().map(|ip| reverse_dns(&dns, *ip)));
        let (health, routing, sender, ptrs) = tokio::join!(health, routing, sender, ptrs);

        let mut findings = Vec::new();
        if !unchecked_domains.is_empty() {
            findings.push(Finding::new(
                Found::RecipientDomain(Routing::NotChecked),
                format!("{} more domains", unchecked_domains.len()),
                format!(
                    "not checked: limit of {MAX_DOMAINS} recipient domains per notice ({}{})",
                    unchecked_domains
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if unchecked_domains.len() > 5 { ", …" } else { "" }
                ),
            ));
        }
        for ip in not_ours.iter().take(MAX_IPS) {
            findings.push(Finding::new(
                Found::SenderListed(OurListing::NotOurs),
                ip.to_string(),
                "named by the notice, not one of ours (outside sending_ips): not checked, and not blamed on our servers",
            ));
        }
        // Every mail server address found (probed), and the public ones (blocklists).
        let mut mx_all: Vec<IpAddr> = Vec::new();
        for (finding, ips) in routing {
            findings.push(finding);
            for ip in ips {
                if !mx_all.contains(&ip) {
                    mx_all.push(ip);
                }
            }
        }
        let mx_ips: Vec<IpAddr> = mx_all.iter().copied().filter(is_public).take(MAX_IPS).collect();
        if let Some(f) = sender {
            findings.push(f);
        }
        findings.extend(blocking_us(notice, &not_ours, &self.sending_ips));

        // Blocklists: the recipient's servers (the notice's remote IP, else the MX hosts) and ours.
        let trusted: Vec<String> = health
            .iter()
            .filter(|(_, h)| *h == Health::Trusted)
            .map(|(z, _)| z.clone())
            .collect();
        for (zone, h) in &health {
            if let Health::Untrusted(why) = h {
                findings.push(Finding::new(
                    Found::BlocklistZone(ZoneHealth::ListError),
                    zone.clone(),
                    why.clone(),
                ));
            }
        }
        let recipient_ips = if remote_ips.is_empty() {
            mx_ips.clone()
        } else {
            remote_ips
        };
        // No zones configured (`dnsbl.zones: []`): the blocklist checks are off, not failing.
        let checked: &[IpAddr] = if health.is_empty() { &[] } else { &recipient_ips };
        let sending: &[IpAddr] = if health.is_empty() { &[] } else { &sending };
        let listings = join_all(
            checked
                .iter()
                .map(|ip| (false, *ip))
                .chain(sending.iter().map(|ip| (true, *ip)))
                .map(|(ours, ip)| {
                    let dns = dns.clone();
                    let lists = self.blocklists.clone();
                    let zones = trusted.clone();
                    async move {
                        let results = join_all(zones.iter().map(|z| lists.query(&dns, z, ip))).await;
                        listing_finding(ours, ip, &zones, &results)
                    }
                }),
        );
        let probe = async {
            if !self.probe_smtp {
                return None;
            }
            // Only a public address is ever connected to, whatever the MX says.
            match mx_all.iter().find(|ip| self.probe_private || is_public(ip)) {
                Some(ip) => Some(probe::probe(*ip, self.smtp_port, deadline).await),
                None if !mx_all.is_empty() => Some(Finding::new(
                    Found::SmtpProbe(Reachability::NotProbed),
                    mx_all.iter().map(|ip| ip.to_string()).collect::<Vec<_>>().join(", "),
                    "the recipient's mail servers have no public address (loopback, private, link-local or reserved): not connected to, and no one outside can deliver there either",
                )),
                None => None,
            }
        };
        let (listings, probe) = tokio::join!(listings, probe);
        findings.extend(listings);
        findings.extend(ptrs);
        findings.extend(probe);
        Diagnosis { findings }
    }
}

fn push_unique(mut v: Vec<IpAddr>, ip: IpAddr) -> Vec<IpAddr> {
    if !v.contains(&ip) {
        v.push(ip);
    }
    v
}

/// The domain of an address, lower-cased.
pub fn domain_of(address: &str) -> Option<String> {
    let d = address
        .rsplit_once('@')?
        .1
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    (!d.is_empty()).then_some(d)
}

fn failure_detail(what: &str, f: &Failure) -> String {
    format!("{what}: the lookup failed ({f}); this says nothing about whether the records exist")
}

/// RFC 5321 §5.1 and RFC 7505: where mail for a domain goes. Returns the finding and the
/// addresses found for its mail servers.
async fn recipient_routing(dns: &Dns, domain: &str) -> (Finding, Vec<IpAddr>) {
    let f = |result: Routing, detail: String| Finding::new(Found::RecipientDomain(result), domain, detail);
    match dns.mx(domain).await {
        Outcome::NxDomain => (
            f(Routing::Nxdomain, format!("{domain} does not exist (NXDOMAIN)")),
            vec![],
        ),
        Outcome::Failed(e) => (
            f(Routing::DnsError, failure_detail(&format!("MX of {domain}"), &e)),
            vec![],
        ),
        Outcome::NoData => match dns.addresses(domain).await {
            Outcome::Answer(ips, _) => {
                let list = ips.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
                (
                    f(
                        Routing::Ok,
                        format!("no MX; its address ({list}) takes mail as the implicit MX (RFC 5321 §5.1)"),
                    ),
                    ips,
                )
            }
            Outcome::Failed(e) => (
                f(
                    Routing::DnsError,
                    failure_detail(&format!("address of {domain}"), &e),
                ),
                vec![],
            ),
            Outcome::NxDomain | Outcome::NoData => (
                f(
                    Routing::NoMxNoAddress,
                    format!("{domain} has no MX record and no address: no server takes its mail"),
                ),
                vec![],
            ),
        },
        Outcome::Answer(mx, _) => {
            if mx.iter().all(|(_, h)| h == "." || h.is_empty()) {
                return (
                    f(
                        Routing::NullMx,
                        format!("{domain} publishes a null MX (RFC 7505): it accepts no mail at all"),
                    ),
                    vec![],
                );
            }
            let mut hosts: Vec<&(u16, String)> = mx.iter().filter(|(_, h)| h != ".").collect();
            hosts.sort_by_key(|(pref, _)| *pref);
            // A domain may publish hundreds of MX hosts (or a hostile one, to cost us queries):
            // the most preferred few are looked up.
            let unchecked = hosts.len().saturating_sub(MAX_MX_HOSTS);
            hosts.truncate(MAX_MX_HOSTS);
            let lookups = join_all(hosts.iter().map(|(_, h)| async move {
                match h.trim_matches(['[', ']']).parse::<IpAddr>() {
                    Ok(ip) => (Outcome::Answer(vec![ip], false), true),
                    Err(_) => (dns.addresses(h).await, false),
                }
            }))
            .await;
            let mut ips = Vec::new();
            let mut notes = Vec::new();
            let mut failed = Vec::new();
            let mut parts = Vec::new();
            for ((pref, host), (outcome, literal)) in hosts.iter().zip(lookups) {
                if literal {
                    notes.push(format!(
                        "MX {host} is an IP address, which RFC 5321 does not allow"
                    ));
                }
                match outcome {
                    Outcome::Answer(a, aliased) => {
                        if aliased {
                            notes.push(format!(
                                "MX {host} is an alias (CNAME), which RFC 5321 does not allow"
                            ));
                        }
                        parts.push(format!(
                            "{host} (preference {pref}: {})",
                            a.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
                        ));
                        ips.extend(a);
                    }
                    Outcome::Failed(e) => failed.push(format!("{host} ({e})")),
                    Outcome::NxDomain => parts.push(format!("{host} (does not exist)")),
                    Outcome::NoData => parts.push(format!("{host} (no address)")),
                }
            }
            if unchecked > 0 {
                notes.push(format!(
                    "{unchecked} more MX hosts not checked: limit of {MAX_MX_HOSTS} per domain"
                ));
            }
            let note = if notes.is_empty() {
                String::new()
            } else {
                format!("; note: {}", notes.join("; "))
            };
            if !ips.is_empty() {
                (
                    f(Routing::Ok, format!("mail servers: {}{note}", parts.join(", "))),
                    ips,
                )
            } else if !failed.is_empty() {
                (
                    f(
                        Routing::DnsError,
                        format!(
                            "the MX hosts' addresses could not be looked up: {}{note}",
                            failed.join(", ")
                        ),
                    ),
                    vec![],
                )
            } else {
                (
                    f(
                        Routing::MxHostsUnresolvable,
                        format!("{domain}'s MX hosts have no address: {}{note}", parts.join(", ")),
                    ),
                    vec![],
                )
            }
        }
    }
}

/// The sender domain must have an address or an MX: receivers refuse mail from domains with
/// neither.
async fn sender_records(dns: &Dns, domain: &str) -> Finding {
    let f = |result: SenderRecords, detail: String| Finding::new(Found::SenderDomain(result), domain, detail);
    let (addr, mx) = tokio::join!(dns.addresses(domain), dns.mx(domain));
    let has_addr = !addr.answers().is_empty();
    let has_mx = mx.answers().iter().any(|(_, h)| h != ".");
    if has_addr || has_mx {
        let mut what = Vec::new();
        if has_addr {
            what.push("an address");
        }
        if has_mx {
            what.push("MX records");
        }
        return f(SenderRecords::Ok, format!("{domain} has {}", what.join(" and ")));
    }
    if let Outcome::Failed(e) = addr {
        return f(
            SenderRecords::DnsError,
            failure_detail(&format!("address of {domain}"), &e),
        );
    }
    if let Outcome::Failed(e) = mx {
        return f(
            SenderRecords::DnsError,
            failure_detail(&format!("MX of {domain}"), &e),
        );
    }
    if addr == Outcome::NxDomain || mx == Outcome::NxDomain {
        return f(
            SenderRecords::Nxdomain,
            format!("{domain} does not exist (NXDOMAIN)"),
        );
    }
    f(
        SenderRecords::Missing,
        format!("{domain} has no A, AAAA or MX record: most servers refuse mail from it"),
    )
}

/// Forward-confirmed reverse DNS of one of our sending IPs.
async fn reverse_dns(dns: &Dns, ip: IpAddr) -> Finding {
    let f =
        |result: ReverseDns, detail: String| Finding::new(Found::SenderPtr(result), ip.to_string(), detail);
    match dns.ptr(ip).await {
        Outcome::NxDomain | Outcome::NoData => f(
            ReverseDns::NoPtr,
            format!("{ip} has no reverse DNS (PTR): many receivers refuse mail from it"),
        ),
        Outcome::Failed(e) => f(ReverseDns::DnsError, failure_detail(&format!("PTR of {ip}"), &e)),
        Outcome::Answer(names, _) => {
            let forward = join_all(names.iter().take(4).map(|n| dns.addresses(n))).await;
            if forward.iter().any(|o| o.answers().contains(&ip)) {
                f(ReverseDns::Ok, format!("{ip} → {} → {ip}", names.join(", ")))
            } else if let Some(Outcome::Failed(e)) = forward.iter().find(|o| o.failed()) {
                f(
                    ReverseDns::DnsError,
                    failure_detail(&format!("address of {}", names.join(", ")), e),
                )
            } else {
                f(
                    ReverseDns::Mismatch,
                    format!(
                        "{ip} → {}, but that name does not resolve back to {ip}",
                        names.join(", ")
                    ),
                )
            }
        }
    }
}

/// What the blocklists say about one IP: a recipient server's (`ours` false) or ours.
fn listing_finding(ours: bool, ip: IpAddr, zones: &[String], results: &[Listing]) -> Finding {
    let mut listed = Vec::new();
    let mut errors = Vec::new();
    for (zone, r) in zones.iter().zip(results) {
        match r {
            Listing::Listed { code, reason } => listed.push(match reason {
                Some(t) => format!("{zone} ({code}: {t})"),
                None => format!("{zone} ({code})"),
            }),
            Listing::Error(e) => errors.push(e.clone()),
            Listing::Clean => {}
        }
    }
    let (result, detail) = if !listed.is_empty() {
        (
            TheirListing::Listed,
            format!("{ip} is listed on {}", listed.join(", ")),
        )
    } else if !errors.is_empty() {
        (TheirListing::ListError, errors.join("; "))
    } else if zones.is_empty() {
        (
            TheirListing::ListError,
            "no blocklist could be used (every zone failed its self-test)".to_string(),
        )
    } else {
        (
            TheirListing::Clean,
            format!("{ip} is on none of {}", zones.join(", ")),
        )
    };
    let found = if ours {
        Found::SenderListed(result.into())
    } else {
        Found::RecipientListed(result)
    };
    Finding::new(found, ip.to_string(), detail)
}

/// The remote server's own words refusing our server, per recipient. A refusal that names
/// only a client that is not ours (an IP in `not_ours`, outside `ours`, named only by the
/// notice) says nothing about our servers: it is reported as not ours.
fn blocking_us(notice: &Notice, not_ours: &[IpAddr], ours: &[Network]) -> Vec<Finding> {
    notice
        .recipients
        .iter()
        .filter_map(|r| {
            let d = r.diagnostic.as_deref()?;
            let lower = d.to_ascii_lowercase();
            let words = crate::notice::wording::REFUSES_OUR_SERVER
                .iter()
                .any(|w| lower.contains(w));
            let policy = crate::notice::codes::status_codes(d)
                .iter()
                .any(|c| c.get(1..4) == Some(".7."));
            if !(words || policy) {
                return None;
            }
            let ips = crate::notice::address::ip_literals(d);
            let names_stranger = ips.iter().any(|(_, ip)| not_ours.contains(ip));
            let names_ours = ips.iter().any(|(_, ip)| ours.iter().any(|n| n.contains(ip)));
            Some(if names_stranger && !names_ours {
                Finding::new(
                    Found::BlockedByRecipient(Refusal::NotOurs),
                    r.address.clone(),
                    format!(
                        "the server refused a client the notice names, not one of ours (outside sending_ips): the server said: \"{d}\""
                    ),
                )
            } else {
                Finding::new(
                    Found::BlockedByRecipient(Refusal::BlockingUs),
                    r.address.clone(),
                    format!("the server said: \"{d}\""),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::Recipient;

    #[test]
    fn a_finding_prints_its_check_and_result_as_before() {
        let f = Finding::new(Found::SenderListed(OurListing::NotOurs), "192.0.2.9", "named");
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"check":"sender_listed","subject":"192.0.2.9","result":"not-ours","detail":"named"}"#
        );
    }

    #[test]
    fn remote_words_that_refuse_us() {
        let n = Notice {
            kind: crate::notice::Kind::Delayed,
            generator: None,
            reporting_mta: None,
            sending_ips: vec![],
            original: None,
            language: None,
            recipients: vec![
                Recipient {
                    address: "a@x.example".into(),
                    diagnostic: Some("554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org".into()),
                    ..Recipient::default()
                },
                Recipient {
                    address: "b@x.example".into(),
                    diagnostic: Some("452 4.2.2 Mailbox full".into()),
                    ..Recipient::default()
                },
            ],
        };
        let f = blocking_us(&n, &[], &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].subject, "a@x.example");
        assert!(f[0].detail.contains("blocked using zen.spamhaus.org"));
    }
}
