//! The host side of the sandbox: the per-job state and the `itc.*` functions chaincode imports.
//!
//! These functions are the only way chaincode reaches data. Each call is counted against the
//! host-call limit and costs fuel; a query also costs fuel per record scanned, so host work is
//! metered as deterministically as wasm instructions.
use std::sync::Arc;

use itc_chaincode_sdk::{
    abi::FieldKind, Aggregate, DatasetInfo, FieldInfo, HostError, HostRequest, HostResponse, Query,
};
use itc_primitives::{dataset::FieldType, decode_untrusted, hash::blake2_256_concat, Hash};
use parity_scale_codec::Encode;
use wasmtime::{Caller, Linker, Memory};

use crate::{
    fhe::FheBackend,
    guard::{no_fhe, release},
    job::DatasetView,
    limits::Limiter,
    privacy::{Budget, NoiseStream},
    query::{CompileParams, Compiled, Evaluated, TooManyGroups},
    EngineLimits,
};

/// The names the host provides in the `itc` import module.
pub const HOST_IMPORTS: &[&str] =
    &["input_len", "input_read", "dataset_count", "call", "take", "output"];

/// Domain separator of the per-query Bloom filter seed.
pub const BLOOM_DOMAIN: &[u8] = b"itc/chaincode/bloom/v1";

/// A host-side reason to stop the job (carried through wasmtime as the trap's error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostTrap {
    HostCalls(u32),
    OutOfFuel,
    Output { size: usize, limit: usize },
    BadBuffer(String),
}

impl core::fmt::Display for HostTrap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for HostTrap {}

/// What every job of the engine shares: the read-only inputs.
pub(crate) struct JobInputs {
    pub datasets: Vec<DatasetView>,
    pub job_id: Hash,
    pub input: Vec<u8>,
    pub fhe: Option<Arc<dyn FheBackend>>,
    pub limits: EngineLimits,
}

/// The state of one job inside its `Store`.
pub(crate) struct HostState {
    pub limiter: Limiter,
    pub inputs: Arc<JobInputs>,
    pub budgets: Vec<Budget>,
    /// Per dataset, a bitmap of the records that contributed to a released aggregate.
    pub contributed: Vec<Vec<u64>>,
    pub queries: u32,
    pub host_calls: u32,
    pending: Vec<u8>,
    pub output: Vec<u8>,
}

impl HostState {
    pub(crate) fn new(inputs: Arc<JobInputs>, budgets: &[u32]) -> Self {
        let contributed =
            inputs.datasets.iter().map(|d| vec![0u64; d.records.len().div_ceil(64)]).collect();
        HostState {
            limiter: Limiter::new(&inputs.limits),
            budgets: budgets.iter().map(|b| Budget::new(*b)).collect(),
            inputs,
            contributed,
            queries: 0,
            host_calls: 0,
            pending: Vec::new(),
            output: Vec::new(),
        }
    }

    fn handle(&mut self, request: HostRequest) -> Result<HostResponse, HostError> {
        match request {
            HostRequest::Schema(i) => {
                let d = self.inputs.datasets.get(i as usize).ok_or(HostError::UnknownDataset(i))?;
                let fields = d
                    .schema
                    .fields
                    .iter()
                    .map(|f| FieldInfo { name: f.name_str(), kind: kind(f.ty), fhe: f.fhe })
                    .collect();
                let remaining = self.budgets.get(i as usize).map_or(0, Budget::remaining);
                Ok(HostResponse::Schema(DatasetInfo {
                    fields,
                    k: d.policy.k,
                    epsilon_remaining_milli: remaining,
                }))
            }
            HostRequest::Query(q) => self.query(q).map(HostResponse::Query),
        }
    }

