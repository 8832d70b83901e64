//! The host API through the probe contract: each aggregate equals the exact value plus the noise
//! the seed determines, the privacy guard suppresses small groups, refuses queries once the
//! budget is spent, and defeats differencing.
mod common;

use std::sync::Arc;

use common::*;
use itc_chaincode::{
    privacy::NoiseStream, ChaincodeEngine, DatasetView, EngineLimits, ExecutionResult, FheBackend,
};
use itc_chaincode_sdk::{
    AggValue, Aggregate, CmpOp, FheOp, GroupKey, HostError, Predicate, Query, QueryResult, Scalar,
};
use itc_primitives::{
    dataset::{FieldDef, FieldType, Schema, Value},
    decode_untrusted, BoundedVec, Hash,
};
use parity_scale_codec::Encode;

type Answers = Vec<Result<QueryResult, HostError>>;

fn q(filters: Vec<Predicate>, group_by: Vec<GroupKey>, aggregate: Aggregate, eps: u32) -> Query {
    Query { dataset: 0, filters, group_by, aggregate, epsilon_milli: eps }
}

fn probe(
    engine: &ChaincodeEngine,
    rows: Vec<Vec<Value>>,
    k: u32,
    budget: u32,
    job: u8,
    queries: &[Query],
) -> (Answers, ExecutionResult) {
    let res = engine
        .execute(
            &wasm("probe"),
            &[view(rows, k, budget)],
            &ctx(job, vec![budget], queries.encode()),
        )
        .unwrap();
    (decode_untrusted(&res.output).unwrap(), res)
}

fn number(a: &Result<QueryResult, HostError>) -> f64 {
    a.as_ref().unwrap().single().unwrap().number().unwrap()
}

fn kwh(r: &[Value]) -> f64 {
    r[3].as_f64().unwrap()
}

fn eq(field: &str, v: impl Into<Scalar>) -> Predicate {
    Predicate::Cmp { field: field.into(), op: CmpOp::Eq, value: v.into() }
}

#[test]
fn sum_min_max_equal_exact_plus_seeded_noise() {
    let rows = meter_rows(50, 1, 21);
    let engine = ChaincodeEngine::new(EngineLimits::default()).unwrap();
    let south = || {
        vec![
            eq("region", "south"),
            Predicate::Cmp { field: "kwh".into(), op: CmpOp::Lt, value: Scalar::U64(6) },
        ]
    };
    let queries = [
        q(south(), vec![], Aggregate::Sum { field: "kwh".into(), lo: 0.0, hi: 4.0 }, 100),
        q(south(), vec![], Aggregate::Min { field: "kwh".into(), lo: 0.0, hi: 8.0 }, 100),
        q(south(), vec![], Aggregate::Max { field: "kwh".into(), lo: 0.0, hi: 8.0 }, 100),
        q(south(), vec![], Aggregate::Count, 100),
    ];
    let (ans, res) = probe(&engine, rows.clone(), 5, 1_000, 21, &queries);
    let sel: Vec<f64> = rows
        .iter()
        .filter(|r| r[1] == Value::String("south".into()) && kwh(r) < 6.0)
        .map(|r| kwh(r))
        .collect();
    let job = Hash([21; 32]);
    let sum: f64 = sel.iter().map(|v| v.clamp(0.0, 4.0)).sum();
    assert_eq!(number(&ans[0]), sum + NoiseStream::new(&job, 0).laplace(4.0 / 0.1));
    let min = sel.iter().copied().fold(8.0, f64::min);
    assert_eq!(number(&ans[1]), min + NoiseStream::new(&job, 1).laplace(8.0 / 0.1));
    let max = sel.iter().copied().fold(0.0, f64::max);
    assert_eq!(number(&ans[2]), max + NoiseStream::new(&job, 2).laplace(8.0 / 0.1));
    assert_eq!(number(&ans[3]), sel.len() as f64 + NoiseStream::new(&job, 3).laplace(10.0));
    assert_eq!(res.queries, 4);
    assert_eq!(res.epsilon_spent_milli, vec![400]);
    assert_eq!(res.records_contributed, vec![sel.len() as u64]);
}

