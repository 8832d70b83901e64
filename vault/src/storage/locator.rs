//! Resolves `otp://` URIs to the backend that holds the dataset.
use std::{collections::HashMap, sync::Arc};

use super::{dataset_hex, ChunkUri, Storage};
use crate::{manifest::DatasetId, Error, Result};

/// Routes each dataset to a backend, with an optional default for unrouted datasets.
/// A `Locator` is itself a [`Storage`], so pipelines take it wherever they take a backend.
#[derive(Clone, Default)]
pub struct Locator {
    routes: HashMap<DatasetId, Arc<dyn Storage>>,
    default: Option<Arc<dyn Storage>>,
}

impl Locator {
    /// An empty locator: every URI fails with [`Error::NoBackend`] until routed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends datasets without a route of their own to `backend`.
    pub fn with_default(mut self, backend: Arc<dyn Storage>) -> Self {
        self.default = Some(backend);
        self
    }

    /// Sends `dataset` to `backend`, replacing an earlier route.
    pub fn route(&mut self, dataset: DatasetId, backend: Arc<dyn Storage>) -> &mut Self {
        self.routes.insert(dataset, backend);
        self
    }

    /// The backend for `uri`.
    pub fn resolve(&self, uri: &ChunkUri) -> Result<&dyn Storage> {
        self.routes
            .get(&uri.dataset)
            .or(self.default.as_ref())
            .map(|b| b.as_ref())
            .ok_or_else(|| Error::NoBackend { dataset: dataset_hex(&uri.dataset) })
    }

    /// Fetches the chunk named by a textual `otp://` URI.
    pub fn get_str(&self, uri: &str) -> Result<Vec<u8>> {
        let uri: ChunkUri = uri.parse()?;
        self.get(&uri)
    }
}

impl Storage for Locator {
    fn put(&self, uri: &ChunkUri, bytes: &[u8]) -> Result<()> {
        self.resolve(uri)?.put(uri, bytes)
    }
    fn get(&self, uri: &ChunkUri) -> Result<Vec<u8>> {
        self.resolve(uri)?.get(uri)
    }
    fn delete(&self, uri: &ChunkUri) -> Result<bool> {
        self.resolve(uri)?.delete(uri)
    }
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator")
            .field("routes", &self.routes.len())
            .field("default", &self.default.is_some())
            .finish()
    }
}
