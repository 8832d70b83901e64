//! Helpers shared by the integration tests.
#![allow(dead_code)]

use itc_primitives::{
    dataset::{FieldType, Schema, Value},
    Hash,
};
use itc_vault::{
    records::Record, seal_interval_with_rng, GrantTerms, GranteeKeys, IntervalManifest, OwnerKeys,
    ProxyService, SealConfig, SealedInterval, Storage,
};
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn schema() -> Schema {
    Schema::from_fields(&[
        ("device", FieldType::String),
        ("at", FieldType::Timestamp),
        ("kwh", FieldType::F64),
        ("seq", FieldType::U64),
        ("delta", FieldType::I64),
        ("raw", FieldType::Bytes),
    ])
    .unwrap()
}

pub fn records(interval: u64, n: usize) -> Vec<Record> {
    (0..n as u64)
        .map(|i| {
            vec![
                Value::String(format!("meter-{}", i % 7)),
                Value::Timestamp(1_700_000_000_000 + interval * 3_600_000 + i * 1000),
                Value::F64((i as f64) * 0.25 + interval as f64),
                Value::U64(i),
                Value::I64(i as i64 - 50),
                Value::Bytes(vec![(i % 251) as u8; (i % 5) as usize]),
            ]
        })
        .collect()
}

pub const DATASET: Hash = Hash([0x5a; 32]);

/// Small chunks so that even small intervals span several chunks.
pub fn small_chunks() -> SealConfig {
    SealConfig { chunk_size: 256, ..SealConfig::default() }
}

pub fn seal(owner: &OwnerKeys, interval: u64, n: usize, seed: u64) -> SealedInterval {
    seal_interval_with_rng(
        &mut rng(seed),
        &owner.public_key(),
        DATASET,
        interval,
        &schema(),
        &records(interval, n),
        &small_chunks(),
    )
    .unwrap()
}

/// An owner, a grantee, three proxies and a 2-of-3 grant over intervals `first..=last`, with
/// every proxy holding its kfrag.
pub struct World {
    pub owner: OwnerKeys,
    pub grantee: GranteeKeys,
    pub proxies: Vec<ProxyService>,
    pub terms: GrantTerms,
}

impl World {
    pub fn new(seed: u64, first: u64, last: u64) -> Self {
        let mut r = rng(seed);
        let owner = OwnerKeys::random_with_rng(&mut r);
        let grantee = GranteeKeys::random_with_rng(&mut r);
        let proxies: Vec<ProxyService> =
            (0..3).map(|_| ProxyService::random_with_rng(&mut r)).collect();
        let proxy_keys: Vec<_> = proxies.iter().map(|p| p.public_key()).collect();
        let terms = owner
            .grant_terms(DATASET, first, last, &grantee.public_key(), &proxy_keys, 2, 0)
            .unwrap();
        let sealed = owner.issue_with_rng(&mut r, &terms).unwrap();
        for (proxy, kfrag) in proxies.iter().zip(&sealed) {
            assert_eq!(proxy.accept(&terms, kfrag).unwrap(), terms.id());
        }
        World { owner, grantee, proxies, terms }
    }

    /// Cfrags from the proxies at `which`, each saying the grant is live.
    pub fn cfrags(&self, manifest: &IntervalManifest, which: &[usize]) -> Vec<Vec<u8>> {
        which
            .iter()
            .map(|&i| {
                self.proxies[i]
                    .reencrypt_with_rng(
                        &mut rng(1000 + i as u64),
                        &self.terms.id(),
                        manifest,
                        |_, _| true,
                    )
                    .unwrap()
            })
            .collect()
    }
}

pub fn upload(sealed: &SealedInterval, storage: &dyn Storage) {
    sealed.upload(storage).unwrap();
}

/// A fresh directory for one test, removed when the returned guard is dropped.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("itc-vault-test-{name}-")).tempdir().unwrap()
}