#[test]
fn groups_below_k_are_suppressed_and_unpaid() {
    // 8 devices in "north" with 3 readings each, 2 devices in "south" with 3 each; k = 10.
    let mut rows = Vec::new();
    for i in 0..10 {
        for h in 0..3u64 {
            let region = if i < 8 { "north" } else { "south" };
            rows.push(vec![
                Value::String(format!("dev-{i}")),
                Value::String(region.into()),
                Value::Timestamp(DAY0 * DAY + h),
                Value::F64(1.0),
                Value::String(format!("cust-{i}")),
            ]);
        }
    }
    let engine = ChaincodeEngine::new(EngineLimits::default()).unwrap();
    let queries = [
        q(vec![], vec![GroupKey::Field("region".into())], Aggregate::Count, 100),
        q(vec![], vec![GroupKey::Field("device".into())], Aggregate::Count, 100),
        q(
            vec![eq("device", "dev-9")],
            vec![],
            Aggregate::Max { field: "kwh".into(), lo: 0.0, hi: 5.0 },
            100,
        ),
        q(vec![], vec![], Aggregate::DistinctCount { field: "device".into() }, 100),
    ];
    let (ans, res) = probe(&engine, rows, 10, 1_000, 22, &queries);
    let groups = &ans[0].as_ref().unwrap().groups;
    assert_eq!(groups.len(), 1, "south (6 records) must be suppressed");
    assert_eq!(groups[0].key, vec![Scalar::Str("north".into())]);
    assert_eq!(
        groups[0].value,
        AggValue::Number(24.0 + NoiseStream::new(&Hash([22; 32]), 0).laplace(10.0))
    );
    assert!(ans[1].as_ref().unwrap().groups.is_empty());
    assert!(ans[2].as_ref().unwrap().groups.is_empty());
    // Distinct count over all 30 records (>= k) is released even though it counts devices.
    let d = number(&ans[3]) - NoiseStream::new(&Hash([22; 32]), 3).laplace(10.0);
    assert!((d - 10.0).abs() < 0.5, "HLL estimate {d}");
    // Owners are paid for released groups only: all 30 through query 3, 24 of them before.
    assert_eq!(res.records_contributed, vec![30]);
}

#[test]
fn differencing_attack_is_defeated_by_threshold_noise_and_budget() {
    let rows = meter_rows(60, 1, 24);
    let target = "dev-7";
    let target_count = rows.iter().filter(|r| r[0] == Value::String(target.into())).count() as f64;
    let engine = ChaincodeEngine::new(EngineLimits::default()).unwrap();
    let all = q(vec![], vec![], Aggregate::Count, 250);
    let but_target = q(
        vec![Predicate::Cmp { field: "device".into(), op: CmpOp::Ne, value: target.into() }],
        vec![],
        Aggregate::Count,
        250,
    );
    let only_target = q(vec![eq("device", target)], vec![], Aggregate::Count, 250);
    let queries = [only_target, all.clone(), but_target.clone(), all.clone(), but_target];
    let (ans, res) = probe(&engine, rows.clone(), 10, 1_000, 24, &queries);
    // 1. The direct question is below k: nothing comes back.
    assert!(ans[0].as_ref().unwrap().groups.is_empty());
    // 2. The two counts differ by the target's records plus independent noise (recomputed).
    let job = Hash([24; 32]);
    let n = rows.len() as f64;
    let noise = |i: u32| NoiseStream::new(&job, i).laplace(4.0);
    assert_eq!(number(&ans[1]), n + noise(1));
    assert_eq!(number(&ans[2]), n - target_count + noise(2));
    let diff = number(&ans[1]) - number(&ans[2]);
    assert_eq!(diff, target_count + noise(1) - noise(2));
    assert_ne!(diff, target_count);
    // 3. The budget (1.0) pays for four queries of 0.25: the repetition is refused.
    assert!(ans[3].is_ok());
    assert_eq!(
        ans[4],
        Err(HostError::BudgetExhausted { remaining_milli: 0, requested_milli: 250 })
    );
    assert_eq!(res.epsilon_spent_milli, vec![1_000]);
    // Averaging the noise away would need the difference's sd (4·√2·√2 = 8 for one pair) to
    // shrink below the target's count; the budget allows a single pair.
    assert!(8.0 > 2.0 * target_count);
    // A new job gives fresh noise, but its budget is what the chain left: the caller passes the
    // spent budget on, and with nothing left everything is refused.
    let (ans, _) = probe(&engine, rows, 10, 0, 25, &[all]);
    assert_eq!(
        ans[0],
        Err(HostError::BudgetExhausted { remaining_milli: 0, requested_milli: 250 })
    );
}

