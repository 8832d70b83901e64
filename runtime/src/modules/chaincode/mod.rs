//! Chaincode jobs: the on-chain side of compute-to-data analytics.
//!
//! A company deploys WASM chaincode (its blake2b-256 is its id) and submits a job naming the
//! code, the datasets, the parameters, a payment (escrowed as `ReserveId::Job(id)`), the number
//! of executors `n` and the number `q` of identical results needed (`n/2 < q ≤ n`). Executors
//! are taken from the current committee, deterministically rotated by job id. Each executor runs
//! the job off chain (the chaincode engine is the `itc-chaincode` crate) and submits the hash of
//! the output, the records it read per dataset and the differential-privacy epsilon spent.
//!
//! As soon as `q` results are identical the job settles: `executor_fee_permille` of the payment
//! is split equally among the agreeing executors, the rest goes to the datasets' owners pro rata
//! to the records of their datasets, and integer-division dust returns to the company.
//! Executors whose result differs are reported (event, and a dispute-outcome reputation
//! penalty). If every executor answered and no `q` agree, or the deadline passes, the job fails
//! and the payment is refunded.
//!
//! Privacy budgets are accounted per (company, dataset) in thousandths of epsilon: submitting
//! charges the declared epsilon against each dataset's `epsilon_budget_milli`; settling refunds
//! the part the agreed result did not spend. A failed job keeps its charge (its queries may have
//! run).
mod calls;

pub use calls::on_milestone;

use itc_primitives::{AccountId, Balance, BoundedVec, Hash, MilestoneNumber};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::Weight,
    ext::Ext,
    modules::{
        balances::{self, ReserveId},
        datasets::DatasetId,
    },
    storage::{StorageMap, StorageValue},
};

/// Module index of chaincode in [`crate::RuntimeCall`].
pub const MODULE_INDEX: u8 = 5;
/// At most this many datasets per job.
pub const MAX_JOB_DATASETS: usize = 16;
/// At most this many bytes of job parameters.
pub const MAX_PARAMS: usize = 4096;
/// Executors per job are further bounded by this.
pub const MAX_EXECUTORS: usize = 32;

/// A job identifier (sequential).
pub type JobId = u64;

/// Deployed code.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CodeInfo {
    /// Who deployed it.
    pub owner: AccountId,
    /// Its size in bytes.
    #[codec(compact)]
    pub size: u32,
    /// When.
    #[codec(compact)]
    pub deployed: MilestoneNumber,
}

/// Where a job is.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum JobState {
    /// Waiting for results.
    #[codec(index = 0)]
    Pending,
    /// Settled on an agreed output.
    #[codec(index = 1)]
    Settled {
        /// The agreed output hash.
        output_hash: Hash,
    },
    /// Refunded: no agreement, or timed out.
    #[codec(index = 2)]
    Failed,
}

/// A job.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Job {
    /// The company that pays.
    pub company: AccountId,
    /// The chaincode's hash.
    pub code: Hash,
    /// The datasets.
    pub datasets: BoundedVec<DatasetId, MAX_JOB_DATASETS>,
    /// Parameters passed to the chaincode.
    pub params: BoundedVec<u8, MAX_PARAMS>,
    /// The escrowed payment.
    #[codec(compact)]
    pub payment: Balance,
    /// The assigned executors.
    pub executors: BoundedVec<AccountId, MAX_EXECUTORS>,
    /// Identical results needed to settle.
    pub quorum: u8,
    /// Epsilon (thousandths) charged per dataset at submission; the most a result may spend.
    #[codec(compact)]
    pub epsilon_milli: u32,
    /// Its state.
    pub state: JobState,
    /// The milestone at whose end a pending job times out.
    #[codec(compact)]
    pub deadline: MilestoneNumber,
}

/// An executor's result.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct JobResult {
    /// blake2b-256 of the chaincode's output.
    pub output_hash: Hash,
    /// Records read per dataset, in the job's dataset order.
    pub records: BoundedVec<(DatasetId, u64), MAX_JOB_DATASETS>,
    /// Epsilon actually spent per dataset, in thousandths.
    #[codec(compact)]
    pub epsilon_spent_milli: u32,
}

