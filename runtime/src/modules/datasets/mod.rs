//! Datasets: an owner's schema, analytics policy and the sequence of encrypted intervals whose
//! chunks live off chain.
//!
//! Each interval records the Merkle root of its chunk hashes (the buyer checks downloaded chunks
//! against it), its record count (what analytics jobs pay for), the owner's Umbral capsule of the
//! interval's data key, and the storage URIs of its chunks. Retiring a dataset stops new
//! intervals, grants, listings and jobs; forgetting it also deletes the capsules from state and
//! leaves a [`ShreddingRecord`]: without the capsule no proxy can re-encrypt the data key, so
//! the chunks are unreadable (crypto-shredding, the right to be forgotten).
use itc_primitives::{
    blake2_256,
    dataset::{AnalyticsPolicy, Schema},
    AccountId, BoundedVec, Hash, MilestoneNumber,
};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::{DispatchResult, Weight},
    ext::Ext,
    storage::{StorageMap, StorageValue},
    Result,
};

/// Module index of datasets in [`crate::RuntimeCall`].
pub const MODULE_INDEX: u8 = 2;
/// At most this many bytes in a capsule.
pub const MAX_CAPSULE: usize = 256;
/// At most this many storage URIs per interval.
pub const MAX_URIS: usize = 8;
/// At most this many bytes per URI.
pub const MAX_URI_LEN: usize = 256;

/// A dataset identifier (sequential).
pub type DatasetId = u64;

/// The life cycle of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Status {
    /// Accepting intervals, grants, listings and jobs.
    #[codec(index = 0)]
    Active,
    /// No new intervals, grants, listings or jobs; existing grants still work.
    #[codec(index = 1)]
    Retired,
    /// Capsules deleted; nothing can be read any more.
    #[codec(index = 2)]
    Forgotten,
}

/// A registered dataset.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Dataset {
    /// Its owner.
    pub owner: AccountId,
    /// Field types of its records.
    pub schema: Schema,
    /// What analytics may learn from it.
    pub policy: AnalyticsPolicy,
    /// Number of intervals appended (the next index).
    #[codec(compact)]
    pub intervals: u64,
    /// Sum of the intervals' record counts.
    #[codec(compact)]
    pub records: u64,
    /// Life-cycle status.
    pub status: Status,
    /// When it was registered.
    #[codec(compact)]
    pub created: MilestoneNumber,
}

/// One encrypted interval.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Interval {
    /// Merkle root (`itc_primitives::merkle`) of the interval's chunk hashes.
    pub chunk_root: Hash,
    /// Number of records in the interval.
    #[codec(compact)]
    pub records: u64,
    /// The interval data key's Umbral capsule (empty once forgotten).
    pub capsule: BoundedVec<u8, MAX_CAPSULE>,
    /// Where the chunks are stored (`otp://…` URIs).
    pub uris: BoundedVec<BoundedVec<u8, MAX_URI_LEN>, MAX_URIS>,
    /// When it was appended.
    #[codec(compact)]
    pub appended: MilestoneNumber,
}

/// The on-chain record that a dataset was crypto-shredded.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ShreddingRecord {
    /// When.
    #[codec(compact)]
    pub at: MilestoneNumber,
    /// How many intervals lost their capsule.
    #[codec(compact)]
    pub intervals: u64,
    /// blake2b-256 of the concatenated hashes of the deleted capsules, so the owner can prove
    /// which keys were destroyed.
    pub capsules_digest: Hash,
}

/// `[2, 0]`: the next dataset id.
pub const NEXT_ID: StorageValue<DatasetId> = StorageValue::new(MODULE_INDEX, 0);
/// `[2, 1] ++ id`: datasets.
pub const DATASETS: StorageMap<DatasetId, Dataset> = StorageMap::new(MODULE_INDEX, 1);
/// `[2, 2] ++ id ++ index`: intervals.
pub const INTERVALS: StorageMap<(DatasetId, u64), Interval> = StorageMap::new(MODULE_INDEX, 2);
/// `[2, 3] ++ id`: crypto-shredding records.
pub const SHREDDED: StorageMap<DatasetId, ShreddingRecord> = StorageMap::new(MODULE_INDEX, 3);

