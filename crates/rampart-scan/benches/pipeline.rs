//! Criterion benches of the full default pipeline ([`rampart_scan::Scanner::scan`]:
//! normalize, prompt rules and classifier, PII, secrets) and of each stage alone, on
//! the shared corpus of `common`. Run with `cargo bench -p rampart-scan --bench pipeline`.
//! Targets: ≤ 50 µs median on the 2 KB prompt, ≤ 500 µs on the 32 KB document.

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_scan::Scanner;
use rampart_scan::normalize::{Limits, normalize};
use rampart_scan::pii::PiiDetector;
use rampart_scan::prompt::PromptDetector;
use rampart_scan::secrets::SecretsDetector;

fn bench_pipeline(c: &mut Criterion) {
    let corpus = common::Corpus::new();
    let scanner = Scanner::new();
    let mut group = c.benchmark_group("pipeline");
    for (name, text) in corpus.all() {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| scanner.scan(black_box(text))));
    }
    group.finish();
}

fn bench_stages(c: &mut Criterion) {
    let corpus = common::Corpus::new();
    let limits = Limits::default();
    let prompt = PromptDetector::new();
    let pii = PiiDetector::new();
    let secrets = SecretsDetector::new();
    let mut group = c.benchmark_group("stage");
    for (name, text) in corpus.all() {
        group.throughput(Throughput::Bytes(text.len() as u64));
        let norm = normalize(text, &limits);
        group.bench_function(format!("prompt/{name}"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                prompt.scan(black_box(&norm), &mut out)
            })
        });
        group.bench_function(format!("pii/{name}"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                pii.scan(black_box(text), &mut out);
                out
            })
        });
        group.bench_function(format!("secrets/{name}"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                secrets.scan(black_box(text), &mut out);
                out
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_pipeline, bench_stages);
criterion_main!(benches);
