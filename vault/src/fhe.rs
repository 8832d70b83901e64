//! TFHE columns: `u32` readings that leave a device only encrypted, and aggregates over them
//! that only the owner can read (tfhe-rs integer API, high-level interface).
//!
//! ## Roles
//! - The **owner** ([`FheOwner::generate`]) makes the keys: it keeps the client (secret) key and
//!   hands out a [`FhePublicKey`] to devices and a [`FheServerKey`] to executors.
//! - A **device** ([`FheDevice`]) encrypts a column of `u32` values with the compact public key
//!   into one [`CompactColumn`] (a packed `CompactCiphertextList`).
//! - An **executor** ([`FheExecutor`]) is built from a [`FheServerKey`] alone: no constructor
//!   takes a client key, so it cannot decrypt. It loads columns ([`FheExecutor::load`], which
//!   re-encrypts the device ciphertexts under the computation keys) and computes the sum (each
//!   value optionally clamped to an upper bound) or the count of values strictly above a
//!   threshold, over every record or over a [`Selection`] of record indices. The result is an
//!   [`EncryptedAggregate`], an encrypted `u64`: sums of `u32` values never wrap.
//! - The owner decrypts the aggregate ([`FheOwner::decrypt`]) and nothing else ever leaves
//!   encryption.
//!
//! ## Plugging into the chaincode engine
//! `itc_chaincode::VaultFhe` implements `itc_chaincode::FheBackend::aggregate(dataset, field, op,
//! records)` over this module, one to one:
//! `FheOp::Sum { hi }` is [`FheAggregate::Sum`] with `clamp_hi: Some(hi)`,
//! `FheOp::CountAbove { threshold }` is [`FheAggregate::CountAbove`], `records` is
//! [`Selection::Records`]; the backend looks up the dataset's loaded [`EncryptedColumn`] for
//! `field`, calls [`FheExecutor::aggregate`] and has the owner (or, later, a threshold of key
//! holders) decrypt the [`EncryptedAggregate`].
//!
//! ## Parameters
//! One pinned parameter set, [`fhe_config`]: compute blocks
//! `V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128` (tfhe's default, 128-bit security,
//! failure probability 2^-128) with tfhe's dedicated compact public key parameters
//! `V1_8_PARAM_PKE_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128` and the key switch
//! `V1_8_PARAM_KEYSWITCH_PKE_TO_SMALL_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128`. The versioned
//! names (not tfhe's moving aliases) keep keys and ciphertexts valid across tfhe upgrades.
//!
//! ## Formats
//! Every object is tfhe's `safe_serialization` format (a versioned bincode body behind a header
//! naming the type and the tfhe serialization version), so any tfhe-rs 1.x user with the same
//! parameters can read it. Untrusted bytes are read with a size limit, a type-name check, tfhe's
//! conformance check against the parameters above, and a check that no bytes trail the object.
//!
//! | object | direction | tfhe type | compressed | size (measured) |
//! |---|---|---|---|---|
//! | [`FheServerKey`] | owner → executor | `CompressedServerKey` | yes (seeded masks) | 60 MB |
//! | [`FhePublicKey`] | owner → device | `CompressedCompactPublicKey` | yes (seeded mask) | 17 kB |
//! | [`CompactColumn`] | device → executor | `CompactCiphertextList` of `u32`, packed | compact: one mask per list | 16.6 kB + 80 B per value |
//! | [`EncryptedAggregate`] | executor → owner | `FheUint64` | no (see below) | 528 kB |
//! | [`FheOwner`] | owner only (secret) | `ClientKey` | no | 48 kB |
//!
//! The aggregate is left uncompressed: tfhe compresses computed ciphertexts only through a
//! `CompressedCiphertextList`, whose decompression needs the (multi-hundred-MB) decompressed
//! server key on the owner's side; one aggregate per query does not justify that.
//!
//! tfhe keeps its server key per thread; every executor call installs its own key for the
//! duration of the call only, so one thread can serve several owners in turn. tfhe panics on some
//! inputs it assumes valid: every call on untrusted data runs behind a panic guard that turns a
//! panic into [`Error::Fhe`] (the conformance checks should make that unreachable).

use std::panic::{catch_unwind, AssertUnwindSafe};

