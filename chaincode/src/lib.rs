//! # itc-chaincode: the analytics chaincode engine
//!
//! Runs company chaincode (WASM built with `itc-chaincode-sdk`) over decrypted datasets inside a
//! wasmtime sandbox, and lets it learn only privacy-guarded aggregates.
//!
//! ```text
//! caller (executor) ──DatasetView + JobContext──▶ ChaincodeEngine::execute
//!     precheck (size, functions, data, imports) → compile (cached by blake2-256 code hash)
//!     → instantiate (StoreLimits, fuel) → run()
//!         chaincode ──itc.call(Query)──▶ host: compile query → scan (fuel per record)
//!                                           → guard: k-threshold, Laplace noise, budget
//!         chaincode ◀── QueryResult (noisy numbers of released groups only)
//!     ◀── ExecutionResult { output, fuel_used, queries, epsilon_spent_milli, records_contributed }
//! ```
//!
//! * **Sandbox** ([`ChaincodeEngine::new`]): fuel metering, `StoreLimits` on memory, tables and
//!   instances (a refused growth traps at once), a fixed `max_wasm_stack`, NaN
//!   canonicalisation, no WASI, threads, SIMD or relaxed SIMD. Module size, function count, data
//!   segments, initial memory and imports are checked before compiling ([`precheck`]).
//! * **Host API**: the `itc` import module, described in `itc_chaincode_sdk::host`; requests
//!   and results are the SCALE types of `itc_chaincode_sdk::abi`.
//! * **Privacy guard** ([`guard`], [`privacy`]): groups of fewer than `k` records are dropped;
//!   every released number carries Laplace noise seeded by (job id, query index); each query
//!   spends its epsilon from the (company, dataset) budget and is refused when it cannot; the
//!   output is size-limited; no row, sketch or per-record value is ever returned.
//! * **FHE**: aggregates over encrypted columns go to an attached [`FheBackend`] ([`VaultFhe`]
//!   computes them on the vault's TFHE columns and has the owner decrypt); without one, they are
//!   answered `Unsupported`.
//! * **Determinism**: same code, datasets and context give the same output bytes and fuel.
//!
//! ## Example
//! ```no_run
//! use std::sync::Arc;
//! use itc_chaincode::{ChaincodeEngine, DatasetView, EngineLimits, JobContext};
//! use itc_primitives::{dataset::*, Hash, Public};
//! # fn wasm() -> Vec<u8> { Vec::new() }
//! let engine = ChaincodeEngine::new(EngineLimits::default())?;
//! let view = DatasetView::new(
//!     Hash([1; 32]),
//!     Schema::from_fields(&[("region", FieldType::String), ("kwh", FieldType::F64)]).unwrap(),
//!     AnalyticsPolicy {
//!         k: 10,
//!         price_per_record: 1,
//!         epsilon_budget_milli: 1_000,
//!         hll_precision: 14,
//!         allowed_chaincode: Default::default(),
//!     },
//!     Arc::new(vec![vec![Value::String("north".into()), Value::F64(1.5)]]),
//! )?;
//! let ctx = JobContext {
//!     job_id: Hash([2; 32]),
//!     company: Public([3; 32]),
//!     budget_remaining_milli: vec![1_000],
//!     input: Vec::new(),
//! };
//! let result = engine.execute(&wasm(), &[view], &ctx)?;
//! println!("{} output bytes, {} fuel", result.output.len(), result.fuel_used);
//! # Ok::<(), itc_chaincode::Error>(())
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod engine;
mod error;
pub mod fhe;
pub mod guard;
mod host;
mod job;
mod limits;
pub mod privacy;
mod query;
pub mod sketch;
mod validate;

pub use engine::ChaincodeEngine;
pub use error::{Error, Result};
pub use fhe::{AggregateDecryptor, FheBackend, VaultFhe};
pub use host::{BLOOM_DOMAIN, HOST_IMPORTS};
pub use itc_chaincode_sdk as sdk;
pub use job::{DatasetView, ExecutionResult, JobContext};
pub use limits::EngineLimits;
pub use validate::precheck;
