//! Record batches: a compact, schema-driven serialisation of records, and a streaming reader.
//!
//! A record is a list of [`Value`]s in schema order. A batch is encoded as
//!
//! ```text
//! batch     = "ITCR" ++ version (1 byte, = 1) ++ schema hash (32 bytes) ++ Compact<u64> count
//!             ++ record * count
//! record    = value_1 ++ … ++ value_n            (schema order, no type tags)
//! U64       = Compact<u64>                       (SCALE compact integer)
//! I64       = Compact<u64> of zigzag(v)          (0, -1, 1, -2 … map to 0, 1, 2, 3 …)
//! F64       = 8 bytes, IEEE-754 bits little-endian
//! String    = Compact<u32> length ++ UTF-8 bytes (at most MAX_VALUE_LEN bytes)
//! Bytes     = Compact<u32> length ++ bytes       (at most MAX_VALUE_LEN bytes)
//! Timestamp = Compact<u64>                       (ms since the Unix epoch)
//! ```
//!
//! The schema hash is `blake2b-256(SCALE(schema))`: a batch read with any other schema is
//! rejected before a value is decoded. Types are not tagged per value (the schema says them),
//! which keeps readings of a few numbers to a few bytes each before compression.
//!
//! [`RecordReader`] decodes one record at a time from any [`Read`], so a whole interval can be
//! streamed from storage through decryption and decompression without holding the batch.
use std::io::{BufRead, BufReader, Read, Write};

use itc_primitives::{
    dataset::{FieldType, Schema, Value},
    hash::hash_of,
    Hash,
};
use parity_scale_codec::{Compact, Decode, Encode, IoReader};

use crate::{Error, Result};

/// A record: one value per schema field, in schema order.
pub type Record = Vec<Value>;

/// The first four bytes of every batch.
pub const BATCH_MAGIC: [u8; 4] = *b"ITCR";
/// The batch format version this crate writes and reads.
pub const BATCH_VERSION: u8 = 1;
/// The longest string or bytes value accepted (16 MiB).
pub const MAX_VALUE_LEN: u32 = 16 * 1024 * 1024;

/// The hash a batch carries to bind it to its schema: `blake2b-256(SCALE(schema))`.
pub fn schema_hash(schema: &Schema) -> Hash {
    hash_of(schema)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn check_schema(schema: &Schema) -> Result<()> {
    schema.validate().map_err(Error::Schema)
}

/// Appends the encoding of one record (without the batch header) to `out`.
pub fn encode_record(schema: &Schema, record: &[Value], out: &mut Vec<u8>) -> Result<()> {
    if record.len() != schema.fields.len() {
        return Err(Error::Records(format!(
            "record has {} values, schema has {} fields",
            record.len(),
            schema.fields.len()
        )));
    }
    for (field, value) in schema.fields.iter().zip(record) {
        match (field.ty, value) {
            (FieldType::U64, Value::U64(v)) | (FieldType::Timestamp, Value::Timestamp(v)) => {
                Compact(*v).encode_to(out)
            }
            (FieldType::I64, Value::I64(v)) => Compact(zigzag(*v)).encode_to(out),
            (FieldType::F64, Value::F64(v)) => out.extend_from_slice(&v.to_bits().to_le_bytes()),
            (FieldType::String, Value::String(s)) => encode_bytes(s.as_bytes(), out)?,
            (FieldType::Bytes, Value::Bytes(b)) => encode_bytes(b, out)?,
            (ty, v) => {
                return Err(Error::Records(format!(
                    "field `{}` is {ty:?} but the value is {:?}",
                    field.name_str(),
                    v.field_type()
                )))
            }
        }
    }
    Ok(())
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let len = u32::try_from(bytes.len()).ok().filter(|l| *l <= MAX_VALUE_LEN).ok_or_else(|| {
        Error::Records(format!(
            "a value of {} bytes is longer than the {MAX_VALUE_LEN}-byte limit; split it",
            bytes.len()
        ))
    })?;
    Compact(len).encode_to(out);
    out.extend_from_slice(bytes);
    Ok(())
}

/// Encodes a batch header for `count` records of `schema`.
pub fn encode_header(schema: &Schema, count: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&BATCH_MAGIC);
    out.push(BATCH_VERSION);
    out.extend_from_slice(schema_hash(schema).as_bytes());
    Compact(count).encode_to(out);
}

/// Encodes `records` as a batch of `schema`. Every record is checked against the schema.
pub fn encode_batch(schema: &Schema, records: &[Record]) -> Result<Vec<u8>> {
    check_schema(schema)?;
    let mut out = Vec::with_capacity(64 + records.len() * 8 * schema.fields.len());
    encode_header(schema, records.len() as u64, &mut out);
    for (index, record) in records.iter().enumerate() {
        encode_record(schema, record, &mut out).map_err(|e| match e {
            Error::Records(reason) => Error::RecordSchema { index, reason },
            other => other,
        })?;
    }
    Ok(out)
}

