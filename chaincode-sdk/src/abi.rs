//! The wire types between chaincode and the engine's host API.
//!
//! Chaincode sends a SCALE-encoded [`HostRequest`] through the `itc.call` import and receives a
//! SCALE-encoded `Result<HostResponse, HostError>`. The engine (`itc-chaincode`) decodes and
//! encodes the very same types, so this module is the ABI's single definition. Every enum has
//! explicit `#[codec(index)]`es: they are a stable wire format.
use alloc::{string::String, vec::Vec};

use parity_scale_codec::{Decode, Encode};

/// A literal value in a predicate, a group key or an intersection set.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum Scalar {
    /// Unsigned integer (matches `u64` and timestamp fields).
    #[codec(index = 0)]
    U64(u64),
    /// Signed integer (matches `i64` fields; compares numerically with the other numbers).
    #[codec(index = 1)]
    I64(i64),
    /// Double (compares numerically with every number type).
    #[codec(index = 2)]
    F64(f64),
    /// UTF-8 text (matches `string` fields).
    #[codec(index = 3)]
    Str(String),
    /// Bytes (matches `bytes` fields).
    #[codec(index = 4)]
    Bytes(Vec<u8>),
}

impl Scalar {
    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::U64(v) => Some(*v as f64),
            Scalar::I64(v) => Some(*v as f64),
            Scalar::F64(v) => Some(*v),
            Scalar::Str(_) | Scalar::Bytes(_) => None,
        }
    }

    /// The value as text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<u64> for Scalar {
    fn from(v: u64) -> Self {
        Scalar::U64(v)
    }
}
impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::I64(v)
    }
}
impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::F64(v)
    }
}
impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar::Str(v.into())
    }
}
impl From<String> for Scalar {
    fn from(v: String) -> Self {
        Scalar::Str(v)
    }
}

/// A comparison operator of a filter predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CmpOp {
    /// `field == value`
    #[codec(index = 0)]
    Eq,
    /// `field != value`
    #[codec(index = 1)]
    Ne,
    /// `field < value`
    #[codec(index = 2)]
    Lt,
    /// `field <= value`
    #[codec(index = 3)]
    Le,
    /// `field > value`
    #[codec(index = 4)]
    Gt,
    /// `field >= value`
    #[codec(index = 5)]
    Ge,
}

/// A filter predicate on one field. A query keeps the records matching all its predicates.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum Predicate {
    /// Compare the field with a literal.
    #[codec(index = 0)]
    Cmp {
        /// Field name.
        field: String,
        /// Operator.
        op: CmpOp,
        /// Literal of a type compatible with the field's.
        value: Scalar,
    },
    /// The field equals one of the literals.
    #[codec(index = 1)]
    In {
        /// Field name.
        field: String,
        /// Literals.
        values: Vec<Scalar>,
    },
}

/// One component of a group key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum GroupKey {
    /// Group by the field's value.
    #[codec(index = 0)]
    Field(String),
    /// Group by `floor(value / width)` of a numeric or timestamp field (e.g. width 86_400_000 on
    /// a millisecond timestamp groups by UTC day). The key is reported as `Scalar::I64`.
    #[codec(index = 1)]
    Bucket {
        /// Field name.
        field: String,
        /// Bucket width, at least 1.
        width: u64,
    },
}

/// An operation on a TFHE-encrypted column, delegated to the attached FHE backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum FheOp {
    /// Sum of the values, each clamped to at most `hi` (the sensitivity of the sum).
    #[codec(index = 0)]
    Sum {
        /// Upper clamp bound per value.
        hi: u32,
    },
    /// Number of records whose value is greater than `threshold`.
    #[codec(index = 1)]
    CountAbove {
        /// The threshold.
        threshold: u32,
    },
}