#[test]
fn histogram_and_day_buckets_match_exact_plus_noise() {
    let rows = meter_rows(40, 3, 26);
    let engine = ChaincodeEngine::new(EngineLimits::default()).unwrap();
    let queries = [q(
        vec![],
        vec![GroupKey::Bucket { field: "ts".into(), width: DAY }],
        Aggregate::Histogram { field: "kwh".into(), lo: 0.0, hi: 8.0, buckets: 4 },
        200,
    )];
    let (ans, _) = probe(&engine, rows.clone(), 5, 1_000, 26, &queries);
    let groups = &ans[0].as_ref().unwrap().groups;
    assert_eq!(groups.len(), 3);
    let mut noise = NoiseStream::new(&Hash([26; 32]), 0);
    for (d, g) in groups.iter().enumerate() {
        let day = DAY0 + d as u64;
        assert_eq!(g.key, vec![Scalar::I64(day as i64)]);
        let mut h = [0u64; 4];
        for r in rows.iter().filter(|r| matches!(r[2], Value::Timestamp(t) if t / DAY == day)) {
            h[((kwh(r) / 2.0).floor() as usize).min(3)] += 1;
        }
        let expected: Vec<f64> = h.iter().map(|c| *c as f64 + noise.laplace(5.0)).collect();
        assert_eq!(g.value, AggValue::Histogram(expected));
    }
}

#[test]
fn malformed_queries_get_clear_errors_and_cost_no_budget() {
    let queries = [
        q(vec![], vec![], Aggregate::Sum { field: "watts".into(), lo: 0.0, hi: 1.0 }, 100),
        q(vec![eq("region", 5u64)], vec![], Aggregate::Count, 100),
        q(vec![], vec![], Aggregate::Mean { field: "kwh".into(), lo: 2.0, hi: 1.0 }, 100),
        q(vec![], vec![], Aggregate::Count, 0),
        Query { dataset: 3, ..q(vec![], vec![], Aggregate::Count, 100) },
        q(
            vec![],
            vec![],
            Aggregate::Fhe { field: "kwh".into(), op: FheOp::CountAbove { threshold: 2 } },
            100,
        ),
        q(vec![], vec![GroupKey::Field("kwh".into())], Aggregate::Count, 100),
    ];
    let limits = EngineLimits { max_groups: 16, ..EngineLimits::default() };
    let engine_small = ChaincodeEngine::new(limits).unwrap();
    let (ans, res) = probe(&engine_small, meter_rows(20, 1, 27), 5, 1_000, 27, &queries);
    let msg = |a: &Result<QueryResult, HostError>| a.as_ref().unwrap_err().to_string();
    assert!(msg(&ans[0]).contains("no field `watts`"), "{}", msg(&ans[0]));
    assert!(msg(&ans[1]).contains("cannot be compared"), "{}", msg(&ans[1]));
    assert!(msg(&ans[2]).contains("lo < hi"), "{}", msg(&ans[2]));
    assert!(msg(&ans[3]).contains("epsilon_milli is 0"), "{}", msg(&ans[3]));
    assert_eq!(ans[4], Err(HostError::UnknownDataset(3)));
    assert!(msg(&ans[5]).contains("no FHE backend attached"), "{}", msg(&ans[5]));
    assert_eq!(ans[6], Err(HostError::TooManyGroups { limit: 16 }));
    assert_eq!(res.queries, 0);
    assert_eq!(res.epsilon_spent_milli, vec![0]);
}

