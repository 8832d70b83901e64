//! Bans that outlive the process: the banned peers and when each ban ends, in a small file
//! (`<base path>/network/bans` in a node), rewritten whenever the set changes.
//!
//! Format (SCALE): [`BanFile`] = `version: u8` (1) ++ `Compact(len)` ++ `len` × [`BanRecord`],
//! at most [`MAX_BANS`] records; a record is the peer id's multihash bytes (`Vec<u8>`) and the
//! ban's end in Unix milliseconds (`u64`, little-endian). A wall-clock end, not a duration, so
//! that time spent stopped counts. The file is written to `bans.tmp`, synced and renamed over
//! the old one, so a crash leaves either version whole.
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use itc_primitives::{decode_untrusted, BoundedVec};
use libp2p::PeerId;
use parity_scale_codec::{Decode, Encode};

use crate::{Error, Result};

/// Most bans kept on disk; a node under a Sybil flood keeps the latest-ending ones.
pub const MAX_BANS: usize = 4_096;
/// The file format's version byte.
pub const BAN_FILE_VERSION: u8 = 1;

/// One ban on disk.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BanRecord {
    /// The peer id's bytes (`PeerId::to_bytes`).
    pub peer: Vec<u8>,
    /// When the ban ends, in Unix milliseconds.
    pub until_unix_ms: u64,
}

/// The whole file.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BanFile {
    /// [`BAN_FILE_VERSION`].
    pub version: u8,
    /// The bans.
    pub bans: BoundedVec<BanRecord, MAX_BANS>,
}

/// Now, in Unix milliseconds.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// The bans in `path` that end after `now_unix_ms`, with their ends. A missing file holds no
/// bans; a file that does not decode, or names a peer id that does not parse, is an error.
pub fn load(path: &Path, now_unix_ms: u64) -> Result<Vec<(PeerId, u64)>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let file: BanFile = decode_untrusted(&bytes).map_err(|e| {
        Error::Config(format!(
            "{} is not a ban file ({e}); delete it to start afresh",
            path.display()
        ))
    })?;
    if file.version != BAN_FILE_VERSION {
        return Err(Error::Config(format!(
            "{} has ban file version {}, this node reads version {BAN_FILE_VERSION}",
            path.display(),
            file.version
        )));
    }
    let mut bans = Vec::new();
    for record in file.bans.into_inner() {
        let peer = PeerId::from_bytes(&record.peer).map_err(|e| {
            Error::Config(format!("{} names a peer id that does not parse: {e}", path.display()))
        })?;
        if record.until_unix_ms > now_unix_ms {
            bans.push((peer, record.until_unix_ms));
        }
    }
    Ok(bans)
}

/// Replaces the file at `path` with `bans` (the latest-ending [`MAX_BANS`] of them).
pub fn save(path: &Path, bans: &[(PeerId, u64)]) -> Result<()> {
    let mut records: Vec<BanRecord> = bans
        .iter()
        .map(|(peer, until)| BanRecord { peer: peer.to_bytes(), until_unix_ms: *until })
        .collect();
    records.sort_by(|a, b| b.until_unix_ms.cmp(&a.until_unix_ms).then(a.peer.cmp(&b.peer)));
    records.truncate(MAX_BANS);
    let file =
        BanFile { version: BAN_FILE_VERSION, bans: BoundedVec::new(records).unwrap_or_default() };
    let tmp: PathBuf = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&file.encode()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::identity::Keypair;

    fn peer(seed: u8) -> PeerId {
        Keypair::ed25519_from_bytes([seed; 32]).unwrap().public().to_peer_id()
    }

    #[test]
    fn test_vector() {
        let file = BanFile {
            version: BAN_FILE_VERSION,
            bans: BoundedVec::new(vec![BanRecord {
                peer: peer(1).to_bytes(),
                until_unix_ms: 1_700_000_000_000,
            }])
            .unwrap(),
        };
        let hex = hex::encode(file.encode());
        // version 1, one record: Compact(38) ++ identity multihash (0x00, 36 bytes) of the
        // protobuf ed25519 key (08 01 12 20 ++ the key of secret [1; 32]), then the end in ms.
        assert_eq!(
            hex,
            "0104\
             98\
             0024\
             08011220\
             8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\
             0068e5cf8b010000"
        );
    }

    #[test]
    fn bans_survive_a_round_trip_and_expired_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bans");
        assert_eq!(load(&path, 0).unwrap(), Vec::new(), "no file, no bans");
        save(&path, &[(peer(1), 2_000), (peer(2), 1_000)]).unwrap();
        assert_eq!(load(&path, 0).unwrap(), vec![(peer(1), 2_000), (peer(2), 1_000)]);
        assert_eq!(load(&path, 1_500).unwrap(), vec![(peer(1), 2_000)]);
        assert!(!path.with_extension("tmp").exists());
        std::fs::write(&path, b"\x01\xff").unwrap();
        let err = load(&path, 0).unwrap_err().to_string();
        assert!(err.contains("is not a ban file"), "{err}");
        std::fs::write(&path, BanFile { version: 9, bans: BoundedVec::default() }.encode())
            .unwrap();
        let err = load(&path, 0).unwrap_err().to_string();
        assert!(err.contains("version 9"), "{err}");
    }
}
