//! Sealing an interval (records → manifest + chunk envelopes) and opening it again.
//!
//! Upload: serialise the records ([`crate::records`]) → zstd → split into fixed-size chunks →
//! XChaCha20-Poly1305 each chunk under a fresh data key ([`crate::key`]) → blake2b-256 of each
//! sealed chunk → Merkle root over those hashes → data key encrypted to the owner's Umbral key
//! (capsule + ciphertext) → [`IntervalManifest`]. Each chunk is stored as a [`ChunkEnvelope`]
//! carrying its Merkle proof.
//!
//! Download: for each chunk, fetch, check the envelope against the manifest's root, decrypt,
//! then decompress and decode. [`open_interval`] checks and decrypts every chunk before it
//! returns anything; [`stream_interval`] yields records while chunks are still being fetched.
use std::{
    cell::RefCell,
    io::{self, Read},
    rc::Rc,
};

use itc_primitives::{blake2_256, dataset::Schema, merkle::MerkleTree, BoundedVec, Hash};
use rand_core::{CryptoRng, OsRng, RngCore};
use umbral_pre::{DefaultSerialize, PublicKey};

use crate::{
    key::{open_chunk, seal_chunk, ChunkPosition, DataKey},
    manifest::{
        ChunkEnvelope, DatasetId, IntervalManifest, DEFAULT_CHUNK_SIZE, MANIFEST_VERSION,
        MAX_CHUNK_SIZE, MIN_CHUNK_SIZE,
    },
    records::{encode_batch, schema_hash, Record, RecordReader},
    storage::Storage,
    Error, Result,
};
use parity_scale_codec::Encode;

/// Tunables of the upload pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealConfig {
    /// Plaintext bytes per chunk (default 1 MiB).
    pub chunk_size: u32,
    /// zstd level (default 1: fast enough for line rate on one core; 3..=19 compress harder).
    pub zstd_level: i32,
}

impl Default for SealConfig {
    fn default() -> Self {
        SealConfig { chunk_size: DEFAULT_CHUNK_SIZE, zstd_level: 1 }
    }
}

impl SealConfig {
    fn validate(&self) -> Result<()> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return Err(Error::Config(format!(
                "chunk size {} outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}",
                self.chunk_size
            )));
        }
        if !zstd::compression_level_range().contains(&self.zstd_level) {
            return Err(Error::Config(format!(
                "zstd level {} outside {:?}",
                self.zstd_level,
                zstd::compression_level_range()
            )));
        }
        Ok(())
    }
}

/// What sealing an interval produces: the manifest for the chain and the chunk envelopes for
/// storage, in chunk order.
#[derive(Clone, Debug)]
pub struct SealedInterval {
    /// The on-chain manifest.
    pub manifest: IntervalManifest,
    /// SCALE [`ChunkEnvelope`]s; chunk `i` goes to `manifest.chunk_uri(i)`.
    pub chunks: Vec<Vec<u8>>,
}

impl SealedInterval {
    /// Puts every chunk into `storage` at its URI.
    pub fn upload(&self, storage: &dyn Storage) -> Result<()> {
        for (uri, chunk) in self.manifest.chunk_uris().zip(&self.chunks) {
            storage.put(&uri, chunk)?;
        }
        Ok(())
    }
}

/// Seals `records` as interval `interval` of `dataset` under a fresh key from the OS.
pub fn seal_interval(
    owner: &PublicKey,
    dataset: DatasetId,
    interval: u64,
    schema: &Schema,
    records: &[Record],
    config: &SealConfig,
) -> Result<SealedInterval> {
    seal_interval_with_rng(&mut OsRng, owner, dataset, interval, schema, records, config)
}

/// As [`seal_interval`], drawing the data key, nonces and the capsule from `rng` (seeded RNGs
/// make tests and benchmarks reproducible; production uses [`seal_interval`]).
pub fn seal_interval_with_rng(
    rng: &mut (impl CryptoRng + RngCore),
    owner: &PublicKey,
    dataset: DatasetId,
    interval: u64,
    schema: &Schema,
    records: &[Record],
    config: &SealConfig,
) -> Result<SealedInterval> {
    let batch = encode_batch(schema, records)?;
    let key = DataKey::random(rng);
    let body = seal_payload(rng, &key, dataset, interval, &batch, config)?;
    let (capsule, key_ciphertext) = umbral_pre::encrypt_with_rng(rng, owner, key.as_bytes())
        .map_err(|e| Error::Umbral { what: "data key encryption", reason: e.to_string() })?;
    let capsule =
        capsule.to_bytes().map_err(|e| Error::Umbral { what: "capsule", reason: e.to_string() })?;
    let umbral_field = |what: &'static str, bytes: Vec<u8>| {
        BoundedVec::new(bytes).map_err(|b| Error::Umbral {
            what,
            reason: format!("{} bytes do not fit the manifest", b.len()),
        })
    };
    let manifest = IntervalManifest {
        version: MANIFEST_VERSION,
        dataset,
        interval,
        schema_hash: schema_hash(schema),
        record_count: records.len() as u64,
        plaintext_size: batch.len() as u64,
        compressed_size: body.compressed_size,
        chunk_size: config.chunk_size,
        chunk_count: body.chunk_count,
        chunks_root: body.root,
        capsule: umbral_field("capsule", capsule.into_vec())?,
        key_ciphertext: umbral_field("key ciphertext", key_ciphertext.into_vec())?,
    };
    manifest.validate()?;
    Ok(SealedInterval { manifest, chunks: body.envelopes })
}

