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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_states_round_trip() {
        for s in [ThreadState::Open, ThreadState::Closed, ThreadState::Muted] {
            assert_eq!(ThreadState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ThreadState::parse("Open"), None);
    }
}