    /// Runs a query: check the budget, compile, evaluate, release through the guard, charge.
    fn query(&mut self, q: Query) -> Result<itc_chaincode_sdk::QueryResult, HostError> {
        let inputs = Arc::clone(&self.inputs);
        let limits = &inputs.limits;
        if self.queries >= limits.max_queries {
            return Err(HostError::QueryLimit { limit: limits.max_queries });
        }
        let di = q.dataset as usize;
        let d = inputs.datasets.get(di).ok_or(HostError::UnknownDataset(q.dataset))?;
        if q.epsilon_milli == 0 {
            return Err(HostError::InvalidQuery(
                "epsilon_milli is 0; every query must spend some budget".into(),
            ));
        }
        let remaining = self.budgets.get(di).map_or(0, Budget::remaining);
        if q.epsilon_milli > remaining {
            return Err(HostError::BudgetExhausted {
                remaining_milli: remaining,
                requested_milli: q.epsilon_milli,
            });
        }
        if matches!(q.aggregate, Aggregate::Fhe { .. }) && inputs.fhe.is_none() {
            return Err(no_fhe());
        }
        let query_index = self.queries;
        let bloom_seed = blake2_256_concat(&[
            BLOOM_DOMAIN,
            inputs.job_id.as_bytes(),
            &query_index.to_le_bytes(),
        ])
        .0;
        let params = CompileParams {
            hll_precision: d.policy.hll_precision,
            max_buckets: limits.max_buckets,
            bloom_seed,
        };
        let compiled = Compiled::new(&q, &d.schema, &params)?;
        let ev = compiled
            .evaluate(&d.records, limits.max_groups as usize)
            .map_err(|TooManyGroups| HostError::TooManyGroups { limit: limits.max_groups })?;
        let mut noise = NoiseStream::new(&inputs.job_id, query_index);
        let Evaluated { groups, hits, all_hit, hit_groups } = ev;
        let out = release(
            groups,
            &compiled.agg,
            u64::from(d.policy.k),
            q.epsilon_milli,
            &mut noise,
            inputs.fhe.as_ref(),
            &d.id,
        )?;
        if let Some(b) = self.budgets.get_mut(di) {
            b.charge(q.epsilon_milli);
        }
        self.queries += 1;
        if let Some(bits) = self.contributed.get_mut(di) {
            if all_hit && out.released.first().copied().unwrap_or(false) {
                mark_all(bits, d.records.len());
            }
            let grouped = !hit_groups.is_empty();
            for (j, r) in hits.iter().enumerate() {
                let g = if grouped { hit_groups[j] as usize } else { 0 };
                if out.released.get(g).copied().unwrap_or(false) {
                    if let Some(w) = bits.get_mut(*r as usize / 64) {
                        *w |= 1 << (r % 64);
                    }
                }
            }
        }
        Ok(out.result)
    }
}

/// Sets the first `n` bits.
fn mark_all(bits: &mut [u64], n: usize) {
    for (i, w) in bits.iter_mut().enumerate() {
        let left = n.saturating_sub(i * 64);
        *w |= if left >= 64 { u64::MAX } else { (1u64 << left) - 1 };
    }
}

fn kind(t: FieldType) -> FieldKind {
    match t {
        FieldType::U64 => FieldKind::U64,
        FieldType::I64 => FieldKind::I64,
        FieldType::F64 => FieldKind::F64,
        FieldType::String => FieldKind::String,
        FieldType::Bytes => FieldKind::Bytes,
        FieldType::Timestamp => FieldKind::Timestamp,
    }
}

fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<Memory> {
    caller.get_export("memory").and_then(|e| e.into_memory()).ok_or_else(|| {
        HostTrap::BadBuffer("the module exports no memory named `memory`".into()).into()
    })
}

fn charge(caller: &mut Caller<'_, HostState>, fuel: u64) -> wasmtime::Result<()> {
    let left = caller.get_fuel()?;
    if left < fuel {
        caller.set_fuel(0)?;
        return Err(HostTrap::OutOfFuel.into());
    }
    caller.set_fuel(left - fuel)?;
    Ok(())
}