/// What to compute over each group of the filtered records.
///
/// Numeric aggregates clamp each value into `[lo, hi]` first: the bounds fix the sensitivity and
/// so the noise (sum and mean: `max(|lo|, |hi|)`, min and max: `hi - lo`).
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum Aggregate {
    /// Number of records.
    #[codec(index = 0)]
    Count,
    /// Sum of a numeric field.
    #[codec(index = 1)]
    Sum {
        /// Field name.
        field: String,
        /// Lower clamp bound.
        lo: f64,
        /// Upper clamp bound.
        hi: f64,
    },
    /// Mean of a numeric field (noisy sum over noisy count, the epsilon split in two).
    #[codec(index = 2)]
    Mean {
        /// Field name.
        field: String,
        /// Lower clamp bound.
        lo: f64,
        /// Upper clamp bound.
        hi: f64,
    },
    /// Counts of a numeric field in `buckets` equal-width buckets over `[lo, hi)`; values outside
    /// are counted in the first or last bucket.
    #[codec(index = 3)]
    Histogram {
        /// Field name.
        field: String,
        /// Lower bound of the first bucket.
        lo: f64,
        /// Upper bound of the last bucket.
        hi: f64,
        /// Number of buckets (1..=the engine's limit).
        buckets: u32,
    },
    /// Minimum of a numeric field (only for groups of at least k records).
    #[codec(index = 4)]
    Min {
        /// Field name.
        field: String,
        /// Lower clamp bound.
        lo: f64,
        /// Upper clamp bound.
        hi: f64,
    },
    /// Maximum of a numeric field (only for groups of at least k records).
    #[codec(index = 5)]
    Max {
        /// Field name.
        field: String,
        /// Lower clamp bound.
        lo: f64,
        /// Upper clamp bound.
        hi: f64,
    },
    /// Estimated number of distinct values of a field (HyperLogLog++ at the dataset's precision).
    #[codec(index = 6)]
    DistinctCount {
        /// Field name.
        field: String,
    },
    /// Number of distinct values of the field that are in `set` (tested through a Bloom filter
    /// built from `set`, so it may over-count by the filter's false-positive rate).
    #[codec(index = 7)]
    IntersectionCount {
        /// Field name.
        field: String,
        /// The caller's set.
        set: Vec<Scalar>,
    },
    /// An aggregate over a TFHE-encrypted column, computed by the FHE backend.
    #[codec(index = 8)]
    Fhe {
        /// Field name (an FHE column).
        field: String,
        /// The operation.
        op: FheOp,
    },
}

/// A query over one dataset of the job.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Query {
    /// Index of the dataset in the job (0-based).
    pub dataset: u32,
    /// Predicates, all of which a record must satisfy.
    pub filters: Vec<Predicate>,
    /// Group key components; empty means one group of all filtered records.
    pub group_by: Vec<GroupKey>,
    /// The aggregate.
    pub aggregate: Aggregate,
    /// Privacy budget this query spends, in thousandths of epsilon (at least 1).
    pub epsilon_milli: u32,
}

/// A request through the `itc.call` import.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum HostRequest {
    /// The schema of dataset `n`.
    #[codec(index = 0)]
    Schema(u32),
    /// Run a query.
    #[codec(index = 1)]
    Query(Query),
}

/// The type of a field, as the chaincode sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum FieldKind {
    /// Unsigned 64-bit integer.
    #[codec(index = 0)]
    U64,
    /// Signed 64-bit integer.
    #[codec(index = 1)]
    I64,
    /// Double.
    #[codec(index = 2)]
    F64,
    /// Text.
    #[codec(index = 3)]
    String,
    /// Bytes.
    #[codec(index = 4)]
    Bytes,
    /// Milliseconds since the Unix epoch.
    #[codec(index = 5)]
    Timestamp,
}

/// One field of a dataset's schema.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct FieldInfo {
    /// Field name.
    pub name: String,
    /// Field type.
    pub kind: FieldKind,
    /// Whether the column is TFHE-encrypted (only [`Aggregate::Fhe`] may read it).
    pub fhe: bool,
}

/// What chaincode may know about a dataset before querying it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct DatasetInfo {
    /// The fields in record order.
    pub fields: Vec<FieldInfo>,
    /// The k-anonymity threshold: smaller groups are suppressed.
    pub k: u32,
    /// Budget left for this job, in thousandths of epsilon.
    pub epsilon_remaining_milli: u32,
}

impl DatasetInfo {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldInfo> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The (noisy) value of an aggregate for one group.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum AggValue {
    /// A single number.
    #[codec(index = 0)]
    Number(f64),
    /// Bucket counts of a histogram.
    #[codec(index = 1)]
    Histogram(Vec<f64>),
}

impl AggValue {
    /// The number, for every aggregate but the histogram.
    pub fn number(&self) -> Option<f64> {
        match self {
            AggValue::Number(v) => Some(*v),
            AggValue::Histogram(_) => None,
        }
    }

    /// The bucket counts, for a histogram.
    pub fn histogram(&self) -> Option<&[f64]> {
        match self {
            AggValue::Histogram(h) => Some(h),
            AggValue::Number(_) => None,
        }
    }
}

/// One released group: its key and its value.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct Group {
    /// One scalar per [`GroupKey`] of the query (empty without group-by).
    pub key: Vec<Scalar>,
    /// The noisy aggregate.
    pub value: AggValue,
}

/// The released groups of a query, in ascending key order. Groups below k are simply absent.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub struct QueryResult {
    /// The groups.
    pub groups: Vec<Group>,
}

impl QueryResult {
    /// The value of an ungrouped query: `None` if it was suppressed (fewer than k records).
    pub fn single(&self) -> Option<&AggValue> {
        match self.groups.as_slice() {
            [g] if g.key.is_empty() => Some(&g.value),
            _ => None,
        }
    }
}

