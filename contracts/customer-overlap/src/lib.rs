//! How many of my customer ids appear in a dataset (Bloom-filter intersection count).
//!
//! The job input is SCALE [`Params`]: the field holding customer ids in dataset 0 and my ids.
//! Output: SCALE `Result<Option<f64>, HostError>` (`None` if fewer than k ids matched).
#![no_std]
extern crate alloc;

use itc_chaincode_sdk::prelude::*;

/// The question.
#[derive(Encode, Decode, Debug, PartialEq)]
pub struct Params {
    /// Field of dataset 0 that holds customer ids (a string field).
    pub field: String,
    /// My customer ids.
    pub ids: Vec<String>,
    /// Epsilon to spend, thousandths.
    pub epsilon_milli: u32,
}

fn run(ctx: &Context) -> Result<Option<f64>, HostError> {
    let p: Params = ctx.input_as()?;
    let set = p.ids.into_iter().map(Scalar::Str).collect();
    let result = Dataset::open(0)?
        .query()
        .epsilon_milli(p.epsilon_milli)
        .intersection_count(&p.field, set)?;
    Ok(single_number(&result))
}

itc_chaincode_sdk::entry!(run);
