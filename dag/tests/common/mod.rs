//! Helpers shared by the integration tests: deterministic keys, signed and mined vertices.
#![allow(dead_code)]

use itc_dag::{Dag, DagConfig, FixedDifficulty, MemoryStore};
use itc_primitives::{
    blake2_256, BoundedVec, Hash, Mortality, Pair, Signature, Transaction, Vertex,
};

/// The test chain's genesis hash.
pub fn genesis() -> Hash {
    blake2_256(b"itc-dag test genesis")
}

/// A key pair from a one-byte seed.
pub fn pair(seed: u8) -> Pair {
    Pair::from_seed(&[seed; 32]).unwrap()
}

/// A transaction signed deterministically (same inputs, same bytes).
pub fn signed_tx(pair: &Pair, nonce: u64, call: Vec<u8>) -> Transaction {
    let mut tx = Transaction {
        signer: pair.public(),
        nonce,
        mortality: Mortality::Immortal,
        tip: 0,
        call,
        signature: Signature::default(),
    };
    tx.signature = pair.sign_deterministic(&tx.payload(genesis()).signing_bytes());
    tx
}

/// A vertex approving `parents`, mined at `difficulty`.
pub fn vertex_with(pair: &Pair, nonce: u64, parents: &[Hash], difficulty: u32) -> Vertex {
    let tx = signed_tx(pair, nonce, vec![1, 2, 3]);
    let (pow_nonce, _) = Vertex::mine(&tx.hash(), parents, difficulty, 0, 1 << 24).unwrap();
    Vertex { tx, parents: BoundedVec::new(parents.to_vec()).unwrap(), pow_nonce }
}

/// A vertex approving `parents` with no PoW requirement, signed by key seed 1.
pub fn vertex(nonce: u64, parents: &[Hash]) -> Vertex {
    vertex_with(&pair(1), nonce, parents, 0)
}

/// No PoW required.
pub const EASY: FixedDifficulty = FixedDifficulty(0);

/// A fresh DAG with default settings over an in-memory store.
pub fn dag() -> Dag<MemoryStore> {
    Dag::new(DagConfig::new(genesis()), MemoryStore::new()).unwrap()
}

/// A fresh DAG with a custom configuration.
pub fn dag_with(f: impl FnOnce(&mut DagConfig)) -> Dag<MemoryStore> {
    let mut config = DagConfig::new(genesis());
    f(&mut config);
    Dag::new(config, MemoryStore::new()).unwrap()
}