/// The sealed body of an interval: what [`seal_payload`] returns.
#[derive(Clone, Debug)]
pub struct SealedPayload {
    /// Bytes after compression.
    pub compressed_size: u64,
    /// Number of chunks.
    pub chunk_count: u32,
    /// Merkle root over the sealed chunks' hashes.
    pub root: Hash,
    /// Chunk envelopes in order.
    pub envelopes: Vec<Vec<u8>>,
}

/// Compresses, chunks, seals and hashes `payload` under `key` (the part of the upload pipeline
/// below the manifest).
pub fn seal_payload(
    rng: &mut (impl CryptoRng + RngCore),
    key: &DataKey,
    dataset: DatasetId,
    interval: u64,
    payload: &[u8],
    config: &SealConfig,
) -> Result<SealedPayload> {
    config.validate()?;
    let compressed = zstd::bulk::compress(payload, config.zstd_level)
        .map_err(|e| Error::Config(format!("zstd failed: {e}")))?;
    let chunk_count = u32::try_from(compressed.len().div_ceil(config.chunk_size as usize))
        .map_err(|_| Error::Config("interval needs more than 2^32 chunks; split it".into()))?;
    let mut sealed = Vec::with_capacity(chunk_count as usize);
    for (chunk, plain) in (0u32..).zip(compressed.chunks(config.chunk_size as usize)) {
        let pos = ChunkPosition { dataset, interval, chunk, chunk_count };
        sealed.push(seal_chunk(key, &pos, plain, rng)?);
    }
    let hashes: Vec<Hash> = sealed.iter().map(|c| blake2_256(c)).collect();
    let tree = MerkleTree::new(&hashes);
    let envelopes = sealed
        .into_iter()
        .enumerate()
        .map(|(i, sealed)| {
            let proof =
                tree.proof(i).ok_or_else(|| Error::Config("Merkle proof missing".into()))?;
            Ok(ChunkEnvelope { proof, sealed }.encode())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SealedPayload {
        compressed_size: compressed.len() as u64,
        chunk_count,
        root: tree.root(),
        envelopes,
    })
}

/// Fetches chunk `chunk`, checks it against the manifest and decrypts it.
pub fn fetch_chunk(
    manifest: &IntervalManifest,
    key: &DataKey,
    storage: &dyn Storage,
    chunk: u32,
) -> Result<Vec<u8>> {
    let envelope = storage.get(&manifest.chunk_uri(chunk))?;
    let sealed = manifest.verify_chunk(chunk, &envelope)?;
    let pos = ChunkPosition {
        dataset: manifest.dataset,
        interval: manifest.interval,
        chunk,
        chunk_count: manifest.chunk_count,
    };
    open_chunk(key, &pos, &sealed)
}

/// The largest interval [`open_payload`] and [`open_interval`] hold in memory (4 GiB of
/// serialised records); [`stream_interval`] has no such limit.
pub const MAX_IN_MEMORY_PLAINTEXT: u64 = 4 << 30;
/// Upfront allocation cap, so that sizes claimed by a manifest cost nothing until data arrives.
const PREALLOC_CAP: u64 = 64 << 20;

/// Fetches, checks and decrypts every chunk, then decompresses: the serialised record batch.
/// Nothing is returned unless every chunk is intact and opens under `key`.
pub fn open_payload(
    manifest: &IntervalManifest,
    key: &DataKey,
    storage: &dyn Storage,
) -> Result<Vec<u8>> {
    manifest.validate()?;
    let decompress_err = |reason: String| Error::Decompress { interval: manifest.interval, reason };
    if manifest.plaintext_size > MAX_IN_MEMORY_PLAINTEXT {
        return Err(decompress_err(format!(
            "{} bytes is over the {MAX_IN_MEMORY_PLAINTEXT}-byte in-memory limit; use \
             stream_interval",
            manifest.plaintext_size
        )));
    }
    let prealloc = |n: u64| usize::try_from(n.min(PREALLOC_CAP)).unwrap_or(0);
    let mut compressed = Vec::with_capacity(prealloc(manifest.compressed_size));
    for chunk in 0..manifest.chunk_count {
        compressed.extend_from_slice(&fetch_chunk(manifest, key, storage, chunk)?);
    }
    let mut plain = Vec::with_capacity(prealloc(manifest.plaintext_size));
    let mut exact = ExactReader {
        inner: zstd::stream::read::Decoder::new(&compressed[..])
            .map_err(|e| decompress_err(e.to_string()))?,
        remaining: manifest.plaintext_size,
    };
    exact.read_to_end(&mut plain).map_err(|e| decompress_err(e.to_string()))?;
    Ok(plain)
}

/// Downloads an interval and decodes all its records. All or nothing: any tampered or missing
/// chunk, wrong key or schema is an error and no record is returned.
pub fn open_interval(
    manifest: &IntervalManifest,
    key: &DataKey,
    storage: &dyn Storage,
    schema: &Schema,
) -> Result<Vec<Record>> {
    check_schema(manifest, schema)?;
    let plain = open_payload(manifest, key, storage)?;
    let records: Vec<Record> = RecordReader::new(&plain[..], schema)?.collect::<Result<_>>()?;
    if records.len() as u64 != manifest.record_count {
        return Err(Error::Manifest(format!(
            "{} records decoded, the manifest says {}",
            records.len(),
            manifest.record_count
        )));
    }
    Ok(records)
}

fn check_schema(manifest: &IntervalManifest, schema: &Schema) -> Result<()> {
    if manifest.schema_hash != schema_hash(schema) {
        return Err(Error::Records(format!(
            "interval {} was sealed with schema {:?}, not the one given",
            manifest.interval, manifest.schema_hash
        )));
    }
    Ok(())
}

/// A [`Read`] over an interval's decrypted (still compressed) chunks, fetched one at a time.
struct ChunkReader<'a> {
    manifest: &'a IntervalManifest,
    key: &'a DataKey,
    storage: &'a dyn Storage,
    next: u32,
    buf: Vec<u8>,
    pos: usize,
    error: Rc<RefCell<Option<Error>>>,
}

