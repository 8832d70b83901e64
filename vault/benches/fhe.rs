//! FHE sums of 16 and of 64 encrypted `u32` values through [`FheExecutor::sum`] against the same
//! homomorphic work done with raw tfhe calls (install the server key, widen each value to
//! `FheUint64`, tfhe's multi-operand sum), measured in the same run.
//!
//! One FHE sum takes seconds here, so this is a plain timing harness rather than criterion: each
//! variant runs `ITC_FHE_BENCH_RUNS` times (default 3), interleaved, and the medians are printed
//! with the overhead of our API over raw tfhe (goal: at most 5%).
//!
//! Run: `cargo bench -p itc-vault --bench fhe`
use std::time::{Duration, Instant};

use itc_vault::fhe::{CompactColumn, FheDevice, FheExecutor, FheOwner, FheServerKey, Selection};
use tfhe::{
    prelude::*, safe_serialization::safe_deserialize, with_server_key_as_context,
    CompressedServerKey, FheUint64,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("ITC_FHE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);
    let t = Instant::now();
    let (owner, server, public) = FheOwner::generate().unwrap();
    let server_bytes = server.to_bytes().unwrap();
    let public_bytes = public.to_bytes().unwrap();
    let client_bytes = owner.to_bytes().unwrap();
    println!(
        "key generation {:.1} s; compressed server key {:.1} MB, compressed public key {:.1} kB, \
         client key {:.1} kB",
        t.elapsed().as_secs_f64(),
        server_bytes.len() as f64 / 1e6,
        public_bytes.len() as f64 / 1e3,
        client_bytes.len() as f64 / 1e3,
    );
    let t = Instant::now();
    let executor = FheExecutor::new(&FheServerKey::from_bytes(&server_bytes).unwrap()).unwrap();
    println!(
        "executor from server key bytes (check + decompress) {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let device = FheDevice::new(&public).unwrap();
    // Raw tfhe: the same server key, read and decompressed with tfhe alone.
    let raw_server =
        safe_deserialize::<CompressedServerKey>(&server_bytes[..], 1 << 30).unwrap().decompress();

    for n in [16usize, 64] {
        let values: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        let expected: u64 = values.iter().map(|&v| u64::from(v)).sum();
        let t = Instant::now();
        let column_bytes = device.encrypt_column(&values).unwrap().to_bytes().unwrap();
        let encrypt = t.elapsed();
        let t = Instant::now();
        let column = executor.load(&CompactColumn::from_bytes(&column_bytes).unwrap()).unwrap();
        let load = t.elapsed();
        let agg_len = executor.sum(&column, Selection::Records(&[]), None).unwrap().to_bytes();
        println!(
            "column of {n}: {:.1} kB, device encryption {:.3} s, executor load (check + expand) \
             {:.2} s; aggregate {:.1} kB",
            column_bytes.len() as f64 / 1e3,
            encrypt.as_secs_f64(),
            load.as_secs_f64(),
            agg_len.map(|b| b.len()).unwrap_or(0) as f64 / 1e3,
        );

        let mut ours = Vec::with_capacity(runs);
        let mut raw = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let aggregate = executor.sum(&column, Selection::All, None).unwrap();
            ours.push(t.elapsed());
            assert_eq!(owner.decrypt(&aggregate), expected);

            let t = Instant::now();
            let sum: FheUint64 = with_server_key_as_context(raw_server.clone(), || {
                let wide: Vec<FheUint64> =
                    column.values().iter().map(|v| FheUint64::cast_from(v.clone())).collect();
                wide.iter().sum()
            });
            raw.push(t.elapsed());
            let got: u64 = sum.decrypt(owner.client_key());
            assert_eq!(got, expected);
        }
        let (o, r) = (median(ours), median(raw));
        println!(
            "FHE sum of {n}: itc-vault FheExecutor::sum {:.3} s | raw tfhe (cast + sum) {:.3} s | \
             overhead {:+.1}% (median of {runs})",
            o.as_secs_f64(),
            r.as_secs_f64(),
            (o.as_secs_f64() / r.as_secs_f64() - 1.0) * 100.0
        );
    }
}