/// A stand-in for the vault: "decrypts" by reading the plaintext it was built with.
struct ClearFhe(Vec<u64>);

impl FheBackend for ClearFhe {
    fn aggregate(
        &self,
        _dataset: &Hash,
        _field: usize,
        op: FheOp,
        records: &[u32],
    ) -> Result<u64, String> {
        let vals = records.iter().map(|r| self.0[*r as usize]);
        Ok(match op {
            FheOp::Sum { hi } => vals.map(|v| v.min(u64::from(hi))).sum(),
            FheOp::CountAbove { threshold } => {
                vals.filter(|v| *v > u64::from(threshold)).count() as u64
            }
        })
    }
}

#[test]
fn fhe_aggregates_go_to_the_backend_and_through_the_guard() {
    let rows = meter_rows(30, 1, 28);
    let secret: Vec<u64> = (0..rows.len() as u64).map(|i| i % 7).collect();
    let mut defs = meter_schema().fields.into_inner();
    defs[3] = FieldDef { name: defs[3].name.clone(), ty: FieldType::U64, fhe: true };
    let records = rows
        .iter()
        .zip(&secret)
        .map(|(r, s)| {
            let mut r = r.clone();
            r[3] = Value::U64(*s);
            r
        })
        .collect();
    let v = DatasetView::new(
        Hash([0xd5; 32]),
        Schema { fields: BoundedVec::new(defs).unwrap() },
        policy(5, 1_000),
        Arc::new(records),
    )
    .unwrap();
    let engine = ChaincodeEngine::new(EngineLimits::default())
        .unwrap()
        .with_fhe_backend(Arc::new(ClearFhe(secret.clone())));
    let queries = [
        q(
            vec![eq("region", "east")],
            vec![],
            Aggregate::Fhe { field: "kwh".into(), op: FheOp::Sum { hi: 5 } },
            100,
        ),
        q(
            vec![],
            vec![],
            Aggregate::Fhe { field: "kwh".into(), op: FheOp::CountAbove { threshold: 3 } },
            100,
        ),
        q(vec![], vec![], Aggregate::Sum { field: "kwh".into(), lo: 0.0, hi: 5.0 }, 100),
        q(vec![eq("kwh", 3u64)], vec![], Aggregate::Count, 100),
    ];
    // An array encodes without a length prefix: send a Vec.
    let res = engine
        .execute(&wasm("probe"), &[v], &ctx(28, vec![1_000], queries.to_vec().encode()))
        .unwrap();
    let ans: Answers = decode_untrusted(&res.output).unwrap();
    assert_eq!(ans.len(), 4);
    let job = Hash([28; 32]);
    let east: u64 = rows
        .iter()
        .zip(&secret)
        .filter(|(r, _)| r[1] == Value::String("east".into()))
        .map(|(_, s)| (*s).min(5))
        .sum();
    assert_eq!(number(&ans[0]), east as f64 + NoiseStream::new(&job, 0).laplace(50.0));
    let above = secret.iter().filter(|s| **s > 3).count() as f64;
    assert_eq!(number(&ans[1]), above + NoiseStream::new(&job, 1).laplace(10.0));
    assert!(ans[2].as_ref().unwrap_err().to_string().contains("FHE-encrypted"));
    assert!(ans[3].as_ref().unwrap_err().to_string().contains("FHE-encrypted"));
}
