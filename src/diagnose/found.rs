//! What each check can find, as one enum per check: a decision that asks a check for a result
//! it cannot give (a sender-domain "null MX", a blocklist "no PTR") does not compile.
//!
//! The words are what `diagnose --json` prints in `result`; they did not change when the one
//! shared result type became one type per check.

use super::Check;

/// Declares one check's result enum with the word each variant prints.
macro_rules! results {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident => $word:literal, )+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $name {
            /// Every result this check can give.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word `diagnose --json` prints.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

results! {
    /// The recipient domain's mail routing (RFC 5321 §5.1, RFC 7505).
    Routing {
        /// MX hosts (or the implicit MX) with an address.
        Ok => "ok",
        /// The domain does not exist.
        Nxdomain => "nxdomain",
        /// A null MX: the domain accepts no mail.
        NullMx => "null-mx",
        /// Neither an MX record nor an address.
        NoMxNoAddress => "no-mx-no-address",
        /// MX records whose hosts have no address.
        MxHostsUnresolvable => "mx-hosts-unresolvable",
        /// A lookup failed: nothing is known.
        DnsError => "dns-error",
        /// A note: more domains than one notice checks.
        NotChecked => "not-checked",
    }
}

results! {
    /// The sender domain's own records (receivers refuse mail from a domain with none).
    SenderRecords {
        /// An address or MX records.
        Ok => "ok",
        /// The domain does not exist.
        Nxdomain => "nxdomain",
        /// No A, AAAA or MX record.
        Missing => "missing",
        /// A lookup failed: nothing is known.
        DnsError => "dns-error",
    }
}

results! {
    /// A recipient server's IP against the blocklists.
    TheirListing {
        /// On none of the trusted zones.
        Clean => "clean",
        /// On at least one zone.
        Listed => "listed",
        /// No zone could answer.
        ListError => "list-error",
    }
}

results! {
    /// One of our sending IPs against the blocklists.
    OurListing {
        /// On none of the trusted zones.
        Clean => "clean",
        /// On at least one zone.
        Listed => "listed",
        /// No zone could answer.
        ListError => "list-error",
        /// A note: an IP the notice names that is not one of ours (not checked, not blamed).
        NotOurs => "not-ours",
    }
}

results! {
    /// The remote server's own words about refusing a client.
    Refusal {
        /// It refuses our server.
        BlockingUs => "blocking-us",
        /// A note: it refused a client the notice names that is not ours.
        NotOurs => "not-ours",
    }
}

results! {
    /// Forward-confirmed reverse DNS of one of our sending IPs.
    ReverseDns {
        /// The PTR name resolves back to the IP.
        Ok => "ok",
        /// No PTR record.
        NoPtr => "no-ptr",
        /// The PTR name does not resolve back to the IP.
        Mismatch => "mismatch",
        /// A lookup failed: nothing is known.
        DnsError => "dns-error",
    }
}

results! {
    /// A blocklist zone's own health (only an untrusted zone is reported).
    ZoneHealth {
        /// Failed its self-test or answers with errors: not used.
        ListError => "list-error",
    }
}

results! {
    /// The optional SMTP probe of the recipient's mail server.
    Reachability {
        /// Answers and offers STARTTLS.
        Reachable => "reachable",
        /// Nothing listens, or the connection failed.
        Refused => "refused",
        /// No connection or no answer in time.
        Timeout => "timeout",
        /// Answers but offers no STARTTLS.
        NoStarttls => "no-starttls",
        /// A note: the servers have no public address, so none was connected to.
        NotProbed => "not-probed",
    }
}

impl From<TheirListing> for OurListing {
    fn from(l: TheirListing) -> OurListing {
        match l {
            TheirListing::Clean => OurListing::Clean,
            TheirListing::Listed => OurListing::Listed,
            TheirListing::ListError => OurListing::ListError,
        }
    }
}

/// A check and its result, together: which check ran is the variant, what it found is the
/// check's own result type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Found {
    /// [`Check::RecipientDomain`].
    RecipientDomain(Routing),
    /// [`Check::SenderDomain`].
    SenderDomain(SenderRecords),
    /// [`Check::RecipientListed`].
    RecipientListed(TheirListing),
    /// [`Check::BlockedByRecipient`].
    BlockedByRecipient(Refusal),
    /// [`Check::SenderListed`].
    SenderListed(OurListing),
    /// [`Check::SenderPtr`].
    SenderPtr(ReverseDns),
    /// [`Check::BlocklistZone`].
    BlocklistZone(ZoneHealth),
    /// [`Check::SmtpProbe`].
    SmtpProbe(Reachability),
}

