//! The port to the vault's homomorphic engine: FHE aggregates over encrypted columns.
use itc_chaincode_sdk::FheOp;
use itc_primitives::Hash;

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
