//! The reader never panics and stays well-formed on damaged input: every corpus, notice and
//! fixture file truncated at many points and with bytes flipped, deleted and inserted.

mod support;

use std::path::{Path, PathBuf};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Reads one input and checks what must hold for any input.
fn check(label: &str, input: &[u8]) {
    let result = std::panic::catch_unwind(|| bouncedoc::notice::read(input));
    let Ok(result) = result else {
        panic!("reader panicked on {label} ({} bytes)", input.len());
    };
    if let Ok(n) = result {
        let json = serde_json::to_string(&n).expect("a notice always serializes");
        assert!(!json.is_empty());
        for r in &n.recipients {
            assert!(
                r.address.contains('@') && !r.address.contains(['\r', '\n']),
                "{label}: bad address {:?}",
                r.address
            );
            if let Some(s) = &r.status {
                assert!(s.split('.').count() == 3, "{label}: bad status {s}");
            }
        }
    }
}

fn mutate_all(files: &[PathBuf]) -> usize {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0;
    for path in files {
        let raw = std::fs::read(path).expect("readable file");
        let name = path.display().to_string();
        // Truncated at 24 points spread over the file, and at a few small sizes.
        for k in 0..24 {
            let cut = raw.len() * k / 24;
            check(&format!("{name} truncated at {cut}"), &raw[..cut]);
            runs += 1;
        }
        for cut in [1, 7, 40, 120] {
            check(&format!("{name} truncated at {cut}"), &raw[..cut.min(raw.len())]);
            runs += 1;
        }
        // Bytes flipped, deleted, inserted (NUL, CR, LF, 0xFF, '<', '@', ':', '=').
        for round in 0..12 {
            let mut m = raw.clone();
            let edits = 1 + round * 3;
            for _ in 0..edits {
                if m.is_empty() {
                    break;
                }
                let at = rng.below(m.len());
                match rng.below(3) {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => {
                        m.remove(at);
                    }
                    _ => {
                        let b = [0u8, b'\r', b'\n', 0xff, b'<', b'@', b':', b'='][rng.below(8)];
                        m.insert(at, b);
                    }
                }
            }
            check(&format!("{name} mutation round {round}"), &m);
            runs += 1;
        }
    }
    runs
}

#[test]
fn fixtures_survive_damage() {
    let files = files_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    assert!(files.len() >= 10);
    let runs = mutate_all(&files);
    println!("fixtures: {runs} damaged inputs read without panic");
}

#[test]
fn shared_corpus_survives_damage() {
    let Some(shared) = support::shared_dir("corpus/eml") else {
        return;
    };
    let mut files = files_in(&shared.join("corpus/eml"));
    files.extend(files_in(&shared.join("notices/eml")));
    assert!(files.len() >= 380, "only {} shared files found", files.len());
    let runs = mutate_all(&files);
    println!(
        "shared corpus: {runs} damaged inputs from {} files read without panic",
        files.len()
    );
}

#[test]
fn hostile_shapes() {
    // Deep nesting, endless headers, huge lines, many recipients, binary noise.
    let mut nested = String::from("From: a@b.example\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n");
    for i in 0..200 {
        nested.push_str(&format!(
            "--b{i}\nContent-Type: multipart/mixed; boundary=\"b{}\"\n\n",
            i + 1
        ));
    }
    check("deep nesting", nested.as_bytes());
    let mut many = String::from("From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=z\n\n--z\nContent-Type: message/delivery-status\n\n");
    for i in 0..20_000 {
        many.push_str(&format!(
            "Final-Recipient: rfc822; u{i}@x.example\nAction: failed\nStatus: 5.1.1\n\n"
        ));
    }
    check("20000 recipients", many.as_bytes());
    let mut mixed = String::from("From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\nContent-Type: multipart/report; report-type=delivery-status; boundary=z\n\n--z\nContent-Type: text/plain\n\n");
    for i in 0..5_000 {
        mixed.push_str(&format!(
            "<t{i}@y.example>: host mx[192.0.2.1] said: 550 5.1.1 unknown t{i}@y.example\n"
        ));
    }
    mixed.push_str("--z\nContent-Type: message/delivery-status\n\n");
    for i in 0..5_000 {
        mixed.push_str(&format!(
            "Final-Recipient: rfc822; t{i}@y.example\nAction: failed\nStatus: 5.0.0\n\n"
        ));
    }
    check("5000 recipients in text and report", mixed.as_bytes());
    let mut arf = String::from("From: fbl@x.example\nTo: a@b.example\nContent-Type: multipart/report; report-type=feedback-report; boundary=z\n\n--z\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n");
    for i in 0..100_000 {
        arf.push_str(&format!("Original-Rcpt-To: r{i}@x.example\n"));
    }
    check("100000 feedback recipients", arf.as_bytes());
    let mut to =
        String::from("From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail\nX-Failed-Recipients: ");
    for i in 0..100_000 {
        to.push_str(&format!("f{i}@x.example, "));
    }
    to.push_str("\nTo: ");
    for i in 0..100_000 {
        to.push_str(&format!("t{i}@x.example, "));
    }
    to.push_str("\n\nThis message was created automatically by mail delivery software.\n");
    check("100000 addresses in headers", to.as_bytes());
    let long_line = format!(
        "From: a@b.example\nSubject: Undeliverable\n\n{}",
        "@".repeat(2_000_000)
    );
    check("a 2 MB line of @", long_line.as_bytes());
    let at_soup = format!(
        "From: a@b.example\nSubject: Undeliverable\n\n{}",
        "a@b.c ".repeat(300_000)
    );
    check("300k addresses", at_soup.as_bytes());
    let headers = format!("{}\n\nbody", "X-A: b\n".repeat(200_000));
    check("200k headers", headers.as_bytes());
    let mut rng = Rng(42);
    let noise: Vec<u8> = (0..100_000).map(|_| rng.next() as u8).collect();
    check("binary noise", &noise);
}