/// Counts the call and charges its base fuel.
fn enter(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<()> {
    let st = caller.data_mut();
    st.host_calls = st.host_calls.saturating_add(1);
    let limit = st.inputs.limits.max_host_calls;
    if st.host_calls > limit {
        return Err(HostTrap::HostCalls(limit).into());
    }
    let fuel = st.inputs.limits.host_call_fuel;
    charge(caller, fuel)
}

fn read(caller: &mut Caller<'_, HostState>, ptr: u32, len: u32) -> wasmtime::Result<Vec<u8>> {
    let mem = memory(caller)?;
    let (start, end) = (ptr as usize, ptr as usize + len as usize);
    mem.data(&*caller).get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
        HostTrap::BadBuffer(format!("bytes {start}..{end} are outside linear memory")).into()
    })
}

fn write(caller: &mut Caller<'_, HostState>, ptr: u32, bytes: &[u8]) -> wasmtime::Result<()> {
    let mem = memory(caller)?;
    let (start, end) = (ptr as usize, ptr as usize + bytes.len());
    match mem.data_mut(&mut *caller).get_mut(start..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        None => {
            Err(HostTrap::BadBuffer(format!("bytes {start}..{end} are outside linear memory"))
                .into())
        }
    }
}

/// Defines the `itc.*` functions in `linker`.
pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "itc",
        "input_len",
        |mut caller: Caller<'_, HostState>| -> wasmtime::Result<u32> {
            enter(&mut caller)?;
            Ok(caller.data().inputs.input.len() as u32)
        },
    )?;
    linker.func_wrap(
        "itc",
        "input_read",
        |mut caller: Caller<'_, HostState>, ptr: u32| -> wasmtime::Result<()> {
            enter(&mut caller)?;
            let inputs = Arc::clone(&caller.data().inputs);
            charge(&mut caller, inputs.input.len() as u64)?;
            write(&mut caller, ptr, &inputs.input)
        },
    )?;
    linker.func_wrap(
        "itc",
        "dataset_count",
        |mut caller: Caller<'_, HostState>| -> wasmtime::Result<u32> {
            enter(&mut caller)?;
            Ok(caller.data().inputs.datasets.len() as u32)
        },
    )?;
    linker.func_wrap(
        "itc",
        "call",
        |mut caller: Caller<'_, HostState>, ptr: u32, len: u32| -> wasmtime::Result<u32> {
            enter(&mut caller)?;
            let (max, per_record) = {
                let l = &caller.data().inputs.limits;
                (l.max_request_bytes, l.fuel_per_record)
            };
            if len > max {
                return Err(HostTrap::BadBuffer(format!(
                    "a {len}-byte request, the limit is {max}"
                ))
                .into());
            }
            charge(&mut caller, u64::from(len))?;
            let bytes = read(&mut caller, ptr, len)?;
            let response = match decode_untrusted::<HostRequest>(&bytes) {
                Ok(request) => {
                    if let HostRequest::Query(q) = &request {
                        // Scans are paid up front: a refused query still read the records.
                        let n = caller
                            .data()
                            .inputs
                            .datasets
                            .get(q.dataset as usize)
                            .map_or(0, |d| d.records.len() as u64);
                        charge(&mut caller, n.saturating_mul(per_record))?;
                    }
                    caller.data_mut().handle(request)
                }
                Err(e) => Err(HostError::BadRequest(format!("the request does not decode: {e}"))),
            };
            let encoded = response.encode();
            let n = encoded.len() as u32;
            caller.data_mut().pending = encoded;
            Ok(n)
        },
    )?;
    linker.func_wrap(
        "itc",
        "take",
        |mut caller: Caller<'_, HostState>, ptr: u32| -> wasmtime::Result<()> {
            enter(&mut caller)?;
            let pending = std::mem::take(&mut caller.data_mut().pending);
            write(&mut caller, ptr, &pending)
        },
    )?;
    linker.func_wrap(
        "itc",
        "output",
        |mut caller: Caller<'_, HostState>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            enter(&mut caller)?;
            let limit = caller.data().inputs.limits.max_output_bytes;
            if len as usize > limit {
                return Err(HostTrap::Output { size: len as usize, limit }.into());
            }
            let bytes = read(&mut caller, ptr, len)?;
            caller.data_mut().output = bytes;
            Ok(())
        },
    )?;
    Ok(())
}
