//! Hostile inputs: how long every reader of outside bytes takes on each shape an attacker
//! could send (`tests/support/hostile.rs`), at 256 KB, 2 MB and 8 MB. Linear readers show a
//! flat time per MB across the three sizes.
//!
//! `cargo bench --bench hostile` (optionally `-- SHAPE...` to pick shapes; `-- --write DIR`
//! writes every shape at 256 KB into DIR instead, as fuzzing seeds). Each figure is the
//! best of 3 runs of the whole per-message reading path: `notice::read`, `notice::envelope`,
//! and the command readers (`commands::parse`, `referenced_ids`, `never_answer`). A size whose
//! time, projected quadratically from the size before, would exceed 2 minutes is not run and
//! is printed as "skipped".

#[path = "../tests/support/hostile.rs"]
mod hostile;

use std::time::{Duration, Instant};

const SIZES: &[(usize, &str)] = &[(256 * 1024, "256 KB"), (2 << 20, "2 MB"), (8 << 20, "8 MB")];

fn read_all(raw: &[u8]) -> usize {
    let mut n = 0;
    if let Ok(notice) = bouncedoc::notice::read(std::hint::black_box(raw)) {
        n += notice.recipients.len();
    }
    n += bouncedoc::notice::envelope(raw).to.len();
    n += bouncedoc::commands::parse(raw).name().len();
    n += bouncedoc::commands::referenced_ids(raw).len();
    n += usize::from(bouncedoc::commands::never_answer(raw).is_some());
    n
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--write DIR`: the shapes at 256 KB as files (seeds for the fuzzer), nothing measured.
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--write")
        .and_then(|i| args.get(i + 1))
    {
        std::fs::create_dir_all(dir).expect("seed directory");
        for shape in hostile::SHAPES {
            let path = std::path::Path::new(dir).join(format!("hostile-{shape}.eml"));
            std::fs::write(&path, hostile::message(shape, 256 * 1024)).expect("write seed");
        }
        println!("{} hostile seeds written to {dir}", hostile::SHAPES.len());
        return;
    }
    // With `cargo bench`, libtest's `--bench` comes first; any other word picks shapes.
    let picked: Vec<String> = args.iter().filter(|a| !a.starts_with('-')).cloned().collect();
    println!(
        "{:<24} {:>10} {:>10} {:>10}   (ms per MB: 256 KB / 2 MB / 8 MB)",
        "shape", "256 KB", "2 MB", "8 MB"
    );
    for shape in hostile::SHAPES {
        if !picked.is_empty() && !picked.iter().any(|p| p == shape) {
            continue;
        }
        let mut cells = Vec::new();
        let mut last: Option<(usize, Duration)> = None;
        for &(size, _) in SIZES {
            if let Some((prev, t)) = last {
                let ratio = size as f64 / prev as f64;
                if t.as_secs_f64() * ratio * ratio > 120.0 {
                    cells.push("skipped".to_string());
                    continue;
                }
            }
            let raw = hostile::message(shape, size);
            let mut best = Duration::MAX;
            for _ in 0..3 {
                let start = Instant::now();
                std::hint::black_box(read_all(&raw));
                best = best.min(start.elapsed());
                if best > Duration::from_secs(10) {
                    break;
                }
            }
            let mb = raw.len() as f64 / (1 << 20) as f64;
            cells.push(format!("{:.1}", best.as_secs_f64() * 1000.0 / mb));
            last = Some((raw.len(), best));
        }
        println!("{shape:<24} {:>10} {:>10} {:>10}", cells[0], cells[1], cells[2]);
    }
}
