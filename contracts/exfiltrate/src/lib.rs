//! A hostile contract: it tries every way it has to pull rows out of dataset 0 (fields `device`
//! string, `kwh` f64). It reports what it got; the engine's tests prove none of it identifies a
//! record.
#![no_std]
extern crate alloc;

use itc_chaincode_sdk::prelude::*;

/// One attempt and what the host answered.
#[derive(Encode, Decode, Debug, PartialEq)]
pub struct Attempt {
    /// What was tried.
    pub name: String,
    /// The host's answer.
    pub outcome: Result<QueryResult, HostError>,
}

fn attempt(out: &mut Vec<Attempt>, name: &str, outcome: Result<QueryResult, HostError>) {
    out.push(Attempt { name: name.into(), outcome });
}

fn run(ctx: &Context) -> Vec<Attempt> {
    let target: String = ctx.input_as().unwrap_or_else(|_| "dev-0".into());
    let mut out = Vec::new();
    let data = match Dataset::open(0) {
        Ok(d) => d,
        Err(e) => {
            attempt(&mut out, "open", Err(e));
            return out;
        }
    };
    // 1. One group per device: every group is one device's handful of records.
    attempt(&mut out, "group-by-device", data.query().group_by("device").max("kwh", 0.0, 100.0));
    // 2. Isolate the target's readings and ask for their extremes.
    let only_target = || data.query().eq("device", target.as_str());
    attempt(&mut out, "target-min", only_target().min("kwh", 0.0, 100.0));
    attempt(&mut out, "target-sum", only_target().sum("kwh", 0.0, 100.0));
    // 3. Group by the reading itself: each group is one value.
    attempt(&mut out, "group-by-value", data.query().group_by("kwh").count());
    // 4. Differencing: everyone vs everyone but the target, repeated to average the noise away.
    loop {
        let all = data.query().count();
        let stop = all.is_err();
        attempt(&mut out, "all", all);
        let rest = data.query().ne("device", target.as_str()).count();
        let stop = stop || rest.is_err();
        attempt(&mut out, "all-but-target", rest);
        if stop {
            break;
        }
    }
    out
}

itc_chaincode_sdk::entry!(run);
