//! Query compilation (names to indices, literals to the field's type) and evaluation over the
//! decrypted records: filter, group, accumulate. The privacy guard ([`crate::guard`]) decides
//! what of the result is released.
use std::{
    cmp::Ordering,
    collections::{BTreeMap, HashSet},
};

use itc_chaincode_sdk::{Aggregate, CmpOp, FheOp, GroupKey, HostError, Predicate, Query, Scalar};
use itc_primitives::dataset::{FieldType, Schema, Value};
use parity_scale_codec::Encode;

use crate::sketch::{key_bytes, Distinct, SetFilter};

/// A literal converted to the field's domain.
#[derive(Clone, Debug)]
enum Lit {
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug)]
enum PredKind {
    Cmp(CmpOp, Lit),
    In(Vec<Lit>),
}

#[derive(Clone, Debug)]
struct Pred {
    idx: usize,
    kind: PredKind,
}

#[derive(Clone, Copy, Debug)]
enum Key {
    Field(usize),
    Bucket(usize, u64),
}

/// The aggregate with field names resolved.
pub(crate) enum Agg {
    Count,
    Sum { idx: usize, lo: f64, hi: f64 },
    Mean { idx: usize, lo: f64, hi: f64 },
    Histogram { idx: usize, lo: f64, hi: f64, buckets: u32 },
    Min { idx: usize, lo: f64, hi: f64 },
    Max { idx: usize, lo: f64, hi: f64 },
    Distinct { idx: usize, precision: u8 },
    Intersect { idx: usize, filter: SetFilter },
    Fhe { idx: usize, op: FheOp },
}

/// A query checked against a schema.
pub(crate) struct Compiled {
    preds: Vec<Pred>,
    keys: Vec<Key>,
    pub(crate) agg: Agg,
}

fn invalid(msg: String) -> HostError {
    HostError::InvalidQuery(msg)
}

fn is_numeric(t: FieldType) -> bool {
    matches!(t, FieldType::U64 | FieldType::I64 | FieldType::F64 | FieldType::Timestamp)
}

/// Context needed to compile a query beyond the schema.
pub(crate) struct CompileParams {
    pub hll_precision: u8,
    pub max_buckets: u32,
    pub bloom_seed: [u8; 32],
}

fn field(schema: &Schema, name: &str, allow_fhe: bool) -> Result<(usize, FieldType), HostError> {
    let idx = schema
        .index_of(name)
        .ok_or_else(|| invalid(format!("the dataset has no field `{name}`")))?;
    let def = &schema.fields[idx];
    if def.fhe && !allow_fhe {
        return Err(invalid(format!(
            "field `{name}` is FHE-encrypted: only the `fhe` aggregate may read it"
        )));
    }
    if !def.fhe && allow_fhe {
        return Err(invalid(format!(
            "field `{name}` is not FHE-encrypted; use the plaintext aggregates"
        )));
    }
    Ok((idx, def.ty))
}

fn numeric_field(schema: &Schema, name: &str) -> Result<usize, HostError> {
    let (idx, ty) = field(schema, name, false)?;
    if !is_numeric(ty) {
        return Err(invalid(format!("field `{name}` is {ty:?}, a numeric field is needed")));
    }
    Ok(idx)
}

fn bounds(lo: f64, hi: f64) -> Result<(), HostError> {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(invalid(format!("clamp bounds [{lo}, {hi}] must be finite with lo < hi")));
    }
    Ok(())
}

fn lit(name: &str, ty: FieldType, s: &Scalar) -> Result<Lit, HostError> {
    let l = match (ty, s) {
        (t, Scalar::U64(v)) if is_numeric(t) => Lit::Int(i128::from(*v)),
        (t, Scalar::I64(v)) if is_numeric(t) => Lit::Int(i128::from(*v)),
        (t, Scalar::F64(v)) if is_numeric(t) => Lit::Float(*v),
        (FieldType::String, Scalar::Str(v)) => Lit::Str(v.clone()),
        (FieldType::Bytes, Scalar::Bytes(v)) => Lit::Bytes(v.clone()),
        (t, s) => {
            return Err(invalid(format!(
                "field `{name}` is {t:?}; it cannot be compared with {s:?}"
            )))
        }
    };
    Ok(l)
}