/// `[5, 0] ++ code hash`: deployed code.
pub const CODES: StorageMap<Hash, CodeInfo> = StorageMap::new(MODULE_INDEX, 0);
/// `[5, 1] ++ code hash`: the code bytes.
pub const CODE_BLOBS: StorageMap<Hash, Vec<u8>> = StorageMap::new(MODULE_INDEX, 1);
/// `[5, 2]`: the next job id.
pub const NEXT_JOB: StorageValue<JobId> = StorageValue::new(MODULE_INDEX, 2);
/// `[5, 3] ++ job`: jobs.
pub const JOBS: StorageMap<JobId, Job> = StorageMap::new(MODULE_INDEX, 3);
/// `[5, 4] ++ job ++ executor`: submitted results.
pub const RESULTS: StorageMap<(JobId, AccountId), JobResult> = StorageMap::new(MODULE_INDEX, 4);
/// `[5, 5] ++ company ++ dataset`: privacy budget spent, thousandths of epsilon.
pub const BUDGETS: StorageMap<(AccountId, DatasetId), u32> = StorageMap::new(MODULE_INDEX, 5);
/// `[5, 6] ++ deadline (u64 LE) ++ job`: the timeout schedule of pending jobs.
pub const JOB_DEADLINES: StorageMap<(MilestoneNumber, JobId), ()> =
    StorageMap::new(MODULE_INDEX, 6);

/// Chaincode calls.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Deploys WASM chaincode.
    #[codec(index = 0)]
    Deploy {
        /// The module bytes (at most `max_code_size`).
        code: Vec<u8>,
    },
    /// Submits a paid job.
    #[codec(index = 1)]
    SubmitJob {
        /// The chaincode's hash.
        code: Hash,
        /// The datasets (distinct, active, allowing this code).
        datasets: BoundedVec<DatasetId, MAX_JOB_DATASETS>,
        /// Parameters for the chaincode.
        params: BoundedVec<u8, MAX_PARAMS>,
        /// The payment (positive).
        #[codec(compact)]
        payment: Balance,
        /// Executors to assign, n.
        executors: u8,
        /// Identical results needed, q (n/2 < q ≤ n).
        quorum: u8,
        /// Epsilon per dataset, thousandths.
        #[codec(compact)]
        epsilon_milli: u32,
    },
    /// An assigned executor submits its result.
    #[codec(index = 2)]
    SubmitResult {
        /// The job.
        #[codec(compact)]
        job: JobId,
        /// The result.
        result: JobResult,
    },
}

/// Chaincode events.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// Code was deployed.
    #[codec(index = 0)]
    Deployed {
        /// Its hash.
        code: Hash,
        /// Who deployed it.
        owner: AccountId,
        /// Its size.
        size: u32,
    },
    /// A job was submitted.
    #[codec(index = 1)]
    JobSubmitted {
        /// Its id.
        job: JobId,
        /// The assigned executors.
        executors: Vec<AccountId>,
    },
    /// An executor submitted a result.
    #[codec(index = 2)]
    ResultSubmitted {
        /// The job.
        job: JobId,
        /// The executor.
        executor: AccountId,
    },
    /// The job settled.
    #[codec(index = 3)]
    JobSettled {
        /// The job.
        job: JobId,
        /// The agreed output hash.
        output_hash: Hash,
        /// Paid to data owners.
        to_owners: Balance,
        /// Paid to executors.
        to_executors: Balance,
    },
    /// An executor's result disagreed with the settled one.
    #[codec(index = 4)]
    ExecutorReported {
        /// The job.
        job: JobId,
        /// The executor.
        executor: AccountId,
    },
    /// The job failed and was refunded.
    #[codec(index = 5)]
    JobFailed {
        /// The job.
        job: JobId,
        /// Whether it timed out (else the executors disagreed).
        timed_out: bool,
    },
}

