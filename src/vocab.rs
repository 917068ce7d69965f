//! The words the program decides with, as types: a typo in a decision is a compile error.
//! Strings appear only at the edges (the database, JSON, words for people), through `as_str`
//! and `parse`. A leaf module: it depends on nothing else of the crate.

/// Where a conversation about one delayed message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreadState {
    /// Notices about it are answered when something changes.
    Open,
    /// Its final failure was told: later notices are recorded quietly.
    Closed,
    /// The user asked for no more messages about it.
    Muted,
}

impl ThreadState {
    /// The word the state database keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadState::Open => "open",
            ThreadState::Closed => "closed",
            ThreadState::Muted => "muted",
        }
    }

    /// The state a stored word names (`None` for anything else).
    pub fn parse(word: &str) -> Option<ThreadState> {
        match word {
            "open" => Some(ThreadState::Open),
            "closed" => Some(ThreadState::Closed),
            "muted" => Some(ThreadState::Muted),
            _ => None,
        }
    }
}

impl std::fmt::Display for ThreadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a message of the bot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The user's answer about a notice.
    Reply,
    /// The last message of a thread (the final failure).
    Closing,
    /// The answer to a command.
    Command,
    /// A summary of what the hourly limit held back, to the user.
    Summary,
    /// The package to Support.
    Package,
    /// A summary of the packages the hourly limit held back, to Support.
    PackageSummary,
    /// The weekly digest to the user (`digest: weekly`; not counted against the hourly limit).
    Digest,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::Reply,
        Role::Closing,
        Role::Command,
        Role::Summary,
        Role::Package,
        Role::PackageSummary,
        Role::Digest,
    ];
    /// The roles that count against `limits.replies_per_hour` (messages to the user).
    pub const TO_USER: &'static [Role] = &[Role::Reply, Role::Closing, Role::Command, Role::Summary];
    /// The roles that count against `limits.forwards_per_hour` (messages to Support).
    pub const TO_SUPPORT: &'static [Role] = &[Role::Package, Role::PackageSummary];

    /// The word the state database keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reply => "reply",
            Role::Closing => "closing",
            Role::Command => "command",
            Role::Summary => "summary",
            Role::Package => "package",
            Role::PackageSummary => "package-summary",
            Role::Digest => "digest",
        }
    }

    /// The role a stored word names (`None` for anything else).
    pub fn parse(word: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == word)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a notice or a command, as the record and `history` say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `answered`.
    Answered,
    /// `updated`.
    Updated,
    /// `closed`.
    Closed,
    /// `repeat`.
    Repeat,
    /// `after-close`.
    AfterClose,
    /// `muted`.
    Muted,
    /// `disputed`.
    Disputed,
    /// `held`.
    Held,
    /// `recheck`.
    Recheck,
    /// `ours`.
    Ours,
    /// `skipped`.
    Skipped,
    /// `refused-sender`.
    RefusedSender,
    /// `refused-automatic`.
    RefusedAutomatic,
    /// `refused-unauthenticated`.
    RefusedUnauthenticated,
    /// `refused-never`.
    RefusedNever,
    /// `no-notice`.
    NoNotice,
    /// `error`.
    Error,
}

impl Outcome {
    /// The word the state database keeps and `history` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Updated => "updated",
            Outcome::Closed => "closed",
            Outcome::Repeat => "repeat",
            Outcome::AfterClose => "after-close",
            Outcome::Muted => "muted",
            Outcome::Disputed => "disputed",
            Outcome::Held => "held",
            Outcome::Recheck => "recheck",
            Outcome::Ours => "ours",
            Outcome::Skipped => "skipped",
            Outcome::RefusedSender => "refused-sender",
            Outcome::RefusedAutomatic => "refused-automatic",
            Outcome::RefusedUnauthenticated => "refused-unauthenticated",
            Outcome::RefusedNever => "refused-never",
            Outcome::NoNotice => "no-notice",
            Outcome::Error => "error",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which SMTP server a message goes out through: the global `smtp` block, or a mailbox's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Via {
    /// The global `smtp` block.
    Global,
    /// The `smtp` block of the mailbox with this name.
    Mailbox(String),
}

impl Via {
    /// The key the state database keeps (`""` for the global server, else the mailbox name).
    pub fn key(&self) -> &str {
        match self {
            Via::Global => "",
            Via::Mailbox(name) => name,
        }
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Global => f.write_str("global"),
            Via::Mailbox(name) => write!(f, "mailbox {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_states_round_trip() {
        for s in [ThreadState::Open, ThreadState::Closed, ThreadState::Muted] {
            assert_eq!(ThreadState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ThreadState::parse("Open"), None);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("Package"), None);
    }
}
