//! Sketches the host builds over records: HyperLogLog++ for distinct counts, a Bloom filter for
//! intersections, and the deterministic hash they share. No sketch ever leaves the host.
use core::hash::{BuildHasher, Hash, Hasher};

use bloomfilter::Bloom;
use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use itc_chaincode_sdk::Scalar;
use itc_primitives::dataset::Value;

/// A 64-bit hasher with a fixed algorithm and no random key, so that every executor builds the
/// same sketch: 8-byte words folded with a multiply-xorshift, finished with the murmur3 `fmix64`
/// avalanche. Not collision-resistant (no adversary chooses dataset values to hurt their own
/// estimate), but well mixed, which is what HyperLogLog needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct DetHasher {
    state: u64,
    len: u64,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl DetHasher {
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(K).rotate_left(29) ^ (self.state >> 17);
    }
}

impl Hasher for DetHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
        self.len = self.len.wrapping_add(bytes.len() as u64);
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i) | 0x100);
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn finish(&self) -> u64 {
        let mut h = self.state ^ self.len.wrapping_mul(K);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Builds [`DetHasher`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct DetBuildHasher;

impl BuildHasher for DetBuildHasher {
    type Hasher = DetHasher;
    fn build_hasher(&self) -> DetHasher {
        DetHasher::default()
    }
}

/// A record value as a hash key: a type tag then the value's canonical bytes (integers and
/// timestamps hash alike when equal as `u64`; doubles by their bits with all NaNs one NaN).
#[derive(Clone, Copy, Debug)]
pub struct ValueKey<'a>(pub &'a Value);

impl Hash for ValueKey<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self.0 {
            Value::U64(v) | Value::Timestamp(v) => {
                h.write_u8(0);
                h.write_u64(*v)
            }
            Value::I64(v) => {
                h.write_u8(1);
                h.write_u64(*v as u64)
            }
            Value::F64(v) => {
                h.write_u8(2);
                h.write_u64(if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() })
            }
            Value::String(s) => {
                h.write_u8(3);
                h.write(s.as_bytes())
            }
            Value::Bytes(b) => {
                h.write_u8(4);
                h.write(b)
            }
        }
    }
}

/// A caller's literal hashed exactly as the record value it equals (see [`ValueKey`]).
#[derive(Clone, Copy, Debug)]
pub struct ScalarKey<'a>(pub &'a Scalar);

impl Hash for ScalarKey<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self.0 {
            Scalar::U64(v) => ValueKey(&Value::U64(*v)).hash(h),
            Scalar::I64(v) => ValueKey(&Value::I64(*v)).hash(h),
            Scalar::F64(v) => ValueKey(&Value::F64(*v)).hash(h),
            Scalar::Str(s) => {
                h.write_u8(3);
                h.write(s.as_bytes())
            }
            Scalar::Bytes(b) => {
                h.write_u8(4);
                h.write(b)
            }
        }
    }
}

/// A HyperLogLog++ distinct counter at a policy's precision.
pub struct Distinct {
    hll: HyperLogLogPlus<u64, DetBuildHasher>,
}

impl Distinct {
    /// A counter at `precision` (4..=18); `None` outside that range.
    pub fn new(precision: u8) -> Option<Self> {
        HyperLogLogPlus::new(precision, DetBuildHasher).ok().map(|hll| Distinct { hll })
    }

    /// Adds a value.
    pub fn insert(&mut self, v: &Value) {
        let mut h = DetHasher::default();
        ValueKey(v).hash(&mut h);
        // HLL++ hashes what it is given again; feeding the 64-bit digest keeps the cost to one
        // pass over the value's bytes plus one word.
        self.hll.insert(&h.finish());
    }

    /// The estimate.
    pub fn estimate(&mut self) -> f64 {
        self.hll.count()
    }
}

/// Membership in a caller's set through a Bloom filter.
pub struct SetFilter {
    bloom: Bloom<[u8]>,
}

/// False-positive rate of the intersection Bloom filter.
pub const BLOOM_FP_RATE: f64 = 0.001;

impl SetFilter {
    /// A filter holding `set`, its hash keys from `seed`.
    pub fn new(set: &[Scalar], seed: &[u8; 32]) -> Option<Self> {
        let mut bloom =
            Bloom::new_for_fp_rate_with_seed(set.len().max(1), BLOOM_FP_RATE, seed).ok()?;
        for s in set {
            bloom.set(&key_bytes_scalar(s)[..]);
        }
        Some(SetFilter { bloom })
    }

    /// Whether `v` is (probably) in the set.
    pub fn contains(&self, v: &Value) -> bool {
        self.bloom.check(&key_bytes(v)[..])
    }
}

/// The digest of a value's hash key as bytes (what the Bloom filter stores).
pub fn key_bytes(v: &Value) -> [u8; 8] {
    let mut h = DetHasher::default();
    ValueKey(v).hash(&mut h);
    h.finish().to_le_bytes()
}

fn key_bytes_scalar(s: &Scalar) -> [u8; 8] {
    let mut h = DetHasher::default();
    ScalarKey(s).hash(&mut h);
    h.finish().to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_and_value_keys_agree() {
        for (v, s) in [
            (Value::U64(5), Scalar::U64(5)),
            (Value::String("abc".into()), Scalar::Str("abc".into())),
            (Value::F64(1.5), Scalar::F64(1.5)),
        ] {
            assert_eq!(key_bytes(&v), key_bytes_scalar(&s));
        }
        assert_ne!(key_bytes(&Value::U64(5)), key_bytes(&Value::U64(6)));
    }

    #[test]
    fn hll_estimates_within_standard_error() {
        let mut d = Distinct::new(14).unwrap();
        let n = 50_000u64;
        for i in 0..n {
            d.insert(&Value::String(format!("device-{i}")));
            d.insert(&Value::String(format!("device-{i}")));
        }
        let est = d.estimate();
        let se = 1.04 / (2f64.powi(14)).sqrt() * n as f64;
        assert!((est - n as f64).abs() < 3.0 * se, "estimate {est}, exact {n}");
    }

    #[test]
    fn bloom_finds_members_and_rejects_most_others() {
        let set: Vec<Scalar> = (0..1000).map(|i| Scalar::Str(format!("c{i}"))).collect();
        // The engine derives seeds with blake2; equal seed halves would make the filter's two
        // SipHash keys equal and its hash functions degenerate.
        let seed = itc_primitives::blake2_256(b"seed").0;
        let f = SetFilter::new(&set, &seed).unwrap();
        assert!((0..1000).all(|i| f.contains(&Value::String(format!("c{i}")))));
        let fp = (0..10_000).filter(|i| f.contains(&Value::String(format!("x{i}")))).count();
        assert!(fp < 50, "{fp} false positives in 10000");
    }
}