/// Chaincode errors.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Error {
    /// The code is larger than `max_code_size`.
    #[codec(index = 0)]
    #[error("code is {size} bytes, the limit is {max}")]
    CodeTooLarge {
        /// Its size.
        size: u32,
        /// The limit.
        max: u32,
    },
    /// The code is empty.
    #[codec(index = 1)]
    #[error("the code is empty")]
    EmptyCode,
    /// This code is already deployed.
    #[codec(index = 2)]
    #[error("code {0} is already deployed; submit jobs with its hash")]
    AlreadyDeployed(Hash),
    /// No code has this hash.
    #[codec(index = 3)]
    #[error("no code with hash {0} is deployed")]
    UnknownCode(Hash),
    /// A job needs at least one dataset.
    #[codec(index = 4)]
    #[error("a job needs at least one dataset")]
    NoDatasets,
    /// A dataset is named twice.
    #[codec(index = 5)]
    #[error("dataset {0} is named twice")]
    DuplicateDataset(DatasetId),
    /// A dataset's policy does not allow this code.
    #[codec(index = 6)]
    #[error("the policy of dataset {0} does not allow this chaincode")]
    CodeNotAllowed(DatasetId),
    /// The company's privacy budget on a dataset is too small.
    #[codec(index = 7)]
    #[error("privacy budget on dataset {dataset} has {remaining} milli-epsilon left")]
    BudgetExhausted {
        /// The dataset.
        dataset: DatasetId,
        /// What is left.
        remaining: u32,
    },
    /// Not that many executors are available.
    #[codec(index = 8)]
    #[error("{requested} executors requested, 1..={available} available")]
    BadExecutorCount {
        /// Requested.
        requested: u8,
        /// Available (committee size, capped by `max_executors`).
        available: u8,
    },
    /// The quorum must be a majority of the executors.
    #[codec(index = 9)]
    #[error("quorum {quorum} is not a majority of {executors} executors")]
    BadQuorum {
        /// q.
        quorum: u8,
        /// n.
        executors: u8,
    },
    /// A job needs a positive payment.
    #[codec(index = 10)]
    #[error("a job needs a positive payment")]
    ZeroPayment,
    /// No job has this id.
    #[codec(index = 11)]
    #[error("job {0} does not exist")]
    UnknownJob(JobId),
    /// The signer is not an executor of the job.
    #[codec(index = 12)]
    #[error("not an executor of this job")]
    NotExecutor,
    /// The job is no longer pending.
    #[codec(index = 13)]
    #[error("job {0} is no longer pending")]
    JobNotPending(JobId),
    /// The executor already submitted.
    #[codec(index = 14)]
    #[error("this executor already submitted a result")]
    AlreadySubmitted,
    /// The records do not name exactly the job's datasets, in order.
    #[codec(index = 15)]
    #[error("a result must give records for exactly the job's datasets, in order")]
    BadRecords,
    /// The result spent more epsilon than the job declared.
    #[codec(index = 16)]
    #[error("result spent {spent} milli-epsilon, the job declared {declared}")]
    EpsilonOverDeclared {
        /// Spent.
        spent: u32,
        /// Declared.
        declared: u32,
    },
}

impl Call {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            Call::Deploy { code } => 50_000 + code.len() as Weight,
            Call::SubmitJob { datasets, .. } => 60_000 + 10_000 * datasets.len() as Weight,
            Call::SubmitResult { .. } => 80_000,
        }
    }
}

/// The job `id` (query, for executors).
pub fn job(ext: &Ext<'_>, id: JobId) -> crate::Result<Option<Job>> {
    JOBS.get(ext, &id)
}

/// The code bytes of `hash` (query, for executors).
pub fn code(ext: &Ext<'_>, hash: &Hash) -> crate::Result<Option<Vec<u8>>> {
    CODE_BLOBS.get(ext, hash)
}

/// Privacy budget `company` has spent on `dataset`, thousandths of epsilon (query).
pub fn budget_spent(ext: &Ext<'_>, company: &AccountId, dataset: DatasetId) -> crate::Result<u32> {
    BUDGETS.get_or_default(ext, &(*company, dataset))
}

/// Invariants: escrow equals pending jobs (each pending job's payment is exactly its
/// `Job(id)` reserve, each `Job` reserve belongs to a pending job); each pending job has one
/// deadline entry; code blobs match their hash and info; results come from assigned executors.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    let e = |e: crate::Error| e.to_string();
    let jobs = JOBS.iter(ext).map_err(e)?;
    let mut pending = 0usize;
    for (id, j) in &jobs {
        let held = balances::reserved_of(ext, &j.company, ReserveId::Job(*id)).map_err(e)?;
        let scheduled = JOB_DEADLINES.contains(ext, &(j.deadline, *id)).map_err(e)?;
        if j.state == JobState::Pending {
            pending += 1;
            if held != j.payment || !scheduled {
                return Err(format!(
                    "pending job {id}: escrow {held} of {}, scheduled {scheduled}",
                    j.payment
                ));
            }
        } else if held != 0 {
            return Err(format!("closed job {id} still holds {held} in escrow"));
        }
    }
    for ((_, id), _) in balances::RESERVES.iter(ext).map_err(e)? {
        if let ReserveId::Job(job) = id {
            if !jobs.iter().any(|(j, rec)| *j == job && rec.state == JobState::Pending) {
                return Err(format!("escrow for job {job}, which is not pending"));
            }
        }
    }
    if JOB_DEADLINES.iter(ext).map_err(e)?.len() != pending {
        return Err("job deadline schedule does not match the pending jobs".into());
    }
    for ((id, executor), _) in RESULTS.iter(ext).map_err(e)? {
        let assigned = jobs.iter().any(|(j, rec)| *j == id && rec.executors.contains(&executor));
        if !assigned {
            return Err(format!("result for job {id} from unassigned {executor}"));
        }
    }
    for (hash, info) in CODES.iter(ext).map_err(e)? {
        let blob = CODE_BLOBS.get(ext, &hash).map_err(e)?.ok_or("code info without blob")?;
        if itc_primitives::blake2_256(&blob) != hash || blob.len() as u32 != info.size {
            return Err(format!("code {hash} does not match its blob"));
        }
    }
    Ok(())
}
