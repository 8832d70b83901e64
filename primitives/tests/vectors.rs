//! Test vectors for every wire and storage format in `itc-primitives`. The same hex strings are
//! published in `docs/formats.md`; if an encoding changes, this test fails and the document must
//! change with it.
use itc_primitives::{
    blake2_256,
    dataset::{AnalyticsPolicy, FieldType, Schema, Value},
    merkle::MerkleTree,
    milestone::commit_payload,
    BoundedVec, Committee, FinalityCertificate, Hash, MilestoneHeader, Mortality, Pair,
    Transaction, Vertex,
};
use parity_scale_codec::Encode;

fn alice() -> Pair {
    Pair::from_string("//Alice", None).unwrap()
}

fn sample_tx() -> Transaction {
    let genesis = blake2_256(b"itc-genesis");
    let mut tx = Transaction {
        signer: alice().public(),
        nonce: 1,
        mortality: Mortality::Mortal { until: 100 },
        tip: 5,
        call: vec![0x01, 0x00, 0xaa],
        signature: Default::default(),
    };
    tx.signature = alice().sign_deterministic(&tx.payload(genesis).signing_bytes());
    tx
}

fn sample_header() -> MilestoneHeader {
    MilestoneHeader {
        number: 1,
        parent: blake2_256(b"genesis-header"),
        epoch: 0,
        tips: BoundedVec::new(vec![blake2_256(b"tip")]).unwrap(),
        ordered_root: blake2_256(b"ordered"),
        vertex_count: 1,
        state_root: blake2_256(b"state"),
        receipts_root: blake2_256(b"receipts"),
        timestamp_ms: 1_700_000_000_000,
        proposer: alice().public(),
        next_committee: None,
    }
}

/// //Alice's commit of `header` in view 0.
fn sample_certificate(header: &MilestoneHeader) -> FinalityCertificate {
    let payload = commit_payload(header.number, 0, &header.hash());
    FinalityCertificate {
        number: header.number,
        view: 0,
        header_hash: header.hash(),
        signatures: BoundedVec::new(vec![(alice().public(), alice().sign_deterministic(&payload))])
            .unwrap(),
    }
}

fn vectors() -> Vec<(&'static str, String)> {
    let h = |b: Vec<u8>| hex::encode(b);
    let genesis = blake2_256(b"itc-genesis");
    let tx = sample_tx();
    let vertex = Vertex {
        tx: tx.clone(),
        parents: BoundedVec::new(vec![blake2_256(b"parent")]).unwrap(),
        pow_nonce: 7,
    };
    let header = sample_header();
    let payload = commit_payload(header.number, 0, &header.hash());
    let cert = sample_certificate(&header);
    let committee =
        Committee { epoch: 3, members: BoundedVec::new(vec![alice().public()]).unwrap() };
    let leaves: Vec<Hash> = (0u8..3).map(|i| blake2_256(&[i])).collect();
    let tree = MerkleTree::new(&leaves);
    let schema =
        Schema::from_fields(&[("device", FieldType::String), ("kwh", FieldType::F64)]).unwrap();
    let policy = AnalyticsPolicy {
        k: 10,
        price_per_record: 1_000,
        epsilon_budget_milli: 2_000,
        hll_precision: 14,
        allowed_chaincode: BoundedVec::default(),
    };
    vec![
        ("blake2_256 of itc-genesis", h(genesis.0.to_vec())),
        ("signed payload", h(tx.payload(genesis).encode())),
        ("transaction", h(tx.encode())),
        ("transaction hash", h(tx.hash().0.to_vec())),
        ("vertex", h(vertex.encode())),
        ("vertex hash", h(vertex.hash().0.to_vec())),
        ("milestone header", h(header.encode())),
        ("milestone header hash", h(header.hash().0.to_vec())),
        ("commit payload", h(payload)),
        ("finality certificate", h(cert.encode())),
        ("committee", h(committee.encode())),
        ("merkle root of 3 leaves", h(tree.root().0.to_vec())),
        ("merkle proof of leaf 2", h(tree.proof(2).unwrap().encode())),
        ("schema", h(schema.encode())),
        ("record", h(vec![Value::String("d1".into()), Value::F64(1.5)].encode())),
        ("analytics policy", h(policy.encode())),
    ]
}