impl Read for ChunkReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.next == self.manifest.chunk_count {
                return Ok(0);
            }
            match fetch_chunk(self.manifest, self.key, self.storage, self.next) {
                Ok(b) => {
                    self.buf = b;
                    self.pos = 0;
                    self.next += 1;
                }
                Err(e) => {
                    let msg = e.to_string();
                    *self.error.borrow_mut() = Some(e);
                    return Err(io::Error::other(msg));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Fails unless exactly `remaining` bytes come out of `inner`.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other("decompresses to more bytes than the manifest says")),
            };
        }
        let want = out.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut out[..want])?;
        if n == 0 {
            return Err(io::Error::other("decompresses to fewer bytes than the manifest says"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

type Decoder<'a> = zstd::stream::read::Decoder<'static, io::BufReader<ChunkReader<'a>>>;

/// Records of an interval, decoded while its chunks are fetched and checked one at a time
/// (memory stays at about one chunk). Each chunk is checked before it is decrypted, but records
/// from earlier chunks are yielded before later chunks are checked: use [`open_interval`] when
/// all-or-nothing matters more than memory.
pub struct IntervalRecords<'a> {
    reader: RecordReader<'a, ExactReader<Decoder<'a>>>,
    error: Rc<RefCell<Option<Error>>>,
}

impl Iterator for IntervalRecords<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.reader.next()?;
        Some(item.map_err(|e| self.error.borrow_mut().take().unwrap_or(e)))
    }
}

/// Streams the records of an interval (see [`IntervalRecords`]).
pub fn stream_interval<'a>(
    manifest: &'a IntervalManifest,
    key: &'a DataKey,
    storage: &'a dyn Storage,
    schema: &'a Schema,
) -> Result<IntervalRecords<'a>> {
    manifest.validate()?;
    check_schema(manifest, schema)?;
    let error = Rc::new(RefCell::new(None));
    let chunks = ChunkReader {
        manifest,
        key,
        storage,
        next: 0,
        buf: Vec::new(),
        pos: 0,
        error: error.clone(),
    };
    let decoder = zstd::stream::read::Decoder::new(chunks)
        .map_err(|e| Error::Decompress { interval: manifest.interval, reason: e.to_string() })?;
    let exact = ExactReader { inner: decoder, remaining: manifest.plaintext_size };
    let reader =
        RecordReader::new(exact, schema).map_err(|e| error.borrow_mut().take().unwrap_or(e))?;
    Ok(IntervalRecords { reader, error })
}
