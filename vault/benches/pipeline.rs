//! Upload and download pipeline throughput (MB/s of serialised records), with each stage
//! measured alone in the same run as the baseline the pipeline is compared against.
//!
//! Run: `cargo bench -p itc-vault --bench pipeline -- --warm-up-time 1 --measurement-time 3`
// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use itc_primitives::{
    blake2_256,
    dataset::{FieldType, Schema, Value},
    Hash,
};
use itc_vault::{
    key::{seal_chunk, ChunkPosition, DataKey},
    open_interval,
    records::{encode_batch, Record},
    seal_interval_with_rng, LocalStorage, OwnerKeys, SealConfig,
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

/// About 8 MiB of serialised IoT readings.
fn workload() -> (Schema, Vec<Record>) {
    let schema = Schema::from_fields(&[
        ("device", FieldType::String),
        ("at", FieldType::Timestamp),
        ("kwh", FieldType::F64),
        ("seq", FieldType::U64),
        ("temp", FieldType::I64),
    ])
    .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    use rand_chacha::rand_core::RngCore;
    let records = (0..280_000u64)
        .map(|i| {
            vec![
                Value::String(format!("meter-{:04}", i % 500)),
                Value::Timestamp(1_700_000_000_000 + i * 1000),
                Value::F64(f64::from(rng.next_u32() % 10_000) / 100.0),
                Value::U64(i),
                Value::I64(i64::from(rng.next_u32() % 80) - 20),
            ]
        })
        .collect();
    (schema, records)
}

fn pipeline(c: &mut Criterion) {
    let (schema, records) = workload();
    let batch = encode_batch(&schema, &records).unwrap();
    let size = batch.len() as u64;
    let dir = std::env::temp_dir().join(format!("itc-vault-bench-{}", std::process::id()));
    let storage = LocalStorage::new(&dir).unwrap();
    let owner = OwnerKeys::from_seed([1; 32]);
    let config = SealConfig::default();
    let dataset = Hash([9; 32]);
    println!(
        "workload: {} records, {:.2} MB serialised, chunk size {} B, zstd level {}",
        records.len(),
        size as f64 / 1e6,
        config.chunk_size,
        config.zstd_level
    );

    let mut g = c.benchmark_group("upload");
    g.throughput(Throughput::Bytes(size));
    g.sample_size(10);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    g.bench_function("full pipeline (serialise+zstd+seal+hash+merkle+write)", |b| {
        b.iter(|| {
            let sealed = seal_interval_with_rng(
                &mut rng,
                &owner.public_key(),
                dataset,
                0,
                &schema,
                &records,
                &config,
            )
            .unwrap();
            sealed.upload(&storage).unwrap();
            black_box(sealed.manifest.chunks_root)
        })
    });
    g.bench_function("baseline: serialise only", |b| {
        b.iter(|| black_box(encode_batch(&schema, &records).unwrap().len()))
    });
    let compressed = zstd::bulk::compress(&batch, config.zstd_level).unwrap();
    println!(
        "zstd level {}: {:.2} MB -> {:.2} MB ({:.1}x)",
        config.zstd_level,
        size as f64 / 1e6,
        compressed.len() as f64 / 1e6,
        size as f64 / compressed.len() as f64
    );
    g.bench_function("baseline: zstd only", |b| {
        b.iter(|| black_box(zstd::bulk::compress(&batch, config.zstd_level).unwrap().len()))
    });
    let key = DataKey::random(&mut rng);
    g.bench_function("baseline: xchacha20poly1305 + blake2b over the compressed bytes", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for (i, chunk) in compressed.chunks(config.chunk_size as usize).enumerate() {
                let pos = ChunkPosition { dataset, interval: 0, chunk: i as u32, chunk_count: 1 };
                let sealed = seal_chunk(&key, &pos, chunk, &mut rng).unwrap();
                n ^= u32::from(blake2_256(&sealed).0[0]);
            }
            black_box(n)
        })
    });
    g.finish();

    let sealed = seal_interval_with_rng(
        &mut rng,
        &owner.public_key(),
        dataset,
        1,
        &schema,
        &records,
        &config,
    )
    .unwrap();
    sealed.upload(&storage).unwrap();
    let key = owner.open_data_key(&sealed.manifest).unwrap();
    let mut g = c.benchmark_group("download");
    g.throughput(Throughput::Bytes(size));
    g.sample_size(10);
    g.bench_function("full pipeline (read+verify+decrypt+unzstd+decode)", |b| {
        b.iter(|| {
            black_box(open_interval(&sealed.manifest, &key, &storage, &schema).unwrap().len())
        })
    });
    g.bench_function("baseline: decode only", |b| {
        b.iter(|| black_box(itc_vault::records::decode_batch(&schema, &batch).unwrap().len()))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