/// A successful answer through `itc.call`.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
pub enum HostResponse {
    /// Answer to [`HostRequest::Schema`].
    #[codec(index = 0)]
    Schema(DatasetInfo),
    /// Answer to [`HostRequest::Query`].
    #[codec(index = 1)]
    Query(QueryResult),
}

/// Why the host refused a request. Chaincode may handle these; they do not stop the job.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum HostError {
    /// The job has no dataset with this index.
    #[codec(index = 0)]
    UnknownDataset(u32),
    /// The query is malformed (unknown field, type mismatch, bad bounds, ...); the text says what.
    #[codec(index = 1)]
    InvalidQuery(String),
    /// The (company, dataset) privacy budget cannot pay for this query.
    #[codec(index = 2)]
    BudgetExhausted {
        /// Budget left, thousandths of epsilon.
        remaining_milli: u32,
        /// What the query asked for.
        requested_milli: u32,
    },
    /// The operation is not available (e.g. an FHE aggregate with no FHE backend attached).
    #[codec(index = 3)]
    Unsupported(String),
    /// The query has more groups than the engine releases.
    #[codec(index = 4)]
    TooManyGroups {
        /// The limit.
        limit: u32,
    },
    /// The job already made as many queries as the engine allows.
    #[codec(index = 5)]
    QueryLimit {
        /// The limit.
        limit: u32,
    },
    /// The host could not decode the request.
    #[codec(index = 6)]
    BadRequest(String),
}

impl core::fmt::Display for HostError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HostError::UnknownDataset(i) => write!(f, "the job has no dataset {i}"),
            HostError::InvalidQuery(m) => write!(f, "invalid query: {m}"),
            HostError::BudgetExhausted { remaining_milli, requested_milli } => write!(
                f,
                "privacy budget exhausted: the query asks {requested_milli} milli-epsilon, \
                 {remaining_milli} remain"
            ),
            HostError::Unsupported(m) => write!(f, "unsupported: {m}"),
            HostError::TooManyGroups { limit } => {
                write!(f, "the query yields more than {limit} groups; group more coarsely")
            }
            HostError::QueryLimit { limit } => {
                write!(f, "the job may make at most {limit} queries")
            }
            HostError::BadRequest(m) => write!(f, "bad request: {m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn hex(bytes: &[u8]) -> String {
        use core::fmt::Write;
        let mut s = String::new();
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    /// Pins the wire format of a request: a query for the mean of `kwh` over `region == "north"`
    /// grouped by day.
    #[test]
    fn query_request_test_vector() {
        let req = HostRequest::Query(Query {
            dataset: 0,
            filters: vec![Predicate::Cmp {
                field: "region".into(),
                op: CmpOp::Eq,
                value: Scalar::Str("north".into()),
            }],
            group_by: vec![GroupKey::Bucket { field: "ts".into(), width: 86_400_000 }],
            aggregate: Aggregate::Mean { field: "kwh".into(), lo: 0.0, hi: 10.0 },
            epsilon_milli: 200,
        });
        let bytes = req.encode();
        assert_eq!(hex(&bytes), QUERY_VECTOR);
        assert_eq!(HostRequest::decode(&mut &bytes[..]).unwrap(), req);
    }

    const QUERY_VECTOR: &str = "0100000000040018726567696f6e0003146e6f7274680401087473005c260500000000020c6b776800000000000000000000000000002440c8000000";

    /// Pins the wire format of an answer: one released group and a budget refusal.
    #[test]
    fn response_test_vectors() {
        let ok: Result<HostResponse, HostError> = Ok(HostResponse::Query(QueryResult {
            groups: vec![Group { key: vec![Scalar::I64(20_454)], value: AggValue::Number(1.5) }],
        }));
        assert_eq!(hex(&ok.encode()), RESULT_VECTOR);
        let refused: Result<HostResponse, HostError> =
            Err(HostError::BudgetExhausted { remaining_milli: 50, requested_milli: 100 });
        assert_eq!(hex(&refused.encode()), REFUSED_VECTOR);
    }

    const RESULT_VECTOR: &str = "0001040401e64f00000000000000000000000000f83f";
    const REFUSED_VECTOR: &str = "01023200000064000000";

    #[test]
    fn single_reads_only_ungrouped_results() {
        let one = QueryResult { groups: vec![Group { key: vec![], value: AggValue::Number(2.0) }] };
        assert_eq!(one.single().and_then(AggValue::number), Some(2.0));
        let grouped = QueryResult {
            groups: vec![Group { key: vec![1u64.into()], value: AggValue::Number(2.0) }],
        };
        assert_eq!(grouped.single(), None);
        assert_eq!(QueryResult { groups: vec![] }.single(), None);
    }
}
