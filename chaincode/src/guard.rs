//! The privacy guard: decides which groups are released and adds the noise.
//!
//! A group is released only if at least `k` records fell in it (for an intersection count,
//! also at least `k` distinct values matched). Each released value gets Laplace noise scaled to
//! the aggregate's sensitivity over the query's epsilon, drawn from the query's
//! [`NoiseStream`] as documented in [`crate::privacy`]. Sensitivities, with `[lo, hi]` the
//! query's clamp bounds:
//!
//! | aggregate | released value |
//! |---|---|
//! | count | `n + Lap(1/ε)` |
//! | sum | `Σ clamp(v) + Lap(max(|lo|,|hi|)/ε)` |
//! | mean | `(Σ clamp(v) + Lap(max(|lo|,|hi|)/(ε/2))) / max(n + Lap(1/(ε/2)), 1)` |
//! | histogram | per bucket `c + Lap(1/ε)` |
//! | min, max | `m + Lap((hi−lo)/ε)` |
//! | distinct count | `HLL++ estimate + Lap(1/ε)` |
//! | intersection count | `matches + Lap(1/ε)` |
//! | FHE sum ≤ hi / count above | `backend value + Lap(hi/ε)` / `+ Lap(1/ε)` |
use std::sync::Arc;

use itc_chaincode_sdk::{AggValue, FheOp, Group, HostError, QueryResult, Scalar};
use itc_primitives::Hash;

use crate::{
    fhe::FheBackend,
    privacy::{epsilon, NoiseStream},
    query::{Acc, Agg, GroupAcc},
};

/// What the guard lets out of one query.
pub(crate) struct Released {
    /// The result chaincode sees.
    pub result: QueryResult,
    /// Per group of the evaluation (key order), whether it was released.
    pub released: Vec<bool>,
}

/// Applies the k-threshold and the noise.
pub(crate) fn release(
    groups_in: Vec<(Vec<Scalar>, GroupAcc)>,
    agg: &Agg,
    k: u64,
    epsilon_milli: u32,
    noise: &mut NoiseStream,
    fhe: Option<&Arc<dyn FheBackend>>,
    dataset: &Hash,
) -> Result<Released, HostError> {
    let eps = epsilon(epsilon_milli);
    let mut groups = Vec::new();
    let mut released = Vec::with_capacity(groups_in.len());
    for (key, g) in groups_in {
        if g.n < k {
            released.push(false);
            continue;
        }
        let n = g.n as f64;
        let value = match (agg, g.acc) {
            (Agg::Sum { lo, hi, .. }, Acc::Sum(s)) => {
                AggValue::Number(s + noise.laplace(lo.abs().max(hi.abs()) / eps))
            }
            (Agg::Mean { lo, hi, .. }, Acc::Sum(s)) => {
                let half = eps / 2.0;
                let sum = s + noise.laplace(lo.abs().max(hi.abs()) / half);
                let count = n + noise.laplace(1.0 / half);
                AggValue::Number(sum / count.max(1.0))
            }
            (Agg::Histogram { .. }, Acc::Hist(h)) => AggValue::Histogram(
                h.iter().map(|c| *c as f64 + noise.laplace(1.0 / eps)).collect(),
            ),
            (Agg::Min { lo, hi, .. }, Acc::Min(m)) | (Agg::Max { lo, hi, .. }, Acc::Max(m)) => {
                AggValue::Number(m + noise.laplace((hi - lo) / eps))
            }
            (Agg::Distinct { .. }, Acc::Distinct(mut d)) => {
                AggValue::Number(d.estimate() + noise.laplace(1.0 / eps))
            }
            (Agg::Intersect { .. }, Acc::Intersect(set)) => {
                if (set.len() as u64) < k {
                    released.push(false);
                    continue;
                }
                AggValue::Number(set.len() as f64 + noise.laplace(1.0 / eps))
            }
            (Agg::Fhe { idx, op }, Acc::Fhe(recs)) => {
                let backend = fhe.ok_or_else(no_fhe)?;
                let v = backend
                    .aggregate(dataset, *idx, *op, &recs)
                    .map_err(|e| HostError::Unsupported(format!("the FHE backend failed: {e}")))?;
                let sens = match op {
                    FheOp::Sum { hi } => f64::from(*hi),
                    FheOp::CountAbove { .. } => 1.0,
                };
                AggValue::Number(v as f64 + noise.laplace(sens / eps))
            }
            // Count, and (unreachable) accumulator mismatches, release the noisy count.
            _ => AggValue::Number(n + noise.laplace(1.0 / eps)),
        };
        released.push(true);
        groups.push(Group { key, value });
    }
    Ok(Released { result: QueryResult { groups }, released })
}

/// The error an FHE query gets on an engine without a backend.
pub(crate) fn no_fhe() -> HostError {
    HostError::Unsupported(
        "no FHE backend attached: this executor cannot aggregate encrypted columns".into(),
    )
}
