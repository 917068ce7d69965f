//! The repository's own notices (`tests/fixtures/*.eml`, `examples/*.eml`), each beside the `.json` the reader
//! must produce: the `bouncedoc parse --json` object without its `file` key.
//!
//! To review a changed reading: `cargo run -- parse --json tests/fixtures/X.eml`.

use std::path::Path;

#[test]
fn every_fixture_reads_as_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    let mut wrong = Vec::new();
    // The fixtures, and the sample notice the README runs.
    let mut entries: Vec<_> = ["tests/fixtures", "tests/fixtures/locales", "examples"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join(d))
                .expect("fixture dir")
                .flatten()
                .map(|e| e.path())
        })
        .collect();
    entries.sort();
    for eml in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
    {
        let raw = std::fs::read(eml).expect("fixture");
        let want: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(eml.with_extension("json"))
                .unwrap_or_else(|_| panic!("{} has no .json beside it", eml.display())),
        )
        .expect("valid json");
        let got =
            serde_json::to_value(bouncedoc::notice::read(&raw).expect("readable")).expect("serializable");
        // The same reading with CRLF line endings (how IMAP delivers mail).
        let crlf = String::from_utf8_lossy(&raw).replace('\n', "\r\n");
        let got_crlf = serde_json::to_value(bouncedoc::notice::read(crlf.as_bytes()).expect("readable"))
            .expect("serializable");
        checked += 1;
        if got != want {
            wrong.push(format!("{}:\n  want {want}\n  got  {got}", eml.display()));
        }
        if got_crlf != got && String::from_utf8(raw.clone()).is_ok() {
            wrong.push(format!(
                "{} (CRLF):\n  LF   {got}\n  CRLF {got_crlf}",
                eml.display()
            ));
        }
    }
    assert!(checked >= 10, "only {checked} fixtures found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
