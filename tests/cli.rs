//! `bouncedoc parse` as a user runs it: summaries, `--json` lines in input order, errors for
//! files that cannot be read or are not mail (the rest still run), exit code 1 at the end.

use std::path::Path;
use std::process::Command;

fn bouncedoc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bouncedoc"))
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(name)
        .display()
        .to_string()
}

#[test]
fn json_lines_in_order_with_errors_and_exit_1() {
    let dir = std::env::temp_dir().join(format!("bouncedoc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let not_mail = dir.join("not-mail.bin");
    std::fs::write(&not_mail, b"\x00\x01 this is not mail\n").expect("write");
    let missing = dir.join("missing.eml");
    let files = [
        fixture("examples/exchange-delay.eml"),
        missing.display().to_string(),
        not_mail.display().to_string(),
        fixture("tests/fixtures/qmail-failure.eml"),
    ];
    let out = bouncedoc()
        .arg("parse")
        .arg("--json")
        .args(&files)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "exit 1 when a file failed");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 4, "one line per file: {stdout}");
    for (line, file) in lines.iter().zip(&files) {
        assert_eq!(line["file"], file.as_str());
    }
    assert_eq!(lines[0]["kind"], "delayed");
    assert_eq!(lines[0]["recipients"][0]["address"], "tom@harbor-freight.example");
    assert!(lines[1]["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(
        lines[1].as_object().map(|o| o.len()),
        Some(2),
        "error lines hold file and error only"
    );
    assert!(lines[2]["error"]
        .as_str()
        .is_some_and(|e| e.contains("not an email")));
    assert_eq!(lines[3]["kind"], "failed");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn summary_says_what_happened() {
    let out = bouncedoc()
        .args(["parse", &fixture("examples/exchange-delay.eml")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("delayed (still being retried)"), "{text}");
    assert!(
        text.contains("tom@harbor-freight.example: delayed 4.4.7"),
        "{text}"
    );
    assert!(text.contains("blocked using zen.spamhaus.org"), "{text}");
    assert!(
        text.contains("retried until 2026-11-28T10:05:00Z (1d 20h 3m left"),
        "{text}"
    );
}

#[test]
fn no_files_is_a_usage_error() {
    let out = bouncedoc().arg("parse").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn history_never_creates_a_database() {
    let dir = std::env::temp_dir().join(format!("bouncedoc-cli-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let state = dir.join("state");
    let config = dir.join("config.yaml");
    std::fs::write(&config, format!("state_dir: {}\n", state.display())).expect("config");
    let out = bouncedoc()
        .args(["history", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no state database at"), "{err}");
    assert!(!state.exists(), "history created {}", state.display());
    let _ = std::fs::remove_dir_all(&dir);
}