impl Compiled {
    /// Resolves `q` against `schema`.
    pub(crate) fn new(q: &Query, schema: &Schema, p: &CompileParams) -> Result<Self, HostError> {
        let mut preds = Vec::with_capacity(q.filters.len());
        for f in &q.filters {
            preds.push(match f {
                Predicate::Cmp { field: name, op, value } => {
                    let (idx, ty) = field(schema, name, false)?;
                    Pred { idx, kind: PredKind::Cmp(*op, lit(name, ty, value)?) }
                }
                Predicate::In { field: name, values } => {
                    let (idx, ty) = field(schema, name, false)?;
                    let lits = values.iter().map(|v| lit(name, ty, v)).collect::<Result<_, _>>()?;
                    Pred { idx, kind: PredKind::In(lits) }
                }
            });
        }
        let mut keys = Vec::with_capacity(q.group_by.len());
        for k in &q.group_by {
            keys.push(match k {
                GroupKey::Field(name) => Key::Field(field(schema, name, false)?.0),
                GroupKey::Bucket { field: name, width } => {
                    if *width == 0 || *width > i64::MAX as u64 {
                        return Err(invalid(format!("bucket width {width} must be 1..=2^63-1")));
                    }
                    Key::Bucket(numeric_field(schema, name)?, *width)
                }
            });
        }
        if keys.len() > 4 {
            return Err(invalid(format!("{} group keys, at most 4", keys.len())));
        }
        let agg = match &q.aggregate {
            Aggregate::Count => Agg::Count,
            Aggregate::Sum { field: f, lo, hi } => {
                bounds(*lo, *hi)?;
                Agg::Sum { idx: numeric_field(schema, f)?, lo: *lo, hi: *hi }
            }
            Aggregate::Mean { field: f, lo, hi } => {
                bounds(*lo, *hi)?;
                Agg::Mean { idx: numeric_field(schema, f)?, lo: *lo, hi: *hi }
            }
            Aggregate::Histogram { field: f, lo, hi, buckets } => {
                bounds(*lo, *hi)?;
                if *buckets == 0 || *buckets > p.max_buckets {
                    return Err(invalid(format!(
                        "{buckets} histogram buckets, it must be 1..={}",
                        p.max_buckets
                    )));
                }
                Agg::Histogram {
                    idx: numeric_field(schema, f)?,
                    lo: *lo,
                    hi: *hi,
                    buckets: *buckets,
                }
            }
            Aggregate::Min { field: f, lo, hi } => {
                bounds(*lo, *hi)?;
                Agg::Min { idx: numeric_field(schema, f)?, lo: *lo, hi: *hi }
            }
            Aggregate::Max { field: f, lo, hi } => {
                bounds(*lo, *hi)?;
                Agg::Max { idx: numeric_field(schema, f)?, lo: *lo, hi: *hi }
            }
            Aggregate::DistinctCount { field: f } => {
                if Distinct::new(p.hll_precision).is_none() {
                    return Err(invalid(format!(
                        "the dataset's HLL precision {} is outside 4..=18",
                        p.hll_precision
                    )));
                }
                Agg::Distinct { idx: field(schema, f, false)?.0, precision: p.hll_precision }
            }
            Aggregate::IntersectionCount { field: f, set } => {
                let (idx, ty) = field(schema, f, false)?;
                for s in set {
                    lit(f, ty, s)?;
                }
                let filter = SetFilter::new(set, &p.bloom_seed)
                    .ok_or_else(|| invalid("the intersection set is too large".into()))?;
                Agg::Intersect { idx, filter }
            }
            Aggregate::Fhe { field: f, op } => Agg::Fhe { idx: field(schema, f, true)?.0, op: *op },
        };
        Ok(Compiled { preds, keys, agg })
    }

    fn matches(&self, rec: &[Value]) -> bool {
        self.preds.iter().all(|p| {
            let Some(v) = rec.get(p.idx) else { return false };
            match &p.kind {
                PredKind::Cmp(op, l) => match (cmp(v, l), op) {
                    (None, CmpOp::Ne) => true,
                    (None, _) => false,
                    (Some(o), CmpOp::Eq) => o == Ordering::Equal,
                    (Some(o), CmpOp::Ne) => o != Ordering::Equal,
                    (Some(o), CmpOp::Lt) => o == Ordering::Less,
                    (Some(o), CmpOp::Le) => o != Ordering::Greater,
                    (Some(o), CmpOp::Gt) => o == Ordering::Greater,
                    (Some(o), CmpOp::Ge) => o != Ordering::Less,
                },
                PredKind::In(ls) => ls.iter().any(|l| cmp(v, l) == Some(Ordering::Equal)),
            }
        })
    }

