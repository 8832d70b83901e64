//! The example contracts, built to WASM by the test, run end to end: results equal the exact
//! aggregate plus the noise the job seed determines (recomputed here), HLL estimates are within
//! their standard error, and execution is deterministic.
mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use itc_chaincode::{privacy::NoiseStream, ChaincodeEngine, EngineLimits, Error};
use itc_chaincode_sdk::{HostError, QueryResult, Scalar};
use itc_primitives::{dataset::Value, decode_untrusted, Hash};
use parity_scale_codec::{Decode, Encode};

fn engine() -> ChaincodeEngine {
    ChaincodeEngine::new(EngineLimits::default()).unwrap()
}

fn s(v: &Value) -> &str {
    match v {
        Value::String(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

// Mirrors of the contracts' SCALE types.
#[derive(Encode, Decode, Debug, PartialEq)]
struct RegionDay {
    region: String,
    day: i64,
    devices: f64,
}

#[derive(Encode, Decode, Debug, PartialEq)]
struct PowerParams {
    region: String,
    min_kwh: f64,
    lo: f64,
    hi: f64,
    buckets: u32,
    epsilon_milli: u32,
}

#[derive(Encode, Decode, Debug, PartialEq)]
struct PowerStats {
    mean: Option<f64>,
    histogram: Option<Vec<f64>>,
}

#[derive(Encode, Decode, Debug, PartialEq)]
struct OverlapParams {
    field: String,
    ids: Vec<String>,
    epsilon_milli: u32,
}

#[derive(Encode, Decode, Debug, PartialEq)]
struct Attempt {
    name: String,
    outcome: Result<QueryResult, HostError>,
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn unique_devices_per_region_per_day_within_hll_standard_error() {
    let rows = meter_rows(400, 3, 1);
    let mut exact: BTreeMap<(String, i64), BTreeSet<String>> = BTreeMap::new();
    for r in &rows {
        let Value::Timestamp(ts) = r[2] else { unreachable!() };
        exact
            .entry((s(&r[1]).to_string(), (ts / DAY) as i64))
            .or_default()
            .insert(s(&r[0]).to_string());
    }
    let n_rows = rows.len() as u64;
    let engine = engine();
    let res = engine
        .execute(
            &wasm("unique_devices"),
            &[view(rows, 5, 1_000)],
            &ctx(1, vec![1_000], 500u32.encode()),
        )
        .unwrap();
    let out: Result<Vec<RegionDay>, HostError> = decode_untrusted(&res.output).unwrap();
    let out = out.unwrap();
    assert_eq!(out.len(), exact.len(), "every (region, day) has far more than k records");

    // Groups come in ascending order of their SCALE-encoded keys; the noise is drawn in that order.
    let mut keys: Vec<(String, i64)> = exact.keys().cloned().collect();
    keys.sort_by_key(|(r, d)| vec![Scalar::Str(r.clone()), Scalar::I64(*d)].encode());
    let mut noise = NoiseStream::new(&Hash([1; 32]), 0);
    let se_factor = 1.04 / (2f64.powi(14)).sqrt();
    for (got, key) in out.iter().zip(&keys) {
        assert_eq!((&got.region, got.day), (&key.0, key.1));
        let estimate = got.devices - noise.laplace(1.0 / 0.5);
        let truth = exact[key].len() as f64;
        assert!(
            (estimate - truth).abs() <= 3.0 * se_factor * truth + 1.0,
            "{key:?}: HLL estimate {estimate}, exact {truth}"
        );
    }
    assert_eq!(res.queries, 1);
    assert_eq!(res.epsilon_spent_milli, vec![500]);
    assert_eq!(res.records_contributed, vec![n_rows]);
}

#[test]
fn power_stats_equal_exact_plus_seeded_noise() {
    let rows = meter_rows(200, 2, 2);
    let p = PowerParams {
        region: "north".into(),
        min_kwh: 1.0,
        lo: 0.0,
        hi: 5.0,
        buckets: 5,
        epsilon_milli: 200,
    };
    let matching: Vec<f64> = rows
        .iter()
        .filter(|r| s(&r[1]) == "north" && f(&r[3]) > 1.0)
        .map(|r| f(&r[3]).clamp(0.0, 5.0))
        .collect();
    let n = matching.len() as f64;
    let sum: f64 = matching.iter().sum();
    let mut hist = [0u64; 5];
    for v in &matching {
        hist[((v / 5.0 * 5.0).floor() as usize).min(4)] += 1;
    }

    let engine = engine();
    let job = |id: u8| ctx(id, vec![1_000], p.encode());
    let res =
        engine.execute(&wasm("power_stats"), &[view(rows.clone(), 10, 1_000)], &job(7)).unwrap();
    let out: Result<PowerStats, HostError> = decode_untrusted(&res.output).unwrap();
    let out = out.unwrap();

    // Query 0: mean = (sum + Lap(5/0.1)) / (n + Lap(1/0.1)).
    let mut q0 = NoiseStream::new(&Hash([7; 32]), 0);
    let noisy_sum = sum + q0.laplace(5.0 / 0.1);
    let noisy_n = n + q0.laplace(1.0 / 0.1);
    let expected_mean = noisy_sum / noisy_n.max(1.0);
    assert!(close(out.mean.unwrap(), expected_mean), "{:?} vs {expected_mean}", out.mean);
    // Query 1: one Lap(1/0.2) per bucket.
    let mut q1 = NoiseStream::new(&Hash([7; 32]), 1);
    let expected_hist: Vec<f64> = hist.iter().map(|c| *c as f64 + q1.laplace(1.0 / 0.2)).collect();
    let got = out.histogram.unwrap();
    assert_eq!(got.len(), 5);
    for (g, e) in got.iter().zip(&expected_hist) {
        assert!(close(*g, *e), "{got:?} vs {expected_hist:?}");
    }
    assert_eq!(res.epsilon_spent_milli, vec![400]);
    assert_eq!(res.records_contributed, vec![matching.len() as u64]);

    // Deterministic: the same job gives identical bytes and fuel; another job id other noise.
    let again =
        engine.execute(&wasm("power_stats"), &[view(rows.clone(), 10, 1_000)], &job(7)).unwrap();
    assert_eq!(again, res);
    assert_eq!(engine.cached_modules(), 1);
    let other = engine.execute(&wasm("power_stats"), &[view(rows, 10, 1_000)], &job(8)).unwrap();
    assert_ne!(other.output, res.output);
    assert_eq!(other.fuel_used, res.fuel_used);
}

#[test]
fn customer_overlap_counts_bloom_matches_and_hides_small_overlaps() {
    let rows = meter_rows(200, 1, 3);
    let present: BTreeSet<String> = rows.iter().map(|r| s(&r[4]).to_string()).collect();
    let mut ids: Vec<String> = (0..100).map(|i| format!("cust-{i}")).collect();
    ids.extend((0..100).map(|i| format!("stranger-{i}")));
    let truth = ids.iter().filter(|i| present.contains(*i)).count() as f64;
    let engine = engine();
    let params = OverlapParams { field: "customer".into(), ids, epsilon_milli: 250 };
    let res = engine
        .execute(
            &wasm("customer_overlap"),
            &[view(rows.clone(), 5, 1_000)],
            &ctx(3, vec![1_000], params.encode()),
        )
        .unwrap();
    let out: Result<Option<f64>, HostError> = decode_untrusted(&res.output).unwrap();
    let noisy = out.unwrap().unwrap();
    let matched = noisy - NoiseStream::new(&Hash([3; 32]), 0).laplace(1.0 / 0.25);
    // A Bloom filter never misses a member and may add a rare false positive.
    assert!(matched >= truth && matched <= truth + 2.0, "matched {matched}, exact {truth}");

    // Three ids in common, k = 5: the count is suppressed.
    let few = OverlapParams {
        field: "customer".into(),
        ids: vec!["cust-1".into(), "cust-2".into(), "cust-3".into(), "nobody".into()],
        epsilon_milli: 250,
    };
    let res = engine
        .execute(
            &wasm("customer_overlap"),
            &[view(rows, 5, 1_000)],
            &ctx(4, vec![1_000], few.encode()),
        )
        .unwrap();
    let out: Result<Option<f64>, HostError> = decode_untrusted(&res.output).unwrap();
    assert_eq!(out, Ok(None));
    assert_eq!(res.records_contributed, vec![0]);
}

#[test]
fn exfiltration_contract_gets_nothing_identifying() {
    // 60 devices, one day: each device has 1 to 3 readings, k = 10.
    let rows = meter_rows(60, 1, 4);
    let target_readings: Vec<f64> =
        rows.iter().filter(|r| s(&r[0]) == "dev-0").map(|r| f(&r[3])).collect();
    assert!(!target_readings.is_empty());
    let engine = engine();
    let budget = 1_000;
    let res = engine
        .execute(
            &wasm("exfiltrate"),
            &[view(rows.clone(), 10, budget)],
            &ctx(5, vec![budget], "dev-0".to_string().encode()),
        )
        .unwrap();
    let attempts: Vec<Attempt> = decode_untrusted(&res.output).unwrap();

    // Every targeted or per-record query was answered with no group at all.
    for name in ["group-by-device", "target-min", "target-sum", "group-by-value"] {
        let a = attempts.iter().find(|a| a.name == name).unwrap();
        assert_eq!(a.outcome, Ok(QueryResult { groups: vec![] }), "{name} leaked");
    }
    // Differencing: each answered pair differs by the target's count plus independent noise,
    // and the budget stops the averaging after a few pairs.
    let diffs: Vec<f64> = attempts
        .windows(2)
        .filter(|w| w[0].name == "all" && w[1].name == "all-but-target")
        .filter_map(|w| match (&w[0].outcome, &w[1].outcome) {
            (Ok(a), Ok(b)) => Some(a.single()?.number()? - b.single()?.number()?),
            _ => None,
        })
        .collect();
    let last = attempts.last().unwrap();
    assert!(matches!(last.outcome, Err(HostError::BudgetExhausted { remaining_milli: 0, .. })));
    let queries_allowed = budget / 100;
    assert_eq!(res.queries, queries_allowed);
    assert_eq!(diffs.len() as u32, (queries_allowed - 4) / 2);
    assert!(diffs.iter().all(|d| *d != target_readings.len() as f64));
    // Standard deviation of the averaged difference: each count has Lap(10) noise (sd 10·√2).
    let sd_of_average = (2.0f64 * 200.0 / diffs.len() as f64).sqrt();
    assert!(
        sd_of_average > 3.0 * target_readings.len() as f64,
        "noise sd {sd_of_average} should dwarf the target's {} readings",
        target_readings.len()
    );
    // No raw value reached the output: neither the target's id nor any of its readings' bits.
    let text = String::from_utf8_lossy(&res.output);
    assert!(!text.contains("dev-"));
    for v in &target_readings {
        assert!(!res.output.windows(8).any(|w| w == v.to_le_bytes()));
    }
}

#[test]
fn policy_allow_list_and_job_shape_are_enforced() {
    let engine = engine();
    let code = wasm("power_stats");
    let mut v = view(meter_rows(10, 1, 5), 5, 1_000);
    v.policy.allowed_chaincode =
        itc_primitives::codec::BoundedVec::new(vec![Hash([9; 32])]).unwrap();
    let err = engine.execute(&code, &[v.clone()], &ctx(1, vec![1_000], vec![])).unwrap_err();
    assert!(matches!(err, Error::ChaincodeNotAllowed { .. }), "{err}");
    v.policy.allowed_chaincode =
        itc_primitives::codec::BoundedVec::new(vec![itc_primitives::blake2_256(&code)]).unwrap();
    let err = engine.execute(&code, &[v.clone()], &ctx(1, vec![], vec![])).unwrap_err();
    assert!(matches!(err, Error::InvalidJob(_)), "{err}");
    // Allowed: runs (its input is missing, so the contract reports a decode error).
    let res = engine.execute(&code, &[v], &ctx(1, vec![1_000], vec![])).unwrap();
    let out: Result<PowerStats, HostError> = decode_untrusted(&res.output).unwrap();
    assert!(matches!(out, Err(HostError::BadRequest(_))));
}