/// Datasets calls.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Registers a dataset owned by the signer.
    #[codec(index = 0)]
    Register {
        /// The schema.
        schema: Schema,
        /// The analytics policy.
        policy: AnalyticsPolicy,
    },
    /// Appends the next interval.
    #[codec(index = 1)]
    AppendInterval {
        /// The dataset.
        #[codec(compact)]
        dataset: DatasetId,
        /// Must equal the dataset's interval count.
        #[codec(compact)]
        index: u64,
        /// Merkle root of the chunk hashes.
        chunk_root: Hash,
        /// Record count (positive).
        #[codec(compact)]
        records: u64,
        /// The data key's capsule (non-empty).
        capsule: BoundedVec<u8, MAX_CAPSULE>,
        /// Storage URIs (at least one).
        uris: BoundedVec<BoundedVec<u8, MAX_URI_LEN>, MAX_URIS>,
    },
    /// Replaces the analytics policy (applies to jobs submitted afterwards).
    #[codec(index = 2)]
    SetPolicy {
        /// The dataset.
        #[codec(compact)]
        dataset: DatasetId,
        /// The new policy.
        policy: AnalyticsPolicy,
    },
    /// Retires the dataset.
    #[codec(index = 3)]
    Retire {
        /// The dataset.
        #[codec(compact)]
        dataset: DatasetId,
    },
    /// Forgets the dataset: deletes its capsules and records the shredding.
    #[codec(index = 4)]
    Forget {
        /// The dataset.
        #[codec(compact)]
        dataset: DatasetId,
    },
}

/// Datasets events.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A dataset was registered.
    #[codec(index = 0)]
    Registered {
        /// Its id.
        dataset: DatasetId,
        /// Its owner.
        owner: AccountId,
    },
    /// An interval was appended.
    #[codec(index = 1)]
    IntervalAppended {
        /// The dataset.
        dataset: DatasetId,
        /// The interval index.
        index: u64,
        /// Its chunk root.
        chunk_root: Hash,
        /// Its record count.
        records: u64,
    },
    /// The policy changed.
    #[codec(index = 2)]
    PolicyChanged {
        /// The dataset.
        dataset: DatasetId,
    },
    /// The dataset was retired.
    #[codec(index = 3)]
    Retired {
        /// The dataset.
        dataset: DatasetId,
    },
    /// The dataset was crypto-shredded.
    #[codec(index = 4)]
    Forgotten {
        /// The dataset.
        dataset: DatasetId,
        /// Intervals whose capsule was deleted.
        intervals: u64,
        /// See [`ShreddingRecord::capsules_digest`].
        capsules_digest: Hash,
    },
}

/// Datasets errors.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Error {
    /// The schema is invalid.
    #[codec(index = 0)]
    #[error("invalid schema: {reason}")]
    InvalidSchema {
        /// Why.
        reason: String,
    },
    /// The policy is invalid (k must be ≥ 1, HyperLogLog precision 4..=18).
    #[codec(index = 1)]
    #[error("invalid analytics policy: k must be at least 1 and hll_precision in 4..=18")]
    InvalidPolicy,
    /// No dataset has this id.
    #[codec(index = 2)]
    #[error("dataset {0} does not exist")]
    UnknownDataset(DatasetId),
    /// Only the owner may do this.
    #[codec(index = 3)]
    #[error("only the dataset's owner may do this")]
    NotOwner,
    /// Intervals must be appended in order.
    #[codec(index = 4)]
    #[error("interval index {got} is out of order; the next index is {expected}")]
    WrongIntervalIndex {
        /// The next index.
        expected: u64,
        /// The index given.
        got: u64,
    },
    /// An interval needs records, a capsule and at least one URI.
    #[codec(index = 5)]
    #[error("an interval needs at least one record, a capsule and a storage URI")]
    EmptyInterval,
    /// The dataset is not active.
    #[codec(index = 6)]
    #[error("dataset {0} is retired or forgotten")]
    NotActive(DatasetId),
    /// The dataset was already forgotten.
    #[codec(index = 7)]
    #[error("dataset {0} was already forgotten")]
    AlreadyForgotten(DatasetId),
}