    fn key(&self, rec: &[Value]) -> Vec<Scalar> {
        self.keys
            .iter()
            .map(|k| match *k {
                Key::Field(i) => match rec.get(i) {
                    Some(Value::U64(v)) | Some(Value::Timestamp(v)) => Scalar::U64(*v),
                    Some(Value::I64(v)) => Scalar::I64(*v),
                    Some(Value::F64(v)) => Scalar::F64(*v),
                    Some(Value::String(s)) => Scalar::Str(s.clone()),
                    Some(Value::Bytes(b)) => Scalar::Bytes(b.clone()),
                    None => Scalar::Bytes(Vec::new()),
                },
                Key::Bucket(i, w) => Scalar::I64(match rec.get(i) {
                    Some(Value::U64(v)) | Some(Value::Timestamp(v)) => {
                        i64::try_from(*v / w).unwrap_or(i64::MAX)
                    }
                    Some(Value::I64(v)) => v.div_euclid(w as i64),
                    // Saturating float-to-int cast; NaN goes to bucket 0.
                    Some(Value::F64(v)) => (*v / w as f64).floor() as i64,
                    _ => 0,
                }),
            })
            .collect()
    }
}

fn cmp(v: &Value, l: &Lit) -> Option<Ordering> {
    match (v, l) {
        (Value::U64(x) | Value::Timestamp(x), Lit::Int(y)) => Some(i128::from(*x).cmp(y)),
        (Value::I64(x), Lit::Int(y)) => Some(i128::from(*x).cmp(y)),
        (Value::F64(x), Lit::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::F64(x), Lit::Float(y)) => x.partial_cmp(y),
        (v, Lit::Float(y)) => v.as_f64().and_then(|x| x.partial_cmp(y)),
        (Value::String(x), Lit::Str(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Bytes(x), Lit::Bytes(y)) => Some(x.as_slice().cmp(y.as_slice())),
        _ => None,
    }
}

/// A numeric value clamped into `[lo, hi]`; NaN counts as `lo`.
fn clamped(rec: &[Value], idx: usize, lo: f64, hi: f64) -> f64 {
    match rec.get(idx).and_then(Value::as_f64) {
        Some(v) if !v.is_nan() => v.clamp(lo, hi),
        _ => lo,
    }
}

/// The running state of one group.
pub(crate) enum Acc {
    Count,
    Sum(f64),
    Hist(Vec<u64>),
    Min(f64),
    Max(f64),
    Distinct(Box<Distinct>),
    Intersect(HashSet<[u8; 8]>),
    Fhe(Vec<u32>),
}

/// One group: its record count and accumulator.
pub(crate) struct GroupAcc {
    pub n: u64,
    pub acc: Acc,
}

impl Agg {
    fn new_acc(&self) -> Acc {
        match self {
            Agg::Count => Acc::Count,
            Agg::Sum { .. } | Agg::Mean { .. } => Acc::Sum(0.0),
            Agg::Histogram { buckets, .. } => Acc::Hist(vec![0; *buckets as usize]),
            Agg::Min { hi, .. } => Acc::Min(*hi),
            Agg::Max { lo, .. } => Acc::Max(*lo),
            // Precision was checked when the dataset was validated.
            Agg::Distinct { precision, .. } => match Distinct::new(*precision) {
                Some(d) => Acc::Distinct(Box::new(d)),
                None => Acc::Count,
            },
            Agg::Intersect { .. } => Acc::Intersect(HashSet::new()),
            Agg::Fhe { .. } => Acc::Fhe(Vec::new()),
        }
    }

    fn add(&self, g: &mut GroupAcc, rec: &[Value], i: u32) {
        g.n += 1;
        match (self, &mut g.acc) {
            (Agg::Sum { idx, lo, hi } | Agg::Mean { idx, lo, hi }, Acc::Sum(s)) => {
                *s += clamped(rec, *idx, *lo, *hi)
            }
            (Agg::Histogram { idx, lo, hi, buckets }, Acc::Hist(h)) => {
                let v = clamped(rec, *idx, *lo, *hi);
                let b = ((v - lo) / (hi - lo) * f64::from(*buckets)).floor() as usize;
                let b = b.min(h.len().saturating_sub(1));
                if let Some(c) = h.get_mut(b) {
                    *c += 1;
                }
            }
            (Agg::Min { idx, lo, hi }, Acc::Min(m)) => *m = m.min(clamped(rec, *idx, *lo, *hi)),
            (Agg::Max { idx, lo, hi }, Acc::Max(m)) => *m = m.max(clamped(rec, *idx, *lo, *hi)),
            (Agg::Distinct { idx, .. }, Acc::Distinct(d)) => {
                if let Some(v) = rec.get(*idx) {
                    d.insert(v)
                }
            }
            (Agg::Intersect { idx, filter }, Acc::Intersect(set)) => {
                if let Some(v) = rec.get(*idx) {
                    if filter.contains(v) {
                        set.insert(key_bytes(v));
                    }
                }
            }
            (Agg::Fhe { .. }, Acc::Fhe(recs)) => recs.push(i),
            _ => {}
        }
    }
}

/// The groups of an evaluated query, in ascending order of their keys' SCALE encoding, and
/// which records fell in which group (to pay contributors of released groups only).
pub(crate) struct Evaluated {
    pub groups: Vec<(Vec<Scalar>, GroupAcc)>,
    /// Matching record indices (left empty when `all_hit`).
    pub hits: Vec<u32>,
    /// An ungrouped query without filters: every record is in the one group.
    pub all_hit: bool,
    /// For grouped queries, the position in `groups` of each hit's group (parallel to `hits`).
    pub hit_groups: Vec<u32>,
}

/// Too many groups: evaluation stops as soon as the limit is passed.
pub(crate) struct TooManyGroups;

impl Compiled {
    /// Filters, groups and accumulates `records`.
    pub(crate) fn evaluate(
        &self,
        records: &[Vec<Value>],
        max_groups: usize,
    ) -> Result<Evaluated, TooManyGroups> {
        let mut hits = Vec::new();
        if self.keys.is_empty() {
            let mut g = GroupAcc { n: 0, acc: self.agg.new_acc() };
            let all_hit = self.preds.is_empty();
            for (i, rec) in records.iter().enumerate() {
                if all_hit {
                    self.agg.add(&mut g, rec, i as u32);
                } else if self.matches(rec) {
                    let i = i as u32;
                    self.agg.add(&mut g, rec, i);
                    hits.push(i);
                }
            }
            return Ok(Evaluated {
                groups: vec![(Vec::new(), g)],
                hits,
                all_hit,
                hit_groups: Vec::new(),
            });
        }
        let mut slots: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        let mut groups: Vec<(Vec<Scalar>, GroupAcc)> = Vec::new();
        let mut hit_slots = Vec::new();
        for (i, rec) in records.iter().enumerate() {
            if !self.matches(rec) {
                continue;
            }
            let key = self.key(rec);
            let enc = key.encode();
            let slot = match slots.get(&enc) {
                Some(s) => *s,
                None => {
                    if groups.len() >= max_groups {
                        return Err(TooManyGroups);
                    }
                    let s = groups.len() as u32;
                    slots.insert(enc, s);
                    groups.push((key, GroupAcc { n: 0, acc: self.agg.new_acc() }));
                    s
                }
            };
            let i = i as u32;
            if let Some((_, g)) = groups.get_mut(slot as usize) {
                self.agg.add(g, rec, i);
            }
            hits.push(i);
            hit_slots.push(slot);
        }
        // Re-number groups in key order.
        let order: Vec<u32> = slots.values().copied().collect();
        let mut rank = vec![0u32; groups.len()];
        for (r, s) in order.iter().enumerate() {
            rank[*s as usize] = r as u32;
        }
        let mut taken: Vec<Option<(Vec<Scalar>, GroupAcc)>> =
            groups.into_iter().map(Some).collect();
        let groups = order.iter().filter_map(|s| taken[*s as usize].take()).collect();
        let hit_groups = hit_slots.iter().map(|s| rank[*s as usize]).collect();
        Ok(Evaluated { groups, hits, all_hit: false, hit_groups })
    }
}
