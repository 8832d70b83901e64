//! The port to the vault's homomorphic engine, FHE aggregates over encrypted columns, and its
//! adapter over `itc_vault::fhe`, [`VaultFhe`].
use std::collections::HashMap;
use std::sync::Arc;

use itc_chaincode_sdk::FheOp;
use itc_primitives::Hash;
use itc_vault::fhe::{
    CompactColumn, EncryptedAggregate, EncryptedColumn, FheAggregate, FheExecutor, FheOwner,
    Selection,
};

/// Computes aggregates over a TFHE-encrypted column without the engine seeing the values.
///
/// The engine filters and groups on plaintext columns, then asks the backend for `op` over the
/// FHE column `field` restricted to `records`. The backend returns the (threshold-)decrypted
/// aggregate; the engine applies the k-threshold and the noise exactly as for plaintext
/// aggregates. The vault implements this; with none attached, FHE queries are answered
/// `Unsupported`.
pub trait FheBackend: Send + Sync {
    /// `op` over column `field` (schema index) of dataset `dataset`, for the records at the given
    /// indices (ascending). `Sum { hi }` must clamp each value to `hi`.
    fn aggregate(
        &self,
        dataset: &Hash,
        field: usize,
        op: FheOp,
        records: &[u32],
    ) -> core::result::Result<u64, String>;
}

/// Whoever reads an encrypted aggregate for a dataset's owner: the owner's own key
/// ([`FheOwner`]), or a service that forwards the aggregate to the owner and returns the number.
pub trait AggregateDecryptor: Send + Sync {
    /// The value of `aggregate`.
    fn decrypt(&self, aggregate: &EncryptedAggregate) -> core::result::Result<u64, String>;
}

impl AggregateDecryptor for FheOwner {
    fn decrypt(&self, aggregate: &EncryptedAggregate) -> core::result::Result<u64, String> {
        Ok(FheOwner::decrypt(self, aggregate))
    }
}

/// One dataset's encrypted columns, the executor that computes over them (it holds the owner's
/// server key only) and the owner's decryptor.
struct FheDataset {
    executor: FheExecutor,
    columns: HashMap<usize, EncryptedColumn>,
    owner: Arc<dyn AggregateDecryptor>,
}

/// [`FheBackend`] over the vault's TFHE columns: the job runner registers each dataset's
/// executor and owner, loads the devices' uploads of its FHE fields, then attaches it to the
/// engine ([`crate::ChaincodeEngine::with_fhe_backend`]). An aggregate is computed on the
/// ciphertexts of the selected records and decrypted by the owner's decryptor; the engine then
/// applies the k-threshold and the noise to the number, as for a plaintext aggregate.
#[derive(Default)]
pub struct VaultFhe {
    datasets: HashMap<Hash, FheDataset>,
}

impl VaultFhe {
    /// A backend with no dataset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `dataset`, whose columns `executor` computes over (built from the owner's
    /// server key) and whose aggregates `owner` decrypts. Replaces an earlier registration and
    /// its columns.
    pub fn add_dataset(
        &mut self,
        dataset: Hash,
        executor: FheExecutor,
        owner: Arc<dyn AggregateDecryptor>,
    ) {
        self.datasets.insert(dataset, FheDataset { executor, columns: HashMap::new(), owner });
    }

    /// Loads a device's upload of the FHE field at schema index `field` of `dataset`, after the
    /// uploads loaded before (record `i` of the dataset is value `i` of the concatenation).
    /// Returns the column's length.
    pub fn load_column(
        &mut self,
        dataset: &Hash,
        field: usize,
        upload: &CompactColumn,
    ) -> core::result::Result<usize, String> {
        let d = self.datasets.get_mut(dataset).ok_or_else(|| unknown_dataset(dataset))?;
        let loaded = d.executor.load(upload).map_err(|e| e.to_string())?;
        let column = d.columns.entry(field).or_insert_with(EncryptedColumn::default);
        column.append(loaded);
        Ok(column.len())
    }
}

fn unknown_dataset(dataset: &Hash) -> String {
    format!(
        "dataset {} has no FHE keys here; register it with VaultFhe::add_dataset",
        dataset.to_hex()
    )
}

impl FheBackend for VaultFhe {
    fn aggregate(
        &self,
        dataset: &Hash,
        field: usize,
        op: FheOp,
        records: &[u32],
    ) -> core::result::Result<u64, String> {
        let d = self.datasets.get(dataset).ok_or_else(|| unknown_dataset(dataset))?;
        let column = d.columns.get(&field).ok_or_else(|| {
            format!(
                "field {field} of dataset {} has no encrypted column loaded; load the devices' \
                 uploads with VaultFhe::load_column",
                dataset.to_hex()
            )
        })?;
        let op = match op {
            FheOp::Sum { hi } => FheAggregate::Sum { clamp_hi: Some(hi) },
            FheOp::CountAbove { threshold } => FheAggregate::CountAbove { threshold },
        };
        let aggregate = d
            .executor
            .aggregate(column, Selection::Records(records), op)
            .map_err(|e| e.to_string())?;
        d.owner.decrypt(&aggregate)
    }
}
