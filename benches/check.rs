//! Check speed on a 2024-size issue (40 KB). Run: `cargo bench --bench check`. Target: < 20 ms.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use newsletter::check::{self, CheckOptions};
use newsletter::config::Config;

fn benches(c: &mut Criterion) {
    let opts = CheckOptions::from_config(&Config::defaults()).unwrap();
    let mut no_render = opts.clone();
    no_render.theme = None;
    for name in [
        "tests/fixtures/large-2024.md",
        "../shared/seeds/001_4be746dd7e1610fe.txt",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let label = path.file_name().unwrap().to_string_lossy().to_string();
        c.bench_function(
            &format!("check/{label} (all rules, size rule renders)"),
            |b| b.iter(|| check::check_bytes(&path, black_box(&bytes), &opts)),
        );
        c.bench_function(
            &format!("check/{label} (rules without the size render)"),
            |b| b.iter(|| check::check_bytes(&path, black_box(&bytes), &no_render)),
        );
    }
}

criterion_group!(check_benches, benches);
criterion_main!(check_benches);
