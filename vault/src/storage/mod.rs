//! Chunk storage behind `otp://` URIs.
//!
//! A chunk's URI is `otp://<dataset>/<interval>/<chunk>`: the dataset id as 64 lower-case hex
//! digits, then the interval and chunk indices in decimal. A [`Storage`] backend puts, gets and
//! deletes chunk envelopes by URI; [`Locator`] resolves a URI to the backend that holds its
//! dataset. Backends here: [`LocalStorage`] (a directory) and [`HttpStorage`] (HTTP(S)); the node
//! adds its DHT backend by implementing [`Storage`].
//!
//! Backends store bytes as given: integrity is checked by the reader against the manifest
//! ([`crate::IntervalManifest::verify_chunk`]), never trusted from storage.
mod http;
mod local;
mod locator;

pub use http::HttpStorage;
pub use local::LocalStorage;
pub use locator::Locator;

use std::{fmt, str::FromStr};

use itc_primitives::Hash;

use crate::{manifest::DatasetId, Error, Result};

/// The URI scheme.
pub const OTP_SCHEME: &str = "otp://";

/// Where one chunk lives: `otp://<dataset>/<interval>/<chunk>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkUri {
    /// The dataset.
    pub dataset: DatasetId,
    /// The interval index.
    pub interval: u64,
    /// The chunk index.
    pub chunk: u32,
}

impl ChunkUri {
    /// The path part, `<dataset hex>/<interval>/<chunk>`, used by backends as a key.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", dataset_hex(&self.dataset), self.interval, self.chunk)
    }
}

/// The dataset id as 64 lower-case hex digits (no `0x`).
pub fn dataset_hex(dataset: &DatasetId) -> String {
    dataset.0.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for ChunkUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{OTP_SCHEME}{}", self.path())
    }
}

impl FromStr for ChunkUri {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let fail = |reason: &str| Error::Uri { uri: s.to_owned(), reason: reason.to_owned() };
        let rest = s.strip_prefix(OTP_SCHEME).ok_or_else(|| fail("scheme is not otp://"))?;
        let mut parts = rest.split('/');
        let (Some(ds), Some(iv), Some(ch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail("needs exactly three path segments"));
        };
        if ds.len() != 64 || !ds.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(fail("dataset id must be 64 lower-case hex digits"));
        }
        let dataset = Hash::from_hex(ds).map_err(|_| fail("dataset id is not hex"))?;
        let canonical = |x: &str| {
            !x.is_empty()
                && x.bytes().all(|b| b.is_ascii_digit())
                && (x == "0" || !x.starts_with('0'))
        };
        if !canonical(iv) || !canonical(ch) {
            return Err(fail("interval and chunk must be decimal numbers without leading zeros"));
        }
        let interval = iv.parse().map_err(|_| fail("interval does not fit in u64"))?;
        let chunk = ch.parse().map_err(|_| fail("chunk does not fit in u32"))?;
        Ok(ChunkUri { dataset, interval, chunk })
    }
}

/// A place chunks are kept. Implementations must be safe to share between threads.
pub trait Storage: Send + Sync {
    /// Stores `bytes` at `uri`, replacing what was there.
    fn put(&self, uri: &ChunkUri, bytes: &[u8]) -> Result<()>;
    /// The bytes at `uri`; [`Error::ChunkMissing`] if there are none.
    fn get(&self, uri: &ChunkUri) -> Result<Vec<u8>>;
    /// Deletes the bytes at `uri`; returns whether there were any.
    fn delete(&self, uri: &ChunkUri) -> Result<bool>;
}

impl<S: Storage + ?Sized> Storage for std::sync::Arc<S> {
    fn put(&self, uri: &ChunkUri, bytes: &[u8]) -> Result<()> {
        (**self).put(uri, bytes)
    }
    fn get(&self, uri: &ChunkUri) -> Result<Vec<u8>> {
        (**self).get(uri)
    }
    fn delete(&self, uri: &ChunkUri) -> Result<bool> {
        (**self).delete(uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_match_the_documented_form() {
        let uri = ChunkUri { dataset: Hash([0xab; 32]), interval: 7, chunk: 12 };
        let s = uri.to_string();
        assert_eq!(s, format!("otp://{}/7/12", "ab".repeat(32)));
        assert_eq!(s.parse::<ChunkUri>().unwrap(), uri);
    }

    #[test]
    fn malformed_uris_are_rejected() {
        let ds = "ab".repeat(32);
        for bad in [
            format!("http://{ds}/1/2"),
            format!("otp://{ds}/1"),
            format!("otp://{ds}/1/2/3"),
            format!("otp://{}/1/2", "AB".repeat(32)),
            format!("otp://{}/1/2", "ab".repeat(31)),
            format!("otp://{ds}/01/2"),
            format!("otp://{ds}/1/-2"),
            format!("otp://{ds}/1/4294967296"),
            format!("otp://{ds}//2"),
        ] {
            assert!(bad.parse::<ChunkUri>().is_err(), "{bad} accepted");
        }
    }
}
