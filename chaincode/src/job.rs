//! What the caller hands the engine for a job, and what it gets back.
use std::sync::Arc;

use itc_primitives::{
    dataset::{AnalyticsPolicy, Schema, Value},
    AccountId, Hash,
};

/// One dataset of a job: its identity, schema, policy and decrypted records.
///
/// The records are shared (`Arc`) so the caller keeps them after the job and the sandbox,
/// whose state must be `'static`, reads them without a copy. Values of FHE columns are never
/// read by the engine (the [`crate::FheBackend`] computes over the ciphertexts); put any
/// `Value::U64` there, e.g. a ciphertext index.
#[derive(Clone, Debug)]
pub struct DatasetView {
    /// Dataset id.
    pub id: Hash,
    /// Its schema.
    pub schema: Schema,
    /// Its analytics policy.
    pub policy: AnalyticsPolicy,
    /// Records in schema order.
    pub records: Arc<Vec<Vec<Value>>>,
}

impl DatasetView {
    /// A view whose records are all checked against the schema ([`DatasetView::validate`]).
    /// Build views once per decrypted dataset; jobs then reuse them without re-checking rows.
    pub fn new(
        id: Hash,
        schema: Schema,
        policy: AnalyticsPolicy,
        records: Arc<Vec<Vec<Value>>>,
    ) -> crate::Result<Self> {
        let view = DatasetView { id, schema, policy, records };
        view.validate()?;
        Ok(view)
    }

    /// Checks the schema and the policy (what every job checks: cheap).
    pub fn validate_policy(&self) -> crate::Result<()> {
        let id = self.id.to_hex();
        self.schema
            .validate()
            .map_err(|e| crate::Error::InvalidJob(format!("dataset {id}: {e}")))?;
        if !(4..=18).contains(&self.policy.hll_precision) {
            return Err(crate::Error::InvalidJob(format!(
                "dataset {id}: policy HLL precision is {}, it must be 4..=18",
                self.policy.hll_precision
            )));
        }
        Ok(())
    }

    /// Checks the schema, the policy and that every record fits the schema (one pass over the
    /// records). A view built with a struct literal should be checked with this once; the engine
    /// does not re-check rows per job, and treats a value of the wrong type as missing.
    pub fn validate(&self) -> crate::Result<()> {
        self.validate_policy()?;
        let id = self.id.to_hex();
        for (i, r) in self.records.iter().enumerate() {
            self.schema
                .check_record(r)
                .map_err(|e| crate::Error::InvalidJob(format!("dataset {id}, record {i}: {e}")))?;
        }
        Ok(())
    }
}

/// Who runs the job and with what budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobContext {
    /// The job id: seeds the noise, so it must be unique per job (the chain assigns it).
    pub job_id: Hash,
    /// The company paying for the job.
    pub company: AccountId,
    /// Privacy budget the (company, dataset) pair has left, one entry per dataset of the job,
    /// in thousandths of epsilon.
    pub budget_remaining_milli: Vec<u32>,
    /// Input bytes for the chaincode (e.g. a SCALE `Vec<String>` of customer ids).
    pub input: Vec<u8>,
}

/// What a successful job returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionResult {
    /// Code hash (blake2-256) of the chaincode that ran.
    pub code_hash: Hash,
    /// The output bytes the chaincode set (empty if it set none).
    pub output: Vec<u8>,
    /// Fuel burnt, host work included.
    pub fuel_used: u64,
    /// Queries the host answered (refused ones not counted).
    pub queries: u32,
    /// Host calls made.
    pub host_calls: u32,
    /// Epsilon spent per dataset, thousandths, in job order: charge these to the budgets.
    pub epsilon_spent_milli: Vec<u32>,
    /// Records per dataset that contributed to at least one released aggregate: the owners are
    /// paid pro rata to these.
    pub records_contributed: Vec<u64>,
}