/// Writes `records` as a batch of `schema` to `w`.
pub fn write_batch<W: Write>(schema: &Schema, records: &[Record], mut w: W) -> Result<()> {
    let bytes = encode_batch(schema, records)?;
    w.write_all(&bytes).map_err(|e| Error::Records(format!("cannot write the batch: {e}")))
}

/// Decodes a whole batch held in memory (convenience over [`RecordReader`]).
pub fn decode_batch(schema: &Schema, bytes: &[u8]) -> Result<Vec<Record>> {
    RecordReader::new(bytes, schema)?.collect()
}

/// Streams the records of a batch from any reader, one at a time.
///
/// Yields `Err` once (then stops) if the bytes are malformed, a value is out of range, or the
/// batch has bytes after its last record.
pub struct RecordReader<'s, R: Read> {
    input: BufReader<R>,
    schema: &'s Schema,
    count: u64,
    read: u64,
    failed: bool,
}

impl<'s, R: Read> RecordReader<'s, R> {
    /// Reads and checks the batch header (magic, version, schema hash).
    pub fn new(reader: R, schema: &'s Schema) -> Result<Self> {
        check_schema(schema)?;
        let mut input = BufReader::with_capacity(64 * 1024, reader);
        let mut head = [0u8; 37];
        input
            .read_exact(&mut head)
            .map_err(|e| Error::Records(format!("batch header is truncated: {e}")))?;
        if head[..4] != BATCH_MAGIC {
            return Err(Error::Records("not a record batch (bad magic)".into()));
        }
        if head[4] != BATCH_VERSION {
            return Err(Error::Records(format!(
                "batch version {} is not supported (this reader knows {BATCH_VERSION})",
                head[4]
            )));
        }
        let expected = schema_hash(schema);
        if head[5..] != expected.0[..] {
            return Err(Error::Records(format!(
                "batch was written with another schema (hash 0x{}, expected {expected:?})",
                hex_of(&head[5..])
            )));
        }
        let count = Compact::<u64>::decode(&mut IoReader(&mut input))
            .map_err(|e| Error::Records(format!("record count: {e}")))?
            .0;
        Ok(RecordReader { input, schema, count, read: 0, failed: false })
    }

    /// The number of records the header announces.
    pub fn record_count(&self) -> u64 {
        self.count
    }

    fn next_record(&mut self) -> Result<Record> {
        let index = self.read;
        let err = |what: &str, e: &dyn std::fmt::Display| {
            Error::Records(format!("record {index}: {what}: {e}"))
        };
        let mut record = Vec::with_capacity(self.schema.fields.len());
        for field in self.schema.fields.iter() {
            let value = match field.ty {
                FieldType::U64 => Value::U64(self.compact::<u64>().map_err(|e| err("u64", &e))?),
                FieldType::Timestamp => {
                    Value::Timestamp(self.compact::<u64>().map_err(|e| err("timestamp", &e))?)
                }
                FieldType::I64 => {
                    Value::I64(unzigzag(self.compact::<u64>().map_err(|e| err("i64", &e))?))
                }
                FieldType::F64 => {
                    let mut b = [0u8; 8];
                    self.input.read_exact(&mut b).map_err(|e| err("f64", &e))?;
                    Value::F64(f64::from_bits(u64::from_le_bytes(b)))
                }
                FieldType::String => {
                    let bytes = self.read_bytes(index)?;
                    Value::String(
                        String::from_utf8(bytes).map_err(|e| err("string is not UTF-8", &e))?,
                    )
                }
                FieldType::Bytes => Value::Bytes(self.read_bytes(index)?),
            };
            record.push(value);
        }
        Ok(record)
    }

    /// Decodes a SCALE compact integer, straight from the read buffer when it holds enough
    /// bytes (the common case), else byte by byte.
    fn compact<T>(&mut self) -> core::result::Result<T, parity_scale_codec::Error>
    where
        T: Copy,
        Compact<T>: Decode,
    {
        // A compact u64 is at most 9 bytes long.
        const MAX_COMPACT: usize = 9;
        let buf = self
            .input
            .fill_buf()
            .map_err(|e| parity_scale_codec::Error::from("I/O error").chain(e.to_string()))?;
        if buf.len() >= MAX_COMPACT {
            let mut slice = buf;
            let v = Compact::<T>::decode(&mut slice)?.0;
            let used = buf.len() - slice.len();
            self.input.consume(used);
            Ok(v)
        } else {
            Ok(Compact::<T>::decode(&mut IoReader(&mut self.input))?.0)
        }
    }

