//! SCALE helpers for untrusted bytes.
//!
//! Every peer message, RPC argument and stored record is decoded through [`decode_untrusted`]:
//! the whole input must be consumed (trailing bytes are an error) and nesting is limited to
//! [`MAX_DECODE_DEPTH`], so hostile input can neither smuggle extra data nor exhaust the stack.
//! SCALE's decoder never allocates more than the input could fill, so a forged length prefix
//! cannot exhaust memory either; [`BoundedVec`] additionally rejects over-long lists before
//! reading them.
use alloc::vec::Vec;
use core::ops::Deref;

use parity_scale_codec::{Compact, Decode, DecodeLimit, Encode, Input};

use crate::{Error, Result};

/// Maximum nesting depth accepted when decoding untrusted bytes.
pub const MAX_DECODE_DEPTH: u32 = 32;

/// Decodes a `T` from untrusted bytes: all bytes must be used and nesting is depth-limited.
pub fn decode_untrusted<T: Decode>(bytes: &[u8]) -> Result<T> {
    let mut input = bytes;
    T::decode_all_with_depth_limit(MAX_DECODE_DEPTH, &mut input).map_err(|e| Error::Decode {
        what: core::any::type_name::<T>(),
        reason: alloc::format!("{e}"),
    })
}

/// A vector of at most `N` elements. Its SCALE encoding equals `Vec<T>`'s; decoding rejects a
/// length above `N` before reading any element.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundedVec<T, const N: usize>(Vec<T>);

impl<T, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        BoundedVec(Vec::new())
    }
}

impl<T, const N: usize> BoundedVec<T, N> {
    /// Wraps `items` if there are at most `N` of them; gives them back otherwise.
    pub fn new(items: Vec<T>) -> core::result::Result<Self, Vec<T>> {
        if items.len() <= N {
            Ok(BoundedVec(items))
        } else {
            Err(items)
        }
    }

    /// The maximum length.
    pub const fn bound() -> usize {
        N
    }

    /// Unwraps into the inner vector.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const N: usize> Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: core::fmt::Debug, const N: usize> core::fmt::Debug for BoundedVec<T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: Encode, const N: usize> Encode for BoundedVec<T, N> {
    fn size_hint(&self) -> usize {
        self.0.size_hint()
    }
    fn encode_to<W: parity_scale_codec::Output + ?Sized>(&self, dest: &mut W) {
        self.0.encode_to(dest)
    }
}

impl<T: Decode, const N: usize> Decode for BoundedVec<T, N> {
    fn decode<I: Input>(input: &mut I) -> core::result::Result<Self, parity_scale_codec::Error> {
        let len = <Compact<u32>>::decode(input)?.0 as usize;
        if len > N {
            return Err("list longer than its bound".into());
        }
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::decode(input)?);
        }
        Ok(BoundedVec(items))
    }
}

#[cfg(feature = "serde")]
impl<T: serde::Serialize, const N: usize> serde::Serialize for BoundedVec<T, N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = 7u32.encode();
        assert_eq!(decode_untrusted::<u32>(&bytes).unwrap(), 7);
        bytes.push(0);
        let err = decode_untrusted::<u32>(&bytes).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
    }

    #[test]
    fn bounded_vec_encodes_like_vec_and_rejects_long_input() {
        let v = BoundedVec::<u8, 3>::new(vec![1, 2, 3]).unwrap();
        assert_eq!(v.encode(), vec![1u8, 2, 3].encode());
        assert!(BoundedVec::<u8, 3>::new(vec![1, 2, 3, 4]).is_err());
        assert!(decode_untrusted::<BoundedVec<u8, 3>>(&vec![1u8, 2, 3, 4].encode()).is_err());
        // A huge length prefix with no data behind it is an error, not an allocation.
        let huge = Compact(u32::MAX).encode();
        assert!(decode_untrusted::<BoundedVec<u8, 3>>(&huge).is_err());
        assert!(decode_untrusted::<Vec<u8>>(&huge).is_err());
    }
}
