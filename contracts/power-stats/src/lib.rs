//! Mean and histogram of power use for the devices matching a filter.
//!
//! Dataset 0 needs fields `region` (string) and `kwh` (f64). The job input is SCALE
//! [`Params`]. Output: SCALE `Result<PowerStats, HostError>`.
#![no_std]
extern crate alloc;

use itc_chaincode_sdk::prelude::*;

/// What to measure.
#[derive(Encode, Decode, Debug, PartialEq)]
pub struct Params {
    /// Only devices in this region.
    pub region: String,
    /// Only readings above this many kWh.
    pub min_kwh: f64,
    /// Clamp and histogram range, kWh.
    pub lo: f64,
    /// Upper end of the range, kWh.
    pub hi: f64,
    /// Histogram buckets.
    pub buckets: u32,
    /// Epsilon per query, thousandths.
    pub epsilon_milli: u32,
}

/// The result; `None` where the group had fewer than k records.
#[derive(Encode, Decode, Debug, PartialEq)]
pub struct PowerStats {
    /// Noisy mean kWh.
    pub mean: Option<f64>,
    /// Noisy bucket counts.
    pub histogram: Option<Vec<f64>>,
}

fn run(ctx: &Context) -> Result<PowerStats, HostError> {
    let p: Params = ctx.input_as()?;
    let data = Dataset::open(0)?;
    let matching = || {
        data.query()
            .eq("region", p.region.as_str())
            .gt("kwh", p.min_kwh)
            .epsilon_milli(p.epsilon_milli)
    };
    let mean = single_number(&matching().mean("kwh", p.lo, p.hi)?);
    let histogram = matching()
        .histogram("kwh", p.lo, p.hi, p.buckets)?
        .single()
        .and_then(|v| v.histogram().map(|h| h.to_vec()));
    Ok(PowerStats { mean, histogram })
}

itc_chaincode_sdk::entry!(run);
