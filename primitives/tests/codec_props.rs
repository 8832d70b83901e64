//! Property tests over every SCALE type of `itc-primitives`:
//! - encode then `decode_untrusted` gives the value back;
//! - arbitrary bytes given to any decoder give a value or an error, never a panic, and a decoded
//!   value re-encodes to exactly the bytes it came from (no two encodings of one value);
//! - any trailing byte is rejected.
use itc_primitives::{
    dataset::{AnalyticsPolicy, FieldDef, FieldType, Schema, Value},
    decode_untrusted,
    merkle::MerkleProof,
    BoundedVec, Committee, FinalityCertificate, Hash, MilestoneHeader, Mortality, Public,
    Signature, Transaction, Vertex,
};
use parity_scale_codec::{Decode, Encode};
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}
fn public() -> impl Strategy<Value = Public> {
    any::<[u8; 32]>().prop_map(Public)
}
fn signature() -> impl Strategy<Value = Signature> {
    prop::collection::vec(any::<u8>(), 64).prop_map(|v| {
        let mut s = [0u8; 64];
        s.copy_from_slice(&v);
        Signature(s)
    })
}
fn bounded<T: std::fmt::Debug, const N: usize>(
    s: impl Strategy<Value = T>,
    max: usize,
) -> impl Strategy<Value = BoundedVec<T, N>> {
    prop::collection::vec(s, 0..=max.min(N)).prop_map(|v| BoundedVec::new(v).unwrap())
}
fn mortality() -> impl Strategy<Value = Mortality> {
    prop_oneof![
        Just(Mortality::Immortal),
        any::<u64>().prop_map(|until| Mortality::Mortal { until })
    ]
}
fn transaction() -> impl Strategy<Value = Transaction> {
    (
        public(),
        any::<u64>(),
        mortality(),
        any::<u128>(),
        prop::collection::vec(any::<u8>(), 0..64),
        signature(),
    )
        .prop_map(|(signer, nonce, mortality, tip, call, signature)| Transaction {
            signer,
            nonce,
            mortality,
            tip,
            call,
            signature,
        })
}
fn vertex() -> impl Strategy<Value = Vertex> {
    (transaction(), bounded::<Hash, 8>(hash(), 8), any::<u64>())
        .prop_map(|(tx, parents, pow_nonce)| Vertex { tx, parents, pow_nonce })
}
fn committee() -> impl Strategy<Value = Committee> {
    (any::<u64>(), bounded(public(), 8)).prop_map(|(epoch, members)| Committee { epoch, members })
}
fn header() -> impl Strategy<Value = MilestoneHeader> {
    (
        (any::<u64>(), hash(), any::<u64>(), bounded(hash(), 6), hash(), any::<u32>()),
        (hash(), hash(), any::<u64>(), public(), prop::option::of(committee())),
    )
        .prop_map(
            |(
                (number, parent, epoch, tips, ordered_root, vertex_count),
                (state_root, receipts_root, timestamp_ms, proposer, next_committee),
            )| MilestoneHeader {
                number,
                parent,
                epoch,
                tips,
                ordered_root,
                vertex_count,
                state_root,
                receipts_root,
                timestamp_ms,
                proposer,
                next_committee,
            },
        )
}
fn certificate() -> impl Strategy<Value = FinalityCertificate> {
    (any::<u64>(), any::<u64>(), hash(), bounded((public(), signature()), 6)).prop_map(
        |(number, view, header_hash, signatures)| FinalityCertificate {
            number,
            view,
            header_hash,
            signatures,
        },
    )
}
fn proof() -> impl Strategy<Value = MerkleProof> {
    (any::<u64>(), any::<u64>(), bounded(hash(), 10)).prop_map(
        |(leaf_index, leaf_count, siblings)| MerkleProof { leaf_index, leaf_count, siblings },
    )
}
fn field_type() -> impl Strategy<Value = FieldType> {
    prop_oneof![
        Just(FieldType::U64),
        Just(FieldType::I64),
        Just(FieldType::F64),
        Just(FieldType::String),
        Just(FieldType::Bytes),
        Just(FieldType::Timestamp)
    ]
}
fn schema() -> impl Strategy<Value = Schema> {
    bounded(
        (bounded(any::<u8>(), 12), field_type(), any::<bool>())
            .prop_map(|(name, ty, fhe)| FieldDef { name, ty, fhe }),
        5,
    )
    .prop_map(|fields| Schema { fields })
}
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::U64),
        any::<i64>().prop_map(Value::I64),
        // NaN != NaN, so round-trip equality is checked on the bits elsewhere; use finite floats.
        (-1e12f64..1e12).prop_map(Value::F64),
        ".{0,12}".prop_map(Value::String),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Value::Bytes),
        any::<u64>().prop_map(Value::Timestamp),
    ]
}
fn policy() -> impl Strategy<Value = AnalyticsPolicy> {
    (any::<u32>(), any::<u128>(), any::<u32>(), any::<u8>(), bounded(hash(), 3)).prop_map(
        |(k, price_per_record, epsilon_budget_milli, hll_precision, allowed_chaincode)| {
            AnalyticsPolicy {
                k,
                price_per_record,
                epsilon_budget_milli,
                hll_precision,
                allowed_chaincode,
            }
        },
    )
}

fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = value.encode();
    assert_eq!(&decode_untrusted::<T>(&bytes).unwrap(), value);
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode_untrusted::<T>(&longer).is_err(), "trailing byte accepted");
}

fn arbitrary_bytes<T: Encode + Decode>(bytes: &[u8]) {
    if let Ok(value) = decode_untrusted::<T>(bytes) {
        assert_eq!(value.encode(), bytes, "a decoded value re-encodes to its input");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_type_round_trips(
        tx in transaction(), v in vertex(), h in header(), c in certificate(), cm in committee(),
        p in proof(), s in schema(), val in value(), pol in policy(), m in mortality(), hs in hash(),
    ) {
        round_trip(&tx);
        round_trip(&v);
        round_trip(&h);
        round_trip(&c);
        round_trip(&cm);
        round_trip(&p);
        round_trip(&s);
        round_trip(&val);
        round_trip(&pol);
        round_trip(&m);
        round_trip(&hs);
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        arbitrary_bytes::<Transaction>(&bytes);
        arbitrary_bytes::<Vertex>(&bytes);
        arbitrary_bytes::<MilestoneHeader>(&bytes);
        arbitrary_bytes::<FinalityCertificate>(&bytes);
        arbitrary_bytes::<Committee>(&bytes);
        arbitrary_bytes::<MerkleProof>(&bytes);
        arbitrary_bytes::<Schema>(&bytes);
        arbitrary_bytes::<AnalyticsPolicy>(&bytes);
        arbitrary_bytes::<Mortality>(&bytes);
        arbitrary_bytes::<Hash>(&bytes);
        arbitrary_bytes::<Public>(&bytes);
        // Value holds f64: a NaN payload re-encodes bit-exactly, so the same check applies.
        arbitrary_bytes::<Value>(&bytes);
    }

    #[test]
    fn mutated_valid_encodings_never_panic(v in vertex(), h in header(), idx in any::<usize>(), byte in any::<u8>()) {
        for mut bytes in [v.encode(), h.encode()] {
            let i = idx % bytes.len();
            bytes[i] = byte;
            arbitrary_bytes::<Vertex>(&bytes);
            arbitrary_bytes::<MilestoneHeader>(&bytes);
            bytes.truncate(i);
            arbitrary_bytes::<Vertex>(&bytes);
            arbitrary_bytes::<MilestoneHeader>(&bytes);
        }
    }
}

#[test]
fn more_than_eight_parents_is_rejected_by_the_decoder() {
    let v = Vertex {
        tx: Transaction {
            signer: Public([1; 32]),
            nonce: 0,
            mortality: Mortality::Immortal,
            tip: 0,
            call: vec![],
            signature: Signature([0; 64]),
        },
        parents: BoundedVec::new(vec![Hash([2; 32]); 8]).unwrap(),
        pow_nonce: 0,
    };
    let mut bytes = v.tx.encode();
    vec![Hash([2; 32]); 9].encode_to(&mut bytes);
    0u64.encode_to(&mut bytes);
    assert!(decode_untrusted::<Vertex>(&bytes).is_err());
    assert_eq!(decode_untrusted::<Vertex>(&v.encode()).unwrap(), v);
}
