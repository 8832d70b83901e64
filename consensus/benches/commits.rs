//! Commits per second of the PBFT state machine alone: N replicas in one thread, messages passed
//! in memory, every signature made and verified (sr25519). Prints, per committee size, the
//! commit rate, the signature verifications per commit (summed over all replicas) and the
//! baseline measured in the same run: one sr25519 verification, from which the
//! verification-bound ceiling `1 / (verifications per commit × verify time)` follows.
//!
//! `cargo bench -p itc-consensus --bench commits -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use itc_consensus::{sim::Cluster, Config};
use itc_primitives::Pair;

fn cfg() -> Config {
    Config { checkpoint_interval: 16, window: 64, ..Config::default() }
}

fn commit(n: usize, count: usize) -> (Duration, u64) {
    let mut c = Cluster::new(n, cfg());
    let all: Vec<usize> = (0..n).collect();
    let start = Instant::now();
    let ok = c.run_until_committed(&all, count);
    let elapsed = start.elapsed();
    assert!(ok, "the cluster stopped committing");
    let verifications = c.replicas.iter().map(|r| r.stats().verifications).sum();
    (elapsed, verifications)
}

fn baseline_verify() -> Duration {
    let pair = Pair::from_seed(&[7; 32]).unwrap();
    let sig = pair.sign_deterministic(b"baseline");
    let public = pair.public();
    let rounds = 2_000u32;
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(public.verify(std::hint::black_box(b"baseline"), &sig));
    }
    start.elapsed() / rounds
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pbft_commit");
    for n in [4usize, 16] {
        let count = if n == 4 { 200 } else { 40 };
        // Baseline measured right before, on the same (shared, noisy) machine.
        let verify = baseline_verify();
        println!("baseline: one sr25519 verification takes {:.1} µs", verify.as_secs_f64() * 1e6);
        let (elapsed, verifications) = commit(n, count);
        let per_commit = verifications as f64 / count as f64;
        let rate = count as f64 / elapsed.as_secs_f64();
        let ceiling = 1.0 / (per_commit * verify.as_secs_f64());
        println!(
            "n = {n:2}: {rate:8.1} commits/s, {per_commit:6.1} signature verifications per commit \
             (all replicas); verification-bound ceiling {ceiling:8.1} commits/s ({:.0}% of it)",
            100.0 * rate / ceiling
        );
        group.bench_with_input(BenchmarkId::new("replicas", n), &n, |b, &n| {
            b.iter_custom(|iters| commit(n, iters as usize).0)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