use tfhe::{
    conformance::ListSizeConstraint,
    integer::IntegerCiphertext,
    named::Named,
    prelude::*,
    safe_serialization::{safe_deserialize, safe_deserialize_conformant, safe_serialize},
    shortint::parameters::v1_8::{
        V1_8_PARAM_KEYSWITCH_PKE_TO_SMALL_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128,
        V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128,
        V1_8_PARAM_PKE_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128,
    },
    shortint::{
        ciphertext::NoiseLevel, parameters::CiphertextConformanceParams, AtomicPatternParameters,
    },
    with_server_key_as_context, ClientKey, CompactCiphertextList,
    CompactCiphertextListConformanceParams, CompactPublicKey, CompressedCompactPublicKey,
    CompressedServerKey, Config, ConfigBuilder, FheUint32, FheUint64, ServerKey, Unversionize,
    Versionize,
};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// At most this many values in one [`CompactColumn`] (a device uploads larger columns as several
/// lists, which the executor concatenates with [`EncryptedColumn::append`]).
pub const MAX_COLUMN_LEN: usize = 1 << 16;

/// Deserialisation size limits (bytes), a few times the real sizes.
const SERVER_KEY_LIMIT: u64 = 256 << 20;
const PUBLIC_KEY_LIMIT: u64 = 1 << 20;
const CLIENT_KEY_LIMIT: u64 = 16 << 20;
const COLUMN_LIMIT: u64 = 32 << 20;
const AGGREGATE_LIMIT: u64 = 4 << 20;
/// Blocks of an encrypted `u64` (2 message bits per block).
const AGGREGATE_BLOCKS: usize = 32;

/// The one TFHE parameter set of ITC columns (see the module docs).
pub fn fhe_config() -> Config {
    ConfigBuilder::with_custom_parameters(V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128)
        .use_dedicated_compact_public_key_parameters((
            V1_8_PARAM_PKE_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128,
            V1_8_PARAM_KEYSWITCH_PKE_TO_SMALL_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128,
        ))
        .build()
}

fn fhe_err(what: &str, e: impl core::fmt::Display) -> Error {
    Error::Fhe(format!("{what}: {e}"))
}

/// Runs tfhe code on possibly hostile data, turning a panic inside tfhe into an error.
fn guard<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "tfhe panicked".to_owned());
        Err(fhe_err(what, format!("rejected ({reason})")))
    })
}

fn to_bytes<T: serde::Serialize + Versionize + Named>(
    obj: &T,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    safe_serialize(obj, &mut out, limit).map_err(|e| fhe_err(what, e))?;
    Ok(out)
}

/// Reads exactly one conformant `T` from `bytes`.
fn from_bytes<T>(bytes: &[u8], limit: u64, params: &T::ParameterSet, what: &str) -> Result<T>
where
    T: serde::de::DeserializeOwned
        + Unversionize
        + Named
        + tfhe::conformance::ParameterSetConformant,
{
    guard(what, || {
        let mut rest = bytes;
        let obj = safe_deserialize_conformant::<T>(&mut rest, limit, params).map_err(|e| {
            fhe_err(
                what,
                format!(
                    "{e}; the bytes are truncated, not a {what}, or made with other TFHE \
                     parameters than ITC's"
                ),
            )
        })?;
        check_consumed(rest, what)?;
        Ok(obj)
    })
}

fn check_consumed(rest: &[u8], what: &str) -> Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(fhe_err(what, format!("{} trailing bytes after the object", rest.len())))
    }
}

/// The owner's secret: the TFHE client key. It decrypts aggregates (and anything else under
/// these keys): never give it to an executor.
pub struct FheOwner {
    client: ClientKey,
}

impl FheOwner {
    /// Generates a client key and the matching compressed server key and compressed compact
    /// public key with [`fhe_config`]. Takes a few seconds (the server key's bootstrapping key).
    pub fn generate() -> Result<(FheOwner, FheServerKey, FhePublicKey)> {
        guard("key generation", || {
            let client = ClientKey::generate(fhe_config());
            let server = CompressedServerKey::new(&client);
            let public = CompressedCompactPublicKey::new(&client);
            Ok((FheOwner { client }, FheServerKey(server), FhePublicKey(public)))
        })
    }

