//! Shared by the integration tests: builds the example contracts to WASM once per test binary,
//! and makes deterministic synthetic datasets.
#![allow(dead_code)]

use std::{
    path::PathBuf,
    process::Command,
    sync::{Arc, OnceLock},
};

use itc_chaincode::{DatasetView, JobContext};
use itc_primitives::{
    dataset::{AnalyticsPolicy, FieldType, Schema, Value},
    Hash, Public,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// This crate's directory, as cargo gives it when it runs the test (a test binary built from
/// a checkout elsewhere and reused from a shared target directory must not look there).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// Where the contracts' workspace is.
pub fn contracts_dir() -> PathBuf {
    manifest_dir().join("../contracts")
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d).join("contracts"),
        None => manifest_dir().join("../target/contracts"),
    }
}

/// Builds every contract (once per test binary) and returns the release wasm directory.
fn built() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_dir();
        let out = Command::new(env!("CARGO"))
            .args(["build", "--release", "--target", "wasm32-unknown-unknown", "--manifest-path"])
            .arg(contracts_dir().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .output()
            .expect("failed to run cargo to build the contracts");
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            if err.contains("wasm32-unknown-unknown")
                && (err.contains("target may not be installed") || err.contains("can't find crate"))
            {
                panic!(
                    "the wasm32-unknown-unknown target is missing, so the contracts cannot be \
                     built: run `rustup target add wasm32-unknown-unknown`\n{err}"
                );
            }
            panic!("building the contracts failed:\n{err}");
        }
        target.join("wasm32-unknown-unknown/release")
    })
}

/// The wasm of contract `name` (crate name with `_`, e.g. `unique_devices`).
pub fn wasm(name: &str) -> Vec<u8> {
    let path = built().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Milliseconds in a day.
pub const DAY: u64 = 86_400_000;
/// First day of the synthetic data (2026-01-01).
pub const DAY0: u64 = 20_454;

/// Regions of the synthetic meters.
pub const REGIONS: [&str; 4] = ["north", "south", "east", "west"];

/// The meter schema: device, region, ts, kwh, customer.
pub fn meter_schema() -> Schema {
    Schema::from_fields(&[
        ("device", FieldType::String),
        ("region", FieldType::String),
        ("ts", FieldType::Timestamp),
        ("kwh", FieldType::F64),
        ("customer", FieldType::String),
    ])
    .unwrap()
}

/// `devices` meters over `days` days: each device (in region `i % 4`, customer `cust-i`)
/// reports on a seeded-random subset of days, 1 to 3 readings a day, kWh in [0, 8).
pub fn meter_rows(devices: usize, days: u64, seed: u64) -> Vec<Vec<Value>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for d in 0..days {
        for i in 0..devices {
            if rng.next_u32() % 4 == 0 {
                continue; // inactive that day
            }
            for r in 0..(1 + rng.next_u32() % 3) {
                let kwh = (rng.next_u32() % 8000) as f64 / 1000.0;
                rows.push(vec![
                    Value::String(format!("dev-{i}")),
                    Value::String(REGIONS[i % 4].into()),
                    Value::Timestamp((DAY0 + d) * DAY + u64::from(r) * 3_600_000),
                    Value::F64(kwh),
                    Value::String(format!("cust-{i}")),
                ]);
            }
        }
    }
    rows
}

/// A policy with `k`, `budget` and HLL precision 14.
pub fn policy(k: u32, budget: u32) -> AnalyticsPolicy {
    AnalyticsPolicy {
        k,
        price_per_record: 1,
        epsilon_budget_milli: budget,
        hll_precision: 14,
        allowed_chaincode: Default::default(),
    }
}

/// A meter dataset view.
pub fn view(rows: Vec<Vec<Value>>, k: u32, budget: u32) -> DatasetView {
    DatasetView::new(Hash([0xd5; 32]), meter_schema(), policy(k, budget), Arc::new(rows)).unwrap()
}

/// A job context with job id `[job; 32]`.
pub fn ctx(job: u8, budgets: Vec<u32>, input: Vec<u8>) -> JobContext {
    JobContext {
        job_id: Hash([job; 32]),
        company: Public([0xc0; 32]),
        budget_remaining_milli: budgets,
        input,
    }
}
