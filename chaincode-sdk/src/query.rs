//! Typed access to datasets: [`Dataset`] and the [`QueryBuilder`].
use alloc::{string::String, vec::Vec};

use crate::{
    abi::{
        AggValue, Aggregate, CmpOp, DatasetInfo, FheOp, GroupKey, HostError, HostRequest,
        HostResponse, Predicate, Query, QueryResult, Scalar,
    },
    host,
};

/// Epsilon a query spends when the builder is not told otherwise: 0.1 (100 milli).
pub const DEFAULT_EPSILON_MILLI: u32 = 100;

/// Milliseconds in a UTC day, for [`QueryBuilder::group_by_bucket`] on timestamps.
pub const DAY_MS: u64 = 86_400_000;

/// One dataset of the job: its schema and policy summary, and a way to query it.
#[derive(Clone, Debug)]
pub struct Dataset {
    index: u32,
    info: DatasetInfo,
}

impl Dataset {
    /// Opens dataset `index` of the job (0-based, in the order the job names them).
    pub fn open(index: u32) -> Result<Dataset, HostError> {
        match host::call(&HostRequest::Schema(index))? {
            HostResponse::Schema(info) => Ok(Dataset { index, info }),
            HostResponse::Query(_) => Err(HostError::BadRequest(
                "the host answered a schema request with a result".into(),
            )),
        }
    }

    /// Index of the dataset in the job.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Schema, k and remaining budget.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    /// Starts a query over this dataset.
    pub fn query(&self) -> QueryBuilder {
        QueryBuilder {
            query: Query {
                dataset: self.index,
                filters: Vec::new(),
                group_by: Vec::new(),
                aggregate: Aggregate::Count,
                epsilon_milli: DEFAULT_EPSILON_MILLI,
            },
        }
    }
}

/// Builds one query: add filters and group keys, then call one aggregate method, which sends the
/// query to the host.
#[derive(Clone, Debug)]
#[must_use = "a query does nothing until an aggregate method runs it"]
pub struct QueryBuilder {
    query: Query,
}

impl QueryBuilder {
    /// Keeps records where `field op value`.
    pub fn filter(mut self, field: &str, op: CmpOp, value: impl Into<Scalar>) -> Self {
        self.query.filters.push(Predicate::Cmp { field: field.into(), op, value: value.into() });
        self
    }

    /// Keeps records where `field == value`.
    pub fn eq(self, field: &str, value: impl Into<Scalar>) -> Self {
        self.filter(field, CmpOp::Eq, value)
    }

    /// Keeps records where `field != value`.
    pub fn ne(self, field: &str, value: impl Into<Scalar>) -> Self {
        self.filter(field, CmpOp::Ne, value)
    }

    /// Keeps records where `field < value`.
    pub fn lt(self, field: &str, value: impl Into<Scalar>) -> Self {
        self.filter(field, CmpOp::Lt, value)
    }

    /// Keeps records where `field <= value`.
    pub fn le(self, field: &str, value: impl Into<Scalar>) -> Self {
        self.filter(field, CmpOp::Le, value)
    }

    /// Keeps records where `field > value`.
    pub fn gt(self, field: &str, value: impl Into<Scalar>) -> Self {
        self.filter(field, CmpOp::Gt, value)
    }

    /// Keeps records where `field >= value`.
    pub fn ge(self, field: &str, value: impl Into<Scalar>) -> Self {
        self.filter(field, CmpOp::Ge, value)
    }

    /// Keeps records whose `field` equals one of `values`.
    pub fn is_in(mut self, field: &str, values: Vec<Scalar>) -> Self {
        self.query.filters.push(Predicate::In { field: field.into(), values });
        self
    }

    /// Adds `field` to the group key.
    pub fn group_by(mut self, field: &str) -> Self {
        self.query.group_by.push(GroupKey::Field(field.into()));
        self
    }

    /// Adds `floor(field / width)` to the group key (e.g. [`DAY_MS`] on a timestamp).
    pub fn group_by_bucket(mut self, field: &str, width: u64) -> Self {
        self.query.group_by.push(GroupKey::Bucket { field: field.into(), width });
        self
    }