const EXPECTED: &[(&str, &str)] = &[
    ("blake2_256 of itc-genesis", "1e6beb780687b0c781c28ba2d52c51fc179919ae627370ee9c84d87cd8d861ef"),
    ("signed payload", "1e6beb780687b0c781c28ba2d52c51fc179919ae627370ee9c84d87cd8d861efd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d04019101140c0100aa"),
    ("transaction", "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d04019101140c0100aadcf8dc093c44ae20510f6f2897db6c69eab05e7acc41011b4d42142ee271e8077ab7d2fb2ab902eced4e1886fea1b4a8a887932b9f62e94d78bb563c90b48b8d"),
    ("transaction hash", "24d5542c5a89bb7b6aa439eae48fc8c3d1503e6de125f515012c53a107943468"),
    ("vertex", "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d04019101140c0100aadcf8dc093c44ae20510f6f2897db6c69eab05e7acc41011b4d42142ee271e8077ab7d2fb2ab902eced4e1886fea1b4a8a887932b9f62e94d78bb563c90b48b8d04d61a38a0f73beda90e8c1dfba731f65003742539f4260694f44e22cabef24a8e0700000000000000"),
    ("vertex hash", "ec3212a98410798aa9f96723fae4ad7392eefa9826bd63a752c524d0137fb790"),
    ("milestone header", "0404a28036e515ae65c737411c5a37ecf8c569344f1ec658b1cebeb9a5a43163e50004edd26b46f9d6ab68900a563e1e53107a74bc795eb510f1285c1d47f9f748f72a58635b24a8da969eb133f0e575c588f55baaf18c587f5009b5918fbecf55d188040ced162a56b08dffb00f664b30b788b95dc961e36f5edc6ae67ba2d5261282f11c3c4f8e56f6d9e161cce6f02be04647593e85f17e674aa63964901f9dc251c70b0068e5cf8b01d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d00"),
    ("milestone header hash", "1cf2eb8e5c6d9e8dcbcf79f81a8f63f93fd039178fa36c6c576605855c170213"),
    ("commit payload", "4954432f706266742f636f6d6d697431010000000000000000000000000000001cf2eb8e5c6d9e8dcbcf79f81a8f63f93fd039178fa36c6c576605855c170213"),
    ("finality certificate", "04001cf2eb8e5c6d9e8dcbcf79f81a8f63f93fd039178fa36c6c576605855c17021304d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d6241cfde759f2a619d5efec17875ac747aa795e46daf714e2d82d04e69a4221df02f2ce3658f52b53953dfb5fb323ce202a8227813548bb882213e15ae4d8282"),
    ("committee", "0c04d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"),
    ("merkle root of 3 leaves", "e46f9bd86f47b07c6c05cb054ed1ab836517029b44313af77920ef05dffc0f3f"),
    ("merkle proof of leaf 2", "080c04b8bc17005fd60e103d27fb7b417ed7601d74f2a887800356cb2c986f8bbf9e3b"),
    ("schema", "081864657669636503000c6b77680200"),
    ("record", "080308643102000000000000f83f"),
    ("analytics policy", "28a10f411f0e00"),
];

#[test]
fn encodings_match_the_published_vectors() {
    let actual = vectors();
    if std::env::var_os("ITC_PRINT_VECTORS").is_some() {
        for (name, hex) in &actual {
            println!("(\"{name}\", \"{hex}\"),");
        }
    }
    assert_eq!(actual.len(), EXPECTED.len(), "every vector is published");
    for ((name, hex), (ename, ehex)) in actual.iter().zip(EXPECTED) {
        assert_eq!(name, ename);
        assert_eq!(hex, ehex, "{name}");
    }
}

#[test]
fn the_sample_transaction_and_certificate_verify() {
    let genesis = blake2_256(b"itc-genesis");
    assert!(sample_tx().verify_signature(genesis));
    let header = sample_header();
    let committee =
        Committee { epoch: 0, members: BoundedVec::new(vec![alice().public()]).unwrap() };
    let cert = sample_certificate(&header);
    cert.verify(&header, &committee).unwrap();
}
