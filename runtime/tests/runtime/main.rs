//! Integration tests of the runtime: every call's success and errors, dispatch rules,
//! determinism, proofs, invariants under random call sequences, and format vectors.
mod common;

mod access;
mod balances;
mod chaincode;
mod committee;
mod datasets;
mod dispatch;
mod invariants;
mod market;
mod system;
mod vectors;
