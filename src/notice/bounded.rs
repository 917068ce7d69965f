//! Outside text, cut to a bounded size: every reader looks at a prefix of what it was given,
//! never at an unbounded value. A leaf of `notice`.

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
