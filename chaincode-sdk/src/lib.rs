//! # itc-chaincode-sdk: write ITC analytics chaincode
//!
//! Chaincode is a WASM module (`wasm32-unknown-unknown`) that a company deploys and runs over
//! datasets it never sees. It asks the executor's engine (`itc-chaincode`) for aggregates:
//! the engine filters and groups the decrypted records, suppresses every group with fewer than
//! the dataset's `k` records, adds Laplace noise and charges each query's epsilon to the
//! company's privacy budget for that dataset. Chaincode gets numbers, never rows.
//!
//! ## A complete contract
//!
//! `Cargo.toml`:
//! ```toml
//! [package]
//! name = "avg-power"
//! version = "0.1.0"
//! edition = "2021"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! itc-chaincode-sdk = { path = "../../chaincode-sdk" }
//! parity-scale-codec = { version = "3.7", default-features = false, features = ["derive"] }
//!
//! [profile.release]
//! opt-level = "z"
//! lto = true
//! panic = "abort"
//! ```
//!
//! `src/lib.rs` (a contract writes plain `#![no_std]`; the `cfg_attr` only lets this example
//! also run as a doc test on the host):
//! ```
//! #![cfg_attr(target_arch = "wasm32", no_std)]
//! extern crate alloc;
//! use alloc::vec::Vec;
//! use itc_chaincode_sdk::prelude::*;
//!
//! /// What the job returns (SCALE-encoded): mean power per region, suppressed regions absent.
//! #[derive(Encode, Decode)]
//! pub struct Output {
//!     pub regions: Vec<(String, f64)>,
//! }
//!
//! fn run(_ctx: &Context) -> Result<Output, HostError> {
//!     let meters = Dataset::open(0)?;
//!     let result = meters
//!         .query()
//!         .gt("kwh", 0.0)              // filter: only metered hours
//!         .group_by("region")          // one group per region
//!         .epsilon_milli(200)          // spend 0.2 of the budget
//!         .mean("kwh", 0.0, 10.0)?;    // clamp to [0, 10] kWh: fixes the noise scale
//!     let regions = result
//!         .groups
//!         .iter()
//!         .filter_map(|g| Some((key_text(&g.key), g.value.number()?)))
//!         .collect();
//!     Ok(Output { regions })
//! }
//!
//! itc_chaincode_sdk::entry!(run);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-unknown-unknown`; the module is
//! `target/wasm32-unknown-unknown/release/avg_power.wasm`. The job's output is the SCALE
//! encoding of what `run` returns (here `Result<Output, HostError>`), which the company decodes
//! with the same types.
//!
//! ## What to know
//! - **Datasets** are numbered in the order the job names them; [`Dataset::open`] returns the
//!   schema, `k` and the budget left.
//! - **Queries**: [`Dataset::query`] gives a [`QueryBuilder`]; add filters (`eq`, `ne`, `lt`,
//!   `le`, `gt`, `ge`, `is_in`) and group keys (`group_by`, `group_by_bucket`), then call one
//!   aggregate: `count`, `sum`, `mean`, `histogram`, `min`, `max`, `distinct_count`
//!   (HyperLogLog++), `intersection_count` (Bloom filter over your set) or `fhe` (encrypted
//!   columns, when the executor has an FHE backend).
//! - **Numeric aggregates take clamp bounds** `[lo, hi]`: each value is clamped into them and the
//!   noise is scaled to them, so tight bounds give precise answers.
//! - **Results are noisy and thresholded.** A group with fewer than `k` records is absent from
//!   [`QueryResult::groups`]; an ungrouped query that was suppressed has no groups
//!   ([`QueryResult::single`] is `None`).
//! - **Budget**: every query spends its `epsilon_milli` (default [`DEFAULT_EPSILON_MILLI`]);
//!   once a dataset's budget is spent the host answers [`HostError::BudgetExhausted`].
//! - **Input**: [`Context::input`] is the job's input bytes, e.g. a SCALE `Vec<String>` of
//!   customer ids for an intersection count ([`Context::input_as`]).
//! - **Limits**: fuel, memory, host calls and output size are bounded by the executor; exceeding
//!   one stops the job with an error and no output.
//!
//! The host ABI is described in [`host`]; the wire types in [`abi`].
#![no_std]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

extern crate alloc;

pub mod abi;
pub mod host;
pub mod query;

#[cfg(target_arch = "wasm32")]
pub mod bump;

pub use abi::{
    AggValue, Aggregate, CmpOp, DatasetInfo, FheOp, FieldInfo, FieldKind, Group, GroupKey,
    HostError, HostRequest, HostResponse, Predicate, Query, QueryResult, Scalar,
};
pub use parity_scale_codec;
pub use query::{
    key_text, run_query, single_number, Dataset, QueryBuilder, DAY_MS, DEFAULT_EPSILON_MILLI,
};

/// Everything a contract usually needs.
pub mod prelude {
    pub use crate::{
        key_text, single_number, AggValue, CmpOp, Context, Dataset, FheOp, Group, HostError,
        QueryBuilder, QueryResult, Scalar, DAY_MS,
    };
    pub use alloc::{string::String, vec, vec::Vec};
    pub use parity_scale_codec::{Decode, Encode};
}

/// The job as the entry point sees it.
#[derive(Debug, Default)]
pub struct Context {
    _private: (),
}

impl Context {
    /// The context of the running job (the [`entry!`] macro makes it).
    pub fn new() -> Self {
        Context { _private: () }
    }

    /// The job input bytes.
    pub fn input(&self) -> alloc::vec::Vec<u8> {
        host::input()
    }

    /// The job input decoded as SCALE `T`.
    pub fn input_as<T: parity_scale_codec::Decode>(&self) -> Result<T, HostError> {
        let bytes = self.input();
        T::decode(&mut &bytes[..])
            .map_err(|_| HostError::BadRequest("the job input does not decode".into()))
    }

    /// Number of datasets the job names.
    pub fn dataset_count(&self) -> u32 {
        host::dataset_count()
    }
}

/// Declares the chaincode entry point: `entry!(f)` with `fn f(&Context) -> T`, `T: Encode`,
/// exports `run()` which calls `f` and sets the job output to the SCALE encoding of its result.
#[macro_export]
macro_rules! entry {
    ($f:path) => {
        /// The chaincode entry point the engine calls, exported as `run`.
        #[allow(unsafe_code)]
        #[export_name = "run"]
        pub extern "C" fn __itc_chaincode_run() {
            let ctx = $crate::Context::new();
            let out = $f(&ctx);
            $crate::host::set_output(&out);
        }
    };
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: bump::BumpAllocator = bump::BumpAllocator::new();

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
