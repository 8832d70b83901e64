//! Typed storage items over the raw key-value state.
//!
//! Key layout (stable, part of the state format): every item has a two-byte prefix
//! `[module index, item index]` (the module indices are those of [`crate::RuntimeCall`]).
//! - a [`StorageValue`] lives at exactly its prefix;
//! - a [`StorageMap`] entry lives at `prefix ++ SCALE(key)`. Keys of maps over pairs are
//!   `SCALE((a, b)) = SCALE(a) ++ SCALE(b)`, so all entries of one `a` share the prefix
//!   `prefix ++ SCALE(a)` and can be iterated with [`StorageMap::iter_prefix`].
//!
//! Values are SCALE-encoded. A value that does not decode is reported as
//! [`crate::Error::CorruptState`], never a panic.
use std::marker::PhantomData;

use parity_scale_codec::{Decode, Encode};

use crate::{ext::Ext, Error, Result};

fn decode_stored<V: Decode>(key: &[u8], bytes: &[u8]) -> Result<V> {
    itc_primitives::decode_untrusted(bytes).map_err(|e| Error::CorruptState {
        key: hex_of(key),
        what: std::any::type_name::<V>(),
        reason: format!("{e}"),
    })
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A single value at a fixed key.
pub struct StorageValue<V> {
    prefix: [u8; 2],
    _value: PhantomData<fn() -> V>,
}

impl<V: Encode + Decode> StorageValue<V> {
    /// The item `item` of module `module`.
    pub const fn new(module: u8, item: u8) -> Self {
        StorageValue { prefix: [module, item], _value: PhantomData }
    }

    /// The raw storage key.
    pub fn key(&self) -> Vec<u8> {
        self.prefix.to_vec()
    }

    /// The stored value, if any.
    pub fn get(&self, ext: &Ext<'_>) -> Result<Option<V>> {
        let key = self.key();
        ext.raw_get(&key)?.map(|b| decode_stored(&key, &b)).transpose()
    }

    /// Stores `value`.
    pub fn put(&self, ext: &mut Ext<'_>, value: &V) {
        ext.raw_put(self.key(), value.encode());
    }
}

impl<V: Encode + Decode + Default> StorageValue<V> {
    /// The stored value, or the default.
    pub fn get_or_default(&self, ext: &Ext<'_>) -> Result<V> {
        Ok(self.get(ext)?.unwrap_or_default())
    }
}

/// A map from `K` to `V`.
pub struct StorageMap<K, V> {
    prefix: [u8; 2],
    _kv: PhantomData<fn(K) -> V>,
}

impl<K: Encode + Decode, V: Encode + Decode> StorageMap<K, V> {
    /// The item `item` of module `module`.
    pub const fn new(module: u8, item: u8) -> Self {
        StorageMap { prefix: [module, item], _kv: PhantomData }
    }

    /// The raw storage key of `k`.
    pub fn key(&self, k: &K) -> Vec<u8> {
        let mut key = Vec::with_capacity(2 + k.size_hint());
        key.extend_from_slice(&self.prefix);
        k.encode_to(&mut key);
        key
    }

    /// The value at `k`, if any.
    pub fn get(&self, ext: &Ext<'_>, k: &K) -> Result<Option<V>> {
        let key = self.key(k);
        ext.raw_get(&key)?.map(|b| decode_stored(&key, &b)).transpose()
    }

    /// Whether `k` has a value.
    pub fn contains(&self, ext: &Ext<'_>, k: &K) -> Result<bool> {
        Ok(ext.raw_get(&self.key(k))?.is_some())
    }

    /// Stores `v` at `k`.
    pub fn insert(&self, ext: &mut Ext<'_>, k: &K, v: &V) {
        ext.raw_put(self.key(k), v.encode());
    }

    /// Removes `k`.
    pub fn remove(&self, ext: &mut Ext<'_>, k: &K) {
        ext.raw_delete(self.key(k));
    }

    /// Every entry, in ascending order of encoded key.
    pub fn iter(&self, ext: &Ext<'_>) -> Result<Vec<(K, V)>> {
        self.scan(ext, &self.prefix)
    }

    /// Every entry whose encoded key starts with `SCALE(first)`, for maps keyed by pairs.
    pub fn iter_prefix<P: Encode>(&self, ext: &Ext<'_>, first: &P) -> Result<Vec<(K, V)>> {
        let mut prefix = self.prefix.to_vec();
        first.encode_to(&mut prefix);
        self.scan(ext, &prefix)
    }

    fn scan(&self, ext: &Ext<'_>, prefix: &[u8]) -> Result<Vec<(K, V)>> {
        ext.raw_iter_prefix(prefix)?
            .into_iter()
            .map(|(key, value)| {
                let k = decode_stored::<K>(&key, &key[self.prefix.len()..])?;
                Ok((k, decode_stored::<V>(&key, &value)?))
            })
            .collect()
    }
}

impl<K: Encode + Decode, V: Encode + Decode + Default> StorageMap<K, V> {
    /// The value at `k`, or the default.
    pub fn get_or_default(&self, ext: &Ext<'_>, k: &K) -> Result<V> {
        Ok(self.get(ext, k)?.unwrap_or_default())
    }
}