    /// The client key in tfhe's safe serialisation. Secret: store it encrypted; the buffer is
    /// zeroed on drop.
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        to_bytes(&self.client, CLIENT_KEY_LIMIT, "client key").map(Zeroizing::new)
    }

    /// Restores the owner from [`FheOwner::to_bytes`]. Fails if the key is of another parameter
    /// set than [`fhe_config`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "client key";
        guard(WHAT, || {
            let mut rest = bytes;
            let client: ClientKey = safe_deserialize(&mut rest, CLIENT_KEY_LIMIT)
                .map_err(|e| fhe_err(WHAT, format!("{e}; the bytes are truncated or not one")))?;
            check_consumed(rest, WHAT)?;
            let expected =
                AtomicPatternParameters::from(V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128);
            if client.computation_parameters() != expected {
                return Err(fhe_err(WHAT, "made with other TFHE parameters than ITC's"));
            }
            Ok(FheOwner { client })
        })
    }

    /// Decrypts an aggregate computed by an executor with this owner's server key.
    pub fn decrypt(&self, aggregate: &EncryptedAggregate) -> u64 {
        aggregate.0.decrypt(&self.client)
    }

    /// The tfhe client key (for tools and benchmarks working with raw tfhe).
    pub fn client_key(&self) -> &ClientKey {
        &self.client
    }
}

impl core::fmt::Debug for FheOwner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FheOwner(<secret>)")
    }
}

/// The owner's compressed server key: what an executor computes with. Holds no secret.
#[derive(Clone)]
pub struct FheServerKey(CompressedServerKey);

impl FheServerKey {
    /// tfhe's safe serialisation of the `CompressedServerKey`.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(&self.0, SERVER_KEY_LIMIT, "server key")
    }

    /// Reads a server key from untrusted bytes, checked against [`fhe_config`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        from_bytes::<CompressedServerKey>(
            bytes,
            SERVER_KEY_LIMIT,
            &fhe_config().into(),
            "server key",
        )
        .map(FheServerKey)
    }
}

impl core::fmt::Debug for FheServerKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FheServerKey")
    }
}

/// The owner's compressed compact public key: what devices encrypt with.
#[derive(Clone)]
pub struct FhePublicKey(CompressedCompactPublicKey);

impl FhePublicKey {
    /// tfhe's safe serialisation of the `CompressedCompactPublicKey`.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(&self.0, PUBLIC_KEY_LIMIT, "public key")
    }

    /// Reads a public key from untrusted bytes, checked against [`fhe_config`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        from_bytes(bytes, PUBLIC_KEY_LIMIT, &pke_params()?, "public key").map(FhePublicKey)
    }
}

impl core::fmt::Debug for FhePublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FhePublicKey")
    }
}

fn pke_params() -> Result<tfhe::shortint::parameters::CompactPublicKeyEncryptionParameters> {
    fhe_config().public_key_encryption_parameters().map_err(|e| fhe_err("parameters", e))
}

/// A device: encrypts columns with the owner's compact public key.
pub struct FheDevice {
    public: CompactPublicKey,
}

impl FheDevice {
    /// A device for the owner of `public`.
    pub fn new(public: &FhePublicKey) -> Result<Self> {
        guard("public key", || Ok(FheDevice { public: public.0.decompress() }))
    }

    /// Encrypts `values` (1 to [`MAX_COLUMN_LEN`] of them) as one packed compact list.
    pub fn encrypt_column(&self, values: &[u32]) -> Result<CompactColumn> {
        if values.is_empty() || values.len() > MAX_COLUMN_LEN {
            return Err(Error::Fhe(format!(
                "a column holds 1..={MAX_COLUMN_LEN} values, got {}; split it",
                values.len()
            )));
        }
        guard("encrypting a column", || {
            let list = CompactCiphertextList::builder(&self.public)
                .extend(values.iter().copied())
                .build_packed();
            Ok(CompactColumn(list))
        })
    }
}

impl core::fmt::Debug for FheDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FheDevice")
    }
}

/// A column as a device uploads it: a packed `CompactCiphertextList` of `u32`s.
#[derive(Clone)]
pub struct CompactColumn(CompactCiphertextList);

impl CompactColumn {
    /// tfhe's safe serialisation of the `CompactCiphertextList`.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(&self.0, COLUMN_LIMIT, "column")
    }

    /// Reads a column from untrusted bytes: a packed list of 1 to [`MAX_COLUMN_LEN`] values
    /// encrypted with [`fhe_config`]'s public key parameters. (That every value is a `u32` is
    /// checked by [`FheExecutor::load`].)
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let size = ListSizeConstraint::try_size_in_range(1, MAX_COLUMN_LEN)
            .map_err(|e| fhe_err("column size limit", e))?;
        let params = CompactCiphertextListConformanceParams::from_parameters_and_size_constraint(
            pke_params()?,
            size,
        );
        from_bytes(bytes, COLUMN_LIMIT, &params, "column").map(CompactColumn)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty (never, for a list read with [`CompactColumn::from_bytes`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl core::fmt::Debug for CompactColumn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CompactColumn({} values)", self.len())
    }
}

