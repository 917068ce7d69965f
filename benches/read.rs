//! In-memory reading speed: every shared corpus and notice file loaded once, then read again
//! and again. Reports notices per second (group `notices`) and bytes per second (`bytes`).
//!
//! `cargo bench --bench read`. Without `../shared` it measures the repository's fixtures and
//! says so.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};

fn load() -> (Vec<Vec<u8>>, &'static str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("BOUNCEDOC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared"));
    let mut dirs = vec![shared.join("corpus/eml"), shared.join("notices/eml")];
    let mut label = "shared corpus + notices";
    if !dirs[0].exists() {
        eprintln!("../shared not found: measuring tests/fixtures only");
        dirs = vec![root.join("tests/fixtures"), root.join("examples")];
        label = "repository fixtures";
    }
    let mut files = Vec::new();
    for d in dirs {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&d)
            .map(|r| {
                r.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        paths.sort();
        for p in paths {
            if let Ok(raw) = std::fs::read(&p) {
                files.push(raw);
            }
        }
    }
    (files, label)
}

fn bench(c: &mut Criterion) {
    let (files, label) = load();
    let bytes: usize = files.iter().map(Vec::len).sum();
    eprintln!("{label}: {} files, {bytes} bytes", files.len());
    let run = |files: &[Vec<u8>]| {
        let mut n = 0usize;
        for f in files {
            if let Ok(notice) = bouncedoc::notice::read(std::hint::black_box(f)) {
                n += notice.recipients.len();
            }
        }
        n
    };
    let mut g = c.benchmark_group("notices");
    g.throughput(Throughput::Elements(files.len() as u64));
    g.bench_function("read_all", |b| b.iter(|| run(&files)));
    g.finish();
    let mut g = c.benchmark_group("bytes");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("read_all", |b| b.iter(|| run(&files)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
