//! blake2b-256 hashing and the 32-byte [`struct@Hash`] type.
use core::fmt;

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};

use crate::{Error, Result};

/// A blake2b-256 digest. SCALE-encoded as its 32 raw bytes.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode, MaxEncodedLen,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used as the parent of the genesis milestone.
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Number of leading zero bits, the measure of proof of work.
    pub fn leading_zero_bits(&self) -> u32 {
        let mut bits = 0;
        for byte in self.0 {
            if byte == 0 {
                bits += 8;
            } else {
                return bits + byte.leading_zeros();
            }
        }
        bits
    }

    /// Lower-case hex with a `0x` prefix, as Substrate prints hashes.
    pub fn to_hex(&self) -> alloc::string::String {
        to_hex0x(&self.0)
    }

    /// Parses 32 bytes of hex, with or without a `0x` prefix.
    pub fn from_hex(s: &str) -> Result<Self> {
        Ok(Hash(parse_hex_array::<32>(s)?))
    }
}

/// `0x` followed by the lower-case hex of `bytes`, built in one allocation (`hex::encode`
/// collects a `String` char by char: 1 % of a validator's CPU went to it, for RPC answers and
/// finalised-milestone notifications).
pub fn to_hex0x(bytes: &[u8]) -> alloc::string::String {
    let mut out = alloc::vec![b'0'; 2 + 2 * bytes.len()];
    out[1] = b'x';
    // The buffer after the prefix is exactly twice the input, as `encode_to_slice` requires.
    if hex::encode_to_slice(bytes, &mut out[2..]).is_err() {
        return alloc::string::String::new();
    }
    // Hex digits are ASCII.
    alloc::string::String::from_utf8(out).unwrap_or_default()
}

/// The bytes of hex `s`, with or without a `0x` prefix, decoded straight into the output
/// (`hex::decode` goes through an iterator, byte by byte). Errors as `hex::decode`'s do.
pub fn from_hex0x(s: &str) -> core::result::Result<alloc::vec::Vec<u8>, hex::FromHexError> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    let mut out = alloc::vec![0; digits.len() / 2];
    hex::decode_to_slice(digits, &mut out)?;
    Ok(out)
}

/// Parses exactly `N` bytes of hex, with or without a `0x` prefix.
pub fn parse_hex_array<const N: usize>(s: &str) -> Result<[u8; N]> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let mut out = [0u8; N];
    if s.len() != 2 * N {
        return Err(Error::Hex(alloc::format!(
            "expected {} hex digits ({N} bytes), got {}",
            2 * N,
            s.len()
        )));
    }
    hex::decode_to_slice(s, &mut out).map_err(|e| Error::Hex(alloc::format!("{e}")))?;
    Ok(out)
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Display for Hash {
    /// Abbreviated form for logs and error messages: `0x1234…cdef`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return write!(f, "0x{}", hex::encode(self.0));
        }
        write!(f, "0x{}…{}", hex::encode(&self.0[..2]), hex::encode(&self.0[30..]))
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let s = <alloc::string::String as serde::Deserialize>::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// blake2b with a 256-bit output, no key: Substrate's `blake2_256`.
pub fn blake2_256(data: &[u8]) -> Hash {
    let digest = blake2b_simd::Params::new().hash_length(32).hash(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_bytes());
    Hash(out)
}

/// The parameters of blake2b with a 256-bit output (no key, salt or personalisation).
pub(crate) fn blake2_256_params() -> blake2b_simd::Params {
    let mut params = blake2b_simd::Params::new();
    params.hash_length(32);
    params
}

/// blake2b-256 over the concatenation of several byte slices, without allocating.
pub fn blake2_256_concat(parts: &[&[u8]]) -> Hash {
    let mut state = blake2_256_params().to_state();
    for part in parts {
        state.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(state.finalize().as_bytes());
    Hash(out)
}

/// blake2b-256 of the SCALE encoding of `value`.
pub fn hash_of<T: Encode>(value: &T) -> Hash {
    value.using_encoded(blake2_256)
}

/// blake2b with a 512-bit output (used by the SS58 checksum).
pub fn blake2_512(data: &[u8]) -> [u8; 64] {
    let digest = blake2b_simd::Params::new().hash_length(64).hash(data);
    let mut out = [0u8; 64];
    out.copy_from_slice(digest.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_helpers_agree_with_the_hex_crate() {
        for bytes in [&[][..], &[0x00][..], &[0xde, 0xad, 0xbe, 0xef][..], &[0xff; 33][..]] {
            let text = to_hex0x(bytes);
            assert_eq!(text, alloc::format!("0x{}", hex::encode(bytes)));
            assert_eq!(from_hex0x(&text).unwrap(), bytes);
            assert_eq!(from_hex0x(&text[2..]).unwrap(), bytes, "without the prefix");
        }
        assert_eq!(from_hex0x("0xABcd").unwrap(), [0xab, 0xcd]);
        assert_eq!(from_hex0x("0xabc"), Err(hex::FromHexError::OddLength));
        assert_eq!(
            from_hex0x("0xzz"),
            Err(hex::FromHexError::InvalidHexCharacter { c: 'z', index: 0 })
        );
    }

    #[test]
    fn blake2_256_of_empty_input_matches_reference() {
        // Reference value from the BLAKE2 specification's test suite (blake2b-256 of "").
        assert_eq!(
            blake2_256(b"").to_hex(),
            "0x0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
        );
    }

    #[test]
    fn concat_hash_equals_hash_of_concatenation() {
        assert_eq!(blake2_256_concat(&[b"ab", b"cd"]), blake2_256(b"abcd"));
    }

    #[test]
    fn leading_zero_bits_counts_across_bytes() {
        let mut h = [0xffu8; 32];
        h[0] = 0;
        h[1] = 0b0001_0000;
        assert_eq!(Hash(h).leading_zero_bits(), 11);
        assert_eq!(Hash::ZERO.leading_zero_bits(), 256);
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = blake2_256(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex("0x12").is_err());
        assert!(Hash::from_hex(&"zz".repeat(32)).is_err());
    }
}