/// A column expanded under the computation keys, ready for aggregates. Record `i` of the column
/// is value `i`.
#[derive(Clone, Default)]
pub struct EncryptedColumn(Vec<FheUint32>);

impl EncryptedColumn {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `other`'s values (e.g. the next upload of the same column).
    pub fn append(&mut self, mut other: EncryptedColumn) {
        self.0.append(&mut other.0);
    }

    /// The ciphertexts, in record order.
    pub fn values(&self) -> &[FheUint32] {
        &self.0
    }
}

impl core::fmt::Debug for EncryptedColumn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EncryptedColumn({} values)", self.0.len())
    }
}

/// Which records of a column an aggregate covers.
#[derive(Clone, Copy, Debug)]
pub enum Selection<'a> {
    /// Every record.
    All,
    /// The records at these indices, strictly ascending (as the chaincode engine passes them).
    Records(&'a [u32]),
}

/// An aggregate an executor can compute (mirrors the chaincode SDK's `FheOp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FheAggregate {
    /// Sum of the values, each first clamped to at most `clamp_hi` when given.
    Sum {
        /// Upper bound per value (the sum's sensitivity); `None` sums the raw values.
        clamp_hi: Option<u32>,
    },
    /// Number of values strictly greater than `threshold`.
    CountAbove {
        /// The threshold.
        threshold: u32,
    },
}

/// An encrypted aggregate: a `u64` only the owner can decrypt.
#[derive(Clone)]
pub struct EncryptedAggregate(FheUint64);

impl EncryptedAggregate {
    /// tfhe's safe serialisation of the `FheUint64`.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(&self.0, AGGREGATE_LIMIT, "aggregate")
    }

    /// Reads an aggregate from untrusted bytes, checked against [`fhe_config`]: 32 blocks of the
    /// compute parameters' dimension, moduli and atomic pattern, each with at most nominal noise
    /// and no pending carries. (tfhe's own `FheUint64` conformance check asks every block to
    /// look freshly bootstrapped, which a computed sum, with its never-touched top blocks still
    /// trivial zeros, is not.)
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "aggregate";
        guard(WHAT, || {
            let mut rest = bytes;
            let ct: FheUint64 = safe_deserialize(&mut rest, AGGREGATE_LIMIT).map_err(|e| {
                fhe_err(WHAT, format!("{e}; the bytes are truncated or not an aggregate"))
            })?;
            check_consumed(rest, WHAT)?;
            let (radix, id, tag, rerand) = ct.into_raw_parts();
            let expected =
                AtomicPatternParameters::from(V1_8_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128)
                    .to_shortint_conformance_param();
            let blocks = radix.blocks();
            if blocks.len() != AGGREGATE_BLOCKS {
                return Err(fhe_err(
                    WHAT,
                    format!("{} blocks, a u64 aggregate has {AGGREGATE_BLOCKS}", blocks.len()),
                ));
            }
            for (i, block) in blocks.iter().enumerate() {
                let (degree, noise) = (block.degree, block.noise_level());
                let params = CiphertextConformanceParams { degree, noise_level: noise, ..expected };
                if degree.get() > expected.degree.get()
                    || noise.get() > NoiseLevel::NOMINAL.get()
                    || !block.is_conformant(&params)
                {
                    return Err(fhe_err(
                        WHAT,
                        format!(
                            "block {i} does not fit the parameters (made with other TFHE \
                                 parameters than ITC's, or altered)"
                        ),
                    ));
                }
            }
            Ok(EncryptedAggregate(FheUint64::from_raw_parts(radix, id, tag, rerand)))
        })
    }

    /// The ciphertext.
    pub fn ciphertext(&self) -> &FheUint64 {
        &self.0
    }
}

impl core::fmt::Debug for EncryptedAggregate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EncryptedAggregate")
    }
}

/// An executor: computes aggregates with the owner's server key and nothing else.
///
/// It cannot decrypt: its only constructor takes a [`FheServerKey`], and nothing turns an owner's
/// client key into one:
/// ```compile_fail
/// fn executor_of(owner: &itc_vault::FheOwner) -> itc_vault::Result<itc_vault::FheExecutor> {
///     itc_vault::FheExecutor::new(owner)
/// }
/// ```
#[derive(Clone)]
pub struct FheExecutor {
    server: ServerKey,
}

