//! Test vectors of the runtime's formats (documented in the crate docs): the call encoding,
//! storage keys, account records, receipts, and state roots.
use itc_primitives::{Hash, UNITS_PER_ITC};
use itc_runtime::{
    build_genesis,
    modules::{balances, system},
    GenesisConfig, InvalidTx, MemoryBackend, Outcome, Receipt, RuntimeCall, RuntimeEvent,
    StateBackend,
};
use parity_scale_codec::Encode;

use crate::common::*;

const ALICE: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

#[test]
fn transfer_call_encoding() {
    let call = RuntimeCall::from(balances::Call::Transfer { dest: alice(), amount: UNITS_PER_ITC });
    // module 1, call 0, dest, compact(10^12) = 0x070010a5d4e8
    assert_eq!(hex::encode(call.encode()), format!("0100{ALICE}070010a5d4e8"));
}

#[test]
fn account_key_and_record_encoding() {
    assert_eq!(hex::encode(system::ACCOUNT.key(&alice())), format!("0000{ALICE}"));
    assert_eq!(hex::encode(balances::TOTAL_ISSUANCE.key()), "0100");
    let info = system::AccountInfo {
        nonce: 1,
        data: balances::AccountData { free: 100, reserved: 2, frozen: 0 },
    };
    // compact nonce 1, compact free 100, compact reserved 2, compact frozen 0
    assert_eq!(hex::encode(info.encode()), "0491010800");
    let key = balances::RESERVES.key(&(alice(), balances::ReserveId::Order(7)));
    assert_eq!(hex::encode(key), format!("0101{ALICE}000700000000000000"));
}

#[test]
fn receipt_encoding() {
    let receipt = Receipt {
        tx_hash: Hash([0x11; 32]),
        signer: alice(),
        nonce: 3,
        outcome: Outcome::Invalid(InvalidTx::BadNonce { expected: 2, got: 3 }),
        fee: 0,
        events: vec![RuntimeEvent::System(system::Event::NewEpoch { epoch: 1 })],
    };
    let tx_hash = "11".repeat(32);
    // tx_hash, signer, compact 3, Invalid(2) BadNonce(0) u64 2 u64 3, compact fee 0, 1 event:
    // System(0) NewEpoch(4) u64 1
    assert_eq!(
        hex::encode(receipt.encode()),
        format!("{tx_hash}{ALICE}0c020002000000000000000300000000000000000400040100000000000000")
    );
}

#[test]
fn state_roots_are_pinned() {
    let mut empty = MemoryBackend::new();
    let root = empty.commit(0).unwrap();
    assert_eq!(root.to_hex(), EMPTY_ROOT);
    let mut dev = MemoryBackend::new();
    let root = build_genesis(&mut dev, &GenesisConfig::dev().unwrap()).unwrap();
    assert_eq!(root.to_hex(), DEV_GENESIS_ROOT);
}

/// JMT's placeholder hash: the root of a tree with no keys.
const EMPTY_ROOT: &str = "0x5350415253455f4d45524b4c455f504c414345484f4c4445525f484153485f5f";
/// The `--dev` genesis state root (changes whenever the dev genesis or a storage format does).
const DEV_GENESIS_ROOT: &str = "0x8723c9bb64802aff847d2fe4391d3b318e7abca8820199e1f6bf43ed6b34f455";
