//! Engine benchmarks, each printed next to its baseline measured in the same run.
//!
//! 1. A job over 1M synthetic rows asking for a distinct count, a mean and a histogram, against
//!    a plain native Rust loop computing the same three aggregates on the same rows (goal: the
//!    job takes at most 1.5x the native time).
//! 2. Job start (compile + instantiate) uncached vs cached (goal: cached at most 10 ms).
//!
//! Run: `cargo bench -p itc-chaincode --bench engine` (`ITC_BENCH_ROWS` changes the row count).
#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use itc_chaincode::{sketch::Distinct, ChaincodeEngine, DatasetView, EngineLimits};
use itc_chaincode_sdk::{Aggregate, Query};
use itc_primitives::{
    dataset::{FieldType, Schema, Value},
    Hash,
};
use parity_scale_codec::Encode;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

struct Native {
    distinct: f64,
    mean: f64,
    histogram: Vec<u64>,
}

/// The baseline: one pass, no sandbox, no privacy guard.
fn native(rows: &[Vec<Value>]) -> Native {
    let mut d = Distinct::new(14).unwrap();
    let (mut sum, mut n) = (0.0, 0u64);
    let mut histogram = vec![0u64; 16];
    for r in rows {
        d.insert(&r[0]);
        let v = r[1].as_f64().unwrap_or(0.0).clamp(0.0, 8.0);
        sum += v;
        n += 1;
        histogram[((v / 8.0 * 16.0).floor() as usize).min(15)] += 1;
    }
    Native { distinct: d.estimate(), mean: sum / n as f64, histogram }
}

fn main() {
    let n: usize =
        std::env::var("ITC_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l[13..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!(
        "machine: {cpu}, {} threads available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let rows: Vec<Vec<Value>> = (0..n as u64)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            vec![
                Value::String(format!("dev-{}", x % 50_000)),
                Value::F64((x >> 40) as f64 / 2f64.powi(24) * 8.0),
            ]
        })
        .collect();
    let view = DatasetView::new(
        Hash([1; 32]),
        Schema::from_fields(&[("device", FieldType::String), ("kwh", FieldType::F64)]).unwrap(),
        common::policy(10, 1_000_000),
        Arc::new(rows),
    )
    .unwrap();
    let code = common::wasm("probe");
    let queries = vec![
        Query {
            dataset: 0,
            filters: vec![],
            group_by: vec![],
            aggregate: Aggregate::DistinctCount { field: "device".into() },
            epsilon_milli: 100,
        },
        Query {
            dataset: 0,
            filters: vec![],
            group_by: vec![],
            aggregate: Aggregate::Mean { field: "kwh".into(), lo: 0.0, hi: 8.0 },
            epsilon_milli: 100,
        },
        Query {
            dataset: 0,
            filters: vec![],
            group_by: vec![],
            aggregate: Aggregate::Histogram { field: "kwh".into(), lo: 0.0, hi: 8.0, buckets: 16 },
            epsilon_milli: 100,
        },
    ];
    let engine = ChaincodeEngine::new(EngineLimits::default()).unwrap();
    let ctx = common::ctx(1, vec![1_000_000], queries.encode());
    let views = [view];
    let res = engine.execute(&code, &views, &ctx).unwrap();
    let base = native(&views[0].records);
    println!(
        "job over {n} rows: {} output bytes, {} fuel; native: distinct {:.0}, mean {:.4}, histogram[0] {}",
        res.output.len(),
        res.fuel_used,
        base.distinct,
        base.mean,
        base.histogram[0]
    );
    let runs = 7;
    let t_native = time(runs, || native(&views[0].records));
    let t_job = time(runs, || engine.execute(&code, &views, &ctx).unwrap());
    println!(
        "native distinct+mean+histogram: {:>10.2} ms (median of {runs})",
        t_native.as_secs_f64() * 1e3
    );
    println!(
        "chaincode job (same 3 queries):  {:>10.2} ms (median of {runs})",
        t_job.as_secs_f64() * 1e3
    );
    println!(
        "ratio job/native: {:.2}x (goal <= 1.5x)",
        t_job.as_secs_f64() / t_native.as_secs_f64()
    );

    let runs = 21;
    let t_uncached = time(runs, || {
        engine.clear_cache();
        engine.start(&code).unwrap()
    });
    engine.start(&code).unwrap();
    let t_cached = time(runs, || engine.start(&code).unwrap());
    println!(
        "job start uncached (precheck + compile + instantiate): {:>8.3} ms (median of {runs})",
        t_uncached.as_secs_f64() * 1e3
    );
    println!("job start cached (instantiate):                          {:>8.3} ms (median of {runs}, goal <= 10 ms)", t_cached.as_secs_f64() * 1e3);
}