impl Call {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            Call::Register { .. } => 50_000,
            Call::AppendInterval { .. } => 30_000,
            Call::SetPolicy { .. } | Call::Retire { .. } => 20_000,
            Call::Forget { .. } => 200_000,
        }
    }

    /// Executes the call for `who`.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        match self {
            Call::Register { schema, policy } => {
                schema.validate().map_err(|reason| Error::InvalidSchema { reason })?;
                check_policy(&policy)?;
                let dataset = NEXT_ID.get_or_default(ext)?;
                let record = Dataset {
                    owner: who,
                    schema,
                    policy,
                    intervals: 0,
                    records: 0,
                    status: Status::Active,
                    created: ext.now(),
                };
                DATASETS.insert(ext, &dataset, &record);
                NEXT_ID.put(ext, &(dataset + 1));
                ext.deposit_event(Event::Registered { dataset, owner: who });
                Ok(())
            }
            Call::AppendInterval { dataset, index, chunk_root, records, capsule, uris } => {
                let mut d = owned(ext, dataset, &who)?;
                if d.status != Status::Active {
                    return Err(Error::NotActive(dataset).into());
                }
                if index != d.intervals {
                    return Err(
                        Error::WrongIntervalIndex { expected: d.intervals, got: index }.into()
                    );
                }
                if records == 0 || capsule.is_empty() || uris.is_empty() {
                    return Err(Error::EmptyInterval.into());
                }
                let interval = Interval { chunk_root, records, capsule, uris, appended: ext.now() };
                INTERVALS.insert(ext, &(dataset, index), &interval);
                d.intervals += 1;
                d.records = d.records.saturating_add(records);
                DATASETS.insert(ext, &dataset, &d);
                ext.deposit_event(Event::IntervalAppended { dataset, index, chunk_root, records });
                Ok(())
            }
            Call::SetPolicy { dataset, policy } => {
                let mut d = owned(ext, dataset, &who)?;
                if d.status != Status::Active {
                    return Err(Error::NotActive(dataset).into());
                }
                check_policy(&policy)?;
                d.policy = policy;
                DATASETS.insert(ext, &dataset, &d);
                ext.deposit_event(Event::PolicyChanged { dataset });
                Ok(())
            }
            Call::Retire { dataset } => {
                let mut d = owned(ext, dataset, &who)?;
                if d.status != Status::Active {
                    return Err(Error::NotActive(dataset).into());
                }
                d.status = Status::Retired;
                DATASETS.insert(ext, &dataset, &d);
                ext.deposit_event(Event::Retired { dataset });
                Ok(())
            }
            Call::Forget { dataset } => {
                let mut d = owned(ext, dataset, &who)?;
                if d.status == Status::Forgotten {
                    return Err(Error::AlreadyForgotten(dataset).into());
                }
                let mut digest_input = Vec::new();
                for ((_, index), mut interval) in INTERVALS.iter_prefix(ext, &dataset)? {
                    digest_input.extend_from_slice(&blake2_256(&interval.capsule).0);
                    interval.capsule = BoundedVec::default();
                    INTERVALS.insert(ext, &(dataset, index), &interval);
                }
                let capsules_digest = blake2_256(&digest_input);
                let record =
                    ShreddingRecord { at: ext.now(), intervals: d.intervals, capsules_digest };
                SHREDDED.insert(ext, &dataset, &record);
                d.status = Status::Forgotten;
                DATASETS.insert(ext, &dataset, &d);
                ext.deposit_event(Event::Forgotten {
                    dataset,
                    intervals: d.intervals,
                    capsules_digest,
                });
                Ok(())
            }
        }
    }
}

fn check_policy(policy: &AnalyticsPolicy) -> core::result::Result<(), Error> {
    if policy.k == 0 || !(4..=18).contains(&policy.hll_precision) {
        return Err(Error::InvalidPolicy);
    }
    Ok(())
}

fn owned(
    ext: &Ext<'_>,
    dataset: DatasetId,
    who: &AccountId,
) -> core::result::Result<Dataset, crate::CallError> {
    let d = get(ext, dataset)?;
    if d.owner != *who {
        return Err(Error::NotOwner.into());
    }
    Ok(d)
}

/// The dataset `id`, or [`Error::UnknownDataset`].
pub fn get(ext: &Ext<'_>, id: DatasetId) -> core::result::Result<Dataset, crate::CallError> {
    Ok(DATASETS.get(ext, &id)?.ok_or(Error::UnknownDataset(id))?)
}

/// The dataset `id`, if it exists (query).
pub fn dataset(ext: &Ext<'_>, id: DatasetId) -> Result<Option<Dataset>> {
    DATASETS.get(ext, &id)
}

/// Interval `index` of dataset `id`, if it exists (query).
pub fn interval(ext: &Ext<'_>, id: DatasetId, index: u64) -> Result<Option<Interval>> {
    INTERVALS.get(ext, &(id, index))
}

/// Invariants: ids are below the counter; each dataset has exactly `intervals` intervals
/// (0..intervals) whose record counts sum to `records`; forgotten datasets have a shredding
/// record and no capsule left; only forgotten datasets have a shredding record.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    let e = |e: crate::Error| e.to_string();
    let next = NEXT_ID.get_or_default(ext).map_err(e)?;
    for (id, d) in DATASETS.iter(ext).map_err(e)? {
        if id >= next {
            return Err(format!("dataset {id} is not below the id counter {next}"));
        }
        let intervals = INTERVALS.iter_prefix(ext, &id).map_err(e)?;
        if intervals.len() as u64 != d.intervals
            || intervals.iter().enumerate().any(|(i, ((_, idx), _))| *idx != i as u64)
        {
            return Err(format!("dataset {id}: intervals are not exactly 0..{}", d.intervals));
        }
        let records: u64 = intervals.iter().map(|(_, iv)| iv.records).sum();
        if records != d.records {
            return Err(format!(
                "dataset {id}: records {} but intervals sum to {records}",
                d.records
            ));
        }
        let shredded = SHREDDED.contains(ext, &id).map_err(e)?;
        let forgotten = d.status == Status::Forgotten;
        if shredded != forgotten {
            return Err(format!(
                "dataset {id}: status {:?} but shredding record present: {shredded}",
                d.status
            ));
        }
        if forgotten && intervals.iter().any(|(_, iv)| !iv.capsule.is_empty()) {
            return Err(format!("dataset {id} is forgotten but a capsule remains"));
        }
    }
    Ok(())
}
