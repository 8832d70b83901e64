//! A test contract: runs the queries it is given and returns every answer.
//!
//! The job input is SCALE `Vec<Query>`; the output is SCALE `Vec<Result<QueryResult,
//! HostError>>`, one entry per query, in order. The engine's tests use it to exercise the host
//! API directly; it is also a template for contracts whose queries are decided off chain.
#![no_std]
extern crate alloc;

use itc_chaincode_sdk::{prelude::*, run_query, Query};

fn run(ctx: &Context) -> Vec<Result<QueryResult, HostError>> {
    match ctx.input_as::<Vec<Query>>() {
        Ok(queries) => queries.into_iter().map(run_query).collect(),
        Err(e) => alloc::vec![Err(e)],
    }
}

itc_chaincode_sdk::entry!(run);