impl FheExecutor {
    /// An executor for the owner of `server_key` (decompresses it: takes seconds and a few
    /// hundred MB of memory).
    pub fn new(server_key: &FheServerKey) -> Result<Self> {
        guard("server key", || Ok(FheExecutor { server: server_key.0.decompress() }))
    }

    fn with_key<T>(&self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        guard(what, || with_server_key_as_context(self.server.clone(), f))
    }

    /// Expands a device's column under the computation keys (a key switch and bootstraps per
    /// ciphertext block, which also sanitise the device's ciphertexts): about as costly as a sum
    /// over the same values, so load each upload once and keep the [`EncryptedColumn`]. Fails if
    /// a value is not an encrypted `u32`.
    pub fn load(&self, column: &CompactColumn) -> Result<EncryptedColumn> {
        self.with_key("loading a column", || {
            let expanded = column.0.expand().map_err(|e| fhe_err("expanding the column", e))?;
            let mut values = Vec::with_capacity(expanded.len());
            for i in 0..expanded.len() {
                let v: FheUint32 = expanded
                    .get(i)
                    .map_err(|e| {
                        fhe_err("column", format!("value {i} is not an encrypted u32: {e}"))
                    })?
                    .ok_or_else(|| fhe_err("column", format!("value {i} is missing")))?;
                values.push(v);
            }
            Ok(EncryptedColumn(values))
        })
    }

    /// Encrypted sum of the selected values, each first clamped to `clamp_hi` when given. The
    /// sum is exact (64-bit: at most 2^32 values of at most 2^32 - 1).
    pub fn sum(
        &self,
        column: &EncryptedColumn,
        selection: Selection<'_>,
        clamp_hi: Option<u32>,
    ) -> Result<EncryptedAggregate> {
        self.aggregate(column, selection, FheAggregate::Sum { clamp_hi })
    }

    /// Encrypted number of selected values strictly greater than `threshold`.
    pub fn count_above(
        &self,
        column: &EncryptedColumn,
        selection: Selection<'_>,
        threshold: u32,
    ) -> Result<EncryptedAggregate> {
        self.aggregate(column, selection, FheAggregate::CountAbove { threshold })
    }

    /// Computes `op` over the selected values of `column`.
    pub fn aggregate(
        &self,
        column: &EncryptedColumn,
        selection: Selection<'_>,
        op: FheAggregate,
    ) -> Result<EncryptedAggregate> {
        let selected = select(column, selection)?;
        self.with_key("aggregate", || {
            let terms: Vec<FheUint64> = match op {
                FheAggregate::Sum { clamp_hi: Some(hi) } if hi < u32::MAX => {
                    selected.iter().map(|v| FheUint64::cast_from(FheMin::min(*v, hi))).collect()
                }
                FheAggregate::Sum { .. } => {
                    selected.iter().map(|v| FheUint64::cast_from((*v).clone())).collect()
                }
                FheAggregate::CountAbove { threshold } => selected
                    .iter()
                    .map(|v| FheUint64::cast_from(FheOrd::gt(*v, threshold)))
                    .collect(),
            };
            // tfhe's multi-operand sum (an empty iterator gives a trivial zero).
            Ok(EncryptedAggregate(terms.iter().sum()))
        })
    }
}

/// The values `selection` picks from `column`, after checking the indices.
fn select<'c>(column: &'c EncryptedColumn, selection: Selection<'_>) -> Result<Vec<&'c FheUint32>> {
    let records = match selection {
        Selection::All => return Ok(column.0.iter().collect()),
        Selection::Records(records) => records,
    };
    let mut out = Vec::with_capacity(records.len());
    let mut previous: Option<u32> = None;
    for &r in records {
        if previous.is_some_and(|p| r <= p) {
            return Err(Error::Fhe(format!(
                "record indices must be strictly ascending; {r} follows {}",
                previous.unwrap_or_default()
            )));
        }
        let value = usize::try_from(r).ok().and_then(|i| column.0.get(i)).ok_or_else(|| {
            Error::Fhe(format!(
                "record index {r} is out of range: the column has {} values",
                column.0.len()
            ))
        })?;
        out.push(value);
        previous = Some(r);
    }
    Ok(out)
}

impl core::fmt::Debug for FheExecutor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FheExecutor")
    }
}