    fn read_bytes(&mut self, index: u64) -> Result<Vec<u8>> {
        let len = self
            .compact::<u32>()
            .map_err(|e| Error::Records(format!("record {index}: length: {e}")))?;
        if len > MAX_VALUE_LEN {
            return Err(Error::Records(format!(
                "record {index}: a value of {len} bytes is over the {MAX_VALUE_LEN}-byte limit"
            )));
        }
        let len = len as usize;
        let buffered = self.input.buffer();
        if buffered.len() >= len {
            let out = buffered[..len].to_vec();
            self.input.consume(len);
            return Ok(out);
        }
        let mut buf = Vec::new();
        let got = (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Error::Records(format!("record {index}: {e}")))?;
        if got != len {
            return Err(Error::Records(format!(
                "record {index}: value truncated ({got} of {len} bytes)"
            )));
        }
        Ok(buf)
    }

    fn check_end(&mut self) -> Result<()> {
        let mut probe = [0u8; 1];
        match self.input.read(&mut probe) {
            Ok(0) => Ok(()),
            Ok(_) => Err(Error::Records(format!(
                "bytes follow the last of the {} records the header announces",
                self.count
            ))),
            Err(e) => Err(Error::Records(format!("after the last record: {e}"))),
        }
    }
}

impl<R: Read> Iterator for RecordReader<'_, R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.read == self.count {
            self.failed = true; // fused from here on
            return self.check_end().err().map(Err);
        }
        match self.next_record() {
            Ok(r) => {
                self.read += 1;
                Some(Ok(r))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::from_fields(&[
            ("id", FieldType::U64),
            ("delta", FieldType::I64),
            ("kwh", FieldType::F64),
            ("device", FieldType::String),
            ("raw", FieldType::Bytes),
            ("at", FieldType::Timestamp),
        ])
        .unwrap()
    }

    fn record(i: u64) -> Record {
        vec![
            Value::U64(i),
            Value::I64(-(i as i64) * 3),
            Value::F64(i as f64 * 0.5),
            Value::String(format!("meter-{i}")),
            Value::Bytes(vec![i as u8; (i % 4) as usize]),
            Value::Timestamp(1_700_000_000_000 + i),
        ]
    }

    #[test]
    fn batches_round_trip_every_field_type() {
        let s = schema();
        let records: Vec<Record> = (0..50).map(record).collect();
        let bytes = encode_batch(&s, &records).unwrap();
        assert_eq!(decode_batch(&s, &bytes).unwrap(), records);
        let extremes = vec![vec![
            Value::U64(u64::MAX),
            Value::I64(i64::MIN),
            Value::F64(f64::MIN_POSITIVE),
            Value::String(String::new()),
            Value::Bytes(vec![]),
            Value::Timestamp(0),
        ]];
        let bytes = encode_batch(&s, &extremes).unwrap();
        assert_eq!(decode_batch(&s, &bytes).unwrap(), extremes);
    }

    #[test]
    fn batch_encoding_matches_the_documented_vector() {
        let s = Schema::from_fields(&[("v", FieldType::U64), ("d", FieldType::I64)]).unwrap();
        let bytes = encode_batch(&s, &[vec![Value::U64(1), Value::I64(-1)]]).unwrap();
        let mut expected = b"ITCR\x01".to_vec();
        expected.extend_from_slice(schema_hash(&s).as_bytes());
        // count 1 (compact 0x04), U64 1 (0x04), zigzag(-1) = 1 (0x04).
        expected.extend_from_slice(&[0x04, 0x04, 0x04]);
        assert_eq!(bytes, expected);
        assert_eq!(hex::encode(&bytes[37..]), "040404", "record bytes after the 37-byte header");
    }

    #[test]
    fn reader_streams_one_record_at_a_time() {
        let s = schema();
        let records: Vec<Record> = (0..10).map(record).collect();
        let bytes = encode_batch(&s, &records).unwrap();
        let mut reader = RecordReader::new(&bytes[..], &s).unwrap();
        assert_eq!(reader.record_count(), 10);
        assert_eq!(reader.next().unwrap().unwrap(), records[0]);
        assert_eq!(reader.by_ref().count(), 9);
    }

    #[test]
    fn records_that_do_not_fit_the_schema_are_rejected() {
        let s = schema();
        let mut bad = record(1);
        bad[0] = Value::I64(1);
        let err = encode_batch(&s, &[record(0), bad]).unwrap_err();
        assert!(matches!(err, Error::RecordSchema { index: 1, .. }), "{err}");
        assert!(encode_batch(&s, &[vec![Value::U64(1)]]).is_err());
    }

    #[test]
    fn malformed_batches_fail_cleanly() {
        let s = schema();
        let bytes = encode_batch(&s, &(0..3).map(record).collect::<Vec<_>>()).unwrap();
        // Truncated anywhere: an error, never a panic, and never all three records.
        for cut in 0..bytes.len() {
            let result: Result<Vec<Record>> =
                RecordReader::new(&bytes[..cut], &s).and_then(|r| r.collect());
            assert!(result.is_err(), "cut at {cut} was accepted");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_batch(&s, &trailing).is_err());
        let other = Schema::from_fields(&[("id", FieldType::U64)]).unwrap();
        let err = decode_batch(&other, &bytes).unwrap_err();
        assert!(err.to_string().contains("another schema"), "{err}");
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0, 1, -1, 63, -64, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }
}