impl Found {
    /// Which check this is.
    pub fn check(self) -> Check {
        match self {
            Found::RecipientDomain(_) => Check::RecipientDomain,
            Found::SenderDomain(_) => Check::SenderDomain,
            Found::RecipientListed(_) => Check::RecipientListed,
            Found::BlockedByRecipient(_) => Check::BlockedByRecipient,
            Found::SenderListed(_) => Check::SenderListed,
            Found::SenderPtr(_) => Check::SenderPtr,
            Found::BlocklistZone(_) => Check::BlocklistZone,
            Found::SmtpProbe(_) => Check::SmtpProbe,
        }
    }

    /// The result's word, as `diagnose --json` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Found::RecipientDomain(r) => r.as_str(),
            Found::SenderDomain(r) => r.as_str(),
            Found::RecipientListed(r) => r.as_str(),
            Found::BlockedByRecipient(r) => r.as_str(),
            Found::SenderListed(r) => r.as_str(),
            Found::SenderPtr(r) => r.as_str(),
            Found::BlocklistZone(r) => r.as_str(),
            Found::SmtpProbe(r) => r.as_str(),
        }
    }

    /// True for a note rather than a result: something not checked (a limit), or an IP a
    /// notice names that is not ours.
    pub fn is_note(self) -> bool {
        matches!(
            self,
            Found::RecipientDomain(Routing::NotChecked)
                | Found::SenderListed(OurListing::NotOurs)
                | Found::BlockedByRecipient(Refusal::NotOurs)
        )
    }

    /// True when the check found nothing wrong.
    pub fn is_fine(self) -> bool {
        matches!(
            self,
            Found::RecipientDomain(Routing::Ok)
                | Found::SenderDomain(SenderRecords::Ok)
                | Found::RecipientListed(TheirListing::Clean)
                | Found::SenderListed(OurListing::Clean)
                | Found::SenderPtr(ReverseDns::Ok)
                | Found::SmtpProbe(Reachability::Reachable)
        )
    }

    /// Every check with every result it can give, for tests and listings.
    pub fn all() -> Vec<Found> {
        let mut all = Vec::new();
        all.extend(Routing::ALL.iter().map(|r| Found::RecipientDomain(*r)));
        all.extend(SenderRecords::ALL.iter().map(|r| Found::SenderDomain(*r)));
        all.extend(TheirListing::ALL.iter().map(|r| Found::RecipientListed(*r)));
        all.extend(Refusal::ALL.iter().map(|r| Found::BlockedByRecipient(*r)));
        all.extend(OurListing::ALL.iter().map(|r| Found::SenderListed(*r)));
        all.extend(ReverseDns::ALL.iter().map(|r| Found::SenderPtr(*r)));
        all.extend(ZoneHealth::ALL.iter().map(|r| Found::BlocklistZone(*r)));
        all.extend(Reachability::ALL.iter().map(|r| Found::SmtpProbe(*r)));
        all
    }
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_words_are_the_twenty_the_json_contract_names() {
        // The `result` words `diagnose --json` printed before results were split per check.
        let contract: BTreeSet<&str> = [
            "ok",
            "nxdomain",
            "null-mx",
            "no-mx-no-address",
            "mx-hosts-unresolvable",
            "dns-error",
            "missing",
            "clean",
            "listed",
            "list-error",
            "blocking-us",
            "no-ptr",
            "mismatch",
            "reachable",
            "refused",
            "timeout",
            "no-starttls",
            "not-checked",
            "not-ours",
            "not-probed",
        ]
        .into();
        let printed: BTreeSet<&str> = Found::all().into_iter().map(Found::as_str).collect();
        assert_eq!(printed, contract);
    }

    #[test]
    fn every_check_has_results_and_none_is_both_a_note_and_fine() {
        let all = Found::all();
        assert_eq!(all.len(), 30);
        for f in &all {
            assert!(!(f.is_note() && f.is_fine()), "{f:?}");
        }
        let checks: BTreeSet<String> = all.iter().map(|f| format!("{:?}", f.check())).collect();
        assert_eq!(checks.len(), 8);
    }
}
