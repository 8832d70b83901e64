//! The dataset data model shared by the runtime (schemas and policies on chain), the vault
//! (record batches) and the chaincode engine (the rows it aggregates).
//!
//! A dataset has a [`Schema`] of typed fields and an [`AnalyticsPolicy`] that bounds what
//! analytics chaincode may learn from it. A record is a list of [`Value`]s in schema order.
use alloc::{string::String, vec::Vec};

use parity_scale_codec::{Decode, Encode};

use crate::{codec::BoundedVec, Balance, Hash};

/// At most this many fields per schema.
pub const MAX_FIELDS: usize = 64;
/// At most this many bytes in a field name.
pub const MAX_FIELD_NAME: usize = 64;
/// At most this many chaincode hashes in a policy's allow-list.
pub const MAX_ALLOWED_CHAINCODE: usize = 32;

/// The type of a field. SCALE: one byte, the explicit index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum FieldType {
    /// Unsigned 64-bit integer.
    #[codec(index = 0)]
    U64,
    /// Signed 64-bit integer.
    #[codec(index = 1)]
    I64,
    /// IEEE-754 double.
    #[codec(index = 2)]
    F64,
    /// UTF-8 text.
    #[codec(index = 3)]
    String,
    /// Opaque bytes.
    #[codec(index = 4)]
    Bytes,
    /// Milliseconds since the Unix epoch.
    #[codec(index = 5)]
    Timestamp,
}

/// One field of a schema.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FieldDef {
    /// Field name (UTF-8, at most [`MAX_FIELD_NAME`] bytes).
    pub name: BoundedVec<u8, MAX_FIELD_NAME>,
    /// Field type.
    pub ty: FieldType,
    /// Whether the column is stored TFHE-encrypted (only `U64` columns holding u32 values), so
    /// that analytics may only aggregate it homomorphically.
    pub fhe: bool,
}

impl FieldDef {
    /// The field name as text (lossy for invalid UTF-8, which validation rejects).
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// A dataset schema: its fields, in record order.
#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Schema {
    /// The fields.
    pub fields: BoundedVec<FieldDef, MAX_FIELDS>,
}

impl Schema {
    /// Builds a schema from `(name, type)` pairs (no FHE columns). Returns `None` if there are too
    /// many fields, a name is too long, or two fields share a name.
    pub fn from_fields(fields: &[(&str, FieldType)]) -> Option<Self> {
        let defs = fields
            .iter()
            .map(|(name, ty)| {
                Some(FieldDef {
                    name: BoundedVec::new(name.as_bytes().to_vec()).ok()?,
                    ty: *ty,
                    fhe: false,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let schema = Schema { fields: BoundedVec::new(defs).ok()? };
        schema.validate().ok()?;
        Some(schema)
    }

    /// Index of the field called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name.as_ref() == name.as_bytes())
    }

    /// Checks names are non-empty, UTF-8 and distinct, and FHE columns are `U64`.
    pub fn validate(&self) -> core::result::Result<(), String> {
        if self.fields.is_empty() {
            return Err("a schema needs at least one field".into());
        }
        for (i, f) in self.fields.iter().enumerate() {
            if f.name.is_empty() || core::str::from_utf8(&f.name).is_err() {
                return Err(alloc::format!("field {i} has an empty or non-UTF-8 name"));
            }
            if self.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(alloc::format!("field name `{}` appears twice", f.name_str()));
            }
            if f.fhe && f.ty != FieldType::U64 {
                return Err(alloc::format!(
                    "field `{}` is FHE-encrypted but not u64; only u64 (u32-valued) columns can be",
                    f.name_str()
                ));
            }
        }
        Ok(())
    }

    /// Whether `record` has one value per field, each of the field's type.
    pub fn check_record(&self, record: &[Value]) -> core::result::Result<(), String> {
        if record.len() != self.fields.len() {
            return Err(alloc::format!(
                "record has {} values, schema has {} fields",
                record.len(),
                self.fields.len()
            ));
        }
        for (f, v) in self.fields.iter().zip(record) {
            if v.field_type() != f.ty {
                return Err(alloc::format!(
                    "field `{}` is {:?} but the value is {:?}",
                    f.name_str(),
                    f.ty,
                    v.field_type()
                ));
            }
        }
        Ok(())
    }
}

/// One value of a record. SCALE: the variant index (as [`FieldType`]'s) then the value.
#[derive(Clone, Debug, PartialEq, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Value {
    /// A `U64` value.
    #[codec(index = 0)]
    U64(u64),
    /// An `I64` value.
    #[codec(index = 1)]
    I64(i64),
    /// An `F64` value.
    #[codec(index = 2)]
    F64(f64),
    /// A `String` value.
    #[codec(index = 3)]
    String(String),
    /// A `Bytes` value.
    #[codec(index = 4)]
    Bytes(Vec<u8>),
    /// A `Timestamp` value (ms since the Unix epoch).
    #[codec(index = 5)]
    Timestamp(u64),
}

impl Value {
    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        match self {
            Value::U64(_) => FieldType::U64,
            Value::I64(_) => FieldType::I64,
            Value::F64(_) => FieldType::F64,
            Value::String(_) => FieldType::String,
            Value::Bytes(_) => FieldType::Bytes,
            Value::Timestamp(_) => FieldType::Timestamp,
        }
    }

    /// The value as a number, for numeric types.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::U64(v) | Value::Timestamp(v) => Some(*v as f64),
            Value::I64(v) => Some(*v as f64),
            Value::F64(v) => Some(*v),
            Value::String(_) | Value::Bytes(_) => None,
        }
    }
}

/// What analytics chaincode may learn from a dataset. Stored on chain with the dataset.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AnalyticsPolicy {
    /// Minimum number of records behind any released aggregate (k-anonymity threshold); groups
    /// with fewer records are suppressed.
    #[codec(compact)]
    pub k: u32,
    /// Price paid to the owner per record a job's queries touch.
    #[codec(compact)]
    pub price_per_record: Balance,
    /// Differential-privacy budget per (company, dataset), in thousandths of epsilon
    /// (fixed point keeps the on-chain accounting deterministic).
    #[codec(compact)]
    pub epsilon_budget_milli: u32,
    /// HyperLogLog precision (4..=18) used for distinct counts.
    pub hll_precision: u8,
    /// Code hashes of the chaincode allowed to run on this dataset; empty means any.
    pub allowed_chaincode: BoundedVec<Hash, MAX_ALLOWED_CHAINCODE>,
}

impl AnalyticsPolicy {
    /// Whether chaincode with hash `code` may run on the dataset.
    pub fn allows(&self, code: &Hash) -> bool {
        self.allowed_chaincode.is_empty() || self.allowed_chaincode.contains(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_validation_and_record_checks() {
        let s =
            Schema::from_fields(&[("device", FieldType::String), ("kwh", FieldType::F64)]).unwrap();
        assert_eq!(s.index_of("kwh"), Some(1));
        assert!(s.check_record(&[Value::String("d1".into()), Value::F64(1.5)]).is_ok());
        assert!(s.check_record(&[Value::String("d1".into())]).is_err());
        assert!(s.check_record(&[Value::U64(1), Value::F64(1.5)]).is_err());
        assert!(Schema::from_fields(&[("a", FieldType::U64), ("a", FieldType::U64)]).is_none());
        assert!(Schema::from_fields(&[]).is_none());
    }
}
