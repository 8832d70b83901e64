//! The chaincode module's calls, settlement and timeout hook.
use itc_primitives::{blake2_256, AccountId, Balance, BoundedVec, Hash};

use super::*;
use crate::{
    dispatch::{CallError, DispatchResult},
    modules::{
        committee::{self, Component},
        datasets::{self, Status},
    },
    Result,
};

impl Call {
    /// Executes the call for `who`.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        match self {
            Call::Deploy { code } => {
                let size = u32::try_from(code.len()).unwrap_or(u32::MAX);
                let max = ext.params().max_code_size;
                if size > max {
                    return Err(Error::CodeTooLarge { size, max }.into());
                }
                if code.is_empty() {
                    return Err(Error::EmptyCode.into());
                }
                let hash = blake2_256(&code);
                if CODES.contains(ext, &hash)? {
                    return Err(Error::AlreadyDeployed(hash).into());
                }
                CODES.insert(ext, &hash, &CodeInfo { owner: who, size, deployed: ext.now() });
                CODE_BLOBS.insert(ext, &hash, &code);
                ext.deposit_event(Event::Deployed { code: hash, owner: who, size });
                Ok(())
            }
            Call::SubmitJob {
                code,
                datasets,
                params,
                payment,
                executors,
                quorum,
                epsilon_milli,
            } => submit_job(
                ext,
                who,
                code,
                datasets,
                params,
                payment,
                executors,
                quorum,
                epsilon_milli,
            ),
            Call::SubmitResult { job, result } => submit_result(ext, who, job, result),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn submit_job(
    ext: &mut Ext<'_>,
    company: AccountId,
    code: Hash,
    datasets: BoundedVec<DatasetId, MAX_JOB_DATASETS>,
    params: BoundedVec<u8, MAX_PARAMS>,
    payment: Balance,
    executors: u8,
    quorum: u8,
    epsilon_milli: u32,
) -> DispatchResult {
    if !CODES.contains(ext, &code)? {
        return Err(Error::UnknownCode(code).into());
    }
    if datasets.is_empty() {
        return Err(Error::NoDatasets.into());
    }
    if payment == 0 {
        return Err(Error::ZeroPayment.into());
    }
    for (i, id) in datasets.iter().enumerate() {
        if datasets[..i].contains(id) {
            return Err(Error::DuplicateDataset(*id).into());
        }
        let d = datasets::get(ext, *id)?;
        if d.status != Status::Active {
            return Err(datasets::Error::NotActive(*id).into());
        }
        if !d.policy.allows(&code) {
            return Err(Error::CodeNotAllowed(*id).into());
        }
        let spent = BUDGETS.get_or_default(ext, &(company, *id))?;
        let remaining = d.policy.epsilon_budget_milli.saturating_sub(spent);
        if epsilon_milli > remaining {
            return Err(Error::BudgetExhausted { dataset: *id, remaining }.into());
        }
    }
    let members = committee::current(ext)?.map(|c| c.members.to_vec()).unwrap_or_default();
    let available =
        members.len().min(usize::from(ext.params().max_executors)).min(MAX_EXECUTORS) as u8;
    if executors == 0 || executors > available {
        return Err(Error::BadExecutorCount { requested: executors, available }.into());
    }
    if quorum > executors || u16::from(quorum) * 2 <= u16::from(executors) {
        return Err(Error::BadQuorum { quorum, executors }.into());
    }
    let job = NEXT_JOB.get_or_default(ext)?;
    balances::reserve(ext, &company, ReserveId::Job(job), payment)?;
    for id in datasets.iter() {
        let spent = BUDGETS.get_or_default(ext, &(company, *id))?;
        BUDGETS.insert(ext, &(company, *id), &spent.saturating_add(epsilon_milli));
    }
    // Executors rotate through the committee by job id, so load spreads deterministically.
    let n = members.len();
    let assigned: Vec<AccountId> =
        (0..usize::from(executors)).map(|i| members[(job as usize + i) % n]).collect();
    let deadline = ext.now().saturating_add(ext.params().job_timeout);
    let record = Job {
        company,
        code,
        datasets,
        params,
        payment,
        executors: BoundedVec::new(assigned.clone())
            .map_err(|_| Error::BadExecutorCount { requested: executors, available })?,
        quorum,
        epsilon_milli,
        state: JobState::Pending,
        deadline,
    };
    JOBS.insert(ext, &job, &record);
    JOB_DEADLINES.insert(ext, &(deadline, job), &());
    NEXT_JOB.put(ext, &(job + 1));
    ext.deposit_event(Event::JobSubmitted { job, executors: assigned });
    Ok(())
}

fn submit_result(
    ext: &mut Ext<'_>,
    executor: AccountId,
    id: JobId,
    result: JobResult,
) -> DispatchResult {
    let job = JOBS.get(ext, &id)?.ok_or(Error::UnknownJob(id))?;
    if !job.executors.contains(&executor) {
        return Err(Error::NotExecutor.into());
    }
    if job.state != JobState::Pending {
        return Err(Error::JobNotPending(id).into());
    }
    if RESULTS.contains(ext, &(id, executor))? {
        return Err(Error::AlreadySubmitted.into());
    }
    let names_match = result.records.len() == job.datasets.len()
        && result.records.iter().zip(job.datasets.iter()).all(|((d, _), j)| d == j);
    let total = result.records.iter().try_fold(0u64, |acc, (_, r)| acc.checked_add(*r));
    if !names_match || total.is_none() {
        return Err(Error::BadRecords.into());
    }
    if result.epsilon_spent_milli > job.epsilon_milli {
        return Err(Error::EpsilonOverDeclared {
            spent: result.epsilon_spent_milli,
            declared: job.epsilon_milli,
        }
        .into());
    }
    RESULTS.insert(ext, &(id, executor), &result);
    ext.deposit_event(Event::ResultSubmitted { job: id, executor });

    let results = RESULTS.iter_prefix(ext, &id)?;
    let agreeing: Vec<AccountId> =
        results.iter().filter(|(_, r)| *r == result).map(|((_, e), _)| *e).collect();
    if agreeing.len() >= usize::from(job.quorum) {
        let dissenters: Vec<AccountId> =
            results.iter().filter(|(_, r)| *r != result).map(|((_, e), _)| *e).collect();
        settle(ext, id, job, &result, &agreeing, &dissenters)?;
    } else if results.len() == job.executors.len() {
        fail(ext, id, job, false)?;
    }
    Ok(())
}

/// `amount · part / whole` without overflow (`part ≤ whole < 2^64`).
fn pro_rata(amount: Balance, part: u64, whole: u64) -> Balance {
    if whole == 0 {
        return 0;
    }
    let (part, whole) = (Balance::from(part), Balance::from(whole));
    (amount / whole) * part + (amount % whole) * part / whole
}

/// Pays `amount` of the job escrow to `to`; returns whether it was paid (a recipient that
/// cannot receive it, e.g. a missing account below the deposit, leaves it in escrow).
fn pay(ext: &mut Ext<'_>, job: &Job, id: JobId, to: &AccountId, amount: Balance) -> Result<bool> {
    match balances::pay_from_reserve(ext, &job.company, ReserveId::Job(id), to, amount) {
        Ok(()) => Ok(true),
        Err(CallError::State(e)) => Err(e),
        Err(CallError::Dispatch(_)) => Ok(false),
    }
}

fn settle(
    ext: &mut Ext<'_>,
    id: JobId,
    mut job: Job,
    result: &JobResult,
    agreeing: &[AccountId],
    dissenters: &[AccountId],
) -> DispatchResult {
    let fee_pot =
        job.payment.saturating_mul(Balance::from(ext.params().executor_fee_permille)) / 1000;
    let per_executor = fee_pot / agreeing.len().max(1) as Balance;
    let mut to_executors = 0;
    for executor in agreeing {
        if pay(ext, &job, id, executor, per_executor)? {
            to_executors += per_executor;
        }
    }
    let owners_pot = job.payment - per_executor * agreeing.len() as Balance;
    let total: u64 = result.records.iter().map(|(_, r)| *r).sum();
    let mut to_owners = 0;
    for (dataset, records) in result.records.iter() {
        let owner = datasets::get(ext, *dataset)?.owner;
        let share = pro_rata(owners_pot, *records, total);
        if pay(ext, &job, id, &owner, share)? {
            to_owners += share;
        }
        let thousands = i64::try_from(records.div_ceil(1000)).unwrap_or(i64::MAX);
        committee::adjust(ext, &owner, Component::DataContribution, thousands)?;
    }
    // Integer-division dust (and anything unpayable) returns to the company.
    balances::unreserve_all(ext, &job.company, ReserveId::Job(id))?;
    let unspent = job.epsilon_milli - result.epsilon_spent_milli;
    for dataset in job.datasets.iter() {
        let spent = BUDGETS.get_or_default(ext, &(job.company, *dataset))?;
        BUDGETS.insert(ext, &(job.company, *dataset), &spent.saturating_sub(unspent));
    }
    for executor in dissenters {
        committee::adjust(ext, executor, Component::DisputeOutcomes, -1)?;
        ext.deposit_event(Event::ExecutorReported { job: id, executor: *executor });
    }
    JOB_DEADLINES.remove(ext, &(job.deadline, id));
    job.state = JobState::Settled { output_hash: result.output_hash };
    JOBS.insert(ext, &id, &job);
    ext.deposit_event(Event::JobSettled {
        job: id,
        output_hash: result.output_hash,
        to_owners,
        to_executors,
    });
    Ok(())
}

fn fail(ext: &mut Ext<'_>, id: JobId, mut job: Job, timed_out: bool) -> Result<()> {
    match balances::unreserve_all(ext, &job.company, ReserveId::Job(id)) {
        Ok(_) | Err(CallError::Dispatch(_)) => {}
        Err(CallError::State(e)) => return Err(e),
    }
    JOB_DEADLINES.remove(ext, &(job.deadline, id));
    job.state = JobState::Failed;
    JOBS.insert(ext, &id, &job);
    ext.deposit_event(Event::JobFailed { job: id, timed_out });
    Ok(())
}

/// The timeout hook, run at the end of every milestone: fails and refunds the pending jobs
/// whose deadline is this milestone.
pub fn on_milestone(ext: &mut Ext<'_>) -> Result<()> {
    let now = ext.now();
    for ((_, id), ()) in JOB_DEADLINES.iter_prefix(ext, &now)? {
        match JOBS.get(ext, &id)? {
            Some(job) if job.state == JobState::Pending => fail(ext, id, job, true)?,
            _ => JOB_DEADLINES.remove(ext, &(now, id)),
        }
    }
    Ok(())
}
