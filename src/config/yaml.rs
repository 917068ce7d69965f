//! Where a key is in the YAML text, for error messages that name the line.

/// The 1-based line of a key path such as `dns.timeout` or `dnsbl.zones[1]` in block-style
/// YAML (flow-style values are found on their key's line).
pub(super) fn line_of_path(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut pos = 0usize; // search from this line
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for segment in path.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let mut hit = None;
        for (i, l) in lines.iter().enumerate().skip(pos) {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if let Some(p) = parent_indent {
                if indent(l) <= p && i > pos {
                    break;
                }
            }
            let t = t.trim_start_matches("- ");
            if t.strip_prefix(name)
                .is_some_and(|r| r.trim_start().starts_with(':'))
            {
                hit = Some(i);
                break;
            }
        }
        let i = hit?;
        found = Some(i);
        parent_indent = Some(indent(lines[i]));
        pos = i;
        if let Some(n) = index {
            let flow = lines[i].contains('[');
            if !flow {
                let item = lines
                    .iter()
                    .enumerate()
                    .skip(i + 1)
                    .take_while(|(_, l)| {
                        l.trim().is_empty()
                            || indent(l) > indent(lines[i])
                            || l.trim_start().starts_with("- ")
                    })
                    .filter(|(_, l)| l.trim_start().starts_with("- "))
                    .nth(n)
                    .map(|(j, _)| j);
                if let Some(j) = item {
                    found = Some(j);
                    pos = j;
                }
            }
        }
    }
    found.map(|i| i + 1)
}
