//! Criterion benches of the normalizer ([`rampart_scan::normalize::normalize`]) on the
//! shared corpus of `common`: a 2 KB English prompt, a 32 KB document, 2 KB of
//! non-ASCII text and 2 KB with a base64 payload. Run with
//! `cargo bench -p rampart-scan --bench normalize`.

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_scan::normalize::{Limits, normalize};

fn bench_normalize(c: &mut Criterion) {
    let corpus = common::Corpus::new();
    let limits = Limits::default();
    let mut group = c.benchmark_group("normalize");
    for (name, text) in corpus.all() {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| normalize(black_box(text), &limits)));
    }
    group.finish();
}

criterion_group!(benches, bench_normalize);
criterion_main!(benches);
