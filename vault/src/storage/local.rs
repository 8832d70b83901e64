//! A storage backend in a local directory: `<root>/<dataset hex>/<interval>/<chunk>`.
use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use super::{ChunkUri, Storage};
use crate::{Error, Result};

/// Chunks as files under a root directory. Writes go to a temporary file renamed into place,
/// so a reader never sees half a chunk.
#[derive(Debug)]
pub struct LocalStorage {
    root: PathBuf,
    tmp_counter: AtomicU64,
}

impl LocalStorage {
    /// A backend rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| Error::Storage {
            uri: root.display().to_string(),
            reason: format!("cannot create the storage directory: {e}"),
        })?;
        Ok(LocalStorage { root, tmp_counter: AtomicU64::new(0) })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `uri`.
    pub fn path_of(&self, uri: &ChunkUri) -> PathBuf {
        self.root.join(uri.path())
    }
}

fn io_err(uri: &ChunkUri, e: io::Error) -> Error {
    Error::Storage { uri: uri.to_string(), reason: e.to_string() }
}

impl Storage for LocalStorage {
    fn put(&self, uri: &ChunkUri, bytes: &[u8]) -> Result<()> {
        let path = self.path_of(uri);
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| io_err(uri, e))?;
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.{}.{n}.tmp", uri.chunk, std::process::id()));
        fs::write(&tmp, bytes).map_err(|e| io_err(uri, e))?;
        fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(uri, e)
        })
    }

    fn get(&self, uri: &ChunkUri) -> Result<Vec<u8>> {
        match fs::read(self.path_of(uri)) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::ChunkMissing { uri: uri.to_string() })
            }
            Err(e) => Err(io_err(uri, e)),
        }
    }

    fn delete(&self, uri: &ChunkUri) -> Result<bool> {
        match fs::remove_file(self.path_of(uri)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(uri, e)),
        }
    }
}
