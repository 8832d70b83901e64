//! Unique active devices per region per day, estimated with HyperLogLog++.
//!
//! Dataset 0 needs fields `device` (string), `region` (string) and `ts` (timestamp). The job
//! input is the epsilon to spend, SCALE `u32` in thousandths (empty input: 500).
//! Output: SCALE `Result<Vec<RegionDay>, HostError>`, suppressed (region, day) pairs absent.
#![no_std]
extern crate alloc;

use itc_chaincode_sdk::prelude::*;

/// One released (region, day) estimate.
#[derive(Encode, Decode, Debug, PartialEq)]
pub struct RegionDay {
    /// Region name.
    pub region: String,
    /// UTC day number (days since the Unix epoch).
    pub day: i64,
    /// Noisy estimate of distinct devices.
    pub devices: f64,
}

fn run(ctx: &Context) -> Result<Vec<RegionDay>, HostError> {
    let epsilon = ctx.input_as::<u32>().unwrap_or(500);
    let data = Dataset::open(0)?;
    let result = data
        .query()
        .group_by("region")
        .group_by_bucket("ts", DAY_MS)
        .epsilon_milli(epsilon)
        .distinct_count("device")?;
    let mut out = Vec::new();
    for g in result.groups {
        if let ([Scalar::Str(region), Scalar::I64(day)], Some(devices)) =
            (g.key.as_slice(), g.value.number())
        {
            out.push(RegionDay { region: region.clone(), day: *day, devices });
        }
    }
    Ok(out)
}

itc_chaincode_sdk::entry!(run);