    /// Sets the privacy budget this query spends, in thousandths of epsilon.
    pub fn epsilon_milli(mut self, epsilon_milli: u32) -> Self {
        self.query.epsilon_milli = epsilon_milli;
        self
    }

    /// The query as it stands (for inspection or to send with [`run_query`]).
    pub fn build(self, aggregate: Aggregate) -> Query {
        Query { aggregate, ..self.query }
    }

    fn run(self, aggregate: Aggregate) -> Result<QueryResult, HostError> {
        run_query(self.build(aggregate))
    }

    /// Noisy number of records per group.
    pub fn count(self) -> Result<QueryResult, HostError> {
        self.run(Aggregate::Count)
    }

    /// Noisy sum of `field`, each value clamped into `[lo, hi]`.
    pub fn sum(self, field: &str, lo: f64, hi: f64) -> Result<QueryResult, HostError> {
        self.run(Aggregate::Sum { field: field.into(), lo, hi })
    }

    /// Noisy mean of `field`, each value clamped into `[lo, hi]`.
    pub fn mean(self, field: &str, lo: f64, hi: f64) -> Result<QueryResult, HostError> {
        self.run(Aggregate::Mean { field: field.into(), lo, hi })
    }

    /// Noisy histogram of `field` in `buckets` equal buckets over `[lo, hi)`.
    pub fn histogram(
        self,
        field: &str,
        lo: f64,
        hi: f64,
        buckets: u32,
    ) -> Result<QueryResult, HostError> {
        self.run(Aggregate::Histogram { field: field.into(), lo, hi, buckets })
    }

    /// Noisy minimum of `field` clamped into `[lo, hi]`.
    pub fn min(self, field: &str, lo: f64, hi: f64) -> Result<QueryResult, HostError> {
        self.run(Aggregate::Min { field: field.into(), lo, hi })
    }

    /// Noisy maximum of `field` clamped into `[lo, hi]`.
    pub fn max(self, field: &str, lo: f64, hi: f64) -> Result<QueryResult, HostError> {
        self.run(Aggregate::Max { field: field.into(), lo, hi })
    }

    /// Noisy HyperLogLog++ estimate of the number of distinct values of `field`.
    pub fn distinct_count(self, field: &str) -> Result<QueryResult, HostError> {
        self.run(Aggregate::DistinctCount { field: field.into() })
    }

    /// Noisy number of distinct values of `field` that are in `set` (Bloom filter test).
    pub fn intersection_count(
        self,
        field: &str,
        set: Vec<Scalar>,
    ) -> Result<QueryResult, HostError> {
        self.run(Aggregate::IntersectionCount { field: field.into(), set })
    }

    /// An aggregate over a TFHE-encrypted column, computed by the executor's FHE backend.
    pub fn fhe(self, field: &str, op: FheOp) -> Result<QueryResult, HostError> {
        self.run(Aggregate::Fhe { field: field.into(), op })
    }
}

/// Sends a query to the host.
pub fn run_query(query: Query) -> Result<QueryResult, HostError> {
    match host::call(&HostRequest::Query(query))? {
        HostResponse::Query(r) => Ok(r),
        HostResponse::Schema(_) => {
            Err(HostError::BadRequest("the host answered a query with a schema".into()))
        }
    }
}

/// The number of an ungrouped query's result, or `None` if it was suppressed.
pub fn single_number(result: &QueryResult) -> Option<f64> {
    result.single().and_then(AggValue::number)
}

/// Renders a group key as text, components joined by `/` (handy in outputs).
pub fn key_text(key: &[Scalar]) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    for (i, k) in key.iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        let _ = match k {
            Scalar::U64(v) => write!(s, "{v}"),
            Scalar::I64(v) => write!(s, "{v}"),
            Scalar::F64(v) => write!(s, "{v}"),
            Scalar::Str(v) => write!(s, "{v}"),
            Scalar::Bytes(v) => write!(s, "0x{}", Hex(v)),
        };
    }
    s
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
