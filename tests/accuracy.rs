//! Reading accuracy on the shared bounce corpus and notice set (issue 2's acceptance figures).
//!
//! Run with `cargo test --release --test accuracy -- --nocapture` to see the figures;
//! `BOUNCEDOC_ACCURACY_VERBOSE=1` also lists every miss.

mod support;

use bouncedoc::notice::{self, Action};
use std::collections::BTreeMap;

fn verbose() -> bool {
    std::env::var_os("BOUNCEDOC_ACCURACY_VERBOSE").is_some()
}

/// Sisimai-only pseudo codes (`x.0.9NN`, `x.9.NNN`) are not in the mail: compare the class only.
fn is_pseudo(status: &str) -> bool {
    let parts: Vec<&str> = status.split('.').collect();
    parts.len() == 3
        && ((parts[1] == "0" && parts[2].len() == 3 && parts[2].starts_with('9')) || parts[1] == "9")
}

struct Row {
    recipient: String,
    status: String,
}

#[test]
fn corpus_accuracy() {
    let Some(shared) = support::shared_dir("corpus/expected.tsv") else {
        return;
    };
    let corpus = shared.join("corpus");
    let files_tsv = std::fs::read_to_string(corpus.join("files.tsv")).expect("files.tsv");
    let expected_tsv = std::fs::read_to_string(corpus.join("expected.tsv")).expect("expected.tsv");

    let mut delay_truth: BTreeMap<String, bool> = BTreeMap::new();
    for line in files_tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        delay_truth.insert(cols[0].to_string(), cols[6] == "1");
    }
    let mut rows: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for line in expected_tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, family) = (cols[0], cols[2]);
        let recipient = cols[11].trim().to_ascii_lowercase();
        // Non-bounces have no recipients to find; Sisimai's placeholder for "no recipient
        // in the mail" is invented, not read.
        if family == "not-bounce" || recipient.is_empty() || recipient.ends_with("@libsisimai.org.invalid") {
            continue;
        }
        rows.entry(file.to_string()).or_default().push(Row {
            recipient,
            status: cols[3].to_string(),
        });
    }

    let (mut tp, mut fp, mut fne) = (0u32, 0u32, 0u32);
    let (mut expected_n, mut found_n, mut status_n, mut status_ok) = (0u32, 0u32, 0u32, 0u32);
    for (file, is_delay) in &delay_truth {
        let raw = std::fs::read(corpus.join(file)).expect("corpus file");
        // A file the reader cannot read still counts: its recipients and its delay (if it is
        // one) are misses, not left out of the figures.
        let n = match notice::read(&raw) {
            Ok(n) => n,
            Err(e) => {
                if verbose() {
                    eprintln!("UNREADABLE {file}: {e}");
                }
                let rows_n = rows.get(file).map_or(0, Vec::len) as u32;
                expected_n += rows_n;
                status_n += rows
                    .get(file)
                    .map_or(0, |r| r.iter().filter(|r| !r.status.is_empty()).count())
                    as u32;
                if *is_delay {
                    fne += 1;
                }
                continue;
            }
        };
        let predicted = n.recipients.iter().any(|r| r.action == Some(Action::Delayed));
        match (predicted, *is_delay) {
            (true, true) => tp += 1,
            (true, false) => {
                fp += 1;
                if verbose() {
                    eprintln!("DELAY-FP {file}");
                }
            }
            (false, true) => {
                fne += 1;
                if verbose() {
                    eprintln!("DELAY-FN {file}");
                }
            }
            _ => {}
        }
        for row in rows.get(file).map(Vec::as_slice).unwrap_or(&[]) {
            expected_n += 1;
            let Some(r) = n
                .recipients
                .iter()
                .find(|r| r.address.eq_ignore_ascii_case(&row.recipient))
            else {
                if verbose() {
                    let got: Vec<&str> = n.recipients.iter().map(|r| r.address.as_str()).collect();
                    eprintln!(
                        "RCPT-MISS {file}: want {} got {got:?} kind {:?}",
                        row.recipient, n.kind
                    );
                }
                continue;
            };
            found_n += 1;
            if row.status.is_empty() {
                continue;
            }
            status_n += 1;
            let got = r.status.as_deref().unwrap_or("");
            let ok = if is_pseudo(&row.status) {
                got.get(..1) == row.status.get(..1)
            } else {
                got == row.status
            };
            if ok {
                status_ok += 1;
            } else if verbose() {
                eprintln!(
                    "STATUS {file} {}: want {} got {got} ({:?})",
                    row.recipient, row.status, r.diagnostic
                );
            }
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from((tp + fne).max(1));
    let f1 = 2.0 * precision * recall / (precision + recall).max(f64::EPSILON);
    let rcpt_recall = f64::from(found_n) / f64::from(expected_n.max(1));
    let status_agree = f64::from(status_ok) / f64::from(status_n.max(1));
    println!(
        "corpus ({} files): delay F1 {f1:.3} (tp {tp}, fp {fp}, fn {fne}); recipients {found_n}/{expected_n} = {:.1}%; status {status_ok}/{status_n} = {:.1}%",
        delay_truth.len(),
        rcpt_recall * 100.0,
        status_agree * 100.0
    );
    assert!(
        delay_truth.len() >= 370,
        "only {} corpus files listed",
        delay_truth.len()
    );
    assert!(expected_n >= 380, "only {expected_n} expected recipients");
    assert!(f1 >= 0.95, "delay-notice F1 {f1:.3} < 0.95");
    assert!(rcpt_recall >= 0.97, "recipient recall {rcpt_recall:.3} < 0.97");
    assert!(status_agree >= 0.97, "status agreement {status_agree:.3} < 0.97");
}

#[test]
fn notices_every_field() {
    let Some(shared) = support::shared_dir("notices/expected.json") else {
        return;
    };
    let dir = shared.join("notices");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"))
            .expect("json");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (file, want) in expected.as_object().expect("object") {
        let raw = std::fs::read(dir.join(file)).expect("notice file");
        let n = notice::read(&raw).expect("readable");
        let got = serde_json::to_value(&n).expect("serializable");
        let mut check = |field: &str, got: &serde_json::Value, want: &serde_json::Value| {
            checked += 1;
            if got != want {
                wrong.push(format!("{file}: {field}: want {want} got {got}"));
            }
        };
        check("kind", &got["kind"], &want["kind"]);
        let want_r = want["recipients"].as_array().expect("recipients");
        check(
            "recipients.len",
            &serde_json::json!(n.recipients.len()),
            &serde_json::json!(want_r.len()),
        );
        for (i, wr) in want_r.iter().enumerate() {
            for key in ["address", "action", "status"] {
                check(
                    &format!("recipients[{i}].{key}"),
                    &got["recipients"][i][key],
                    &wr[key],
                );
            }
        }
        for key in ["remote_host", "remote_ip", "retry_until"] {
            if let Some(w) = want.get(key) {
                check(key, &got["recipients"][0][key], w);
            }
        }
        if let Some(w) = want.get("original_message_id") {
            check("original.message_id", &got["original"]["message_id"], w);
        }
    }
    println!("notices: {} fields checked, {} wrong", checked, wrong.len());
    assert!(
        expected.as_object().map_or(0, |o| o.len()) >= 5,
        "too few notices listed"
    );
    assert!(wrong.is_empty(), "wrong fields:\n{}", wrong.join("\n"));
}

/// Mail fetched over IMAP has CRLF line endings: every corpus file converted to CRLF must read
/// exactly as its LF original.
#[test]
fn corpus_reads_the_same_with_crlf() {
    let Some(shared) = support::shared_dir("corpus/eml") else {
        return;
    };
    let mut differ = Vec::new();
    let mut n = 0;
    for entry in std::fs::read_dir(shared.join("corpus/eml"))
        .expect("corpus dir")
        .flatten()
    {
        let raw = std::fs::read(entry.path()).expect("corpus file");
        let mut crlf = Vec::with_capacity(raw.len() + raw.len() / 20);
        for &b in &raw {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        n += 1;
        let lf = notice::read(&raw).map(|x| serde_json::to_value(x).expect("json"));
        let cr = notice::read(&crlf).map(|x| serde_json::to_value(x).expect("json"));
        if lf != cr {
            differ.push(format!(
                "{}:\n  LF   {lf:?}\n  CRLF {cr:?}",
                entry.path().display()
            ));
        }
    }
    println!("CRLF: {n} files, {} read differently", differ.len());
    assert!(n >= 370, "only {n} corpus files found");
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
