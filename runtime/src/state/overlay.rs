//! [`Overlay`]: the write buffer of one milestone, with a nested transaction layer.
//!
//! Reads look at the current transaction's writes, then the milestone's, then the backend.
//! [`Overlay::commit_tx`] folds a transaction's writes into the milestone layer;
//! [`Overlay::rollback_tx`] drops them (the white-flag rule: a failed transaction leaves no
//! trace but its fee and nonce, which the dispatcher writes after the rollback).
use std::collections::BTreeMap;

use super::{KeyValue, StateBackend};
use crate::Result;

type Layer = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Buffered writes over a read-only [`StateBackend`].
pub struct Overlay<'a> {
    backend: &'a dyn StateBackend,
    milestone: Layer,
    tx: Layer,
}

impl<'a> Overlay<'a> {
    /// An empty overlay over `backend`.
    pub fn new(backend: &'a dyn StateBackend) -> Self {
        Overlay { backend, milestone: Layer::new(), tx: Layer::new() }
    }

    /// The value at `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.tx.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.milestone.get(key) {
            return Ok(v.clone());
        }
        self.backend.get(key)
    }

    /// Sets `key = value` in the current transaction.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.tx.insert(key, Some(value));
    }

    /// Removes `key` in the current transaction.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.tx.insert(key, None);
    }

    /// Every pair whose key starts with `prefix`, in ascending key order, as the current
    /// transaction sees them.
    pub fn iter_prefix(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            self.backend.iter_prefix(prefix)?.into_iter().collect();
        for layer in [&self.milestone, &self.tx] {
            for (k, v) in layer.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix))
            {
                match v {
                    Some(v) => merged.insert(k.clone(), v.clone()),
                    None => merged.remove(k),
                };
            }
        }
        Ok(merged.into_iter().collect())
    }

    /// Keeps the current transaction's writes.
    pub fn commit_tx(&mut self) {
        let tx = std::mem::take(&mut self.tx);
        self.milestone.extend(tx);
    }

    /// Drops the current transaction's writes.
    pub fn rollback_tx(&mut self) {
        self.tx.clear();
    }

    /// The milestone's writes (after committing the current transaction), in key order.
    pub fn into_changes(mut self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.commit_tx();
        self.milestone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryBackend;

    #[test]
    fn rollback_drops_only_the_current_transaction() {
        let mut b = MemoryBackend::new();
        b.put(b"k/1".to_vec(), b"base".to_vec());
        b.commit(0).unwrap();
        let mut o = Overlay::new(&b);
        o.put(b"k/2".to_vec(), b"kept".to_vec());
        o.commit_tx();
        o.put(b"k/3".to_vec(), b"dropped".to_vec());
        o.delete(b"k/1".to_vec());
        assert_eq!(o.iter_prefix(b"k/").unwrap().len(), 2);
        o.rollback_tx();
        assert_eq!(o.get(b"k/1").unwrap(), Some(b"base".to_vec()));
        assert_eq!(o.get(b"k/3").unwrap(), None);
        let keys: Vec<_> = o.iter_prefix(b"k/").unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![b"k/1".to_vec(), b"k/2".to_vec()]);
        let changes = o.into_changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes.get(b"k/2".as_slice()), Some(&Some(b"kept".to_vec())));
    }
}
