//! Lists of phrases searched in one pass, ignoring ASCII case (Aho-Corasick): the reader
//! checks dozens of markers against every notice, and one pass over the text is what keeps
//! reading fast.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// An ASCII-case-insensitive automaton of the given kind (`None` only if building fails).
fn build<'a>(phrases: impl Iterator<Item = &'a &'a str>, kind: AhoCorasickKind) -> Option<AhoCorasick> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(kind))
        .build(phrases)
        .ok()
}

/// A compiled list of phrases.
pub struct Phrases {
    automaton: Option<AhoCorasick>,
}

impl Phrases {
    /// Compiles a list (case-insensitive for ASCII letters).
    pub fn new(phrases: &[&str]) -> Phrases {
        // A contiguous NFA: these lists search short strings (subjects, header names, single
        // lines), where a DFA's build time at start-up would never pay back.
        Phrases {
            automaton: build(phrases.iter(), AhoCorasickKind::ContiguousNFA),
        }
    }

    /// Compiles a list into a DFA, for lists searched often enough to repay its build time.
    pub fn dfa(phrases: &[&str]) -> Phrases {
        Phrases {
            automaton: build(phrases.iter(), AhoCorasickKind::DFA),
        }
    }

    /// Each occurrence (non-overlapping) in order: (phrase index, start, end).
    pub fn find_iter<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (usize, usize, usize)> + 'a {
        self.automaton
            .iter()
            .flat_map(move |a| a.find_iter(text))
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
    }

    /// True when any phrase occurs in `text`.
    pub fn any(&self, text: &str) -> bool {
        self.automaton.as_ref().is_some_and(|a| a.is_match(text))
    }
}

/// A list of labelled groups of phrases: which label's phrases occur, first label first.
pub struct Labelled {
    phrases: Phrases,
    labels: Vec<usize>,
    names: Vec<&'static str>,
}

impl Labelled {
    /// Compiles `(label, phrases)` groups, kept in the given order of precedence.
    pub fn new(groups: &[(&'static str, &[&str])]) -> Labelled {
        let mut all = Vec::new();
        let mut labels = Vec::new();
        for (i, (_, phrases)) in groups.iter().enumerate() {
            for p in *phrases {
                all.push(*p);
                labels.push(i);
            }
        }
        Labelled {
            phrases: Phrases::dfa(&all),
            labels,
            names: groups.iter().map(|(n, _)| *n).collect(),
        }
    }

    /// The first label (in precedence order) any of whose phrases occurs in one of `texts`.
    pub fn first_label<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
        self.first_index(texts).map(|i| self.names[i])
    }

    /// As [`Labelled::first_label`], giving the label's position.
    pub fn first_index<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for t in texts {
            let Some(a) = &self.phrases.automaton else {
                return None;
            };
            for m in a.find_overlapping_iter(t) {
                let label = self.labels[m.pattern().as_usize()];
                if best.is_none_or(|b| label < b) {
                    best = Some(label);
                    if label == 0 {
                        return Some(0);
                    }
                }
            }
        }
        best
    }
}

/// One phrase found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The list the phrase belongs to.
    pub list: u8,
    /// Its index in that list (or the list's own tag).
    pub index: u16,
    /// Byte offset where it starts.
    pub start: usize,
    /// Byte offset where it ends.
    pub end: usize,
}

/// Many tagged lists in one automaton: one pass finds every phrase of every list.
pub struct Catalog {
    automaton: Option<AhoCorasick>,
    owners: Vec<(u8, u16)>,
}

impl Catalog {
    /// Compiles `(list, index, phrase)` entries into a DFA: built once (a few milliseconds),
    /// then one cheap pass over each notice's whole text.
    pub fn new(entries: &[(u8, u16, &str)]) -> Catalog {
        let phrases: Vec<&str> = entries.iter().map(|e| e.2).collect();
        Catalog {
            automaton: build(phrases.iter(), AhoCorasickKind::DFA),
            owners: entries.iter().map(|e| (e.0, e.1)).collect(),
        }
    }

    /// Every occurrence of every phrase (overlaps included), in order of their end, found
    /// lazily: a caller may stop early.
    pub fn hits<'a>(&'a self, text: &'a str) -> impl Iterator<Item = Hit> + 'a {
        self.automaton
            .iter()
            .flat_map(move |a| a.find_overlapping_iter(text))
            .map(|m| {
                let (list, index) = self.owners[m.pattern().as_usize()];
                Hit {
                    list,
                    index,
                    start: m.start(),
                    end: m.end(),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_case_insensitively() {
        let p = Phrases::new(&["delivery delayed", "warning:"]);
        assert!(p.any("Subject: DELIVERY Delayed: x"));
        assert!(!p.any("delivered"));
        let l = Labelled::new(&[("a", &["x y"]), ("b", &["z"])]);
        assert_eq!(l.first_label(["z and X Y"]), Some("a"));
        assert_eq!(l.first_label(["only z"]), Some("b"));
        assert_eq!(l.first_label(["none"]), None);
    }
}
