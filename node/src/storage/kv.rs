//! The generic key-value adapter over RocksDB column families.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteOptions, DB};

use super::Column;
use crate::{Error, Result};

/// A key-value pair as returned by prefix iteration.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// How hard a commit waits for the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Written to the WAL and fsynced before the commit returns: survives power loss. Use for
    /// anything reported final.
    Sync,
    /// Written to the WAL, fsynced later by RocksDB: survives a process crash, may lose the newest
    /// writes on power loss.
    Relaxed,
}

/// A set of writes to any columns, applied atomically by [`KvStore::commit`].
#[derive(Default)]
pub struct Batch {
    ops: Vec<(Column, Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages `key = value` in `column`.
    pub fn put(&mut self, column: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((column, key.into(), Some(value.into())));
    }

    /// Stages the removal of `key` from `column`.
    pub fn delete(&mut self, column: Column, key: impl Into<Vec<u8>>) {
        self.ops.push((column, key.into(), None));
    }

    /// Stages `key = value`, or the removal of `key` for `None`.
    pub fn write(&mut self, column: Column, key: impl Into<Vec<u8>>, value: Option<Vec<u8>>) {
        self.ops.push((column, key.into(), value));
    }

    /// A batch of these writes (see [`Batch::write`]).
    pub fn of(writes: impl IntoIterator<Item = (Column, Vec<u8>, Option<Vec<u8>>)>) -> Self {
        Batch { ops: writes.into_iter().collect() }
    }

    /// Number of staged writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A RocksDB database with the node's column families. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct KvStore {
    db: Arc<DB>,
    path: PathBuf,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore").field("path", &self.path).finish()
    }
}

/// The error of a failed RocksDB call; `context` (what the call was doing) is only formatted
/// when it failed: building it eagerly hex-encoded a key on every read.
fn db_err(context: impl FnOnce() -> String) -> impl FnOnce(rocksdb::Error) -> Error {
    move |source| Error::Database { context: context(), source }
}

/// Options of column family `column`: Bloom filters on its tables, so that reading a key that
/// is not there costs no block read; and on the memtable of [`Column::Indexes`], where the DAG
/// asks whether each vertex a peer sends is new: without one, each such miss searched the whole
/// memtable skip list (2 to 3 % of a validator's CPU at saturation, `itc bench finality`). The
/// other columns' memtables go without: their reads mostly hit, and a memtable filter costs a
/// cache miss on every insert.
fn column_options(column: Column) -> Options {
    let mut opts = Options::default();
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    opts.set_block_based_table_factory(&table);
    if column == Column::Indexes {
        opts.set_memtable_whole_key_filtering(true);
        opts.set_memtable_prefix_bloom_ratio(0.02);
    }
    opts
}

impl KvStore {
    /// Opens (creating if missing) the database at `path` with every [`Column`].
    pub fn open(path: &Path) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Detect corruption early rather than serve damaged data.
        opts.set_paranoid_checks(true);
        opts.set_keep_log_file_num(4);
        let cfs =
            Column::ALL.iter().map(|c| ColumnFamilyDescriptor::new(c.name(), column_options(*c)));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(db_err(|| {
            format!(
                "opening {}; if another node process uses this --base-path, stop it first",
                path.display()
            )
        }))?;
        Ok(KvStore { db: Arc::new(db), path: path.to_path_buf() })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, column: Column) -> Result<&rocksdb::ColumnFamily> {
        // Every column is created at open, so a miss means the handle was tampered with.
        self.db.cf_handle(column.name()).ok_or_else(|| Error::Corrupt {
            column: column.name(),
            key: String::new(),
            reason: "column family missing".into(),
        })
    }

    /// The value at `key` in `column`, or `None`.
    pub fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let cf = self.cf(column)?;
        self.db
            .get_pinned_cf(cf, key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(db_err(|| format!("reading {} in {}", hex::encode(key), column.name())))
    }

    /// Every pair in `column` whose key starts with `prefix`, in ascending key order.
    pub fn iter_prefix(&self, column: Column, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        let cf = self.cf(column)?;
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf, IteratorMode::From(prefix, Direction::Forward)) {
            let (k, v) = item.map_err(db_err(|| format!("iterating {}", column.name())))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    /// Every pair of `column` with a key at or after `start`, in key order (one seek, so
    /// deleted keys before `start` cost nothing).
    pub fn iter_from(&self, column: Column, start: &[u8]) -> Result<Vec<KeyValue>> {
        let cf = self.cf(column)?;
        let mut out = Vec::new();
        for item in self.db.iterator_cf(cf, IteratorMode::From(start, Direction::Forward)) {
            let (k, v) = item.map_err(db_err(|| format!("iterating {}", column.name())))?;
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    /// The pair of `column` with the smallest key that starts with `prefix`, is at least
    /// `lower` and is not `skip`ped: one forward seek, then a step per skipped key.
    pub fn first_at_least(
        &self,
        column: Column,
        prefix: &[u8],
        lower: &[u8],
        skip: impl Fn(&[u8]) -> bool,
    ) -> Result<Option<KeyValue>> {
        let cf = self.cf(column)?;
        // Keys with the prefix start at the prefix itself: seek to whichever bound is higher.
        let from = lower.max(prefix);
        for item in self.db.iterator_cf(cf, IteratorMode::From(from, Direction::Forward)) {
            let (k, v) = item.map_err(db_err(|| format!("seeking in {}", column.name())))?;
            if !k.starts_with(prefix) {
                break;
            }
            if !skip(&k) {
                return Ok(Some((k.into_vec(), v.into_vec())));
            }
        }
        Ok(None)
    }

    /// The pair with the greatest key in `column`, if any.
    pub fn last(&self, column: Column) -> Result<Option<KeyValue>> {
        let cf = self.cf(column)?;
        match self.db.iterator_cf(cf, IteratorMode::End).next() {
            None => Ok(None),
            Some(item) => {
                let (k, v) = item.map_err(db_err(|| format!("iterating {}", column.name())))?;
                Ok(Some((k.into_vec(), v.into_vec())))
            }
        }
    }

    /// Writes `key = value` alone (WAL, no fsync). Prefer a [`Batch`] for related writes.
    pub fn put(&self, column: Column, key: &[u8], value: &[u8]) -> Result<()> {
        let mut b = Batch::new();
        b.put(column, key, value);
        self.commit(b, Durability::Relaxed)
    }

    /// Removes `key` alone (WAL, no fsync).
    pub fn delete(&self, column: Column, key: &[u8]) -> Result<()> {
        let mut b = Batch::new();
        b.delete(column, key);
        self.commit(b, Durability::Relaxed)
    }

    /// Flushes the WAL and fsyncs it: every write committed so far, [`Durability::Relaxed`]
    /// ones included, survives power loss once this returns.
    pub fn sync_wal(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(db_err(|| "syncing the WAL".to_string()))
    }

    /// Applies every write in `batch` atomically.
    pub fn commit(&self, batch: Batch, durability: Durability) -> Result<()> {
        let mut wb = rocksdb::WriteBatch::default();
        for (column, key, value) in &batch.ops {
            let cf = self.cf(*column)?;
            match value {
                Some(v) => wb.put_cf(cf, key, v),
                None => wb.delete_cf(cf, key),
            }
        }
        let mut wo = WriteOptions::default();
        wo.disable_wal(false);
        wo.set_sync(durability == Durability::Sync);
        self.db.write_opt(wb, &wo).map_err(db_err(|| format!("committing {} writes", batch.len())))
    }
}
